// Reads the environment once into a typed, validated config; fails fast with a clear message.
// The only module that reads process.env (the child environment is filtered here, once).
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RUNTIMES, type RuntimeName } from '../schemas/runtime.js';
import type { Containment } from './process/cgroup.js';
import { parseRunAs, type RunAs } from './process/run-as.js';

export type TokenScope = 'read' | 'write';
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const TLS_MODES = ['off', 'behind-proxy'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  tokens: Array<{ token: string; scope: TokenScope }>;
  /** Command names or absolute paths that may be started; `['*']` allows any. */
  allowedCommands: string[];
  /** Absolute paths; a working directory must resolve inside one. */
  workspaceRoots: string[];
  defaultCommand: string;
  stopGraceMs: number;
  maxRunning: number;
  /** Name patterns (a trailing `*` is a prefix) passed from the service's environment to sessions. */
  childEnvNames: string[];
  /** The environment every session gets: the service's own, filtered through childEnvNames. */
  childEnv: Record<string, string>;
  corsOrigins: string[];
  logLevel: string;
  /** `json`: one JSON object a line (for collectors); `pretty`: coloured lines for people (pino-pretty). */
  logFormat: LogFormat;
  /**
   * `off`: served over plain HTTP, so no HSTS and no `upgrade-insecure-requests` (they would make
   * /docs blank over http from a LAN address). `behind-proxy`: a TLS proxy in front; both are sent.
   */
  tls: TlsMode;
  /** Longest quiet time on an SSE stream before a `: keep-alive` comment. */
  sseKeepAliveMs: number;
  /** The shared safety poll of followed logs (inotify does the fast path). */
  logPollMs: number;
  /** Write requests a minute per token. */
  rateLimitPerMinute: number;
  /** First delay before a failed webhook delivery is retried (it doubles from there). */
  webhookRetryMs: number;
  /** Default max_runtime_ms of a session; 0 for none. */
  maxRuntimeMs: number;
  /** Default idle_timeout_ms of a session; 0 for none. */
  idleTimeoutMs: number;
  /** How long an ended session is kept before it is deleted; 0 keeps forever. */
  retentionMs: number;
  /** Below this many free bytes in the data directory, starts are refused (507). */
  minFreeBytes: number;
  /** Bytes kept per log stream; past it the oldest are dropped (offsets stay absolute). 0: no cap. */
  maxLogBytes: number;
  /** The supervisor's safety poll of live sessions (the runtime's watch does the fast path). */
  supervisePollMs: number;
  /** Largest report.md served; a larger one is 413 report_too_large (it is streamed, never held whole). */
  maxReportBytes: number;
  /** Time for a whole request (headers and body) to arrive; a slower one is cut with 408. */
  requestTimeoutMs: number;
  /** Where the tokens were read from, when SESSIOND_TOKENS_FILE is set (so none is in the environment). */
  tokensFile: string | null;
  /** Run sessions as this user (SESSIOND_RUN_AS); null: as the service's own user. */
  runAs: RunAs | null;
  /** How a session is held together: `auto` picks a cgroup where the host allows one. */
  containment: 'auto' | Containment;
  /** SESSIOND_RUNTIMES: where sessions may run. */
  runtimes: RuntimeName[];
  /** SESSIOND_DEFAULT_RUNTIME: where a start that names no runtime runs. */
  defaultRuntime: RuntimeName;
  /** SESSIOND_DOCKER_HOST: the Docker Engine's API. */
  dockerHost: string;
  /** SESSIOND_DOCKER_IMAGES: the images container sessions may use; the first is the default. */
  dockerImages: string[];
  /** Limits of a container session that sets none (SESSIOND_DEFAULT_MEMORY_BYTES, _CPUS, _PIDS); null: none. */
  defaultLimits: { memory_bytes: number | null; cpus: number | null; pids: number | null };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** 10 MiB: a report is a human-readable summary, not a data set. */
export const DEFAULT_MAX_REPORT_BYTES = 10 * 1024 * 1024;

const DEFAULT_CHILD_ENV = 'PATH,HOME,USER,LANG,LC_*,TERM,TMPDIR,SHELL,ANTHROPIC_*,CLAUDE_*';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const raw = (env[name] ?? '').trim();
  if (raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function parseTokens(raw: string | undefined, source = 'SESSIOND_TOKENS'): Config['tokens'] {
  return list(raw).map((entry) => {
    const at = entry.lastIndexOf(':');
    const token = at > 0 ? entry.slice(0, at) : entry;
    const scope = at > 0 ? entry.slice(at + 1) : 'write';
    if (scope !== 'read' && scope !== 'write') {
      // Never echo the token itself: this message goes to the log.
      throw new ConfigError(`${source}: scope must be read or write, got "${scope}"`);
    }
    if (token.length < 16) throw new ConfigError(`${source}: every token must be at least 16 characters long`);
    return { token, scope };
  });
}

const MAX_TOKENS_FILE_BYTES = 64 * 1024;
const CONTAINMENTS = ['auto', 'cgroup-v2', 'cgroup-v1', 'process-group'] as const;

/**
 * The text of SESSIOND_TOKENS_FILE: `token:scope` entries separated by commas or new lines,
 * `#` starting a comment line. Refused unless it is a regular file that only its owner (this
 * service's user, or root) can read or write: a token file others can read is no secret.
 */
function readTokensFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch (err) {
    throw new ConfigError(`SESSIOND_TOKENS_FILE: cannot open ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new ConfigError(`SESSIOND_TOKENS_FILE: ${file} is not a regular file`);
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    if ((info.mode & 0o077) !== 0) {
      throw new ConfigError(`SESSIOND_TOKENS_FILE: ${file} has mode ${mode}, so other users can read or change it; chmod 600 it`);
    }
    const me = process.getuid?.() ?? 0;
    if (info.uid !== me && info.uid !== 0) {
      throw new ConfigError(`SESSIOND_TOKENS_FILE: ${file} belongs to uid ${info.uid}, not to this service's user (${me}) or root`);
    }
    if (info.size > MAX_TOKENS_FILE_BYTES) throw new ConfigError(`SESSIOND_TOKENS_FILE: ${file} is over ${MAX_TOKENS_FILE_BYTES} bytes`);
    // Read from the descriptor whose mode was checked, not by the name again.
    return readFileSync(fd, 'utf8')
      .slice(0, MAX_TOKENS_FILE_BYTES)
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join(',');
  } finally {
    closeSync(fd);
  }
}

function loadTokens(env: NodeJS.ProcessEnv, cwd: string): { tokens: Config['tokens']; tokensFile: string | null } {
  const file = env.SESSIOND_TOKENS_FILE?.trim();
  if (!file) return { tokens: parseTokens(env.SESSIOND_TOKENS), tokensFile: null };
  if (list(env.SESSIOND_TOKENS).length > 0) {
    throw new ConfigError('set SESSIOND_TOKENS or SESSIOND_TOKENS_FILE, not both (the file keeps the tokens out of the environment)');
  }
  const resolved = path.resolve(cwd, file);
  const tokens = parseTokens(readTokensFile(resolved), 'SESSIOND_TOKENS_FILE');
  if (tokens.length === 0) throw new ConfigError(`SESSIOND_TOKENS_FILE: ${resolved} holds no token`);
  return { tokens, tokensFile: resolved };
}

function loadRunAs(env: NodeJS.ProcessEnv): RunAs | null {
  const raw = env.SESSIOND_RUN_AS?.trim();
  if (!raw) return null;
  let passwd = '';
  if (!/^\d+:\d+$/.test(raw)) {
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch (err) {
      throw new ConfigError(`SESSIOND_RUN_AS: cannot read /etc/passwd to find "${raw}" (${(err as NodeJS.ErrnoException).code}); give uid:gid`);
    }
  }
  try {
    return parseRunAs(raw, passwd);
  } catch (err) {
    throw new ConfigError(`SESSIOND_RUN_AS: ${(err as Error).message}`);
  }
}

/** Whether an environment variable name passes the SESSIOND_CHILD_ENV patterns. */
export function childEnvAllows(patterns: string[], name: string): boolean {
  // The service's own settings and tokens never reach a session, whatever the patterns say.
  if (name.startsWith('SESSIOND_')) return false;
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
}

export function filterChildEnv(patterns: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && childEnvAllows(patterns, name)) out[name] = value;
  }
  return out;
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

export const isLoopback = (host: string) => LOOPBACK.test(host);

/**
 * Refuses a configuration that would expose the service without configured tokens: a token
 * generated on first start is fine on loopback, not for a network address.
 */
export function assertSafeExposure(config: Pick<Config, 'host' | 'tokens'>): void {
  if (!isLoopback(config.host) && config.tokens.length === 0) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without SESSIOND_TOKENS: anyone who reaches the port could run commands. ` +
        'Set SESSIOND_TOKENS (token:scope,...) or listen on 127.0.0.1.',
    );
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const logLevel = (env.SESSIOND_LOG_LEVEL ?? 'info').trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`SESSIOND_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const roots = list(env.SESSIOND_WORKSPACE_ROOTS);
  const allowed = list(env.SESSIOND_ALLOWED_COMMANDS ?? 'claude');
  for (const command of allowed) {
    if (command !== '*' && command.includes('/') && !path.isAbsolute(command)) {
      throw new ConfigError(`SESSIOND_ALLOWED_COMMANDS: "${command}" must be a bare name or an absolute path`);
    }
  }
  const childEnvNames = list(env.SESSIOND_CHILD_ENV ?? DEFAULT_CHILD_ENV);
  const containment = (env.SESSIOND_CONTAINMENT ?? 'auto').trim() || 'auto';
  if (!(CONTAINMENTS as readonly string[]).includes(containment)) {
    throw new ConfigError(`SESSIOND_CONTAINMENT must be one of ${CONTAINMENTS.join(', ')}, got "${containment}"`);
  }
  const { tokens, tokensFile } = loadTokens(env, cwd);
  return {
    host: (env.SESSIOND_HOST ?? '127.0.0.1').trim() || '127.0.0.1',
    port: integer(env, 'SESSIOND_PORT', 7070, 0, 65535),
    dataDir: path.resolve(cwd, env.SESSIOND_DATA_DIR?.trim() || './data'),
    tokens,
    tokensFile,
    allowedCommands: allowed,
    workspaceRoots: (roots.length > 0 ? roots : [cwd]).map((root) => path.resolve(cwd, root)),
    defaultCommand: (env.SESSIOND_DEFAULT_COMMAND ?? 'claude').trim() || 'claude',
    stopGraceMs: integer(env, 'SESSIOND_STOP_GRACE_MS', 5000, 0, 600000),
    maxRunning: integer(env, 'SESSIOND_MAX_RUNNING', 64, 1, 100000),
    childEnvNames,
    childEnv: filterChildEnv(childEnvNames, env),
    corsOrigins: list(env.SESSIOND_CORS_ORIGINS),
    logLevel,
    logFormat: oneOf(env, 'SESSIOND_LOG_FORMAT', LOG_FORMATS, 'json'),
    tls: oneOf(env, 'SESSIOND_TLS', TLS_MODES, 'off'),
    sseKeepAliveMs: integer(env, 'SESSIOND_SSE_KEEPALIVE_MS', 15000, 10, 15000),
    logPollMs: integer(env, 'SESSIOND_LOG_POLL_MS', 500, 10, 60000),
    rateLimitPerMinute: integer(env, 'SESSIOND_RATE_LIMIT', 300, 1, 1000000),
    webhookRetryMs: integer(env, 'SESSIOND_WEBHOOK_RETRY_MS', 5000, 1, 3600000),
    maxRuntimeMs: integer(env, 'SESSIOND_MAX_RUNTIME_MS', 0, 0, 30 * 24 * 3600 * 1000),
    idleTimeoutMs: integer(env, 'SESSIOND_IDLE_TIMEOUT_MS', 0, 0, 30 * 24 * 3600 * 1000),
    retentionMs: integer(env, 'SESSIOND_RETENTION_MS', 7 * 24 * 3600 * 1000, 0, 10 * 365 * 24 * 3600 * 1000),
    minFreeBytes: integer(env, 'SESSIOND_MIN_FREE_BYTES', 512 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
    maxLogBytes: integer(env, 'SESSIOND_MAX_LOG_BYTES', 1024 * 1024 * 1024, 0, Number.MAX_SAFE_INTEGER),
    supervisePollMs: integer(env, 'SESSIOND_SUPERVISE_POLL_MS', 1000, 10, 60000),
    maxReportBytes: integer(env, 'SESSIOND_MAX_REPORT_BYTES', DEFAULT_MAX_REPORT_BYTES, 1, 1024 * 1024 * 1024),
    requestTimeoutMs: integer(env, 'SESSIOND_REQUEST_TIMEOUT_MS', 20000, 1000, 30000),
    runAs: loadRunAs(env),
    containment: containment as Config['containment'],
    ...loadRuntimes(env),
  };
}

/** The runtimes settings: which are offered, the default, and the Docker runtime's engine, images and default limits. */
function loadRuntimes(env: NodeJS.ProcessEnv): Pick<Config, 'runtimes' | 'defaultRuntime' | 'dockerHost' | 'dockerImages' | 'defaultLimits'> {
  const runtimes = list(env.SESSIOND_RUNTIMES ?? 'local');
  for (const runtime of runtimes) {
    if (!(RUNTIMES as readonly string[]).includes(runtime)) throw new ConfigError(`SESSIOND_RUNTIMES: "${runtime}" is not one of ${RUNTIMES.join(', ')}`);
  }
  if (runtimes.length === 0) throw new ConfigError('SESSIOND_RUNTIMES names no runtime');
  const defaultRuntime = oneOf(env, 'SESSIOND_DEFAULT_RUNTIME', RUNTIMES, 'local');
  if (!runtimes.includes(defaultRuntime)) throw new ConfigError(`SESSIOND_DEFAULT_RUNTIME ${defaultRuntime} is not in SESSIOND_RUNTIMES (${runtimes.join(', ')})`);
  const dockerHost = (env.SESSIOND_DOCKER_HOST ?? '').trim() || 'unix:///var/run/docker.sock';
  if (!/^(unix:\/\/\/|tcp:\/\/|http:\/\/)/.test(dockerHost)) throw new ConfigError(`SESSIOND_DOCKER_HOST must be unix:///path or tcp://host:port, got "${dockerHost}"`);
  const dockerImages = list(env.SESSIOND_DOCKER_IMAGES);
  for (const image of dockerImages) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/.test(image)) throw new ConfigError(`SESSIOND_DOCKER_IMAGES: "${image}" is not an image reference`);
  }
  if (runtimes.includes('docker') && dockerImages.length === 0) throw new ConfigError('SESSIOND_RUNTIMES offers docker but SESSIOND_DOCKER_IMAGES names no image');
  const cpusRaw = (env.SESSIOND_DEFAULT_CPUS ?? '').trim();
  if (cpusRaw !== '' && !(/^\d+(\.\d+)?$/.test(cpusRaw) && Number(cpusRaw) > 0 && Number(cpusRaw) <= 1024)) {
    throw new ConfigError(`SESSIOND_DEFAULT_CPUS must be a number of cores above 0, got "${cpusRaw}"`);
  }
  const memory = integer(env, 'SESSIOND_DEFAULT_MEMORY_BYTES', 0, 0, 2 ** 50);
  const pids = integer(env, 'SESSIOND_DEFAULT_PIDS', 0, 0, 4194304);
  return {
    runtimes: runtimes as RuntimeName[],
    defaultRuntime,
    dockerHost,
    dockerImages,
    defaultLimits: { memory_bytes: memory || null, cpus: cpusRaw === '' ? null : Number(cpusRaw), pids: pids || null },
  };
}

// --- The `sessiond` command's settings ---------------------------------------------------------

export type ColorMode = 'auto' | 'always' | 'never';

export interface CliConfig {
  /** The service's base URL: SESSIOND_URL, or the address SESSIOND_HOST/SESSIOND_PORT name. */
  url: string;
  /** SESSIOND_TOKEN; when absent and the service is local, the data directory's token file is read. */
  token: string | null;
  /** Where a local service keeps its generated token (`<data dir>/token`). */
  dataDir: string;
  /** NO_COLOR (https://no-color.org) turns colours off; FORCE_COLOR=1 turns them on off a terminal. */
  color: ColorMode;
}

export function loadCliConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): CliConfig {
  const host = (env.SESSIOND_HOST ?? '').trim();
  // A service listening on every address is reached on loopback from its own machine.
  const reachable = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const fallback = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${integer(env, 'SESSIOND_PORT', 7070, 0, 65535)}`;
  const url = (env.SESSIOND_URL ?? '').trim() || fallback;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`SESSIOND_URL must be an http(s) URL such as http://127.0.0.1:7070, got "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`SESSIOND_URL must be http or https, got "${parsed.protocol}"`);
  if (parsed.username || parsed.password) throw new ConfigError('SESSIOND_URL must not carry credentials: set SESSIOND_TOKEN');
  const noColor = (env.NO_COLOR ?? '') !== '';
  const force = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0';
  return {
    url: parsed.href.replace(/\/+$/, ''),
    token: env.SESSIOND_TOKEN?.trim() || null,
    dataDir: path.resolve(cwd, env.SESSIOND_DATA_DIR?.trim() || './data'),
    color: noColor ? 'never' : force ? 'always' : 'auto',
  };
}
