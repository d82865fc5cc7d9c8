// The session resource, its status, its immutable metadata and the record the store keeps.
import { Type, type Static } from '@sinclair/typebox';
import { AgentOptionsSchema, AgentSummarySchema } from './agent.js';
import { NetworkSchema, RuntimeNameSchema } from './runtime.js';
import { Nullable, Timestamp } from './common.js';
import { LabelsSchema } from './labels.js';
import './value-registry.js';

export const SESSION_STATUSES = [
  'queued',
  'starting',
  'running',
  'exited',
  'completed',
  'completed_missing_report',
  'failed',
  'stopped',
  'terminated',
] as const;

export const SessionStatusSchema = Type.Unsafe<(typeof SESSION_STATUSES)[number]>({
  type: 'string',
  enum: [...SESSION_STATUSES],
  description:
    'queued: accepted, waiting for capacity (no process yet; only when the start asked to queue); starting: record written, process not yet confirmed; running: process alive; exited: ended by itself, no report expected; ' +
    'completed: ended by itself and report.md exists; completed_missing_report: ended by itself, report expected but missing; ' +
    'failed: could not be started; stopped: stopped through the API, no report expected; terminated: stopped through the API, report expected',
});
export type SessionStatus = Static<typeof SessionStatusSchema>;

export const TERMINAL_STATUSES: readonly SessionStatus[] = [
  'exited',
  'completed',
  'completed_missing_report',
  'failed',
  'stopped',
  'terminated',
];

export const isTerminalStatus = (status: SessionStatus) => TERMINAL_STATUSES.includes(status);

/** The limits in force for a container session (null: none of that kind). */
export const SessionLimitsSchema = Type.Object(
  {
    memory_bytes: Nullable(Type.Integer({ minimum: 1 })),
    cpus: Nullable(Type.Number({ exclusiveMinimum: 0 })),
    pids: Nullable(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false, description: 'resource limits in force for a docker session' },
);
export type SessionLimits = Static<typeof SessionLimitsSchema>;

export const SessionSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    executive: Type.String(),
    status: SessionStatusSchema,
    status_reason: Nullable(Type.String({ description: 'why the session is in its status, when there is more to say (a spawn error, for example)' })),
    pid: Nullable(Type.Integer()),
    started_at: Timestamp,
    stopped_at: Nullable(Timestamp),
    exit_code: Nullable(Type.Integer()),
    exit_signal: Nullable(Type.String({ description: 'name of the signal that ended the process, e.g. SIGKILL' })),
    working_directory: Type.String(),
    branch: Nullable(Type.String()),
    mission_id: Nullable(Type.String()),
    assignment_id: Nullable(Type.String()),
    log_path: Type.String({ description: 'where the session’s stdout is kept' }),
    stderr_path: Type.String({ description: 'where the session’s stderr is kept' }),
    last_activity: Nullable(Timestamp),
    command: Type.String(),
    args: Type.Array(Type.String()),
    permission_mode: Nullable(Type.String()),
    allowed_tools: Nullable(Type.Array(Type.String())),
    runtime_write_root: Nullable(Type.String()),
    repository_write_allowed: Type.Boolean(),
    expects_report: Type.Boolean(),
    labels: LabelsSchema,
    max_runtime_ms: Nullable(Type.Integer({ minimum: 1, description: 'the time limit in force, from started_at; null for none' })),
    idle_timeout_ms: Nullable(Type.Integer({ minimum: 1, description: 'ended after this long without output on either stream; null for none' })),
    priority: Type.Integer({ minimum: -100, maximum: 100, description: 'orders the queue: higher first, then arrival' }),
    queued_at: Nullable(Timestamp),
    stop_reason: Nullable(
      Type.Unsafe<'requested' | 'max_runtime' | 'idle'>({
        type: 'string',
        enum: ['requested', 'max_runtime', 'idle'],
        description: 'why the service ended it: requested (a stop or forced delete through the API), max_runtime, idle; null when it ended by itself',
      }),
    ),
    parent_id: Nullable(Type.String({ description: 'the session this one continues (POST .../continue), or null' })),
    agent: Nullable(AgentSummarySchema),
    runtime: RuntimeNameSchema,
    image: Nullable(Type.String({ description: 'the container image of a docker session; null for a local one' })),
    limits: Nullable(SessionLimitsSchema),
  },
  { $id: 'Session', additionalProperties: false },
);
export type Session = Static<typeof SessionSchema>;

export const MetadataSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    executive: Type.String(),
    mission_id: Nullable(Type.String()),
    assignment_id: Nullable(Type.String()),
    working_directory: Type.String(),
    branch: Nullable(Type.String()),
    command: Type.String(),
    args: Type.Array(Type.String()),
    prompt: Nullable(Type.String()),
    created_at: Timestamp,
    created_by: Type.String(),
  },
  { $id: 'Metadata', additionalProperties: false },
);
export type Metadata = Static<typeof MetadataSchema>;

/** What the process adapter needs to find its process again, kept opaque to everyone else. */
export const ProcessHandleSchema = Type.Object(
  { pid: Nullable(Type.Integer()) },
  { additionalProperties: true },
);
export type ProcessHandle = Static<typeof ProcessHandleSchema>;

/** The stored record: the resource plus what only the service needs. Never sent as is. */
export const SessionRecordSchema = Type.Composite([
  SessionSchema,
  Type.Object({
    handle: Nullable(ProcessHandleSchema),
    stop_requested_at: Nullable(Timestamp),
    /** The start's Idempotency-Key (digest, per caller) and a digest of its body. */
    idempotency: Type.Optional(Nullable(Type.Object({ key: Type.String(), request: Type.String() }))),
    /** The start's `agent` option as given (defaults filled), or null for a plain session. */
    agent_options: Type.Optional(Nullable(AgentOptionsSchema)),
    /** A docker session's network (`none` or `bridge`); null for a local one. */
    network: Type.Optional(Nullable(NetworkSchema)),
  }),
]);
export type SessionRecord = Static<typeof SessionRecordSchema>;
