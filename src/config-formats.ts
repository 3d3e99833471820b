// The value formats of the configuration schema (config.ts), by name. Each one refuses what
// convict's own formats would read loosely, and says in its message what it takes.
import type convict from 'convict';
import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { tokenProblem } from './security/bearer.js';
import { canonicalCidr, cidrProblem } from './security/cidr.js';
import { CorsPolicy } from './security/cors.js';
import { normalizeHost } from './security/host.js';
import { isReplacedByVolumeUpdates } from './security/path.js';

/** Multicast and broadcast addresses (and IPv4-mapped IPv6 forms of them): no TCP peer can reach a listener there. */
const NO_TCP_PEERS = new BlockList();
NO_TCP_PEERS.addSubnet('224.0.0.0', 4, 'ipv4');
NO_TCP_PEERS.addAddress('255.255.255.255', 'ipv4');
NO_TCP_PEERS.addSubnet('ff00::', 8, 'ipv6');

/**
 * Integers written in decimal digits only. Without a coerce of its own, convict reads a
 * number with parseFloat: `30s` would be 30, `256MiB` 256, `1e1` 10, and `0x3c` 0 (a rate
 * limit turned off).
 */
function integer(min: number, max: number, problem: string): convict.Format {
  return {
    validate(value: unknown): void {
      if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) throw new Error(problem);
    },
    // Past 2^53 a number is no longer the digits written: those stay text, and are refused as such.
    coerce: (value: string): number | string => (/^\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value)) ? Number(value) : value),
  };
}

// Times in ms go to timers, which take at most 2^31 - 1 ms (about 24.8 days) and fire at
// once for anything larger: a grace period of 3e9 ms would cut every request at shutdown.
const MAX_TIMER_MS = 2 ** 31 - 1;

const commaList = {
  validate(value: unknown): void {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list');
  },
  coerce: (value: string): string[] => value.split(',').map((item) => item.trim()).filter((item) => item !== ''),
};

/** A comma list whose every entry passes `problem` (null when fine). */
function checkedList(problem: (entry: string, index: number) => string | null): convict.Format {
  return {
    validate(value: unknown): void {
      commaList.validate(value);
      (value as string[]).forEach((entry, index) => {
        const found = problem(entry, index);
        if (found !== null) throw new Error(found);
      });
    },
    coerce: commaList.coerce,
  };
}

// `true`/`false` (or 1/0, yes/no, on/off). convict's own Boolean takes every value but
// "false" as true, so PROXY_PROTOCOL=0 would turn the protocol on.
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };

/** A port a client can connect to, written as clients write it: 1-65535, no leading zero. */
const isUsablePort = (port: string): boolean => /^[1-9]\d{0,4}$/.test(port) && Number(port) <= 65535;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;

const MAX_LISTEN_SOCKETS = 256;

export const CONFIG_FORMATS: Readonly<Record<string, convict.Format>> = {
  'positive-int': integer(1, Number.MAX_SAFE_INTEGER, 'must be a positive integer'),
  'non-negative-int': integer(0, Number.MAX_SAFE_INTEGER, 'must be a non-negative integer'),
  'duration-ms': integer(1, MAX_TIMER_MS, `must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`),
  'duration-ms-or-zero': integer(0, MAX_TIMER_MS, `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`),
  // A prefix shorter than /32 (what a registry allots one provider) would lump providers together.
  'ipv6-prefix': integer(32, 128, 'must be an integer from 32 to 128'),

  'comma-list': commaList,
  // TRUSTED_PROXIES: read as the ranges they are (security/cidr.ts), so the start log says
  // what is trusted, once each: `192.0.2.7/32` is 192.0.2.7. An invalid entry stays as written.
  'cidr-list': {
    ...checkedList((entry) => cidrProblem(entry)),
    coerce: (value: string): string[] => [...new Set(commaList.coerce(value).map((entry) => canonicalCidr(entry) ?? entry))],
  },
  // Secrets: a problem names the entry's position, never its text.
  'token-list': checkedList((entry, index) => {
    const problem = tokenProblem(entry);
    return problem === null ? null : `entry ${index + 1} is ${problem}`;
  }),
  'origin-list': {
    validate(value: unknown): void {
      commaList.validate(value);
      CorsPolicy.parse(value as string[], false);
    },
    coerce: commaList.coerce,
  },
  // ALLOWED_HOSTS: normalised as it is read (see security/host.ts), so `example.com` means
  // `example.com:80`; an entry left as given is not a host with an optional port.
  'host-list': {
    validate(value: unknown): void {
      commaList.validate(value);
      const invalid = (value as string[]).find((entry) => normalizeHost(entry) !== entry || !isUsablePort(entry.slice(entry.lastIndexOf(':') + 1)));
      if (invalid !== undefined) {
        // RFC 3986 §3.2.2: only an IPv6 address goes in brackets (IPvFuture is refused, as in Host).
        const brackets = invalid.startsWith('[') ? ' (in brackets, an IPv6 address only)' : '';
        throw new Error(`"${invalid}" is not a host with an optional port${brackets}, such as example.com, example.com:8080 or [::1]:8080`);
      }
      // A pattern would read as one but match nothing: Host values are compared whole.
      if ((value as string[]).some((entry) => entry.includes('*'))) throw new Error('takes host names, not patterns ("*" matches no Host)');
    },
    coerce: (value: string): string[] => commaList.coerce(value).map((entry) => normalizeHost(entry) ?? entry),
  },

  'boolean-word': {
    validate(value: unknown): void {
      if (typeof value !== 'boolean') throw new Error('must be true or false');
    },
    coerce: (value: string): boolean | string => BOOLEAN_WORDS[value.trim().toLowerCase()] ?? value,
  },
  'optional-token': {
    validate(value: unknown): void {
      if (typeof value !== 'string') throw new Error('must be a string');
      const problem = value === '' ? null : tokenProblem(value);
      if (problem !== null) throw new Error(problem);
    },
  },

  // PORT, ADMIN_PORT: digits only, without leading zeros (00080 is no port a client writes).
  // convict's own `port` reads the value with parseInt, so `1e4` would bind port 1, `0x10` an
  // ephemeral port and `8080abc` port 8080.
  'tcp-port': {
    validate(value: unknown): void {
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) throw new Error('must be a port number from 0 to 65535');
    },
    coerce: (value: string): number | string => (/^(0|[1-9]\d{0,4})$/.test(value.trim()) ? Number(value) : value),
  },
  // HOST, ADMIN_HOST: an IP address or a host name. An empty value (an unset variable in a
  // compose file) would otherwise listen on every interface, the admin port included. Linux
  // lets a TCP socket bind a multicast or the broadcast address, which no client can connect
  // to: the server would start, say it is ready, and never be reached.
  'bind-address': {
    validate(value: unknown): void {
      if (typeof value !== 'string' || (isIP(value) === 0 && !HOST_NAME.test(value))) {
        throw new Error('must be an IP address (0.0.0.0 or :: for every interface) or a host name');
      }
      if (NO_TCP_PEERS.check(value.split('%', 1)[0]!, isIP(value) === 6 ? 'ipv6' : 'ipv4')) {
        throw new Error('must be an address TCP clients can connect to, not a multicast or broadcast one');
      }
    },
  },
  // CACHE_CONTROL goes on the wire as it is: a control character (the newline a YAML block
  // scalar ends with, or CR LF and a header of the attacker's) would break every response.
  'header-value': {
    validate(value: unknown): void {
      if (typeof value !== 'string' || value === '' || /[\x00-\x08\x0a-\x1f\x7f]/.test(value) || value !== value.trim()) {
        throw new Error('must be a header field value: visible characters and inner spaces only, not empty');
      }
    },
  },
  // LISTEN_SOCKETS: `auto`, or how many listening sockets share the public port.
  'listen-sockets': {
    validate(value: unknown): void {
      if (value === 'auto') return;
      if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_LISTEN_SOCKETS) {
        throw new Error(`must be "auto" or an integer from 1 to ${MAX_LISTEN_SOCKETS}`);
      }
    },
    coerce: (value: string): number | string => (/^\d+$/.test(value) ? Number(value) : value),
  },
  // RESOURCES_DIR: read at start, so it must be there and usable now.
  'existing-directory': {
    validate(value: unknown): void {
      if (typeof value !== 'string' || value === '') throw new Error('must be a directory path');
      if (!existsSync(value) || !statSync(value).isDirectory()) throw new Error('directory does not exist');
      // Resolved once at start, such a folder is gone after the volume's next update: every file
      // 404. Named as it is, or through a link to it.
      if ([value, realpathSync(value)].some((path) => path.split(/[\\/]/).some(isReplacedByVolumeUpdates))) {
        throw new Error("names a Kubernetes volume's data folder, which its next update replaces: name the folder the volume is mounted at");
      }
      // One this process may not list and enter would answer every request with 403.
      try {
        accessSync(value, constants.R_OK | constants.X_OK);
      } catch {
        throw new Error('directory is not readable by this process');
      }
    },
  },
};
