// createMetrics(sources): the service's Prometheus metrics in a registry of their own (never
// prom-client's global one, so every app, and every test app, has its own). Gauges are read from
// `sources` at scrape time; counters and histograms are fed by the service as things happen.
// Labels are bounded enumerations only: no session id, label value, token or path is ever one.
// The process's default metrics keep prom-client's standard names, unprefixed (process_*,
// nodejs_*), so the usual Node.js dashboards and alerts work on them as they are; they describe
// the process, so they are collected once per process and shared by every app's registry.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LifecycleEvent } from '../../schemas/events.js';
import { SESSION_STATUSES } from '../../schemas/session.js';

type MaybePromise<T> = T | Promise<T>;

/** What the gauges read at scrape time. Each may answer synchronously or with a promise. */
export interface MetricSources {
  /** Sessions by status; a status missing from the answer is reported as 0. */
  sessionsByStatus(): MaybePromise<Record<string, number>>;
  /** Sessions waiting for capacity. */
  queueLength(): MaybePromise<number>;
  /** Open streams by kind (`logs`, `events`); a missing kind is reported as 0. */
  streamClients(): MaybePromise<Record<string, number>>;
  /** Bytes held on disk by all sessions' logs, per stream. */
  logBytes(): MaybePromise<{ stdout: number; stderr: number }>;
}

export interface HttpObservation {
  method: string;
  /** The route pattern (`/v1/sessions/:id`) or `unmatched`; never a raw URL. */
  route: string;
  statusCode: number;
  seconds: number;
}

export interface Metrics {
  /** This app's registry (for tests, or to add metrics of a module's own). */
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** Counts a start on `session.started`, an end (and its duration) on `session.ended`. */
  observeEvent(event: LifecycleEvent): void;
  /** Seconds from a start request to the session confirmed running. */
  observeStart(seconds: number): void;
  /** One webhook delivery attempt and its outcome (a short snake_case word, such as `delivered`). */
  webhookAttempt(outcome: string): void;
  /** One answered HTTP request (fed by src/plugins/http-metrics.ts). */
  observeHttp(observation: HttpObservation): void;
  /** The exposition text, gauges read from the sources now. */
  scrape(): Promise<string>;
}

export const SESSION_METRIC_STATUSES: readonly string[] = [...new Set<string>([...SESSION_STATUSES, 'queued'])];
export const STREAM_KINDS = ['logs', 'events'] as const;

/** Seconds: from a quick exit to a day-long agent run. */
const SESSION_DURATION_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400];
/** Seconds: spawning and confirming a process takes milliseconds, a slow host a few seconds. */
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: prom-client's defaults, made explicit (API calls; long streams land in +Inf). */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A label value the service passes in is kept only if it is a short word, so a message or an
 * id passed by mistake cannot become a label (and a new series per value). */
const WORD = /^[a-z][a-z0-9_]{0,31}$/;
const word = (value: string) => (WORD.test(value) ? value : 'other');

let processMetrics: Registry | undefined;

/**
 * The default metrics, made on first use. Each collection starts an event-loop delay monitor
 * and a GC observer that run for the life of the process: one set is enough, however many apps
 * (tests build dozens) the process holds.
 */
function defaultMetrics(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

export function createMetrics(sources: MetricSources): Metrics {
  const own = new Registry();

  new Gauge({
    name: 'sessiond_sessions',
    help: 'Sessions by status',
    labelNames: ['status'],
    registers: [own],
    async collect() {
      const counts = await sources.sessionsByStatus();
      this.reset();
      for (const status of SESSION_METRIC_STATUSES) this.set({ status }, counts[status] ?? 0);
      // A status the list does not know yet still shows (statuses come from our own records).
      for (const [status, n] of Object.entries(counts)) {
        if (!SESSION_METRIC_STATUSES.includes(status)) this.set({ status: word(status) }, n);
      }
    },
  });

  new Gauge({
    name: 'sessiond_queue_length',
    help: 'Sessions waiting for capacity',
    registers: [own],
    async collect() {
      this.set(await sources.queueLength());
    },
  });

  new Gauge({
    name: 'sessiond_stream_clients',
    help: 'Open streams by kind (logs: log streams and raw follows; events: /v1/events)',
    labelNames: ['kind'],
    registers: [own],
    async collect() {
      const counts = await sources.streamClients();
      this.reset();
      for (const kind of STREAM_KINDS) this.set({ kind }, counts[kind] ?? 0);
    },
  });

  new Gauge({
    name: 'sessiond_log_bytes',
    help: 'Bytes held on disk by all sessions’ logs, by stream',
    labelNames: ['stream'],
    registers: [own],
    async collect() {
      const bytes = await sources.logBytes();
      this.set({ stream: 'stdout' }, bytes.stdout);
      this.set({ stream: 'stderr' }, bytes.stderr);
    },
  });

  const starts = new Counter({
    name: 'sessiond_session_starts_total',
    help: 'Sessions whose process started',
    registers: [own],
  });
  const ends = new Counter({
    name: 'sessiond_session_ends_total',
    help: 'Sessions that reached a final status, by status and stop reason (none: it ended by itself)',
    labelNames: ['status', 'stop_reason'],
    registers: [own],
  });
  const durations = new Histogram({
    name: 'sessiond_session_duration_seconds',
    help: 'How long ended sessions lasted, from started_at to stopped_at',
    buckets: SESSION_DURATION_BUCKETS,
    registers: [own],
  });
  const startSeconds = new Histogram({
    name: 'sessiond_start_seconds',
    help: 'Seconds from a start request to the session confirmed running',
    buckets: START_BUCKETS,
    registers: [own],
  });
  const webhooks = new Counter({
    name: 'sessiond_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome',
    labelNames: ['outcome'],
    registers: [own],
  });
  const httpLabels = ['method', 'route', 'status_code'] as const;
  const httpRequests = new Counter({
    name: 'sessiond_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code (streams count when they end)',
    labelNames: httpLabels,
    registers: [own],
  });
  const httpDurations = new Histogram({
    name: 'sessiond_http_request_duration_seconds',
    help: 'HTTP request durations, by method, route pattern and status code',
    labelNames: httpLabels,
    buckets: HTTP_BUCKETS,
    registers: [own],
  });

  const registry = Registry.merge([own, defaultMetrics()]);
  return {
    registry,
    contentType: registry.contentType,
    observeEvent(event) {
      if (event.type === 'session.started') starts.inc();
      if (event.type !== 'session.ended') return;
      const { session } = event;
      ends.inc({ status: session.status, stop_reason: session.stop_reason ?? 'none' });
      if (session.stopped_at === null) return;
      const seconds = (Date.parse(session.stopped_at) - Date.parse(session.started_at)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) durations.observe(seconds);
    },
    observeStart(seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) startSeconds.observe(seconds);
    },
    webhookAttempt(outcome) {
      webhooks.inc({ outcome: word(outcome) });
    },
    observeHttp({ method, route, statusCode, seconds }) {
      const labels = { method, route, status_code: String(statusCode) };
      httpRequests.inc(labels);
      httpDurations.observe(labels, seconds);
    },
    scrape: () => registry.metrics(),
  };
}
