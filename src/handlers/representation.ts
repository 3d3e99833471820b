// From a file's representation (its headers and validators) and the request's conditions to
// the response: 200, 206, 304, 412 or 416. Pure: the body comes from a reader the caller
// supplies, so the worker (reading the file) and the main thread's cache (slicing bytes it
// holds) answer alike.
import { errorResponse, NO_BODY, type HeaderList, type HeadFields, type PreparedStart, type Response, type ResponseBody } from '../core/response.js';
import type { ConditionalHeaders, Representation } from '../core/job.js';
import { decide } from './conditional.js';

/** Supplies the body bytes `start` .. `start + length - 1` of the representation. */
export type BodyReader = (start: number, length: number) => ResponseBody;

/** The status and fields of the 200 that sends the whole representation. */
export function fullHeadFields(representation: Representation): HeadFields {
  return { status: 200, headers: representation.headers, contentLength: representation.facts.size };
}

/** The representation's Vary field, if any: a 412 or 416 depends on the chosen encoding too. */
function varyOf(representation: Representation): HeaderList {
  return representation.validators.filter(([name]) => name === 'Vary');
}

/** 304: the validators again, and no body (RFC 9110 §15.4.5). */
export function notModified(representation: Representation): Response {
  return { status: 304, headers: representation.validators, contentLength: null, body: NO_BODY };
}

/** `fullHead`: the 200's head prepared from fullHeadFields, where the caller keeps one. */
export function respondWith(method: 'GET' | 'HEAD', conditions: ConditionalHeaders, representation: Representation, read: BodyReader, fullHead?: PreparedStart): Response {
  const { size } = representation.facts;
  const decision = decide(conditions, representation.facts, method === 'GET');
  switch (decision.kind) {
    case 'precondition-failed':
      return errorResponse(412, method, varyOf(representation));
    case 'not-modified':
      return notModified(representation);
    case 'unsatisfiable':
      return errorResponse(416, method, [['Content-Range', `bytes */${size}`], ...varyOf(representation)]);
    case 'partial': {
      // Only a GET is given a range (decide), so a part always has its body.
      const length = decision.end - decision.start + 1;
      return {
        status: 206,
        headers: [...representation.headers, ['Content-Range', `bytes ${decision.start}-${decision.end}/${size}`]],
        contentLength: length,
        body: read(decision.start, length),
      };
    }
    case 'full': {
      const head = fullHeadFields(representation);
      // Field by field rather than a spread: this runs for every cached page, and V8 builds it faster.
      return { status: head.status, headers: head.headers, contentLength: head.contentLength, body: method === 'HEAD' ? NO_BODY : read(0, size), prepared: fullHead };
    }
  }
}
