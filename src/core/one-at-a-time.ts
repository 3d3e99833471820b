// Asynchronous operations run one at a time, in the order they were asked for. For calls on a
// folder whose mount may hang (NFS): each call holds one of libuv's few threadpool threads
// until it returns, so however many wait on one folder, they hold one thread, and the others
// stay free for downloads, closes and the token file.

export class OneAtATime {
  /** Settles when the last operation asked for has ended, whether it failed or not. */
  private last: Promise<unknown> = Promise.resolve();

  /** Runs `operation` once every operation asked for before it has ended; its result is the operation's. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.last.then(operation);
    this.last = result.catch(() => undefined);
    return result;
  }
}
