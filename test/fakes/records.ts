// Valid session records and metadata for tests: every field present, overridable one by one.
import type { Metadata, SessionRecord } from '../../schemas/session.js';

export const DEMO_ID = 'demo-abc123-xyz';
export const DEMO_STARTED_AT = '2025-01-02T03:04:05.000Z';

/** A running session as the manager would store it; log paths follow the id unless overridden. */
export function makeRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const id = overrides.id ?? DEMO_ID;
  return {
    id,
    name: 'demo',
    executive: 'Unassigned',
    status: 'running',
    status_reason: null,
    pid: 4242,
    started_at: DEMO_STARTED_AT,
    stopped_at: null,
    exit_code: null,
    exit_signal: null,
    working_directory: '/workspace/demo',
    branch: 'main',
    mission_id: null,
    assignment_id: null,
    log_path: `/data/sessions/${id}/stdout.log`,
    stderr_path: `/data/sessions/${id}/stderr.log`,
    last_activity: null,
    command: 'claude',
    args: ['--print', '--verbose', 'say hello'],
    permission_mode: null,
    allowed_tools: null,
    runtime_write_root: null,
    repository_write_allowed: true,
    expects_report: false,
    handle: { pid: 4242 },
    stop_requested_at: null,
    labels: {},
    stop_reason: null,
    max_runtime_ms: null,
    idle_timeout_ms: null,
    priority: 0,
    queued_at: null,
    parent_id: null,
    agent: null,
    runtime: 'local',
    image: null,
    limits: null,
    ...overrides,
  };
}

/** The metadata written with `makeRecord()`'s session; pass the same id to both. */
export function makeMetadata(overrides: Partial<Metadata> = {}): Metadata {
  return {
    id: DEMO_ID,
    name: 'demo',
    executive: 'Unassigned',
    mission_id: null,
    assignment_id: null,
    working_directory: '/workspace/demo',
    branch: 'main',
    command: 'claude',
    args: ['--print', '--verbose', 'say hello'],
    prompt: 'say hello',
    created_at: DEMO_STARTED_AT,
    created_by: 'HQ01 operator',
    ...overrides,
  };
}
