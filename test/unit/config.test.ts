import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { asksForHelp, ConfigError, defaultAllowedHosts, flagValues, loadConfig, resolveListenSockets } from '../../src/config.js';
import { openFileLimit } from '../../src/core/open-files.js';

let root: string;
let resources: string;
let env: Record<string, string>;

before(() => {
  // Real path: process.cwd() reports one, and the default RESOURCES_DIR is resolved from it.
  root = realpathSync(mkdtempSync(join(tmpdir(), 'rawhttp-config-')));
  resources = join(root, 'resources');
  mkdirSync(resources);
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'a-file'), 'not a folder');
  env = { RESOURCES_DIR: resources };
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The ConfigError loading `argv` and `env` throws; fails if the configuration was accepted. */
function configError(argv: readonly string[], environment: Record<string, string>): string {
  try {
    loadConfig(argv, environment);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `ConfigError expected, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`configuration ${JSON.stringify({ argv, environment })} must be refused`);
}

describe('configuration', () => {
  test('defaults', () => {
    const config = loadConfig([], env);
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.maxThreads, 10);
    assert.equal(config.backlog, 1024);
    assert.equal(config.maxHeaderBytes, 8192);
    assert.equal(config.maxRequestsPerConnection, 100);
    assert.equal(config.keepAliveTimeoutMs, 30_000);
    assert.equal(config.resourcesDir, resources);
    assert.equal(config.uploadsDir, join(resources, 'uploads'));
    assert.deepEqual(config.allowedHosts, []);
    assert.deepEqual(config.inlineTypes, ['text/html']);
    assert.deepEqual(config.downloadTypes, ['text/plain', 'image/png', 'image/jpeg', 'application/json']);
  });

  test('the positional form: port host max_threads', () => {
    const config = loadConfig(['8000', '0.0.0.0', '20'], env);
    assert.equal(config.port, 8000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.maxThreads, 20);
    assert.equal(loadConfig(['8001'], env).port, 8001);
    assert.equal(loadConfig(['8001'], env).host, '127.0.0.1');
  });

  test('flags in both --name=value and --name value forms, mixed with positional values', () => {
    const config = loadConfig(['--max-threads=3', '--queue-size', '7', '9000', '--allowed-hosts', 'a.test:1,b.test:2'], env);
    assert.equal(config.maxThreads, 3);
    assert.equal(config.queueSize, 7);
    assert.equal(config.port, 9000);
    assert.deepEqual(config.allowedHosts, ['a.test:1', 'b.test:2']);
  });

  test('a flag means what its variable means; the last one given wins, over the variable too', () => {
    // Numbers stay the text they were: a flag is never read as hex or exponent notation.
    const refused = configError(['--port=0x4899'], env);
    assert.match(refused, /PORT: must be a port number/);
    const tokens = loadConfig(['--metrics-token=1000000000000e50', '--upload-tokens=0x1f1f1f1f1f1f1f1f'], env);
    assert.deepEqual([tokens.metricsToken, tokens.uploadTokens], ['1000000000000e50', ['0x1f1f1f1f1f1f1f1f']]);
    assert.equal(loadConfig(['--queue-size', '5', '--queue-size', '7'], env).queueSize, 7);
    assert.equal(loadConfig(['18601', '--port', '18602'], env).port, 18602);
    assert.equal(loadConfig(['--port', '18602', '18601'], env).port, 18601);
    assert.equal(loadConfig(['--max-threads=3'], { ...env, MAX_THREADS: '2' }).maxThreads, 3);
    // A yes/no flag alone says yes.
    assert.equal(loadConfig(['--proxy-protocol', '--trusted-proxies', '10.0.0.1'], env).proxyProtocol, true);
  });

  test('integers are decimal digits: units, hex, exponents and fractions stop the start', () => {
    const cases: Array<[string, string]> = [
      ['KEEP_ALIVE_TIMEOUT_MS', '30s'],
      ['MIN_FREE_DISK_BYTES', '256MiB'],
      ['MIN_FREE_DISK_BYTES', '0x10000000'],
      ['UPLOAD_RATE_PER_MINUTE', '0x3c'],
      ['MAX_THREADS', '1e1'],
      ['MAX_THREADS', '3abc'],
      ['MAX_THREADS', '1.5'],
      ['MAX_THREADS', '1e309'],
      ['QUEUE_SIZE', '-1'],
      ['CLIENT_IPV6_PREFIX', '48/64'],
      ['MAX_BODY_BYTES', '99999999999999999999'],
    ];
    for (const [name, value] of cases) {
      assert.match(configError([], { ...env, [name]: value }), new RegExp(`${name}: must be .*value was "${value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`), `${name}=${value}`);
      const flag = `--${name.toLowerCase().replaceAll('_', '-')}=${value}`;
      assert.match(configError([flag], env), new RegExp(`${name}: must be`), flag);
    }
    assert.equal(loadConfig([], { ...env, MAX_THREADS: ' 4 ' }).maxThreads, 4);
  });

  test('the lowest value of each integer format is taken, the one below refused', () => {
    const cases: ReadonlyArray<readonly [name: string, lowest: number, key: 'maxThreads' | 'queueSize' | 'keepAliveTimeoutMs' | 'clientIpv6Prefix']> = [
      ['MAX_THREADS', 1, 'maxThreads'], // positive-int
      ['QUEUE_SIZE', 0, 'queueSize'], // non-negative-int
      ['KEEP_ALIVE_TIMEOUT_MS', 1, 'keepAliveTimeoutMs'], // duration-ms
      ['CLIENT_IPV6_PREFIX', 32, 'clientIpv6Prefix'], // ipv6-prefix
    ];
    for (const [name, lowest, key] of cases) {
      assert.equal(loadConfig([], { ...env, [name]: String(lowest) })[key], lowest, name);
      assert.match(configError([], { ...env, [name]: String(lowest - 1) }), new RegExp(`${name}: must be`), name);
    }
  });

  test('a port has no leading zeros, and Cache-Control is not empty', () => {
    assert.match(configError([], { ...env, PORT: '00080' }), /PORT: must be a port number/);
    assert.equal(loadConfig([], { ...env, PORT: '0' }).port, 0);
    assert.match(configError([], { ...env, CACHE_CONTROL: '' }), /CACHE_CONTROL: must be a header field value/);
  });

  test('the admin port cannot be the public one on an address both listen on', () => {
    for (const adminHost of ['127.0.0.1', '0.0.0.0']) {
      assert.match(configError([], { ...env, PORT: '9000', ADMIN_PORT: '9000', ADMIN_HOST: adminHost }), /ADMIN_PORT: must differ from PORT/, adminHost);
    }
    assert.equal(loadConfig([], { ...env, PORT: '9000', ADMIN_PORT: '9000', HOST: '127.0.0.1', ADMIN_HOST: '127.0.0.2' }).adminPort, 9000);
    // Addresses, not spellings: each of these failed only at bind, as a port in use by another process.
    for (const host of ['0::0', '::0', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0', '::FFFF:0:0']) {
      assert.match(configError([], { ...env, PORT: '9000', ADMIN_PORT: '9000', HOST: host, ADMIN_HOST: '127.0.0.2' }), /ADMIN_PORT: must differ from PORT on the same address/, host);
    }
    for (const [host, adminHost] of [['::ffff:127.0.0.1', '127.0.0.1'], ['0:0:0:0:0:0:0:1', '::1'], ['2001:DB8::1', '2001:db8:0::1'], ['LOCALHOST', 'localhost']]) {
      assert.match(configError([], { ...env, PORT: '9000', ADMIN_PORT: '9000', HOST: host!, ADMIN_HOST: adminHost! }), /ADMIN_PORT: must differ from PORT on the same address/, `${host} ${adminHost}`);
    }
    assert.equal(loadConfig([], { ...env, PORT: '9000', ADMIN_PORT: '9000', HOST: '::ffff:127.0.0.1', ADMIN_HOST: '127.0.0.2' }).adminPort, 9000);
    assert.equal(loadConfig([], { ...env, PORT: '0', ADMIN_PORT: '0' }).adminPort, 0);
  });

  test('MAX_BODY_MEMORY_BYTES holds at least one body of MAX_BODY_BYTES', () => {
    assert.match(configError([], { ...env, MAX_BODY_BYTES: '2048', MAX_BODY_MEMORY_BYTES: '2047' }), /^invalid configuration: MAX_BODY_MEMORY_BYTES: must be at least MAX_BODY_BYTES \(2048\): value was "2047"$/);
    assert.equal(loadConfig([], { ...env, MAX_BODY_BYTES: '2048', MAX_BODY_MEMORY_BYTES: '2048' }).maxBodyMemoryBytes, 2048);
  });

  test('times in milliseconds stop at what a timer can wait (2^31 - 1)', () => {
    for (const name of ['SHUTDOWN_TIMEOUT_MS', 'SHUTDOWN_DELAY_MS', 'POOL_STATUS_INTERVAL_MS', 'KEEP_ALIVE_TIMEOUT_MS', 'JOB_TIMEOUT_MS', 'FILE_CACHE_TTL_MS']) {
      assert.match(configError([], { ...env, [name]: '3000000000' }), new RegExp(`${name}: must be a number of milliseconds`), name);
    }
    assert.equal(loadConfig([], { ...env, SHUTDOWN_TIMEOUT_MS: String(2 ** 31 - 1) }).shutdownTimeoutMs, 2 ** 31 - 1);
    assert.equal(loadConfig([], { ...env, SHUTDOWN_DELAY_MS: '0' }).shutdownDelayMs, 0);
  });

  test('environment variables', () => {
    const config = loadConfig([], {
      ...env,
      PORT: '8123',
      HOST: '::1',
      MAX_THREADS: '4',
      QUEUE_SIZE: '0',
      MAX_BODY_BYTES: '2048',
      ALLOWED_HOSTS: ' a.test:80 , B.test:81,,',
      DOWNLOAD_TYPES: 'text/plain',
      UPLOADS_DIR: 'relative-uploads',
      LOG_LEVEL: 'debug',
    });
    assert.equal(config.port, 8123);
    assert.equal(config.host, '::1');
    assert.equal(config.maxThreads, 4);
    assert.equal(config.queueSize, 0);
    assert.equal(config.maxBodyBytes, 2048);
    assert.deepEqual(config.allowedHosts, ['a.test:80', 'b.test:81']);
    assert.deepEqual(config.downloadTypes, ['text/plain']);
    assert.equal(config.uploadsDir, resolve('relative-uploads'));
    assert.equal(config.logLevel, 'debug');
  });

  test('arguments win over environment variables', () => {
    assert.equal(loadConfig(['--port', '2000'], { ...env, PORT: '1000' }).port, 2000);
    assert.equal(loadConfig(['3000'], { ...env, PORT: '1000' }).port, 3000);
  });

  test("LISTEN_SOCKETS: auto is sized from this process's open-file limit where SO_REUSEPORT is available, else 1; a number is taken as given", () => {
    const supported = process.platform === 'linux';
    const limit = supported ? openFileLimit(readFileSync('/proc/self/limits', 'utf8')) : null;
    const auto = supported ? resolveListenSockets('auto', 'linux', limit) : 1;
    assert.equal(loadConfig([], env).listenSockets, auto);
    assert.equal(loadConfig([], env).openFileLimit, limit, 'the limit auto was sized from, which the descriptor monitor watches against');
    assert.equal(loadConfig([], { ...env, LISTEN_SOCKETS: 'auto' }).listenSockets, auto);
    assert.equal(loadConfig(['--listen-sockets=1'], env).listenSockets, 1);
    if (supported) {
      assert.equal(loadConfig([], { ...env, LISTEN_SOCKETS: '8' }).listenSockets, 8);
    } else {
      const message = configError([], { ...env, LISTEN_SOCKETS: '8' });
      assert.match(message, /LISTEN_SOCKETS: more than one needs SO_REUSEPORT's load balancing, which \w+ does not offer .*: value was "8"/);
    }
  });

  test('resolveListenSockets: several sockets on Linux only', () => {
    assert.equal(resolveListenSockets('auto', 'linux', 1_048_576), 256);
    assert.equal(resolveListenSockets(8, 'linux', 1_048_576), 8);
    assert.equal(resolveListenSockets('auto', 'darwin', 1_048_576), 1);
    assert.equal(resolveListenSockets(1, 'darwin', null), 1);
    assert.throws(() => resolveListenSockets(4, 'darwin', null), /LISTEN_SOCKETS: more than one needs SO_REUSEPORT's load balancing, which darwin does not offer \(Linux\): value was "4"/);
  });

  test('resolveListenSockets: auto takes a sixteenth of the open-file limit, at least 1 and at most 256; a number is taken as given', () => {
    const auto = (limit: number | null): number => resolveListenSockets('auto', 'linux', limit);
    assert.deepEqual([1_048_576, 4096, 4095, 1024, 256, 64, 31, 16, 1].map(auto), [256, 256, 255, 64, 16, 4, 1, 1, 1]);
    assert.equal(auto(null), 256, 'a limit that cannot be read (no /proc, or unlimited) leaves the default');
    // Past the limit, the start fails at bind and names LISTEN_SOCKETS (app.ts).
    assert.equal(resolveListenSockets(200, 'linux', 64), 200);
  });

  test('bad values throw a ConfigError naming the variable', () => {
    const cases: ReadonlyArray<readonly [argv: string[], environment: Record<string, string>, name: string]> = [
      [['70000'], {}, 'PORT'],
      [[], { PORT: '70000' }, 'PORT'],
      [['--port=-1'], {}, 'PORT'],
      [[], { PORT: 'http' }, 'PORT'],
      [[], { MAX_THREADS: '0' }, 'MAX_THREADS'],
      [['8080', '127.0.0.1', '0'], {}, 'MAX_THREADS'],
      [['--max-threads=0'], {}, 'MAX_THREADS'],
      [[], { MAX_THREADS: '1.5' }, 'MAX_THREADS'],
      [[], { MAX_THREADS: 'many' }, 'MAX_THREADS'],
      [[], { QUEUE_SIZE: '-1' }, 'QUEUE_SIZE'],
      [[], { MAX_HEADER_BYTES: '0' }, 'MAX_HEADER_BYTES'],
      [[], { ADMIN_PORT: '65536' }, 'ADMIN_PORT'],
      [[], { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
      [[], { LISTEN_SOCKETS: '0' }, 'LISTEN_SOCKETS'],
      [[], { LISTEN_SOCKETS: '257' }, 'LISTEN_SOCKETS'],
      [['--listen-sockets=many'], {}, 'LISTEN_SOCKETS'],
      // parseInt would read these as ports 1, 34280, 80 and an ephemeral one.
      [[], { PORT: '1e4' }, 'PORT'],
      [[], { PORT: '34280abc' }, 'PORT'],
      [[], { PORT: '80.5' }, 'PORT'],
      [[], { ADMIN_PORT: '0x10' }, 'ADMIN_PORT'],
      // Empty would listen on every interface.
      [[], { HOST: '' }, 'HOST'],
      [[], { ADMIN_HOST: ' ' }, 'ADMIN_HOST'],
      [['--admin-host=a b'], {}, 'ADMIN_HOST'],
      // Linux binds these for TCP, and then no client can ever connect.
      [[], { HOST: '224.0.0.1' }, 'HOST'],
      [[], { HOST: '239.255.255.250' }, 'HOST'],
      [[], { HOST: '255.255.255.255' }, 'HOST'],
      [[], { ADMIN_HOST: 'ff02::1%lo' }, 'ADMIN_HOST'],
      [[], { ADMIN_HOST: '::ffff:224.0.0.1' }, 'ADMIN_HOST'],
      // Written on the wire as it is: a newline would break every response.
      [[], { CACHE_CONTROL: 'max-age=60\n' }, 'CACHE_CONTROL'],
      [[], { CACHE_CONTROL: 'a\r\nX-Injected: yes' }, 'CACHE_CONTROL'],
    ];
    for (const [argv, environment, name] of cases) {
      const message = configError(argv, { ...env, ...environment });
      assert.ok(message.includes(name), `${JSON.stringify({ argv, environment })}: ${message}`);
    }
  });

  test('HOST and ADMIN_HOST take IP addresses and host names', () => {
    for (const host of ['0.0.0.0', '::', '::1', 'fe80::1%lo', '223.255.255.255', '240.0.0.1', 'fe00::1', 'localhost', 'rawhttp.example.com', 'node-1.internal.']) {
      assert.equal(loadConfig([], { ...env, HOST: host, ADMIN_HOST: host }).adminHost, host);
    }
  });

  test('the value a message names is the one that failed: a flag\'s over the environment\'s', () => {
    assert.match(configError(['8080', '127.0.0.1', '0'], { ...env, MAX_THREADS: '4' }), /MAX_THREADS: .*value was "0"/);
    assert.match(configError(['--port', 'abc'], { ...env, PORT: '8080' }), /PORT: .*value was "abc"/);
    assert.match(configError([], { ...env, PORT: '8080abc' }), /PORT: .*value was "8080abc"/);
  });

  test('ALLOWED_HOSTS entries are normalised as they are read: lower case, the port explicit (80 when none or empty)', () => {
    const config = loadConfig([], { ...env, ALLOWED_HOSTS: 'Example.COM,example.net:,[::1],[::1]:8080,10.0.0.1:8081' });
    assert.deepEqual(config.allowedHosts, ['example.com:80', 'example.net:80', '[::1]:80', '[::1]:8080', '10.0.0.1:8081']);
    assert.deepEqual(loadConfig(['--allowed-hosts', 'a.test'], env).allowedHosts, ['a.test:80']);
  });

  test('ALLOWED_HOSTS IPv6 literals are read in the form browsers send (RFC 5952, all hex)', () => {
    const config = loadConfig([], { ...env, ALLOWED_HOSTS: '[::FFFF:127.0.0.1]:8080,[2001:DB8:0:0:0:0:0:1]' });
    assert.deepEqual(config.allowedHosts, ['[::ffff:7f00:1]:8080', '[2001:db8::1]:80']);
  });

  test('an ALLOWED_HOSTS entry that is not a host with an optional port is refused, naming it', () => {
    // No client can connect to the last three ports, or write the second with its leading zero.
    for (const entry of ['::1', 'a.test:http', 'http://a.test', 'a.test/path', '[::1', 'user@a.test', ':8080', 'a.test:99999', 'a.test:080', 'a.test:0', '[1.2.3.4]:8080', '[:]:8080', '[::ffff:1.2.3.4.5]', '[v1.x]']) {
      const message = configError([], { ...env, ALLOWED_HOSTS: `ok.test,${entry}` });
      assert.ok(message.includes('ALLOWED_HOSTS') && message.includes(`"${entry}"`), message);
    }
    assert.match(configError([], { ...env, ALLOWED_HOSTS: '[1.2.3.4]:8080' }), /ALLOWED_HOSTS: "\[1\.2\.3\.4\]:8080" is not a host with an optional port \(in brackets, an IPv6 address only\)/);
    assert.match(configError([], { ...env, ALLOWED_HOSTS: '*' }), /ALLOWED_HOSTS: takes host names, not patterns/);
    assert.match(configError([], { ...env, ALLOWED_HOSTS: '*.example.com' }), /ALLOWED_HOSTS: takes host names, not patterns/);
  });

  test('a RESOURCES_DIR that does not exist or is not a folder throws a ConfigError naming it', () => {
    assert.match(configError([], { RESOURCES_DIR: join(root, 'missing') }), /RESOURCES_DIR/);
    assert.match(configError([], { RESOURCES_DIR: join(root, 'a-file') }), /RESOURCES_DIR/);
    assert.match(configError([], { RESOURCES_DIR: '' }), /RESOURCES_DIR/);
  });

  test("a RESOURCES_DIR inside a Kubernetes volume's data folder is refused: the volume's next update removes it", () => {
    for (const data of ['..data', '..2026_12_07_19_40_01.2739115']) {
      mkdirSync(join(root, 'volume', data, 'site'), { recursive: true });
      for (const folder of [join(root, 'volume', data), join(root, 'volume', data, 'site')]) {
        assert.match(configError([], { RESOURCES_DIR: folder }), /RESOURCES_DIR: names a Kubernetes volume's data folder/, folder);
      }
    }
    // Nor through a link to either.
    symlinkSync(join(root, 'volume', '..data'), join(root, 'site-link'));
    assert.match(configError([], { RESOURCES_DIR: join(root, 'site-link') }), /RESOURCES_DIR: names a Kubernetes volume's data folder/);
    // The mount point itself is what to name; other names with dots are fine.
    mkdirSync(join(root, 'volume', '..data.old'));
    for (const folder of [join(root, 'volume'), join(root, 'volume', '..data.old')]) assert.equal(loadConfig([], { RESOURCES_DIR: folder }).resourcesDir, folder);
  });

  test('the default RESOURCES_DIR (./resources) is looked up in the working folder', () => {
    const cwd = process.cwd();
    try {
      process.chdir(join(root, 'empty'));
      assert.match(configError([], {}), /RESOURCES_DIR/);
      process.chdir(root);
      assert.equal(loadConfig([], {}).resourcesDir, resources);
    } finally {
      process.chdir(cwd);
    }
  });

  test('several problems are reported together', () => {
    const message = configError(['--port=70000', '--max-threads=0'], env);
    assert.match(message, /PORT/);
    assert.match(message, /MAX_THREADS/);
  });

  test('extra positional arguments and unknown flags are refused', () => {
    assert.match(configError(['1', '2', '3', '4'], env), /unexpected argument "4"/);
    assert.match(configError(['--max-thread', '3'], env), /unknown option "--max-thread"/);
    assert.match(configError(['--nope=1'], env), /unknown option "--nope"/);
    // A misspelt secret flag is named without its value.
    for (const flag of ['--upload-token=s3cret-value', '--metrics-tokens=s3cret-value']) assert.doesNotMatch(configError([flag], env), /s3cret/, flag);
  });

  test('--help or -h anywhere asks for help; a value that merely contains it does not', () => {
    assert.equal(asksForHelp(['--help']), true);
    assert.equal(asksForHelp(['8000', '-h']), true);
    assert.equal(asksForHelp(['--port', '8000']), false);
    assert.equal(asksForHelp(['--cache-control=--help']), false);
  });

  test('flagValues maps positions to flags and pairs each flag with its value', () => {
    assert.deepEqual(flagValues(['8000', '0.0.0.0', '20']), [{ flag: '--port', value: '8000' }, { flag: '--host', value: '0.0.0.0' }, { flag: '--max-threads', value: '20' }]);
    assert.deepEqual(flagValues(['--queue-size', '5', '8000']), [{ flag: '--queue-size', value: '5' }, { flag: '--port', value: '8000' }]);
    assert.deepEqual(flagValues(['--log-level=debug', '--proxy-protocol']), [{ flag: '--log-level', value: 'debug' }, { flag: '--proxy-protocol', value: undefined }]);
    assert.deepEqual(flagValues(['--cors-origins=a=b']), [{ flag: '--cors-origins', value: 'a=b' }]);
    assert.deepEqual(flagValues([]), []);
  });
});

describe('defaultAllowedHosts', () => {
  test('loopback names with the port, plus the configured host', () => {
    assert.deepEqual(defaultAllowedHosts('127.0.0.1', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
    assert.deepEqual(defaultAllowedHosts('localhost', 1), ['localhost:1', '127.0.0.1:1', '[::1]:1']);
    assert.deepEqual(defaultAllowedHosts('::1', 5), ['localhost:5', '127.0.0.1:5', '[::1]:5']);
    assert.deepEqual(defaultAllowedHosts('192.168.1.10', 80), ['localhost:80', '127.0.0.1:80', '[::1]:80', '192.168.1.10:80']);
    assert.deepEqual(defaultAllowedHosts('fe80::1', 80), ['localhost:80', '127.0.0.1:80', '[::1]:80', '[fe80::1]:80']);
  });

  test('an IPv6 HOST is allowed in the form browsers and fetch send it', () => {
    assert.deepEqual(defaultAllowedHosts('::ffff:127.0.0.1', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', '[::ffff:7f00:1]:8080']);
    assert.deepEqual(defaultAllowedHosts('0:0:0:0:0:0:0:1', 5), ['localhost:5', '127.0.0.1:5', '[::1]:5']);
    assert.deepEqual(defaultAllowedHosts('2001:DB8::0:1', 80).at(-1), '[2001:db8::1]:80');
  });

  test('wildcard addresses add no name of their own', () => {
    assert.deepEqual(defaultAllowedHosts('0.0.0.0', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
    assert.deepEqual(defaultAllowedHosts('::', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
    for (const host of ['0::0', '::0', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0']) assert.deepEqual(defaultAllowedHosts(host, 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080'], host);
  });

  test('a HOST that no Host header can name adds nothing', () => {
    assert.deepEqual(defaultAllowedHosts('fe80::1%eth0', 80), ['localhost:80', '127.0.0.1:80', '[::1]:80']);
  });

  test('names come out in lower case, as Host values are compared', () => {
    assert.deepEqual(defaultAllowedHosts('MyBox.Example', 8080).at(-1), 'mybox.example:8080');
    assert.deepEqual(defaultAllowedHosts('LOCALHOST', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
  });
});

describe('security settings', () => {
  test('defaults: everything open and off, as before; 128 connections a client; 60 uploads a minute after a burst of 20; 256 MiB kept free', () => {
    const config = loadConfig([], env);
    assert.equal(config.proxyProtocol, false);
    assert.deepEqual(config.trustedProxies, []);
    assert.equal(config.maxConnectionsPerClient, 128);
    assert.equal(config.clientIpv6Prefix, 64);
    assert.equal(config.maxBodyMemoryPerClientBytes, 8 * 1024 * 1024);
    assert.equal(config.uploadRatePerMinute, 60);
    assert.equal(config.uploadBurst, 20);
    assert.deepEqual(config.uploadTokens, []);
    assert.equal(config.uploadTokensFile, '');
    assert.equal(config.metricsToken, '');
    assert.deepEqual(config.corsOrigins, []);
    assert.equal(config.minFreeDiskBytes, 256 * 1024 * 1024);
  });

  test('environment variables and flags', () => {
    const config = loadConfig(['--max-connections-per-client=8', '--upload-burst', '5', '--min-free-disk-bytes=0', '--client-ipv6-prefix=56', '--max-body-memory-per-client-bytes=2097152'], {
      ...env,
      PROXY_PROTOCOL: 'true',
      TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::/32,192.0.2.7',
      UPLOAD_RATE_PER_MINUTE: '0',
      UPLOAD_TOKENS: 'alpha-Zr4Q9x2mLk, beta+/long-enough=',
      UPLOAD_TOKENS_FILE: '/run/secrets/upload_tokens',
      METRICS_TOKEN: 'gamma-Ty6Jd1Rf5Xc',
      CORS_ORIGINS: 'https://app.example.com,http://localhost:3000',
    });
    assert.equal(config.proxyProtocol, true);
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
    assert.equal(config.maxConnectionsPerClient, 8);
    assert.equal(config.clientIpv6Prefix, 56);
    assert.equal(config.maxBodyMemoryPerClientBytes, 2 * 1024 * 1024);
    assert.equal(config.uploadRatePerMinute, 0);
    assert.equal(config.uploadBurst, 5);
    assert.deepEqual(config.uploadTokens, ['alpha-Zr4Q9x2mLk', 'beta+/long-enough=']);
    assert.equal(config.uploadTokensFile, '/run/secrets/upload_tokens');
    assert.equal(config.metricsToken, 'gamma-Ty6Jd1Rf5Xc');
    assert.deepEqual(config.corsOrigins, ['https://app.example.com', 'http://localhost:3000']);
    assert.equal(config.minFreeDiskBytes, 0);
  });

  test('PROXY_PROTOCOL takes true/false words only (convict alone would read "0" as true)', () => {
    const withProxies = { ...env, TRUSTED_PROXIES: '10.0.0.1' };
    for (const word of ['true', 'TRUE', '1', 'yes', 'on']) assert.equal(loadConfig([], { ...withProxies, PROXY_PROTOCOL: word }).proxyProtocol, true, word);
    for (const word of ['false', 'False', '0', 'no', 'off']) assert.equal(loadConfig([], { ...withProxies, PROXY_PROTOCOL: word }).proxyProtocol, false, word);
    assert.equal(loadConfig(['--proxy-protocol'], withProxies).proxyProtocol, true);
    assert.match(configError([], { ...withProxies, PROXY_PROTOCOL: 'maybe' }), /^invalid configuration: PROXY_PROTOCOL: must be true or false: value was "maybe"$/);
  });

  test('TRUSTED_PROXIES is read as the ranges it names: canonical, once each', () => {
    const config = loadConfig([], { ...env, TRUSTED_PROXIES: '10.0.0.0/8,2001:DB8::/32,192.0.2.7/32,10.0.0.0/8,192.0.2.7' });
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
  });

  test('PROXY_PROTOCOL needs TRUSTED_PROXIES: nobody else may send the header', () => {
    assert.match(configError([], { ...env, PROXY_PROTOCOL: 'true' }), /PROXY_PROTOCOL: needs TRUSTED_PROXIES/);
  });

  test('bad values: one message naming the variable and the value', () => {
    const cases: ReadonlyArray<readonly [Record<string, string>, RegExp]> = [
      [{ TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.0/33' }, /TRUSTED_PROXIES: "10\.0\.0\.0\/33": the prefix length must be a number from 0 to 32/],
      [{ TRUSTED_PROXIES: 'lb.internal' }, /TRUSTED_PROXIES: "lb\.internal" is not an IP address or CIDR block/],
      [{ TRUSTED_PROXIES: '10.0.0.5/8' }, /^invalid configuration: TRUSTED_PROXIES: "10\.0\.0\.5\/8" has host bits set: write 10\.0\.0\.0\/8/],
      [{ TRUSTED_PROXIES: '::ffff:10.0.0.0/8' }, /TRUSTED_PROXIES: "::ffff:10\.0\.0\.0\/8" has host bits set .*: write the IPv4 block 10\.0\.0\.0\/8:/],
      [{ TRUSTED_PROXIES: '::ffff:0:0/96' }, /^invalid configuration: TRUSTED_PROXIES: "::ffff:0:0\/96" is an IPv4-mapped block: write the IPv4 block 0\.0\.0\.0\/0 /],
      [{ TRUSTED_PROXIES: '10.0.0.1,::ffff:10.0.0.0/104' }, /TRUSTED_PROXIES: "::ffff:10\.0\.0\.0\/104" is an IPv4-mapped block: write the IPv4 block 10\.0\.0\.0\/8 /],
      [{ TRUSTED_PROXIES: 'fe80::/10%eth0' }, /TRUSTED_PROXIES: "fe80::\/10%eth0": zone ids .* are not allowed/],
      [{ MAX_CONNECTIONS_PER_CLIENT: '0' }, /MAX_CONNECTIONS_PER_CLIENT: must be a positive integer: value was "?0"?$/],
      [{ UPLOAD_RATE_PER_MINUTE: '-1' }, /UPLOAD_RATE_PER_MINUTE: must be a non-negative integer: value was "?-1"?$/],
      [{ UPLOAD_BURST: '0' }, /UPLOAD_BURST: must be a positive integer: value was "?0"?$/],
      [{ MAX_BODY_MEMORY_PER_CLIENT_BYTES: '0' }, /MAX_BODY_MEMORY_PER_CLIENT_BYTES: must be a positive integer: value was "?0"?$/],
      [{ CLIENT_IPV6_PREFIX: '31' }, /CLIENT_IPV6_PREFIX: must be an integer from 32 to 128: value was "?31"?$/],
      [{ CLIENT_IPV6_PREFIX: '129' }, /CLIENT_IPV6_PREFIX: must be an integer from 32 to 128: value was "?129"?$/],
      [{ CLIENT_IPV6_PREFIX: '/64' }, /CLIENT_IPV6_PREFIX: must be an integer from 32 to 128/],
      [{ CORS_ORIGINS: 'https://app.example.com/upload' }, /CORS_ORIGINS: "https:\/\/app\.example\.com\/upload" is not an origin/],
      [{ CORS_ORIGINS: '*,https://app.example.com' }, /CORS_ORIGINS: "\*" allows every origin and cannot be combined/],
      [{ MIN_FREE_DISK_BYTES: '1.5' }, /MIN_FREE_DISK_BYTES: must be a non-negative integer: value was "?1\.5"?$/],
    ];
    for (const [environment, message] of cases) assert.match(configError([], { ...env, ...environment }), message, JSON.stringify(environment));
  });

  test('a bad token is named by its position, and no token ever appears in the message', () => {
    const listed = configError([], { ...env, UPLOAD_TOKENS: 'first-secret-Zr4Q9x,second secret' });
    assert.equal(listed, 'invalid configuration: UPLOAD_TOKENS: entry 2 is not a bearer token: letters, digits, - . _ ~ + / and = at the end only (RFC 6750 b64token)');
    const metrics = configError(['--metrics-token=metrics"secret'], env);
    assert.match(metrics, /^invalid configuration: METRICS_TOKEN: not a bearer token/);
    assert.ok(!metrics.includes('secret'));
    // Too short to be random: a word someone chose.
    const short = configError([], { ...env, UPLOAD_TOKENS: 'first-secret-Zr4Q9x,changeme' });
    assert.equal(short, 'invalid configuration: UPLOAD_TOKENS: entry 2 is shorter than 16 characters: use a random one, such as the output of openssl rand -base64 32');
    const shortMetrics = configError(['--metrics-token=changeme'], env);
    assert.match(shortMetrics, /^invalid configuration: METRICS_TOKEN: shorter than 16 characters/);
    assert.ok(!short.includes('changeme') && !shortMetrics.includes('changeme'));
    // With another problem reported beside it.
    const both = configError(['--port=70000'], { ...env, UPLOAD_TOKENS: 'first-secret,second secret' });
    assert.match(both, /PORT/);
    assert.ok(!both.includes('secret'));
  });
});
