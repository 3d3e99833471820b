// The one line the wiring modules log or report of a failed system call.

/** The error's errno code (`ENOENT`, `EACCES`, ...), or the error itself as text when it has none. */
export const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);
