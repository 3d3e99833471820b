// Address ranges such as TRUSTED_PROXIES, pure: a list of addresses and CIDR blocks, and
// whether an address falls in one of them. node:net's BlockList does the matching; it also
// matches an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) against IPv4 rules.
import { BlockList, isIP } from 'node:net';

const PREFIX = /^(?:0|[1-9]\d{0,2})$/;

/** Why `entry` is not an address or CIDR block, or null when it is one. */
export function cidrProblem(entry: string): string | null {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0 || address.includes('%')) return `"${entry}" is not an IP address or CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)`;
  if (slash === -1) return null;
  const prefix = entry.slice(slash + 1);
  const bits = family === 4 ? 32 : 128;
  if (!PREFIX.test(prefix) || Number(prefix) > bits) return `"${entry}": the prefix length must be a number from 0 to ${bits} for an IPv${family} address`;
  return null;
}

export class AddressRanges {
  private constructor(
    private readonly list: BlockList,
    /** The entries as configured: with none, nothing is even looked at. */
    private readonly entries: readonly string[],
  ) {}

  /** Throws an Error naming the first entry that is not an address or CIDR block. */
  static parse(entries: readonly string[]): AddressRanges {
    const list = new BlockList();
    for (const entry of entries) {
      const problem = cidrProblem(entry);
      if (problem !== null) throw new Error(problem);
      const [address, prefix] = entry.split('/') as [string, string?];
      const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
      // Host bits under the prefix are ignored, as BlockList does: 10.1.2.3/8 is 10.0.0.0/8.
      if (prefix === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(prefix), family);
    }
    return new AddressRanges(list, [...entries]);
  }

  /** Whether the address is in a range; false for anything that is not an IP address. */
  matches(address: string): boolean {
    // Without TRUSTED_PROXIES, as most servers run, no address is even looked at.
    if (this.entries.length === 0) return false;
    const family = isIP(address);
    if (family === 0 || address.includes('%')) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
