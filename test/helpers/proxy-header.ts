// PROXY protocol headers as a load balancer sends them (haproxy's proxy-protocol.txt), built
// byte by byte so that the tests do not trust the parser they test.
import { isIPv4, SocketAddress } from 'node:net';

/** Version 1: one text line, `PROXY TCP4|TCP6 source destination sport dport`. */
export function proxyV1(source: string, destination: string, sourcePort = 40000, destinationPort = 8080): Buffer {
  const family = isIPv4(source) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
}

export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** The 16 bytes of an IPv6 address, or the 4 of an IPv4 one. */
function addressBytes(address: string): Buffer {
  if (isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  const full = new SocketAddress({ address, family: 'ipv6' }).address;
  const [head, tail = ''] = full.split('::') as [string, string?];
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const missing = full.includes('::') ? 8 - groups(head).length - groups(tail).length : 0;
  const all = [...groups(head), ...Array<string>(missing).fill('0'), ...groups(tail)];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), 2 * i));
  return bytes;
}

/** Version 2 with the PROXY command over TCP, and any TLVs (type, value) after the addresses. */
export function proxyV2(source: string, destination: string, sourcePort = 40000, destinationPort = 8080, tlvs: ReadonlyArray<readonly [number, Buffer]> = []): Buffer {
  const v4 = isIPv4(source);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  const tlvBytes = tlvs.map(([type, value]) => {
    const head = Buffer.alloc(3);
    head[0] = type;
    head.writeUInt16BE(value.length, 1);
    return Buffer.concat([head, value]);
  });
  const block = Buffer.concat([addressBytes(source), addressBytes(destination), ports, ...tlvBytes]);
  // 0x21: version 2, PROXY; 0x11 TCP over IPv4, 0x21 TCP over IPv6.
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, v4 ? 0x11 : 0x21, block.length >> 8, block.length & 0xff]), block]);
}

/** Version 2 LOCAL: the balancer's own connection (a health check); no addresses. */
export function proxyV2Local(): Buffer {
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
}
