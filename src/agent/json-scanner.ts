// A streaming check of one line too large to parse whole (a 50 MB tool result): is it a JSON
// object (RFC 8259 grammar, valid UTF-8)? And the few top-level members the service needs
// (type, subtype, the result's fields), each kept only up to a bound. Fed in chunks, it holds
// a few hundred kilobytes at most, whatever the size of the line.
import { isUtf8 } from 'node:buffer';

/** Deeper than this, the line is not taken for a message (a hostile `[[[[...` would grow the stack). */
const MAX_DEPTH = 4096;
/** Keys longer than this are never among the wanted ones. */
const MAX_KEY_BYTES = 64;

const OBJECT = 1;
const ARRAY = 2;

const enum Mode {
  Start,
  /** After `{`: a key or `}`. */
  FirstKey,
  /** After `,` in an object: a key. */
  Key,
  Colon,
  /** After `[`: a value or `]`. */
  FirstValue,
  Value,
  AfterValue,
  String,
  Number,
  Literal,
  Done,
  Bad,
}

const enum Num {
  Minus,
  Zero,
  Int,
  Dot,
  Frac,
  Exp,
  ExpSign,
  ExpDigits,
}

const isWhitespace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const LITERALS: Record<number, Buffer> = { 0x74: Buffer.from('true'), 0x66: Buffer.from('false'), 0x6e: Buffer.from('null') };

interface Capture {
  key: string;
  parts: Buffer[];
  bytes: number;
  /** The raw text went past the bound: a string keeps its start, anything else is dropped. */
  cut: boolean;
  string: boolean;
}

export interface ScanResult {
  /** The whole line is one JSON object (whitespace around it allowed), in valid UTF-8. */
  object: boolean;
  /** The wanted top-level members that were found, parsed; a long string keeps its start only. */
  fields: Record<string, unknown>;
}

export class JsonObjectScanner {
  private mode = Mode.Start;
  private readonly stack: number[] = [];
  /** In a string: 0, or 1 right after a backslash, or the hex digits still due of a \u escape (four of them). */
  private escape = 0;
  private num = Num.Int;
  private literal: Buffer | null = null;
  private literalAt = 0;
  /** The raw bytes of the top-level key being read, or null when it is not kept. */
  private key: number[] | null = null;
  private inKey = false;
  /** The top-level key whose value comes next, when it is a wanted one. */
  private pending: string | null = null;
  private capture: Capture | null = null;
  private readonly fields = new Map<string, Capture>();
  private readonly utf8 = new Utf8Check();

  /**
   * `wanted`: the top-level keys to keep, and `maxBytes` the raw bytes kept of each (a string's
   * escapes count: 6 bytes of a `\u` escape (backslash, u, four hex digits) may stand for one character).
   */
  constructor(
    private readonly wanted: ReadonlySet<string>,
    private readonly maxBytes: number,
  ) {}

  push(chunk: Buffer): void {
    if (this.mode === Mode.Bad) return;
    this.utf8.push(chunk);
    let from = 0;
    const len = chunk.length;
    for (let i = 0; i < len; i++) {
      const b = chunk[i] as number;
      switch (this.mode) {
        case Mode.String: {
          // The hot loop: a huge line is mostly the inside of one string.
          for (; i < len; i++) {
            const c = chunk[i] as number;
            if (this.escape === 0) {
              if (c === 0x22) break;
              if (c === 0x5c) this.escape = 1;
              else if (c < 0x20) return this.fail();
            } else if (this.escape === 1) {
              if (c === 0x75) this.escape = 5;
              else if (c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74) this.escape = 0;
              else return this.fail();
            } else {
              if (!isHex(c)) return this.fail();
              this.escape = this.escape === 2 ? 0 : this.escape - 1;
            }
            if (this.key && this.key.length <= MAX_KEY_BYTES) this.key.push(c);
          }
          if (i === len) break;
          // The closing quote.
          if (this.inKey) {
            this.endKey();
          } else {
            from = this.take(chunk, from, i + 1);
            this.endValue();
          }
          break;
        }
        case Mode.Number: {
          if (this.numberGoesOn(b)) break;
          if (!this.numberComplete()) return this.fail();
          // The byte after the number ends it and is read again as what follows.
          from = this.take(chunk, from, i);
          this.endValue();
          i--;
          break;
        }
        case Mode.Literal: {
          if (b !== this.literal?.[this.literalAt]) return this.fail();
          this.literalAt++;
          if (this.literalAt === this.literal.length) {
            from = this.take(chunk, from, i + 1);
            this.endValue();
          }
          break;
        }
        case Mode.Start:
          if (isWhitespace(b)) break;
          if (b !== 0x7b) return this.fail();
          this.open(OBJECT);
          break;
        case Mode.FirstKey:
        case Mode.Key:
          if (isWhitespace(b)) break;
          if (b === 0x7d && this.mode === Mode.FirstKey) {
            from = this.close(chunk, from, i);
            break;
          }
          if (b !== 0x22) return this.fail();
          this.mode = Mode.String;
          this.inKey = true;
          this.escape = 0;
          this.key = this.stack.length === 1 ? [] : null;
          break;
        case Mode.Colon:
          if (isWhitespace(b)) break;
          if (b !== 0x3a) return this.fail();
          this.mode = Mode.Value;
          break;
        case Mode.FirstValue:
        case Mode.Value: {
          if (isWhitespace(b)) break;
          if (b === 0x5d && this.mode === Mode.FirstValue) {
            from = this.close(chunk, from, i);
            break;
          }
          if (this.pending !== null && this.stack.length === 1) {
            this.capture = { key: this.pending, parts: [], bytes: 0, cut: false, string: b === 0x22 };
            from = i;
          }
          this.pending = null;
          if (b === 0x22) {
            this.mode = Mode.String;
            this.inKey = false;
            this.escape = 0;
          } else if (b === 0x7b) {
            this.open(OBJECT);
          } else if (b === 0x5b) {
            this.open(ARRAY);
          } else if (b === 0x2d || isDigit(b)) {
            this.mode = Mode.Number;
            this.num = b === 0x2d ? Num.Minus : b === 0x30 ? Num.Zero : Num.Int;
          } else if (LITERALS[b]) {
            this.mode = Mode.Literal;
            this.literal = LITERALS[b] as Buffer;
            this.literalAt = 1;
          } else {
            return this.fail();
          }
          break;
        }
        case Mode.AfterValue: {
          if (isWhitespace(b)) break;
          const top = this.stack[this.stack.length - 1];
          if (b === 0x2c) this.mode = top === OBJECT ? Mode.Key : Mode.Value;
          else if ((b === 0x7d && top === OBJECT) || (b === 0x5d && top === ARRAY)) from = this.close(chunk, from, i);
          else return this.fail();
          break;
        }
        case Mode.Done:
          if (!isWhitespace(b)) return this.fail();
          break;
        default:
          return;
      }
    }
    if (this.capture) this.take(chunk, from, len);
  }

  /** Call once the whole line was pushed. */
  finish(): ScanResult {
    if (this.mode === Mode.Number && this.numberComplete()) this.endValue();
    const object = this.mode === Mode.Done && this.utf8.finish();
    const fields: Record<string, unknown> = {};
    if (object) {
      for (const [key, capture] of this.fields) {
        const value = parseCapture(capture);
        if (value !== undefined) fields[key] = value;
      }
    }
    return { object, fields };
  }

  private fail(): void {
    this.mode = Mode.Bad;
    this.capture = null;
    this.fields.clear();
  }

  private open(kind: number): void {
    if (this.stack.length >= MAX_DEPTH) return this.fail();
    this.stack.push(kind);
    this.mode = kind === OBJECT ? Mode.FirstKey : Mode.FirstValue;
  }

  /** A `}` or `]` at `i`: the container ends (and with it maybe a captured value). */
  private close(chunk: Buffer, from: number, i: number): number {
    this.stack.pop();
    if (this.stack.length === 0) {
      this.mode = Mode.Done;
      return from;
    }
    const next = this.take(chunk, from, i + 1);
    this.endValue();
    return next;
  }

  private endKey(): void {
    const raw = this.key;
    this.key = null;
    this.inKey = false;
    this.mode = Mode.Colon;
    if (raw === null || raw.length > MAX_KEY_BYTES) {
      this.pending = null;
      return;
    }
    let key: unknown;
    try {
      key = JSON.parse(`"${Buffer.from(raw).toString('utf8')}"`);
    } catch {
      key = null;
    }
    this.pending = typeof key === 'string' && this.wanted.has(key) ? key : null;
  }

  private endValue(): void {
    this.mode = Mode.AfterValue;
    if (this.capture && this.stack.length === 1) {
      this.fields.set(this.capture.key, this.capture);
      this.capture = null;
    }
  }

  /** Keeps bytes [from, to) of the value being captured, up to the bound; returns the next start. */
  private take(chunk: Buffer, from: number, to: number): number {
    const capture = this.capture;
    if (!capture || capture.cut || to <= from) return to;
    const room = this.maxBytes - capture.bytes;
    if (to - from <= room) {
      capture.parts.push(Buffer.from(chunk.subarray(from, to)));
      capture.bytes += to - from;
    } else {
      if (capture.string) capture.parts.push(Buffer.from(chunk.subarray(from, from + room)));
      capture.bytes = this.maxBytes;
      capture.cut = true;
    }
    return to;
  }

  private numberGoesOn(b: number): boolean {
    switch (this.num) {
      case Num.Minus:
        if (b === 0x30) this.num = Num.Zero;
        else if (isDigit(b)) this.num = Num.Int;
        else return false;
        return true;
      case Num.Zero:
      case Num.Int:
      case Num.Frac:
        if (isDigit(b) && this.num !== Num.Zero) return true;
        if (b === 0x2e && this.num !== Num.Frac) this.num = Num.Dot;
        else if (b === 0x65 || b === 0x45) this.num = Num.Exp;
        else return false;
        return true;
      case Num.Dot:
        if (!isDigit(b)) return false;
        this.num = Num.Frac;
        return true;
      case Num.Exp:
        if (b === 0x2b || b === 0x2d) this.num = Num.ExpSign;
        else if (isDigit(b)) this.num = Num.ExpDigits;
        else return false;
        return true;
      case Num.ExpSign:
        if (!isDigit(b)) return false;
        this.num = Num.ExpDigits;
        return true;
      case Num.ExpDigits:
        return isDigit(b);
    }
  }

  private numberComplete(): boolean {
    return this.num === Num.Zero || this.num === Num.Int || this.num === Num.Frac || this.num === Num.ExpDigits;
  }
}

/**
 * UTF-8 validity of a byte stream fed in chunks, without decoding it (no string per chunk: a
 * 50 MB line must not cost 50 MB of garbage): each chunk is checked natively up to its last
 * complete character, and the few bytes of a character cut by the chunk's end wait for the next.
 */
class Utf8Check {
  private valid = true;
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    if (!this.valid || chunk.length === 0) return;
    let start = 0;
    if (this.carry.length > 0) {
      const need = sequenceLength(this.carry[0] as number) - this.carry.length;
      const joined = Buffer.concat([this.carry, chunk.subarray(0, need)]);
      if (joined.length < this.carry.length + need) {
        this.carry = joined;
        return;
      }
      this.carry = Buffer.alloc(0);
      if (!isUtf8(joined)) return void (this.valid = false);
      start = need;
    }
    // A character cut by the chunk's end: from its lead byte (at most 3 bytes back) on, it waits.
    let end = chunk.length;
    for (let back = 1; back <= 3 && end - back >= start; back++) {
      const b = chunk[end - back] as number;
      if ((b & 0xc0) === 0x80) continue;
      if (b >= 0xc0 && sequenceLength(b) > back) end -= back;
      break;
    }
    if (!isUtf8(chunk.subarray(start, end))) this.valid = false;
    else if (end < chunk.length) this.carry = Buffer.from(chunk.subarray(end));
  }

  /** True when everything pushed was valid UTF-8, and no character was left unfinished. */
  finish(): boolean {
    return this.valid && this.carry.length === 0;
  }
}

/** Bytes of the UTF-8 sequence a lead byte starts (an invalid lead counts as 1: isUtf8 refuses it). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/** The captured raw JSON of one member, parsed; a string that was cut keeps what parses of its start. */
function parseCapture(capture: Capture): unknown {
  const raw = Buffer.concat(capture.parts);
  if (!capture.cut) {
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      return undefined;
    }
  }
  if (!capture.string) return undefined;
  // Cut anywhere: back off over a split UTF-8 character, then over a split escape (at most 6 bytes).
  let end = raw.length;
  while (end > 1 && ((raw[end - 1] as number) & 0xc0) === 0x80) end--;
  if (end > 1 && (raw[end - 1] as number) >= 0xc0) end--;
  for (let back = 0; back <= 6 && end - back > 1; back++) {
    try {
      const text = JSON.parse(`${raw.subarray(0, end - back).toString('utf8')}"`) as string;
      // A surrogate pair cut in two leaves its first half: it goes too.
      return /[\ud800-\udbff]$/.test(text) ? text.slice(0, -1) : text;
    } catch {
      // Inside an escape: one byte further back.
    }
  }
  return undefined;
}
