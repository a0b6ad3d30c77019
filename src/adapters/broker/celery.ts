// Celery protocol v2 task messages, as Celery 5 (`app.send_task`, JSON serializer) puts them on RabbitMQ, so the
// real DID finders and transformer sidecars consume what we publish unmodified (docs/decisions.md D2, D27, docs/broker.md).
// The reference is test/fixtures/golden-celery-messages.json (captured from upstream's own router + Celery 5.6).
//
// Built to be cheap: 100,000 transform tasks are built and published in well under 5 s, so the constant header
// values are shared, the body is one JSON.stringify per message, and argsrepr/kwargsrepr take a fast path that
// only falls back to the exact port of Celery's truncating `saferepr` when the repr is long enough to be cut.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Options } from "amqplib";
import type { LookupTask, TransformTask } from "../../domain/ports.js";

export const TRANSFORM_TASK_NAME = "transformer_sidecar.transform_file";

/** Queue (and, for DID finders, exchange) names used by the real workers (docs/broker.md). */
export function transformQueueName(requestId: string): string {
  return `transformer-${requestId}`;
}
export function lookupQueueName(scheme: string): string {
  return `did_finder_${scheme}`;
}
export function lookupTaskName(scheme: string): string {
  return `did_finder_${scheme}.lookup_dataset`;
}

/**
 * Celery's `anon_nodename()`: `gen<pid>@<hostname>`, the `origin` header of messages sent by a non-worker
 * process (the golden capture shows `gen13309@vm`).
 */
export function defaultOrigin(): string {
  return `gen${process.pid}@${hostname()}`;
}

export interface CeleryMessage {
  content: Buffer;
  options: Options.Publish;
}

export interface BuildOptions {
  /** `origin` header, e.g. defaultOrigin(). */
  origin: string;
  /** Task id (uuid); a random v4 uuid when absent. */
  id?: string;
  /** AMQP `mandatory` flag (a method field, not seen by consumers): lets the publisher notice unroutable messages. */
  mandatory?: boolean;
}

const CONTENT_TYPE = "application/json";
const CONTENT_ENCODING = "utf-8";
const TIMELIMIT: readonly [null, null] = [null, null];
const EMPTY_STAMPS: Readonly<Record<string, never>> = Object.freeze({});
// The embed part of the body, serialised once.
const EMBED_JSON = '{"callbacks":null,"errbacks":null,"chain":null,"chord":null}';

/** Celery's `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
export const REPR_MAXSIZE = 1024;

/**
 * Builds one Celery protocol v2 task message: headers in the same order and with the same values as Celery 5
 * (`app.amqp.as_task_v2`), properties content type `application/json`, encoding `utf-8`, delivery mode 2,
 * priority 0, correlation id = task id, body `[args, kwargs, embed]`. No `reply_to` (we keep no results).
 */
export function buildTaskMessage(
  taskName: string,
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  opts: BuildOptions,
): CeleryMessage {
  const id = opts.id ?? randomUUID();
  // Celery: `args = args or ()` so empty args are a tuple: repr "()", JSON [].
  const argsrepr = args.length === 0 ? "()" : saferepr(args);
  const kwargsrepr = saferepr(kwargs);
  const headers = {
    lang: "py",
    task: taskName,
    id,
    shadow: null,
    eta: null,
    expires: null,
    group: null,
    group_index: null,
    retries: 0,
    timelimit: TIMELIMIT,
    root_id: id,
    parent_id: null,
    argsrepr,
    kwargsrepr,
    origin: opts.origin,
    ignore_result: false,
    replaced_task_nesting: 0,
    stamped_headers: null,
    stamps: EMPTY_STAMPS,
  };
  const body = `[${JSON.stringify(args)},${JSON.stringify(kwargs)},${EMBED_JSON}]`;
  const options: Options.Publish = {
    contentType: CONTENT_TYPE,
    contentEncoding: CONTENT_ENCODING,
    headers,
    deliveryMode: 2,
    priority: 0,
    correlationId: id,
  };
  if (opts.mandatory) options.mandatory = true;
  return { content: Buffer.from(body, "utf8"), options };
}

/** `transformer_sidecar.transform_file` with the kwargs in upstream's order (docs/broker.md). */
export function buildTransformMessage(task: TransformTask, opts: BuildOptions): CeleryMessage {
  return buildTaskMessage(
    TRANSFORM_TASK_NAME,
    [],
    {
      request_id: task.request_id,
      file_id: task.file_id,
      paths: task.paths,
      service_endpoint: task.service_endpoint,
      result_destination: task.result_destination,
      result_format: task.result_format,
    },
    opts,
  );
}

/** `did_finder_<scheme>.lookup_dataset` with args `[did, dataset_id, endpoint]` and kwargs `{}` (docs/broker.md). */
export function buildLookupMessage(task: LookupTask, opts: BuildOptions): CeleryMessage {
  return buildTaskMessage(lookupTaskName(task.scheme), [task.did, task.datasetId, task.endpoint], {}, opts);
}

// ---------------------------------------------------------------------------------------------------------------
// Celery's saferepr (celery/utils/saferepr.py): a truncating repr whose output differs from Python's repr():
// strings are always in single quotes with only `'` escaped (no other escaping), numbers and booleans go through
// str(), None is "None", containers nested deeper than 3 levels print as "[...]", and once `maxlen` characters
// have been produced the rest is replaced by ", ..." plus the closing brackets still open. JSON values map to
// Python as: string → str, number → int (integral) or float, boolean → bool, null → None, array → list,
// object → dict (keys in insertion order; properties whose value is undefined are skipped, like JSON).

/** Celery's `saferepr(value, maxlen)`. */
export function saferepr(value: unknown, maxlen: number = REPR_MAXSIZE): string {
  const fast = simpleRepr(value, 0);
  // Without truncation the streaming algorithm yields exactly the simple repr; truncation can only start
  // once the output reaches maxlen characters (JS length >= Python length, so this test is conservative).
  if (fast.length < maxlen) return fast;
  return streamingRepr(value, maxlen);
}

const MAXLEVELS = 3;

function quote(s: string): string {
  return s.includes("'") ? `'${s.replaceAll("'", "\\'")}'` : `'${s}'`;
}

function simpleRepr(v: unknown, level: number): string {
  switch (typeof v) {
    case "string":
      return quote(v);
    case "number":
      return pyNumber(v);
    case "boolean":
      return v ? "True" : "False";
    case "bigint":
      return v.toString();
    case "object": {
      if (v === null) return "None";
      if (Array.isArray(v)) {
        if (level >= MAXLEVELS) return "[...]";
        let out = "[";
        for (let i = 0; i < v.length; i++) {
          if (i > 0) out += ", ";
          out += simpleRepr(v[i], level + 1);
        }
        return out + "]";
      }
      if (level >= MAXLEVELS) return "{...}";
      let out = "{";
      let first = true;
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        const item = (v as Record<string, unknown>)[k];
        if (item === undefined) continue;
        if (!first) out += ", ";
        first = false;
        out += quote(k) + ": " + simpleRepr(item, level + 1);
      }
      return out + "}";
    }
    default:
      return "None";
  }
}

/** Python's str() of a JSON number: integral values are ints, others floats (repr of a float). */
export function pyNumber(n: number): string {
  if (Number.isInteger(n)) {
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  }
  if (Number.isNaN(n)) return "nan";
  if (!Number.isFinite(n)) return n > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, laid out the way Python's float_repr_style 'short' does.
  const [mant = "", expStr = "0"] = n.toExponential().split("e");
  const exp = Number(expStr);
  const neg = mant.startsWith("-");
  const digits = mant.replace("-", "").replace(".", "");
  let out: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    out = `${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
  } else if (exp < 0) {
    out = `0.${"0".repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

// --- exact port of the streaming algorithm, used only for long values -------------------------------------------

interface Literal {
  readonly t: "lit";
  readonly value: string;
  readonly truncate: boolean;
  readonly direction: number;
}
interface Key {
  readonly t: "key";
  readonly value: string;
}
interface Quoted {
  readonly t: "quoted";
  readonly value: string;
}
interface Dirty {
  readonly t: "dirty";
  readonly obj: object;
}
type Raw = { readonly t: "raw"; readonly value: unknown };
type Item = Literal | Key | Dirty | Raw;
type Token = Literal | Key | Quoted | string;

const lit = (value: string, truncate: boolean, direction: number): Literal => ({
  t: "lit",
  value,
  truncate,
  direction,
});
const LIT_DICT_START = lit("{", false, +1);
const LIT_DICT_KVSEP = lit(": ", true, 0);
const LIT_DICT_END = lit("}", false, -1);
const LIT_LIST_START = lit("[", false, +1);
const LIT_LIST_END = lit("]", false, -1);
const LIT_LIST_SEP = lit(", ", true, 0);

function* chainList(list: readonly unknown[]): Generator<Item> {
  for (let i = 0; i < list.length; i++) {
    yield { t: "raw", value: list[i] };
    if (i < list.length - 1) yield LIT_LIST_SEP;
  }
}

function* chainDict(obj: Record<string, unknown>): Generator<Item> {
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    yield { t: "key", value: k };
    yield LIT_DICT_KVSEP;
    yield { t: "raw", value: obj[k] };
    if (i < keys.length - 1) yield LIT_LIST_SEP;
  }
}

function* chainAll(...parts: Iterator<Item>[]): Generator<Item> {
  for (const part of parts) {
    // Manual iteration: a for-of loop would close a shared iterator, which Python's chain() never does.
    for (let r = part.next(); !r.done; r = part.next()) yield r.value;
  }
}

function* arrayIter(items: Item[]): Generator<Item> {
  yield* items;
}

/** reprstream(): yields [token, iterator-it-came-from]; the stack never holds more than one iterator. */
function* reprstream(stack: Iterator<Item>[]): Generator<[Token, Iterator<Item>]> {
  const seen = new Set<object>();
  let level = 0;
  while (stack.length > 0) {
    const it = stack.shift()!;
    for (let r = it.next(); !r.done; r = it.next()) {
      const item = r.value;
      if (item.t === "dirty") {
        seen.delete(item.obj);
        continue;
      }
      if (item.t === "lit") {
        level += item.direction;
        yield [item, it];
        continue;
      }
      if (item.t === "key") {
        yield [item, it];
        continue;
      }
      const val = item.value;
      if (typeof val === "string") {
        yield [{ t: "quoted", value: val }, it];
        continue;
      }
      if (val === null || typeof val !== "object") {
        yield [simpleRepr(val, 0), it];
        continue;
      }
      const isList = Array.isArray(val);
      const start = isList ? LIT_LIST_START : LIT_DICT_START;
      const end = isList ? LIT_LIST_END : LIT_DICT_END;
      if (level >= MAXLEVELS) {
        yield [`${start.value}...${end.value}`, it];
        continue;
      }
      if (seen.has(val)) {
        yield [`<Recursion on ${isList ? "list" : "dict"}>`, it];
        continue;
      }
      seen.add(val);
      const inner = isList ? chainList(val as unknown[]) : chainDict(val as Record<string, unknown>);
      stack.push(chainAll(arrayIter([start]), inner, arrayIter([{ t: "dirty", obj: val }, end]), it));
      break;
    }
  }
}

function pyLen(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** celery.utils.text.truncate(s, maxlen): note `>=`, and the cut goes back to the last space. */
function truncate(s: string, maxlen: number): string {
  if (maxlen && pyLen(s) >= maxlen) {
    const head = Array.from(s).slice(0, maxlen).join("");
    const space = head.lastIndexOf(" ");
    return (space >= 0 ? head.slice(0, space) : head) + "...";
  }
  return s;
}

function streamingRepr(value: unknown, maxlen: number): string {
  const stack: Iterator<Item>[] = [arrayIter([{ t: "raw", value }])];
  const out: string[] = [];
  let remaining = maxlen;
  const stream = reprstream(stack);
  for (let r = stream.next(); !r.done; r = stream.next()) {
    const [token, it] = r.value;
    if (remaining <= 0) {
      out.push(", ...");
      // Emit the closing brackets still pending in the rest of the stream.
      for (let rest = it.next(); !rest.done; rest = it.next()) {
        const item = rest.value;
        if (item.t === "lit" && !item.truncate) out.push(item.value);
      }
      break;
    }
    let val: string;
    if (typeof token === "string") val = truncate(token, remaining);
    else if (token.t === "lit") val = token.value;
    else if (token.t === "key") val = saferepr(token.value, remaining);
    else val = `'${truncate(token.value, remaining).replaceAll("'", "\\'")}'`;
    out.push(val);
    remaining -= pyLen(val);
  }
  return out.join("");
}
