// The five load scenarios from the issue, and pipelining. `metric` is the number compared
// across servers: requests/s, or MB/s (10^6 bytes) for the download. `pipeline`: requests
// sent per write on each connection.
import { SMALL_PAGE, BIG_FILE } from './docroot.mjs';

export const SCENARIOS = [
  { id: 'get-ka', title: 'small GET, keep-alive, 50 conns', path: SMALL_PAGE, connections: 50, metric: 'rps' },
  {
    id: 'get-close', title: 'small GET, Connection: close, 50 conns', path: SMALL_PAGE, connections: 50, metric: 'rps',
    headers: { Connection: 'close' },
  },
  { id: 'download-1m', title: '1 MiB download, 10 conns', path: BIG_FILE, connections: 10, metric: 'mbps' },
  { id: 'upload', title: 'POST /upload ~1 KiB JSON, 20 conns', path: '/upload', connections: 20, metric: 'rps', upload: true },
  { id: 'get-1000', title: 'small GET, 1000 keep-alive conns', path: SMALL_PAGE, connections: 1000, metric: 'rps' },
  { id: 'get-pipelined', title: 'small GET, 16 pipelined per write, 50 conns', path: SMALL_PAGE, connections: 50, metric: 'rps', pipeline: 16 },
];

export const SCENARIO_IDS = SCENARIOS.map((s) => s.id);
