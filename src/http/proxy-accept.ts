// The PROXY protocol on accept: a connection from a trusted load balancer starts with one
// header naming the client it relays (security/proxy-protocol.ts parses it). It is read
// here, before the first HTTP byte and within a deadline; what follows it in the same read
// is handed on as the connection's first bytes.
import type { Socket } from 'node:net';
import { setTimeoutAfterPoll } from '../core/after-poll.js';
import { ProxyHeaderReader, type ProxyHeader, type ProxyHeaderError } from '../security/proxy-protocol.js';

export type ProxyAccept =
  | { readonly ok: true; readonly header: ProxyHeader; readonly rest: Uint8Array }
  /**
   * `closed`: the peer closed part-way through the header; `unused`: before its first byte,
   * as a balancer's TCP health check does (connect, then close).
   */
  | { readonly ok: false; readonly code: ProxyHeaderError | 'timeout' | 'closed' | 'unused'; readonly message: string };

/**
 * Reads the header off a new socket and calls `done` once. A failure destroys the socket
 * first, without an answer (the peer may not even speak HTTP). A header is reported from
 * within the read that completed it: `done` must take the socket over (listen for 'data')
 * before it returns, since the socket keeps flowing and a later read would find no listener.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number, done: (result: ProxyAccept) => void): void {
  const reader = new ProxyHeaderReader();
  let received = false;
  let settled = false;
  const finish = (result: ProxyAccept): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('error', ignore);
    if (!result.ok) socket.destroy();
    done(result);
  };
  const onData = (chunk: Buffer): void => {
    received = true;
    const read = reader.push(chunk);
    if (read.kind === 'header') finish({ ok: true, header: read.header, rest: read.rest });
    else if (read.kind === 'error') finish({ ok: false, code: read.error, message: read.message });
  };
  const onEnd = (): void =>
    finish(received ? { ok: false, code: 'closed', message: 'the peer closed the connection before the header was complete' } : { ok: false, code: 'unused', message: 'the peer closed the connection without sending a byte' });
  // Judged after the poll phase, which reads a header that arrived while the process was frozen.
  const timer = setTimeoutAfterPoll(() => finish({ ok: false, code: 'timeout', message: `no complete header within ${timeoutMs} ms` }), timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.on('error', ignore);
}

/** A reset is followed by 'close', which ends the wait; the error itself says nothing more. */
const ignore = (): void => undefined;
