// The record and metadata of a new session, as written once at creation (`starting`, or `queued`
// when it waits for capacity), with the limits in force for it.
import type { StartSessionBody } from '../../schemas/requests.js';
import type { Metadata, SessionRecord } from '../../schemas/session.js';
import { emptySummary } from '../agent/summary.js';
import type { LogLocation } from '../store/store.js';
import type { LaunchPlan } from './admission.js';
import type { IdempotencyDigest } from './idempotency.js';

/** The limits a session gets: its own, else the service's defaults; 0 means none. */
export interface LimitDefaults {
  maxRuntimeMs: number;
  idleTimeoutMs: number;
}

const limit = (asked: number | undefined, fallback: number, zeroMeansDefault: boolean): number | null => {
  const value = asked === undefined || (asked === 0 && zeroMeansDefault) ? fallback : asked;
  return value > 0 ? value : null;
};

export function newRecord(
  id: string,
  now: Date,
  body: StartSessionBody,
  plan: LaunchPlan,
  logs: LogLocation,
  idempotency: IdempotencyDigest | null,
  options: { queued: boolean; defaults: LimitDefaults; parentId?: string | null },
): { record: SessionRecord; metadata: Metadata } {
  const agentOptions = body.agent ? { kind: body.agent.kind, stream_json: body.agent.stream_json ?? true, input: body.agent.input ?? false } : null;
  const record: SessionRecord = {
    id,
    name: body.name,
    executive: body.executive ?? 'Unassigned',
    status: options.queued ? 'queued' : 'starting',
    status_reason: null,
    pid: null,
    started_at: now.toISOString(),
    stopped_at: null,
    exit_code: null,
    exit_signal: null,
    working_directory: plan.workingDirectory,
    branch: body.branch ?? null,
    mission_id: body.mission_id ?? null,
    assignment_id: body.assignment_id ?? null,
    log_path: logs.stdout,
    stderr_path: logs.stderr,
    last_activity: null,
    command: plan.command,
    args: plan.args,
    permission_mode: body.permission_mode ?? null,
    allowed_tools: body.allowed_tools ?? null,
    runtime_write_root: plan.runtimeWriteRoot,
    repository_write_allowed: body.repository_write_allowed ?? true,
    expects_report: body.expects_report ?? false,
    labels: body.labels ?? {},
    // The contract: max_runtime_ms 0 means "the default"; idle_timeout_ms 0 means "none".
    max_runtime_ms: limit(body.max_runtime_ms, options.defaults.maxRuntimeMs, true),
    idle_timeout_ms: limit(body.idle_timeout_ms, options.defaults.idleTimeoutMs, false),
    priority: body.priority ?? 0,
    queued_at: options.queued ? now.toISOString() : null,
    stop_reason: null,
    parent_id: options.parentId ?? null,
    // A summary from the start when stdout is parsed (its fields null until known); else none.
    agent: agentOptions?.stream_json ? emptySummary() : null,
    runtime: plan.runtime,
    image: plan.image,
    limits: plan.limits,
    network: plan.network,
    handle: null,
    stop_requested_at: null,
    idempotency,
    agent_options: agentOptions,
  };
  const metadata: Metadata = {
    id,
    name: record.name,
    executive: record.executive,
    mission_id: record.mission_id,
    assignment_id: record.assignment_id,
    working_directory: plan.workingDirectory,
    branch: record.branch,
    command: plan.command,
    args: plan.args,
    prompt: body.prompt ?? null,
    created_at: record.started_at,
    created_by: body.created_by ?? 'HQ01 operator',
  };
  return { record, metadata };
}
