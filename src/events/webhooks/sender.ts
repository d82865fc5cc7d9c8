// One delivery attempt: a signed POST of the event JSON, redirects not followed (a 3xx is a
// failure, as Standard Webhooks says), bounded by a timeout. node:http rather than fetch: fetch
// refuses URLs with credentials and a list of "bad ports" a receiver may well listen on.
import http from 'node:http';
import https from 'node:https';
import { signatureHeaders } from './signer.js';
import { requestTarget } from './url.js';

export const DEFAULT_DELIVERY_TIMEOUT_MS = 10_000;

export interface SendRequest {
  /** The stored URL (may carry credentials; they become a Basic Authorization header). */
  url: string;
  secret: string;
  messageId: string;
  /** The exact body, as signed. */
  body: string;
  at: Date;
  timeoutMs: number;
  /** Aborts the attempt (shutdown, endpoint deleted); it then resolves with `aborted: true`. */
  signal?: AbortSignal;
}

export interface SendResult {
  statusCode: number | null;
  /** Why there was no answer, or null. Never holds the URL's credentials (they are not in the URL sent). */
  error: string | null;
  durationMs: number;
  /** Cut short by `signal`: not a verdict on the receiver. */
  aborted: boolean;
}

export const isSuccess = (statusCode: number | null) => statusCode !== null && statusCode >= 200 && statusCode <= 299;

export function sendWebhook(request: SendRequest): Promise<SendResult> {
  const started = performance.now();
  const target = requestTarget(request.url);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(request.body)),
    'user-agent': 'sessiond',
    ...signatureHeaders(request.secret, request.messageId, request.at, request.body),
  };
  if (target.authorization) headers.authorization = target.authorization;

  return new Promise((resolve) => {
    let settled = false;
    const finish = (statusCode: number | null, error: string | null, aborted = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      resolve({ statusCode, error, durationMs: Math.max(0, Math.round(performance.now() - started)), aborted });
    };
    const client = target.url.startsWith('https:') ? https : http;
    const req = client.request(target.url, { method: 'POST', headers }, (res) => {
      finish(res.statusCode ?? null, null);
      // The answer's body says nothing we use: drop it and the connection, whatever its size.
      res.destroy();
    });
    const timer = setTimeout(() => {
      finish(null, `timed out after ${request.timeoutMs} ms`);
      req.destroy();
    }, request.timeoutMs);
    const onAbort = () => {
      finish(null, 'aborted', true);
      req.destroy();
    };
    if (request.signal?.aborted) return onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(null, describe(err)));
    req.end(request.body);
  });
}

/** A short reason for a failed exchange: the errno code and Node's message (address and port, no credentials). */
function describe(err: Error & { code?: string }): string {
  const text = err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
  return text.slice(0, 500);
}
