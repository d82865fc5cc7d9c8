// `sessiond wait <id>`: blocks until the session has ended, prints its exit code and exits with it,
// as `docker wait` reports it (a signal is 128 + its number). The service answers a wait after at
// most 5 minutes, so this asks again until the end; a dropped connection is asked again too. The
// wait route is a POST (a write token): with a read token, the session is read once a second instead.
import type { Session } from '../../../schemas/session.js';
import { str, type Command } from '../command.js';
import { parseDuration } from '../durations.js';
import { ApiError, EXIT, UnreachableError } from '../errors.js';
import { sessionExitCode } from '../exit-code.js';
import { getSession, hasEnded, sessionPath } from '../sessions.js';

/** The longest wait the service takes in one request. */
const MAX_WAIT_MS = 300_000;
const RETRY_MS = 1000;
const POLL_MS = 1000;

export const wait: Command = {
  name: 'wait',
  summary: 'Wait until a session has ended; print its exit code and exit with it.',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: [{ name: 'timeout', type: 'string', value: 'DURATION', description: `give up after this long, exiting ${EXIT.timedOut} (default: wait as long as it runs)` }],
  details: `The exit code is the session's own, or 128 + the signal's number when a signal ended it
(SIGKILL: 137, SIGTERM: 143), as docker wait and a shell report it; 127 when it never started (failed).`,
  async run(parsed, context) {
    const id = parsed.positionals[0] as string;
    const timeout = str(parsed, 'timeout');
    const deadline = timeout === undefined ? Number.POSITIVE_INFINITY : context.now() + parseDuration(timeout, '--timeout');
    const api = await context.api();
    let lost = false;
    let readOnly = false;
    const once = async (left: number): Promise<Session> => {
      if (!readOnly) {
        try {
          return (await api.json<Session>('POST', `${sessionPath(id)}/wait`, { body: { timeout_ms: Math.max(0, Math.min(MAX_WAIT_MS, left)) } })).body;
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 'forbidden')) throw err;
          readOnly = true;
        }
      }
      const session = await getSession(api, id);
      if (!hasEnded(session) && left > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
      return session;
    };
    for (;;) {
      const left = deadline - context.now();
      let session: Session;
      try {
        session = await once(left);
      } catch (err) {
        // The session goes on while the service restarts: ask again once it answers.
        if (!(err instanceof UnreachableError) && !(err instanceof ApiError && err.status >= 500)) throw err;
        if (!lost) context.err.write(`sessiond: ${err.message}; still waiting\n`);
        lost = true;
        if (context.now() + RETRY_MS > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        continue;
      }
      if (hasEnded(session)) {
        const code = sessionExitCode(session);
        context.out.write(`${code}\n`);
        return code;
      }
      if (context.now() >= deadline) break;
    }
    context.err.write(`sessiond: ${id} is still live after ${timeout}\n`);
    return EXIT.timedOut;
  },
};
