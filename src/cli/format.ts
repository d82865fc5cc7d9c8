// Text for people: tables with aligned columns, ages ("5m ago"), durations, and colours only
// where they help (a terminal, unless NO_COLOR).
import type { ColorMode } from '../config.js';

export interface Colors {
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
}

const paint = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const plain = (text: string) => text;

export function colors(mode: ColorMode, isTTY: boolean | undefined): Colors {
  const on = mode === 'always' || (mode === 'auto' && isTTY === true);
  return on ? { red: paint(31, 39), green: paint(32, 39), yellow: paint(33, 39), dim: paint(2, 22) } : { red: plain, green: plain, yellow: plain, dim: plain };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const width = (text: string) => [...text.replace(ANSI, '')].length;

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(width(title), ...rows.map((row) => width(row[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - width(cell))))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** 42s, 5m, 3h, 2d: the largest unit that fits. */
export function shortDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return '-';
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '-' : `${shortDuration(now - at)} ago`;
}

/** Cuts text to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}
