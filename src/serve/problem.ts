// Problem details (RFC 9457): every error of the API is one JSON object with a sentence a person can
// act on, served as application/problem+json. The same sentences as the CLI's, never a stack trace.
import type { FastifyReply } from 'fastify';
import { printable } from '../report/printable.js';

/** One invalid field of a request: where (a JSON pointer into the body, query or params) and why. */
export interface InvalidParam {
  name: string;
  reason: string;
}

/** An RFC 9457 problem body. `type` is about:blank unless a problem has a page of its own. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  /** The fields of a 400 that failed validation (RFC 9457 §3.2 extension member, as in its example). */
  'invalid-params'?: InvalidParam[];
}

/** The standard phrases of the statuses the API answers with (RFC 9110 §15). */
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** An error a route throws to answer with a problem body: `status` and one sentence. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    detail: string,
    readonly invalidParams?: InvalidParam[],
  ) {
    super(printable(detail));
  }
}

/** The problem body for a status and a sentence (made printable: it may quote the request). */
export function problem(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail: printable(detail),
    ...extra,
  };
}

/** Sends a problem body with its media type. */
export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p);
}
