// Command-line options of `npm run bench`. Two presets keep a full run near
// 10 minutes and a --quick run near 2; each number can still be overridden.
import { parseArgs } from 'node:util';
import { SCENARIO_IDS } from './scenarios.mjs';

const PRESETS = {
  full: { rounds: 3, duration: 5, warmup: 2 },
  quick: { rounds: 2, duration: 2, warmup: 0 },
};

export const USAGE = `Usage: npm run bench -- [options]

  --quick               short run (~2 min): ${PRESETS.quick.rounds} rounds x ${PRESETS.quick.duration}s
                        (default full run ~10 min: ${PRESETS.full.rounds} rounds x ${PRESETS.full.duration}s)
  --rounds N            rounds per scenario (servers alternate A B A B ... in each)
  --duration S          seconds per measured run (whole seconds, wrk's unit)
  --warmup S            unmeasured seconds per server before each scenario (0 = none)
  --servers LIST        comma list of: ours,baseline,nginx-1,nginx-auto,node-http,fastify,
                        fastify-nofsync,net-close,net-keepalive,python
  --scenarios LIST      comma list of: ${SCENARIO_IDS.join(',')}
  --driver NAME         wrk (default) or autocannon
  --threads N           wrk threads (default 1: on a 2-core machine one core for the
                        load generator leaves the other to the server under test)
  --pool                run the worker-pool microbenchmark (inline vs our pool vs piscina,
                        1/2/10 threads; ~25 s quick, ~2 min full)
  --baseline DIR        also run another build of ours (DIR/dist/src/main.js, e.g. a copy of
                        main's build) as server \`baseline\`, for A/B runs and the upload target
  --no-install          never try apt-get for missing wrk/nginx
  --report FILE         no run: evaluate the targets of a saved latest.json again and
                        write latest.json, latest.svg and the report from it
  --out DIR             where latest.json and latest.svg go (default bench/results)
  --keep                keep the generated document root and server logs
  -h, --help            this text

Our server runs from dist/src/main.js (run \`npm run build\` first). MAX_THREADS,
QUEUE_SIZE and other settings in the environment are passed through to it.`;

function positiveInt(name, value, min = 1) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${value}"`);
  return n;
}

const list = (value) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : null);

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      servers: { type: 'string' },
      scenarios: { type: 'string' },
      driver: { type: 'string', default: 'wrk' },
      threads: { type: 'string', default: '1' },
      pool: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      report: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const preset = PRESETS[values.quick ? 'quick' : 'full'];
  if (!['wrk', 'autocannon'].includes(values.driver)) throw new Error(`--driver must be wrk or autocannon, got "${values.driver}"`);
  return {
    help: values.help,
    mode: values.quick ? 'quick' : 'full',
    rounds: values.rounds ? positiveInt('rounds', values.rounds) : preset.rounds,
    duration: values.duration ? positiveInt('duration', values.duration) : preset.duration,
    warmup: values.warmup !== undefined ? positiveInt('warmup', values.warmup, 0) : preset.warmup,
    servers: list(values.servers),
    scenarios: list(values.scenarios),
    driver: values.driver,
    threads: positiveInt('threads', values.threads),
    pool: values.pool,
    baseline: values.baseline ?? null,
    report: values.report ?? null,
    install: !values['no-install'],
    out: values.out ?? null,
    keep: values.keep,
  };
}
