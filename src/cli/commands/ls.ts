// `sessiond ls`: sessions as a table (newest first), or as JSON; filtered by status and labels as
// the list route filters them. Pages are followed until the list (or --limit) is complete.
import type { Session } from '../../../schemas/session.js';
import { flag, str, strs, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { ago, clip, table, type Colors } from '../format.js';
import { parseLabel } from '../labels.js';

const PAGE = 500;

function statusColor(status: string, c: Colors): string {
  if (status === 'running') return c.green(status);
  if (status === 'failed' || status === 'completed_missing_report') return c.red(status);
  if (status === 'queued' || status === 'starting') return c.yellow(status);
  return status;
}

function exitOf(session: Session): string {
  if (session.exit_code !== null) return String(session.exit_code);
  return session.exit_signal ?? '-';
}

export const ls: Command = {
  name: 'ls',
  summary: 'List sessions, newest first.',
  args: '',
  positionals: { min: 0, max: 0 },
  options: [
    { name: 'status', short: 's', type: 'string', multiple: true, value: 'STATUS', description: 'only sessions in this status (queued, running, exited, failed, stopped, ...)' },
    { name: 'label', short: 'l', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'only sessions with this label; all must match' },
    { name: 'executive', type: 'string', value: 'NAME', description: 'only sessions of this executive' },
    { name: 'mission', type: 'string', value: 'ID', description: 'only sessions of this mission_id' },
    { name: 'limit', short: 'n', type: 'string', value: 'N', description: 'at most N sessions (default: all)' },
    { name: 'quiet', short: 'q', type: 'boolean', description: 'print the ids only' },
    { name: 'json', type: 'boolean', description: 'print the sessions as a JSON array' },
  ],
  async run(parsed, context) {
    const limitText = str(parsed, 'limit');
    const limit = limitText === undefined ? Number.POSITIVE_INFINITY : Number(limitText);
    if (limitText !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`--limit takes a whole number of 1 or more, got "${limitText}"`, 'ls');
    const labels = strs(parsed, 'label');
    labels.forEach(parseLabel);
    const api = await context.api();
    const sessions: Session[] = [];
    let cursor: string | undefined;
    do {
      const page = await api.json<{ items: Session[]; next_cursor: string | null }>('GET', '/v1/sessions', {
        query: {
          status: strs(parsed, 'status'),
          label: labels,
          executive: str(parsed, 'executive'),
          mission_id: str(parsed, 'mission'),
          limit: Math.min(PAGE, limit - sessions.length),
          cursor,
        },
      });
      sessions.push(...page.body.items);
      cursor = page.body.next_cursor ?? undefined;
    } while (cursor !== undefined && sessions.length < limit);

    if (flag(parsed, 'json')) {
      context.out.write(`${JSON.stringify(sessions, null, 2)}\n`);
    } else if (flag(parsed, 'quiet')) {
      context.out.write(sessions.map((s) => `${s.id}\n`).join(''));
    } else {
      const now = context.now();
      const c = context.colors.out;
      const rows = sessions.map((s) => [
        s.id,
        clip(s.name, 32),
        statusColor(s.status, c),
        exitOf(s),
        ago(s.started_at, now),
        Object.entries(s.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      ]);
      context.out.write(table(['ID', 'NAME', 'STATUS', 'EXIT', 'STARTED', 'LABELS'], rows));
    }
    return 0;
  },
};
