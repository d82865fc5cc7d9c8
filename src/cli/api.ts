// The service's HTTP API for the command: JSON requests with the token, problem+json answers
// turned into ApiError, a service that does not answer into UnreachableError, and a 401 into a
// message that says where the token came from and what to set.
import { ApiError, CliError, UnreachableError } from './errors.js';
import { tokenHint, type Connection } from './settings.js';

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Api {
  readonly url: string;
  /** A JSON request; resolves with the parsed body (null for 204), rejects with ApiError or UnreachableError. */
  json<T>(method: string, path: string, options?: RequestOptions): Promise<{ status: number; body: T }>;
  /** A request whose body the caller reads (a raw log, a stream); a non-2xx answer rejects as json() does. */
  open(method: string, path: string, options?: RequestOptions): Promise<Response>;
}

export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) params.append(key, String(one));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Why fetch failed, in a few words (undici hides the system error in `cause`). */
function reason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

export function createApi(connection: Connection, dataDir: string): Api {
  const base = connection.url;

  async function problem(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    let parsed: { code?: unknown; detail?: unknown } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // Not problem+json (a proxy's page): the status says enough.
    }
    const code = typeof parsed.code === 'string' ? parsed.code : `http_${res.status}`;
    let detail = typeof parsed.detail === 'string' ? parsed.detail : res.statusText || 'request failed';
    if (res.status === 401) detail = `${detail}: ${tokenHint(connection, dataDir)}`;
    return new ApiError(res.status, code, detail);
  }

  async function open(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (connection.token) headers.authorization = `Bearer ${connection.token}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(`${base}${path}${queryString(options.query)}`, { method, headers, body, signal: options.signal, redirect: 'manual' });
    } catch (err) {
      if (options.signal?.aborted) throw err;
      throw new UnreachableError(base, reason(err));
    }
    if (res.status >= 300) throw await problem(res);
    return res;
  }

  return {
    url: base,
    open,
    async json<T>(method: string, path: string, options: RequestOptions = {}) {
      const res = await open(method, path, options);
      const text = await res.text();
      if (res.status === 204 || text === '') return { status: res.status, body: null as T };
      try {
        return { status: res.status, body: JSON.parse(text) as T };
      } catch {
        throw new CliError(`the service answered ${method} ${path} with something that is not JSON`);
      }
    },
  };
}
