// An incremental JSON parser: bytes in as they arrive, the same value as JSON.parse out at the end. Used for
// the submit body (streamBody.ts), whose 1,000,000-entry file list would otherwise be held three times at
// once (the raw bytes, the decoded text, the parsed strings); here only the parsed value and the token that
// straddles two chunks are kept (docs/decisions.md D37).
//
// Same value as JSON.parse: strings without escapes are decoded as UTF-8 from their bytes (invalid sequences
// become U+FFFD as in the whole-body decode), strings with escapes go through JSON.parse itself, numbers
// through Number() after the JSON grammar check, object keys are own data properties (also "__proto__"),
// and a repeated key keeps its first position with the last value. Syntax errors are SyntaxErrors worded as
// V8's ("… in JSON at position N", positions counted in bytes).

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
const NUMBER_CHARS = new Uint8Array(256);
for (const c of "0123456789+-.eE") NUMBER_CHARS[c.charCodeAt(0)] = 1;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what JSON forbids in strings
const CONTROL = /[\u0000-\u001f]/;
const QUOTE = 0x22;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const BACKSLASH = 0x5c;

/** What the parser expects next. */
const State = {
  /** A value (the top level, after ':' or after ',' in an array). */
  Value: 0,
  /** After '[': a value or ']'. */
  ArrayFirst: 1,
  /** After an array element: ',' or ']'. */
  ArrayNext: 2,
  /** After '{': a key or '}'. */
  ObjectFirst: 3,
  /** After ',' in an object: a key. */
  ObjectKey: 4,
  /** After a key: ':'. */
  Colon: 5,
  /** After a property value: ',' or '}'. */
  ObjectNext: 6,
  /** After the top-level value: only white space. */
  Done: 7,
} as const;
type State = (typeof State)[keyof typeof State];

interface Frame {
  array: unknown[] | null;
  object: Record<string, unknown> | null;
  key: string;
}

type Pending =
  | { kind: "string"; isKey: boolean; pieces: Buffer[]; escaped: boolean; backslash: boolean; start: number }
  | { kind: "word"; text: string; start: number };

function unexpected(byte: number | undefined, pos: number): SyntaxError {
  if (byte === undefined) return new SyntaxError("Unexpected end of JSON input");
  const ch = byte < 0x80 ? String.fromCharCode(byte) : "\ufffd";
  return new SyntaxError(`Unexpected token '${ch}' in JSON at position ${pos}`);
}

/** Defines a property as JSON.parse does (an own data property, "__proto__" included). */
function put(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  } else o[key] = value;
}

export class JsonStreamParser {
  /** strict: only an object or an array at the top level (express.json's default). */
  constructor(private readonly strict = false) {}

  private state: State = State.Value;
  private readonly stack: Frame[] = [];
  private root: unknown = undefined;
  private pending: Pending | null = null;
  /** Bytes consumed before the current chunk (for error positions). */
  private offset = 0;
  /** The first bytes while they may still be a byte-order mark; null once decided. */
  private head: Buffer | null = Buffer.alloc(0);
  /** The next backslash at or after bsFrom in bsChunk (-1: none), so each chunk is searched once. */
  private bsChunk: Buffer | null = null;
  private bsFrom = 0;
  private bsPos = -1;

  /** Feeds the next bytes; throws a SyntaxError at the first byte JSON does not allow there. */
  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.head !== null) {
      // The first bytes: a UTF-8 byte-order mark is dropped, as the body decoder does.
      const head = Buffer.concat([this.head, chunk]);
      if (head.length < 3 && BOM.subarray(0, head.length).equals(head)) {
        this.head = head;
        return;
      }
      this.head = null;
      this.feed(head.subarray(0, 3).equals(BOM) ? head.subarray(3) : head);
      return;
    }
    this.feed(chunk);
  }

  /** True while no byte but a byte-order mark arrived (body-parser reads such a body as {}). */
  get empty(): boolean {
    return (
      this.offset === 0 &&
      (this.head === null || this.head.length === 0) &&
      this.state === State.Value &&
      !this.pending
    );
  }

  private feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    let i = 0;
    const n = chunk.length;
    if (this.pending) i = this.resume(chunk, i);
    while (i < n) {
      const c = chunk[i]!;
      if (WS[c]) {
        i++;
        continue;
      }
      switch (this.state) {
        case State.Done:
          throw new SyntaxError(
            `Unexpected non-whitespace character after JSON at position ${this.offset + i}`,
          );
        case State.Colon:
          if (c !== 0x3a)
            throw new SyntaxError(`Expected ':' after property name in JSON at position ${this.offset + i}`);
          this.state = State.Value;
          i++;
          continue;
        case State.ArrayNext:
          if (c === 0x2c) {
            this.state = State.Value;
            i++;
          } else if (c === 0x5d) {
            i++;
            this.close();
          } else
            throw new SyntaxError(
              `Expected ',' or ']' after array element in JSON at position ${this.offset + i}`,
            );
          continue;
        case State.ObjectNext:
          if (c === 0x2c) {
            this.state = State.ObjectKey;
            i++;
          } else if (c === 0x7d) {
            i++;
            this.close();
          } else
            throw new SyntaxError(
              `Expected ',' or '}' after property value in JSON at position ${this.offset + i}`,
            );
          continue;
        case State.ObjectFirst:
        case State.ObjectKey:
          if (c === 0x7d && this.state === State.ObjectFirst) {
            i++;
            this.close();
          } else if (c === QUOTE) {
            i = this.string(chunk, i + 1, true, this.offset + i);
          } else
            throw new SyntaxError(
              this.state === State.ObjectFirst
                ? `Expected property name or '}' in JSON at position ${this.offset + i}`
                : `Expected double-quoted property name in JSON at position ${this.offset + i}`,
            );
          continue;
        case State.ArrayFirst:
          if (c === 0x5d) {
            i++;
            this.close();
            continue;
          }
          i = this.value(chunk, i, c);
          continue;
        case State.Value:
          // body-parser's strict mode: the top level is an object or an array.
          if (this.strict && this.stack.length === 0 && c !== 0x7b && c !== 0x5b) {
            throw unexpected(c, this.offset + i);
          }
          i = this.value(chunk, i, c);
          continue;
      }
    }
    this.offset += n;
  }

  /** The parsed value; throws when the input ended early. */
  end(): unknown {
    if (this.pending?.kind === "word" && this.stack.length === 0 && this.state === State.Value) {
      // A bare top-level number or literal ends with the input.
      const p = this.pending;
      this.pending = null;
      this.emit(this.word(p.text, p.start));
    }
    if (this.head !== null) {
      const head = this.head;
      this.head = null;
      this.feed(head);
    }
    if (this.pending || this.state !== State.Done) throw unexpected(undefined, this.offset);
    return this.root;
  }

  /** A value starting at chunk[i] (c), in a state that expects one. */
  private value(chunk: Buffer, i: number, c: number): number {
    if (c === QUOTE) return this.string(chunk, i + 1, false, this.offset + i);
    if (c === 0x7b) {
      this.stack.push({ array: null, object: {}, key: "" });
      this.state = State.ObjectFirst;
      return i + 1;
    }
    if (c === 0x5b) {
      this.stack.push({ array: [], object: null, key: "" });
      this.state = State.ArrayFirst;
      return i + 1;
    }
    if (NUMBER_CHARS[c] || (c >= 0x61 && c <= 0x7a)) return this.wordFrom(chunk, i, "", this.offset + i);
    throw unexpected(c, this.offset + i);
  }

  /** Continues the token that the previous chunk ended inside. */
  private resume(chunk: Buffer, i: number): number {
    const p = this.pending!;
    this.pending = null;
    if (p.kind === "word") return this.wordFrom(chunk, i, p.text, p.start);
    return this.stringFrom(chunk, i, p);
  }

  /** A number or literal (true, false, null), possibly continued from the previous chunk. */
  private wordFrom(chunk: Buffer, i: number, before: string, start: number): number {
    const first = before.length > 0 ? before.charCodeAt(0) : chunk[i]!;
    const numeric = NUMBER_CHARS[first] === 1;
    let j = i;
    const n = chunk.length;
    while (j < n) {
      const c = chunk[j]!;
      if (numeric ? NUMBER_CHARS[c] !== 1 : c < 0x61 || c > 0x7a) break;
      j++;
    }
    const text = before + chunk.toString("latin1", i, j);
    if (j === n) {
      this.pending = { kind: "word", text, start };
      return j;
    }
    this.emit(this.word(text, start));
    return j;
  }

  private word(text: string, start: number): unknown {
    if (text === "true") return true;
    if (text === "false") return false;
    if (text === "null") return null;
    if (NUMBER.test(text)) return Number(text);
    // Point at the first character that cannot continue a valid token.
    for (let k = 1; k <= text.length; k++) {
      const prefix = text.slice(0, k);
      const ok =
        ["true", "false", "null"].some((w) => w.startsWith(prefix)) ||
        /^-?(?:0|[1-9]\d*)?(?:\.\d*)?(?:[eE][+-]?\d*)?$/.test(prefix);
      if (!ok) return this.fail(text.charCodeAt(k - 1), start + k - 1);
    }
    throw new SyntaxError(`Invalid number or literal in JSON at position ${start}`);
  }

  private fail(c: number, pos: number): never {
    throw unexpected(c, pos);
  }

  /** A string whose opening quote was just before chunk[i]. */
  private string(chunk: Buffer, i: number, isKey: boolean, start: number): number {
    // The common case, without allocating anything but the string: it ends in this chunk with no escape.
    const q = chunk.indexOf(QUOTE, i);
    if (q !== -1) {
      const b = this.backslashFrom(chunk, i);
      if (b === -1 || b > q) {
        const value = this.decode(chunk, i, q, false, start);
        if (isKey) {
          this.stack[this.stack.length - 1]!.key = value;
          this.state = State.Colon;
        } else this.emit(value);
        return q + 1;
      }
    }
    return this.stringFrom(chunk, i, {
      kind: "string",
      isKey,
      pieces: [],
      escaped: false,
      backslash: false,
      start,
    });
  }

  private stringFrom(chunk: Buffer, i: number, p: Extract<Pending, { kind: "string" }>): number {
    let j = i;
    const n = chunk.length;
    // p.backslash: the previous chunk ended in an odd run of backslashes (the next byte is escaped).
    let skipFirst = p.backslash;
    for (;;) {
      if (skipFirst) {
        skipFirst = false;
        if (j >= n) break;
        j++;
        continue;
      }
      const q = chunk.indexOf(QUOTE, j);
      const b = this.backslashFrom(chunk, j);
      if (b !== -1 && (q === -1 || b < q)) {
        // An escape: the byte after the backslash is part of it, whatever it is.
        p.escaped = true;
        if (b + 1 >= n) {
          j = n;
          p.pieces.push(chunk.subarray(i, n));
          this.pending = { ...p, backslash: true };
          return n;
        }
        j = b + 2;
        continue;
      }
      if (q === -1) break;
      // The closing quote.
      const parts = p.pieces.length === 0 ? null : [...p.pieces, chunk.subarray(i, q)];
      const value = this.decode(
        parts ? Buffer.concat(parts) : chunk,
        parts ? 0 : i,
        parts ? -1 : q,
        p.escaped,
        p.start,
      );
      if (p.isKey) {
        this.stack[this.stack.length - 1]!.key = value;
        this.state = State.Colon;
      } else this.emit(value);
      return q + 1;
    }
    p.pieces.push(chunk.subarray(i, n));
    this.pending = { ...p, backslash: false };
    return n;
  }

  private backslashFrom(chunk: Buffer, j: number): number {
    if (this.bsChunk !== chunk || j < this.bsFrom || (this.bsPos !== -1 && this.bsPos < j)) {
      this.bsChunk = chunk;
      this.bsFrom = j;
      this.bsPos = chunk.indexOf(BACKSLASH, j);
    }
    return this.bsPos;
  }

  /** The text of a string's bytes [from, to) (to = -1: to the end). */
  private decode(buf: Buffer, from: number, to: number, escaped: boolean, start: number): string {
    const end = to === -1 ? buf.length : to;
    const raw = buf.toString("utf8", from, end);
    if (escaped) {
      try {
        return JSON.parse(`"${raw}"`) as string;
      } catch (e) {
        const m = /position (\d+)/.exec((e as Error).message);
        const at = m ? start + Number(m[1]) : start;
        throw new SyntaxError(
          CONTROL.test(raw)
            ? `Bad control character in string literal in JSON at position ${at}`
            : `Bad escaped character in JSON at position ${at}`,
        );
      }
    }
    if (CONTROL.test(raw)) {
      const k = raw.search(CONTROL);
      throw new SyntaxError(`Bad control character in string literal in JSON at position ${start + 1 + k}`);
    }
    return raw;
  }

  /** A complete value: into its container, or the result. */
  private emit(v: unknown): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      this.root = v;
      this.state = State.Done;
    } else if (top.array) {
      top.array.push(v);
      this.state = State.ArrayNext;
    } else {
      put(top.object!, top.key, v);
      this.state = State.ObjectNext;
    }
  }

  /** ']' or '}': the container is complete. */
  private close(): void {
    const f = this.stack.pop()!;
    this.emit(f.array ?? f.object);
  }
}
