// Every error the API can answer with, in one list: stable code, HTTP status and title.
// One error handler (src/plugins/errors.ts) renders them, and Fastify's own, as problem+json.

export const ERRORS = {
  validation_failed: { status: 400, title: 'Validation failed' },
  bad_request: { status: 400, title: 'Bad request' },
  working_directory_invalid: { status: 400, title: 'Working directory invalid' },
  range_not_satisfiable: { status: 416, title: 'Range not satisfiable' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  command_not_allowed: { status: 403, title: 'Command not allowed' },
  session_not_found: { status: 404, title: 'Session not found' },
  report_not_found: { status: 404, title: 'Report not found' },
  webhook_not_found: { status: 404, title: 'Webhook not found' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  not_acceptable: { status: 406, title: 'Not acceptable' },
  /** The whole request (headers and body) did not arrive within SESSIOND_REQUEST_TIMEOUT_MS. */
  request_timeout: { status: 408, title: 'Request timeout' },
  session_running: { status: 409, title: 'Session running' },
  /** Interrupt (and input) need a process: the session is queued or has ended. */
  session_not_running: { status: 409, title: 'Session not running' },
  /** Continue needs the agent's own session id, learnt from its system/init message. */
  agent_session_unknown: { status: 409, title: 'Agent session unknown' },
  /** Agent messages exist only for sessions started with agent.stream_json. */
  session_not_agent: { status: 409, title: 'Not an agent session' },
  /** Input needs a session started with agent.input. */
  session_not_interactive: { status: 409, title: 'Session not interactive' },
  /** The session does not read its stdin: the pipe stayed full for 5 s and nothing was written. */
  input_busy: { status: 409, title: 'Input busy' },
  /** A container session asked for an image not in SESSIOND_DOCKER_IMAGES. */
  image_not_allowed: { status: 403, title: 'Image not allowed' },
  /** Resource limits were asked of the local runtime, which cannot enforce them. */
  limits_unsupported: { status: 400, title: 'Limits unsupported' },
  /** A log path is no longer a regular file the service can serve (a session replaced it). */
  idempotency_conflict: { status: 409, title: 'Idempotency conflict' },
  /** A log's path no longer names the file the service created (a link, a hard link, a folder...): refused, not read. */
  log_unavailable: { status: 409, title: 'Log unavailable' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  /** The report is larger than SESSIOND_MAX_REPORT_BYTES: it is not served. */
  report_too_large: { status: 413, title: 'Report too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  limit_exceeded: { status: 429, title: 'Limit exceeded' },
  /** Node's HTTP parser refused the request's headers (over 16 KiB); answered before any route. */
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  internal: { status: 500, title: 'Internal error' },
  session_damaged: { status: 500, title: 'Session record damaged' },
  unavailable: { status: 503, title: 'Unavailable' },
  insufficient_storage: { status: 507, title: 'Insufficient storage' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class SessionError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    options?: { cause?: unknown; facts?: ErrorFacts },
  ) {
    super(detail, options);
    this.name = 'SessionError';
    this.status = ERRORS[code].status;
    this.title = ERRORS[code].title;
    this.facts = options?.facts ?? {};
  }
  /** What the HTTP layer may need to say more (a log's size for Content-Range); no HTTP here. */
  readonly facts: ErrorFacts;
}

export interface ErrorFacts {
  /** The size of the resource a range missed. */
  size?: number;
  /** The first byte a capped log still holds (bytes before it were dropped). */
  retained_from?: number;
}

export const sessionNotFound = (id: string) => new SessionError('session_not_found', `no session with id ${id}`);

/** Store faults become coded API errors; the cause goes to the log, not to the client. */
export function storeFailure(err: unknown, log: { error(obj: object, msg: string): void }): SessionError {
  if (err instanceof SessionError) return err;
  if ((err as { code?: string } | null)?.code === 'not_found' && (err as Error).name === 'StoreError') {
    return new SessionError('session_not_found', (err as Error).message);
  }
  log.error({ err }, 'store failure');
  const cause = (err as { cause?: { code?: string } } | null)?.cause;
  if (cause?.code === 'ENOSPC' || (err as { code?: string } | null)?.code === 'ENOSPC') {
    return new SessionError('insufficient_storage', 'the data directory is out of space');
  }
  return new SessionError('unavailable', 'the session store could not be written');
}
