// `sessiond logs <id>`: a session's output. One stream as it is, byte for byte; with --both,
// stdout and stderr as the service streams them (SSE); with -f, followed until the session ends,
// across dropped connections (resumed with Last-Event-ID: no gap, no duplicate). The session's
// stdout goes to this command's stdout and its stderr to this command's stderr, as docker logs
// does; stderr is red on a terminal.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { flag, str, type Command, type Context } from '../command.js';
import { takesQueryParameter } from '../capabilities.js';
import { ApiError, CliError, UsageError } from '../errors.js';
import { follow } from '../follow.js';
import { sessionPath } from '../sessions.js';
import type { SseMessage } from '../sse.js';

type Stream = 'stdout' | 'stderr';

const STREAM_ROUTE = '/v1/sessions/{id}/logs/stream';

/** `<stdout offset>-<stderr offset>`, the stream's event id. */
function offsets(id: string | undefined): Record<Stream, number> | null {
  const match = id === undefined ? null : /^(\d+)-(\d+)$/.exec(id);
  return match ? { stdout: Number(match[1]), stderr: Number(match[2]) } : null;
}

async function rawLog(context: Context, id: string, stream: Stream): Promise<number> {
  const api = await context.api();
  const res = await api.open('GET', `${sessionPath(id)}/logs/${stream}`, { headers: { accept: 'text/plain' } });
  if (res.body) await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), stream === 'stdout' ? context.out : context.err, { end: false });
  return 0;
}

/** The options that need a newer service: a clear answer when this one does not take them. */
async function assertSupported(context: Context, wanted: Record<string, boolean>): Promise<void> {
  for (const [name, asked] of Object.entries(wanted)) {
    if (asked && !(await takesQueryParameter(await context.api(), STREAM_ROUTE, name))) {
      throw new CliError(`--${name} is not supported by this server yet: it needs a sessiond whose log stream takes ${name}=`);
    }
  }
}

export const logs: Command = {
  name: 'logs',
  summary: 'Print a session’s output; -f follows it until the session ends.',
  args: '<id>',
  positionals: { min: 1, max: 1 },
  options: [
    { name: 'follow', short: 'f', type: 'boolean', description: 'keep printing new output until the session ends; reconnects when the connection drops' },
    { name: 'stderr', type: 'boolean', description: 'stderr instead of stdout' },
    { name: 'both', type: 'boolean', description: 'stdout and stderr, as the service streams them' },
    { name: 'timestamps', short: 't', type: 'boolean', description: 'prefix each line with the time it was written (needs a service that records it)' },
    { name: 'since', type: 'string', value: 'TIME', description: 'start at the first line written at or after TIME (RFC 3339, or 90s, 10m, 2h ago)' },
  ],
  details: `Without -f, --both, --timestamps and --since, the stream is printed byte for byte as the session wrote it.
The session's stderr goes to this command's stderr (red on a terminal, unless NO_COLOR): add 2>&1 to pipe both.`,
  async run(parsed, context) {
    const id = parsed.positionals[0] as string;
    if (flag(parsed, 'stderr') && flag(parsed, 'both')) throw new UsageError('--stderr and --both cannot go together', 'logs');
    const streams: Stream[] = flag(parsed, 'both') ? ['stdout', 'stderr'] : flag(parsed, 'stderr') ? ['stderr'] : ['stdout'];
    const following = flag(parsed, 'follow');
    const timestamps = flag(parsed, 'timestamps');
    const since = str(parsed, 'since');
    if (!following && streams.length === 1 && !timestamps && since === undefined) return rawLog(context, id, streams[0] as Stream);

    const api = await context.api();
    await assertSupported(context, { timestamps, since: since !== undefined });
    // Without -f: what is there now, then stop (the sizes tell when everything has come).
    let target: Record<Stream, number> | null = null;
    if (!following) {
      const { body } = await api.json<{ stdout_bytes: number; stderr_bytes: number }>('GET', `${sessionPath(id)}/logs`, { query: { tail_bytes: 0 } });
      target = { stdout: body.stdout_bytes, stderr: body.stderr_bytes };
      if (streams.every((s) => (target as Record<Stream, number>)[s] === 0)) return 0;
    }
    const red = context.colors.err.red;
    let sent: Record<Stream, number> = { stdout: 0, stderr: 0 };
    const print = (message: SseMessage): 'stop' | void => {
      if (message.event === 'end') return 'stop';
      const next = offsets(message.id);
      if (message.event === 'stdout' || message.event === 'stderr') {
        const stream = message.event;
        // The id says how many bytes the event stands for: more than its text means its last
        // line was complete (it ended with \n, \r\n or \r); as many means a partial line.
        const bytes = next ? next[stream] - sent[stream] : 0;
        const complete = timestamps || Buffer.byteLength(message.data) < bytes || next === null;
        const text = message.data + (complete ? '\n' : '');
        if (stream === 'stdout') context.out.write(text);
        else context.err.write(text.replace(/[^\n]+/g, (line) => red(line)));
      } else if (message.event === 'truncated') {
        context.err.write(`sessiond: ${message.data}: the log was truncated; following from its new end\n`);
      }
      if (next) sent = next;
      if (target && streams.every((s) => sent[s] >= (target as Record<Stream, number>)[s])) return 'stop';
    };
    const query = {
      streams: streams.join(','),
      from: 'start',
      ...(timestamps ? { timestamps: true } : {}),
      ...(since !== undefined ? { since } : {}),
    };
    try {
      await follow(api, `${sessionPath(id)}/logs/stream`, {
        query,
        onMessage: print,
        onReconnecting: (why) => context.err.write(`sessiond: ${why}; reconnecting…\n`),
        onReconnected: () => context.err.write('sessiond: reconnected; resuming where the output stopped\n'),
      });
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && (timestamps || since !== undefined) && /timestamps|since/.test(err.detail)) {
        throw new CliError(`${timestamps ? '--timestamps' : '--since'} is not supported by this server yet (${err.detail})`);
      }
      throw err;
    }
    return 0;
  },
};
