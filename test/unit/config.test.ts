import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, defaultAllowedHosts, loadConfig, positionalToFlags, reusePortSupported } from '../../src/config.js';

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

  test('LISTEN_SOCKETS: auto is 64 where SO_REUSEPORT is available, else 1; a number is taken as given', () => {
    const supported = reusePortSupported(process.versions.node, process.platform);
    assert.equal(loadConfig([], env).listenSockets, supported ? 64 : 1);
    assert.equal(loadConfig([], { ...env, LISTEN_SOCKETS: 'auto' }).listenSockets, supported ? 64 : 1);
    assert.equal(loadConfig(['--listen-sockets=1'], env).listenSockets, 1);
    if (supported) {
      assert.equal(loadConfig([], { ...env, LISTEN_SOCKETS: '8' }).listenSockets, 8);
    } else {
      const message = configError([], { ...env, LISTEN_SOCKETS: '8' });
      assert.match(message, /LISTEN_SOCKETS: more than one needs SO_REUSEPORT, which Node\.js v[\d.]+ on \w+ does not offer .*: value was "8"/);
    }
  });

  test('reusePortSupported: Linux with Node.js 22.12+, 23.1+ or any later major', () => {
    const cases: ReadonlyArray<readonly [version: string, platform: NodeJS.Platform, supported: boolean]> = [
      ['20.20.2', 'linux', false],
      ['22.11.0', 'linux', false],
      ['22.12.0', 'linux', true],
      ['22.23.3', 'linux', true],
      ['23.0.0', 'linux', false],
      ['23.1.0', 'linux', true],
      ['24.0.0', 'linux', true],
      ['24.0.0', 'darwin', false],
      ['22.12.0', 'win32', false],
    ];
    for (const [version, platform, supported] of cases) assert.equal(reusePortSupported(version, platform), supported, `${version} on ${platform}`);
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
    ];
    for (const [argv, environment, name] of cases) {
      const message = configError(argv, { ...env, ...environment });
      assert.ok(message.includes(name), `${JSON.stringify({ argv, environment })}: ${message}`);
    }
  });

  test('ALLOWED_HOSTS entries are normalised as they are read: lower case, the port explicit (80 when none or empty)', () => {
    const config = loadConfig([], { ...env, ALLOWED_HOSTS: 'Example.COM,example.net:,[::1],[::1]:8080,10.0.0.1:8081' });
    assert.deepEqual(config.allowedHosts, ['example.com:80', 'example.net:80', '[::1]:80', '[::1]:8080', '10.0.0.1:8081']);
    assert.deepEqual(loadConfig(['--allowed-hosts', 'a.test'], env).allowedHosts, ['a.test:80']);
  });

  test('an ALLOWED_HOSTS entry that is not a host with an optional port is refused, naming it', () => {
    for (const entry of ['::1', 'a.test:http', 'http://a.test', 'a.test/path', '[::1', 'user@a.test', ':8080']) {
      const message = configError([], { ...env, ALLOWED_HOSTS: `ok.test,${entry}` });
      assert.ok(message.includes('ALLOWED_HOSTS') && message.includes(`"${entry}"`), message);
    }
  });

  test('a RESOURCES_DIR that does not exist or is not a folder throws a ConfigError naming it', () => {
    assert.match(configError([], { RESOURCES_DIR: join(root, 'missing') }), /RESOURCES_DIR/);
    assert.match(configError([], { RESOURCES_DIR: join(root, 'a-file') }), /RESOURCES_DIR/);
    assert.match(configError([], { RESOURCES_DIR: '' }), /RESOURCES_DIR/);
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
    assert.match(configError(['--nope=1'], env), /unknown option/);
  });

  test('positionalToFlags maps positions to flags and passes flags through', () => {
    assert.deepEqual(positionalToFlags(['8000', '0.0.0.0', '20']), ['--port=8000', '--host=0.0.0.0', '--max-threads=20']);
    assert.deepEqual(positionalToFlags(['--queue-size', '5', '8000']), ['--queue-size', '5', '--port=8000']);
    assert.deepEqual(positionalToFlags(['--log-level=debug']), ['--log-level=debug']);
    assert.deepEqual(positionalToFlags([]), []);
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

  test('wildcard addresses add no name of their own', () => {
    assert.deepEqual(defaultAllowedHosts('0.0.0.0', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
    assert.deepEqual(defaultAllowedHosts('::', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
  });

  test('a HOST that no Host header can name adds nothing', () => {
    assert.deepEqual(defaultAllowedHosts('fe80::1%eth0', 80), ['localhost:80', '127.0.0.1:80', '[::1]:80']);
  });

  test('names come out in lower case, as Host values are compared', () => {
    assert.deepEqual(defaultAllowedHosts('MyBox.Example', 8080).at(-1), 'mybox.example:8080');
    assert.deepEqual(defaultAllowedHosts('LOCALHOST', 8080), ['localhost:8080', '127.0.0.1:8080', '[::1]:8080']);
  });
});
