// What a connection makes of each request it reads, before any response: the exchange that
// will carry its answer (who sent it, its trace id, whether the connection may stay open
// after it), and for a request with a body, the body's share of the memory budget or the
// refusal. Plain functions of the server's shared dependencies, like dispatch.ts: a
// connection allocates nothing for them beyond what each request needs anyway.
import type { RequestHead } from '../core/request.js';
import { RETRY_IN_A_SECOND } from '../core/response.js';
import type { CanonicalAddress } from '../security/address.js';
import { requestClient } from '../security/forwarded.js';
import type { BodyShare } from './body-budget.js';
import type { Accepted, ConnectionDeps } from './connection-settings.js';
import { corsFieldLines } from './cors-fields.js';
import { giveUploadBack } from './dispatch.js';
import { newExchange, type Exchange } from './exchange.js';
import { methodRead, type ReadSoFar } from './read-so-far.js';
import type { ImmediateRoute, Route } from './router.js';
import { newTraceId, requestTraceId } from './trace-context.js';

/** A request whose head has been read and whose body is being read. */
export interface AwaitingBody {
  readonly exchange: Exchange;
  readonly route: Extract<Route, { kind: 'static' | 'upload' }>;
  /** The body's memory, held until the job that reads it is done. */
  readonly share: BodyShare;
}

/** A client at its part of the body memory (body-budget.ts): its own excess, like the upload rate. */
const OVER_CLIENT_BODY_SHARE: ImmediateRoute = { kind: 'reject', refusal: 'body_memory_share', detail: 'client holds its part of the request-body memory', headers: RETRY_IN_A_SECOND };
/** Every body together holds MAX_BODY_MEMORY_BYTES: the server is full, for now. */
const BODY_MEMORY_FULL: ImmediateRoute = { kind: 'reject', refusal: 'body_memory', detail: 'request-body memory full', headers: RETRY_IN_A_SECOND };

/**
 * The exchange of the `index`th request on a connection. Through a trusted proxy the client
 * is the one X-Forwarded-For names (or, when it names none that can be, the request is to be
 * refused); with CORS on, a request for /upload gets its CORS fields. Neither costs a plain
 * request anything when off.
 */
export function requestExchange(deps: ConnectionDeps, accepted: Accepted, head: RequestHead, index: number): Exchange {
  const keepAlive = head.keepAlive && index < deps.settings.maxRequestsPerConnection;
  const { access } = deps;
  const named = accepted.trustedProxy ? requestClient(accepted.client, head.headers['x-forwarded-for'], access.trustedProxies) : null;
  const client = named?.ok === true ? named.client : accepted.client;
  const impossibleSource = named?.ok === false ? named.impossibleSource : null;
  const fieldLines = access.cors === null ? '' : corsFieldLines(access.cors, head);
  return newExchange(head.method, head.target, index, keepAlive, client, impossibleSource, requestTraceId(head.headers.traceparent), fieldLines);
}

/** The exchange of bytes that never made a whole head, named by what of its request line was read. */
export function unreadableExchange(accepted: Accepted, read: Exclude<ReadSoFar, { kind: 'head' }>, index: number): Exchange {
  const target = read.kind === 'line' ? read.line.target : '-';
  const traceId = read.kind === 'line' ? requestTraceId(read.traceparent) : newTraceId();
  return newExchange(methodRead(read) ?? '-', target, index, false, accepted.client, null, traceId, '');
}

/** Whose part of the body memory a request takes: none for a trusted proxy's own, which carry many clients. */
function bodyClient(deps: ConnectionDeps, client: CanonicalAddress): string | null {
  const { access } = deps;
  if (access.trustedProxies.matches(client)) return null;
  return access.limits.clientOf(client);
}

/**
 * The memory for the body of an accepted head, or the refusal when it does not fit (the
 * body then stays unread). A refused upload is given back (see giveUploadBack).
 */
export function admitBody(deps: ConnectionDeps, head: RequestHead, exchange: Exchange, route: AwaitingBody['route']): AwaitingBody | ImmediateRoute {
  const bytes = head.framing.kind === 'length' ? head.framing.length : deps.settings.limits.maxBodyBytes;
  const taken = deps.bodies.take(bytes, bodyClient(deps, exchange.client));
  if (taken.kind === 'taken') return { exchange, route, share: taken.share };
  if (route.kind === 'upload') giveUploadBack(deps, exchange);
  if (taken.by === 'client') return OVER_CLIENT_BODY_SHARE;
  deps.events.rejected('body_memory');
  return BODY_MEMORY_FULL;
}
