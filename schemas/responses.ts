// Response shapes other than the session resource itself: lists, log tails, health.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, Timestamp, ref } from './common.js';
import { SessionSchema, SessionStatusSchema } from './session.js';

export const SessionListSchema = Type.Object(
  {
    items: Type.Array(ref(SessionSchema)),
    next_cursor: Nullable(Type.String({ description: 'pass as ?cursor= for the next page; null on the last page' })),
  },
  { $id: 'SessionList' },
);

export const LogsTailSchema = Type.Object(
  {
    id: Type.String(),
    status: SessionStatusSchema,
    last_activity: Nullable(Timestamp),
    stdout: Type.String({ description: 'the last tail_bytes of stdout, cut at a UTF-8 boundary' }),
    stderr: Type.String({ description: 'the last tail_bytes of stderr, cut at a UTF-8 boundary' }),
    stdout_bytes: Type.Integer({ description: 'size of the whole stdout log in bytes' }),
    stderr_bytes: Type.Integer({ description: 'size of the whole stderr log in bytes' }),
    stdout_retained_from: Type.Integer({
      description: 'the first stdout byte still kept: 0 until SESSIOND_MAX_LOG_BYTES dropped the oldest; offsets stay absolute, bytes retained_from..stdout_bytes-1 can be read',
    }),
    stderr_retained_from: Type.Integer({ description: 'the first stderr byte still kept, as stdout_retained_from' }),
  },
  { $id: 'LogsTail' },
);
export type LogsTailResponse = Static<typeof LogsTailSchema>;
/** What the session service reads; the log routes add the retained windows (src/logs/retained.ts). */
export type LogsTail = Omit<LogsTailResponse, 'stdout_retained_from' | 'stderr_retained_from'>;

export const HealthSchema = Type.Object({ status: Type.Literal('ok') }, { $id: 'Health' });

export const ReadySchema = Type.Object(
  {
    status: Type.Literal('ok'),
    sessions: Type.Integer({ description: 'readable records the store holds' }),
    damaged_records: Type.Integer({ description: 'session records that could not be read (left out of listings; see the service log)' }),
    containment: Type.String({
      description:
        'how local sessions are held together: cgroup-v2 or cgroup-v1 (a cgroup each: a stop ends every process in it), or process-group (a process that calls setsid can outlive a stop)',
    }),
    warnings: Type.Array(Type.String(), {
      description: 'what an operator should know while the service still serves: starts refused below the disk floor, changes waiting for the disk',
    }),
  },
  { $id: 'Ready' },
);
