// Misspelt environment names: close ones are named with the setting they stand for, the
// names a shell, a container or Kubernetes puts in the environment never are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { editDistance, misspeltSettings, misspellingWarning } from '../../src/config-typos.js';
import { SETTING_NAMES } from '../../src/config.js';

const meant = (...environment: string[]): Record<string, string> =>
  Object.fromEntries(misspeltSettings(SETTING_NAMES, environment).map(({ name, meant: setting }) => [name, setting]));

test('the edit distance counts insertions, deletions, substitutions and swapped neighbours as one each', () => {
  assert.equal(editDistance('MAX_THREADS', 'MAX_THREADS'), 0);
  assert.equal(editDistance('MAX_THREAD', 'MAX_THREADS'), 1);
  assert.equal(editDistance('MAX_THRAEDS', 'MAX_THREADS'), 1);
  assert.equal(editDistance('MAX_CONECTIONS', 'MAX_CONNECTIONS'), 1);
  assert.equal(editDistance('MAX_CONECTION', 'MAX_CONNECTIONS'), 2);
  assert.equal(editDistance('HOME', 'HOST'), 2);
  assert.equal(editDistance('', 'PORT'), 4);
  assert.equal(editDistance('PORT', ''), 4);
});

test('a name one or two edits from a long setting, or one from a short one, is named with it', () => {
  assert.deepEqual(meant('MAX_THREAD', 'MAX_CONECTIONS', 'MAX_THRAEDS', 'QUEUESIZE', 'MAX_BODY_BYTE', 'UPLOAD_TOKEN', 'ALLOWED_HOST', 'LOGLEVEL', 'HOSTS', 'PORTS', 'POR'), {
    MAX_THREAD: 'MAX_THREADS',
    MAX_CONECTIONS: 'MAX_CONNECTIONS',
    MAX_THRAEDS: 'MAX_THREADS',
    QUEUESIZE: 'QUEUE_SIZE',
    MAX_BODY_BYTE: 'MAX_BODY_BYTES',
    UPLOAD_TOKEN: 'UPLOAD_TOKENS',
    ALLOWED_HOST: 'ALLOWED_HOSTS',
    LOGLEVEL: 'LOG_LEVEL',
    HOSTS: 'HOST',
    PORTS: 'PORT',
    POR: 'PORT',
  });
});

test('the same words in another order, or another case, are named too', () => {
  assert.deepEqual(meant('THREADS_MAX', 'SIZE_QUEUE', 'max_threads', 'Log_Level'), {
    THREADS_MAX: 'MAX_THREADS',
    SIZE_QUEUE: 'QUEUE_SIZE',
    max_threads: 'MAX_THREADS',
    Log_Level: 'LOG_LEVEL',
  });
});

test('the nearest setting is named: ADMIN_POT is ADMIN_PORT, though ADMIN_HOST, two edits off, comes first', () => {
  assert.ok(SETTING_NAMES.indexOf('ADMIN_HOST') < SETTING_NAMES.indexOf('ADMIN_PORT'));
  assert.equal(editDistance('ADMIN_POT', 'ADMIN_HOST'), 2);
  assert.deepEqual(meant('ADMIN_POT', 'MAX_CONNECTION_PER_CLIENT', 'UPLOAD_TOKEN_FILE'), {
    ADMIN_POT: 'ADMIN_PORT',
    MAX_CONNECTION_PER_CLIENT: 'MAX_CONNECTIONS_PER_CLIENT',
    UPLOAD_TOKEN_FILE: 'UPLOAD_TOKENS_FILE',
  });
});

test('settings themselves, and names further off, are not named', () => {
  assert.deepEqual(meant(...SETTING_NAMES), {});
  assert.deepEqual(meant('MAX_CONECTIO', 'THREADS', 'HO', 'MAX_THREADS_COUNT'), {});
});

// What a shell, npm, the image, Docker and Kubernetes put in a server's environment.
const UNRELATED = [
  'PATH', 'HOME', 'HOSTNAME', 'HOSTTYPE', 'NODE_ENV', 'NODE_OPTIONS', 'NODE_VERSION', 'NODE_EXTRA_CA_CERTS', 'YARN_VERSION',
  'LANG', 'LANGUAGE', 'LC_ALL', 'TZ', 'PWD', 'OLDPWD', 'SHLVL', 'TERM', 'USER', 'LOGNAME', 'SHELL', 'MAIL', 'EDITOR', '_',
  'TMPDIR', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_DATA_DIRS', 'DISPLAY', 'COLORTERM', 'SSH_AUTH_SOCK', 'SSH_CONNECTION',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'UV_THREADPOOL_SIZE', 'CI', 'INIT_CWD',
  'npm_config_cache', 'npm_config_user_agent', 'npm_package_name', 'npm_package_version', 'npm_lifecycle_event', 'npm_lifecycle_script', 'npm_execpath', 'npm_node_execpath', 'npm_command',
  'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBERNETES_SERVICE_PORT_HTTPS', 'KUBERNETES_PORT', 'KUBERNETES_PORT_443_TCP',
  'KUBERNETES_PORT_443_TCP_PROTO', 'KUBERNETES_PORT_443_TCP_PORT', 'KUBERNETES_PORT_443_TCP_ADDR',
  'RAWHTTP_PORT', 'RAWHTTP_PORT_80_TCP', 'RAWHTTP_PORT_80_TCP_PROTO', 'RAWHTTP_PORT_80_TCP_PORT', 'RAWHTTP_PORT_80_TCP_ADDR',
  'RAWHTTP_SERVICE_HOST', 'RAWHTTP_SERVICE_PORT', 'RAWHTTP_SERVICE_PORT_HTTP',
];

test('the names a shell, npm, the image and Kubernetes set are never named', () => {
  assert.deepEqual(meant(...UNRELATED), {});
  // RAWHTTP_PORT and the like are far from every setting even without their Service's other names.
  assert.deepEqual(meant(...UNRELATED.filter((name) => !name.endsWith('_SERVICE_HOST'))), {});
});

test("a Service's names are its own even one edit from a setting: a Service named admins gives ADMINS_PORT", () => {
  const admins = ['ADMINS_SERVICE_HOST', 'ADMINS_SERVICE_PORT', 'ADMINS_PORT', 'ADMINS_PORT_9090_TCP', 'ADMINS_PORT_9090_TCP_PORT'];
  assert.deepEqual(meant(...admins), {});
  // Without its Service, the same name is what it looks like: ADMIN_PORT misspelt.
  assert.deepEqual(meant('ADMINS_PORT'), { ADMINS_PORT: 'ADMIN_PORT' });
});

test('the warning names each misspelt variable and the setting meant, never a value', () => {
  const text = misspellingWarning(misspeltSettings(SETTING_NAMES, ['PATH', 'MAX_THREAD', 'MAX_CONECTIONS']));
  assert.equal(text, 'MAX_THREAD is not a setting; did you mean MAX_THREADS? MAX_CONECTIONS is not a setting; did you mean MAX_CONNECTIONS? (a variable that is not a setting is ignored)');
});
