// Webhook URLs: what is accepted (http and https only, parsed by WHATWG URL, bounded), how one is
// shown (credentials masked, for answers and logs), and how it is called (credentials as Basic auth,
// since fetch refuses a URL that carries them).
import { WEBHOOK_URL_MAX } from '../../../schemas/webhooks.js';
import { SessionError } from '../../sessions/errors.js';

/** The normalized URL to keep, or a validation_failed error that does not echo the URL back. */
export function parseWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // new URL throws only TypeError ERR_INVALID_URL: the input is simply not a URL.
    throw new SessionError('validation_failed', 'url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SessionError('validation_failed', 'url must be an http or https URL');
  }
  if (url.hostname === '') throw new SessionError('validation_failed', 'url has no host');
  if (url.href.length > WEBHOOK_URL_MAX) {
    throw new SessionError('validation_failed', `url is longer than ${WEBHOOK_URL_MAX} characters`);
  }
  return url.href;
}

/** The URL with any user:password replaced by `***`: the only form that is ever answered or logged. */
export function maskUrl(href: string): string {
  const url = safeParse(href);
  if (!url) return '***';
  if (url.username === '' && url.password === '') return url.href;
  url.username = '***';
  url.password = '';
  return url.href;
}

/** Where to POST and the Authorization header the URL's credentials stand for (null: none). */
export function requestTarget(href: string): { url: string; authorization: string | null } {
  const url = new URL(href);
  if (url.username === '' && url.password === '') return { url: url.href, authorization: null };
  const user = decodeUserinfo(url.username);
  const password = decodeUserinfo(url.password);
  url.username = '';
  url.password = '';
  url.hash = '';
  return { url: url.href, authorization: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}` };
}

/** Percent-decoded userinfo; a stray `%` the URL parser let through is sent as written. */
function decodeUserinfo(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function safeParse(href: string): URL | null {
  try {
    return new URL(href);
  } catch {
    // Only reached for a stored URL damaged on disk: show nothing of it rather than fail a listing.
    return null;
  }
}
