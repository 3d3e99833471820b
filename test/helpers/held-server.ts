// A started server with a preload that holds its threads in a blocking open(2) of a FIFO
// (fifo.ts) until the test lets them go: a worker stuck in a system call, as one storing an
// upload on a hung NFS mount is.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeFifo, releaseFifo } from './fifo.js';
import { REPO_ROOT, startServer, type StartedServer } from './server.js';

export interface HeldServer {
  readonly server: StartedServer;
  readonly fifo: string;
  /** Lets every held thread go, stops the server, removes the FIFO. */
  end(): Promise<void>;
}

/** `preload`: a module of test/fixtures that reads the FIFO's path from `fifoVariable`. */
export async function startHeldServer(preload: string, fifoVariable: string, env: Record<string, string>): Promise<HeldServer> {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-held-'));
  const fifo = makeFifo(folder);
  const module = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', `${preload}.js`)).href;
  const server = await startServer({ nodeArgs: ['--import', module], env: { [fifoVariable]: fifo, ...env } });
  return {
    server,
    fifo,
    end: async () => {
      // Each held call waits for its own release: let every one go until the process is gone.
      const releasing = setInterval(() => releaseFifo(fifo), 20);
      await server.stop();
      clearInterval(releasing);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
