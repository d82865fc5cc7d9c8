// The shape of one `sessiond` command: its options (parsed with node:util parseArgs, strict), its
// positional arguments, its help text made from the same list, and what it runs.
import { parseArgs } from 'node:util';
import type { CliConfig } from '../config.js';
import type { Api } from './api.js';
import { UsageError } from './errors.js';
import type { Colors } from './format.js';

export interface OptionSpec {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** How the value is shown in the help (`--label KEY=VALUE`). */
  value?: string;
  description: string;
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /** With `passThrough`: the session's command line, everything from the first positional or after `--`. */
  rest: string[];
}

export interface Context {
  config: CliConfig;
  /** The API client, made when a command first needs one (serve does not). */
  api(): Promise<Api>;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
  colors: { out: Colors; err: Colors };
  now(): number;
}

/** A command's outcome: the exit code, or 'running' for one that keeps the process (serve). */
export type Outcome = number | 'running';

export interface Command {
  name: string;
  summary: string;
  /** The arguments after the name, as the usage line shows them (`<id>`, `[-- <command> [args...]]`). */
  args: string;
  /** Paragraphs after the options in the help. */
  details?: string;
  options: OptionSpec[];
  /** How many positionals (without passThrough). */
  positionals: { min: number; max: number };
  /** Options end at the first positional (or `--`): the rest is a command line of its own. */
  passThrough?: boolean;
  run(parsed: Parsed, context: Context): Promise<Outcome>;
}

const HELP: OptionSpec = { name: 'help', short: 'h', type: 'boolean', description: 'show this help' };

export function helpText(command: Command): string {
  const options = [...command.options, HELP];
  const left = options.map((o) => `${o.short ? `-${o.short}, ` : '    '}--${o.name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`);
  const pad = Math.max(...left.map((l) => l.length)) + 3;
  const lines = options.map((o, i) => `  ${(left[i] as string).padEnd(pad)}${o.description}${o.multiple ? ' (repeatable)' : ''}`);
  return [
    `Usage: sessiond ${command.name}${options.length > 1 ? ' [options]' : ''}${command.args ? ` ${command.args}` : ''}`,
    '',
    command.summary,
    '',
    'Options:',
    ...lines,
    ...(command.details ? ['', command.details.trim()] : []),
    '',
  ].join('\n');
}

/** Where the command's own options end: at `--`, or (passThrough) at the first positional. */
function splitAt(command: Command, argv: string[]): number {
  const dashes = argv.indexOf('--');
  if (!command.passThrough) return -1;
  const takesValue = new Set(command.options.filter((o) => o.type === 'string').flatMap((o) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') return i;
    if (!arg.startsWith('-') || arg === '-') return i;
    if (takesValue.has(arg)) i++;
  }
  return dashes;
}

export function parseCommandLine(command: Command, argv: string[]): Parsed {
  const cut = splitAt(command, argv);
  const own = cut === -1 ? argv : argv.slice(0, cut);
  const rest = cut === -1 ? [] : argv.slice(argv[cut] === '--' ? cut + 1 : cut);
  const options = Object.fromEntries(
    [...command.options, HELP].map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs says what is wrong (unknown option, missing value) well enough; its hint about
    // positionals that start with '-' does not apply to these options.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''), command.name);
  }
  const { values, positionals } = parsed;
  if (!values.help && !command.passThrough) {
    if (positionals.length < command.positionals.min) throw new UsageError(`missing ${command.args}`, command.name);
    if (positionals.length > command.positionals.max) throw new UsageError(`too many arguments: ${positionals.slice(command.positionals.max).join(' ')}`, command.name);
  }
  return { values: values as Parsed['values'], positionals, rest };
}

export const str = (parsed: Parsed, name: string): string | undefined => {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
};
export const strs = (parsed: Parsed, name: string): string[] => {
  const value = parsed.values[name];
  return Array.isArray(value) ? (value as string[]) : typeof value === 'string' ? [value] : [];
};
export const flag = (parsed: Parsed, name: string): boolean => parsed.values[name] === true;
