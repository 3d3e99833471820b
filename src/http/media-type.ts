// The parameters of a media type (RFC 9110 §5.6.6): `;`-separated `name=value` pairs after the
// type, where a value is a token or a quoted string, so a quoted `;` does not end one.

/** The values of every parameter called `name` (any case), quoted strings unquoted. */
export function parameterValues(fieldValue: string, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  let at = fieldValue.indexOf(';');
  // Searched again only once passed: a run of `;` without `=` would otherwise cost quadratic time.
  let equals = -1;
  while (at !== -1) {
    if (equals <= at) equals = fieldValue.indexOf('=', at + 1);
    if (equals === -1) break;
    const next = fieldValue.indexOf(';', at + 1);
    // A parameter without `=` carries no value: skip it.
    if (next !== -1 && next < equals) {
      at = next;
      continue;
    }
    const parameter = fieldValue.slice(at + 1, equals).trim().toLowerCase();
    const value = parameterValue(fieldValue, equals + 1);
    if (parameter === wanted) values.push(value.text);
    at = fieldValue.indexOf(';', value.end);
  }
  return values;
}

/** The value that starts at `from` (after its `=`), and where it ends. */
function parameterValue(fieldValue: string, from: number): { readonly text: string; readonly end: number } {
  let at = from;
  while (fieldValue[at] === ' ' || fieldValue[at] === '\t') at++;
  if (fieldValue[at] !== '"') {
    const next = fieldValue.indexOf(';', at);
    const end = next === -1 ? fieldValue.length : next;
    return { text: fieldValue.slice(at, end).trim(), end };
  }
  // A quoted string: a backslash quotes the character after it. An unclosed one runs to the end.
  let text = '';
  for (at++; at < fieldValue.length; at++) {
    const character = fieldValue[at]!;
    if (character === '"') return { text, end: at + 1 };
    if (character === '\\' && at + 1 < fieldValue.length) at++;
    text += fieldValue[at];
  }
  return { text, end: at };
}
