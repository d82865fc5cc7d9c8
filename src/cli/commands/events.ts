// `sessiond events`: every session's lifecycle events as they happen, one line each (or the
// event's JSON), following /v1/events until interrupted; a dropped connection or a restart of the
// service is resumed from the last seq seen (Last-Event-ID), so nothing is missed or repeated.
import type { LifecycleEvent } from '../../../schemas/events.js';
import { flag, str, strs, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { follow } from '../follow.js';
import { parseLabel } from '../labels.js';

export const events: Command = {
  name: 'events',
  summary: 'Follow every session’s lifecycle events (created, started, ended, ...).',
  args: '',
  positionals: { min: 0, max: 0 },
  options: [
    { name: 'session', type: 'string', value: 'ID', description: 'only this session’s events' },
    { name: 'label', short: 'l', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'only sessions with this label; all must match' },
    { name: 'type', type: 'string', multiple: true, value: 'TYPE', description: 'only this event type (session.created, session.started, session.ended, ...)' },
    { name: 'since', type: 'string', value: 'SEQ', description: 'first replay every retained event after this seq' },
    { name: 'json', type: 'boolean', description: 'print each event as one line of JSON' },
  ],
  details: 'Runs until interrupted (Ctrl-C). A line: time, seq, type, session id, status.',
  async run(parsed, context) {
    const since = str(parsed, 'since');
    if (since !== undefined && !/^\d{1,15}$/.test(since)) throw new UsageError(`--since takes an event seq (a number), got "${since}"`, 'events');
    const labels = strs(parsed, 'label');
    labels.forEach(parseLabel);
    const types = strs(parsed, 'type');
    const api = await context.api();
    const json = flag(parsed, 'json');
    await follow(api, '/v1/events', {
      query: {
        session_id: str(parsed, 'session'),
        label: labels,
        types: types.length > 0 ? types.join(',') : undefined,
        since,
      },
      onMessage: (message) => {
        if (message.event === 'reset') {
          context.err.write(`sessiond: events before seq ${JSON.parse(message.data).oldest_seq} are no longer kept; what is kept follows\n`);
          return;
        }
        if (json) {
          context.out.write(`${message.data}\n`);
          return;
        }
        const event = JSON.parse(message.data) as LifecycleEvent;
        context.out.write(`${event.time}  ${String(event.seq).padStart(6)}  ${event.type.padEnd(16)}  ${event.session.id}  ${event.session.status}\n`);
      },
      onReconnecting: (why) => context.err.write(`sessiond: ${why}; reconnecting…\n`),
      onReconnected: () => context.err.write('sessiond: reconnected; resuming after the last event seen\n'),
    });
    return 0;
  },
};
