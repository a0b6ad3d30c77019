// AMQP 0-9-1 frames of one basic.publish (method frame, content header frame, body frames), encoded by hand:
// pure functions of their arguments, no I/O (the broker writes the result to the channel; amqp.broker.ts).
//
// Why by hand: amqplib 2.3.1 spends ~30 µs per Celery message encoding the 19-entry header table (for-in over a
// prototype-chained copy of the headers, one native call per key and value), which alone caps a publish at
// ~20k msg/s on this kind of machine. encodePublishFrames() produces the very same bytes as amqplib's codec,
// with the same field-value types: 'S' strings, 'V' null, 't' booleans, 'b'/'s'/'I'/'l' integers by range,
// 'd' doubles, 'A' arrays, 'F' tables, 'x' buffers; bodies split at frame max - 8 as amqplib splits them at any
// frame max a connection can negotiate (4,096 and up). Anything it does not handle returns null, and the caller
// publishes through amqplib instead. test/unit/amqpFrames.test.ts compares its output with amqplib's own encoder
// byte for byte; docs/broker.md.
//
// The header frame is built in one module-level scratch buffer that grows on demand and is copied out before
// return, so no call sees another's bytes (JavaScript runs one call at a time).
import type { Options } from "amqplib";

const FRAME_END = 0xce;
const PUBLISHABLE = new Set([
  "contentType",
  "contentEncoding",
  "headers",
  "deliveryMode",
  "priority",
  "correlationId",
  "mandatory",
]);

class Unsupported extends Error {}

let scratch = Buffer.allocUnsafe(64 * 1024);
const keyCache = new Map<string, Buffer>();

function ensure(off: number, n: number): void {
  if (off + n <= scratch.length) return;
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, off + n + 1024));
  scratch.copy(bigger, 0, 0, off);
  scratch = bigger;
}

function writeShortStr(off: number, s: string): number {
  ensure(off, 1 + 3 * s.length);
  const n = scratch.write(s, off + 1, "utf8");
  if (n > 255) throw new Unsupported("short string too long");
  scratch[off] = n;
  return off + 1 + n;
}

function writeKey(off: number, key: string): number {
  let enc = keyCache.get(key);
  if (!enc) {
    const bytes = Buffer.from(key, "utf8");
    if (bytes.length > 255) throw new Unsupported("table key too long");
    enc = Buffer.concat([Buffer.of(bytes.length), bytes]);
    if (keyCache.size < 1024) keyCache.set(key, enc);
  }
  ensure(off, enc.length);
  enc.copy(scratch, off);
  return off + enc.length;
}

function writeTable(off: number, table: object): number {
  const start = off;
  ensure(off, 4);
  off += 4;
  for (const key in table) {
    const v = (table as Record<string, unknown>)[key];
    if (v === undefined) continue;
    off = writeKey(off, key);
    off = writeValue(off, v);
  }
  scratch.writeUInt32BE(off - start - 4, start);
  return off;
}

function writeValue(off: number, v: unknown): number {
  switch (typeof v) {
    case "string": {
      ensure(off, 5 + 3 * v.length);
      const n = scratch.write(v, off + 5, "utf8");
      scratch[off] = 0x53; // 'S'
      scratch.writeUInt32BE(n, off + 1);
      return off + 5 + n;
    }
    case "boolean":
      ensure(off, 2);
      scratch[off] = 0x74; // 't'
      scratch[off + 1] = v ? 1 : 0;
      return off + 2;
    case "number":
      ensure(off, 9);
      if (v >= 0x8000000000000000 || (Math.abs(v) < 0x4000000000000 && Math.floor(v) !== v)) {
        scratch[off] = 0x64; // 'd'
        scratch.writeDoubleBE(v, off + 1);
        return off + 9;
      }
      if (v < 128 && v >= -128) {
        scratch[off] = 0x62; // 'b'
        scratch.writeInt8(v, off + 1);
        return off + 2;
      }
      if (v >= -0x8000 && v < 0x8000) {
        scratch[off] = 0x73; // 's'
        scratch.writeInt16BE(v, off + 1);
        return off + 3;
      }
      if (v >= -0x80000000 && v < 0x80000000) {
        scratch[off] = 0x49; // 'I'
        scratch.writeInt32BE(v, off + 1);
        return off + 5;
      }
      if (!Number.isFinite(v)) throw new Unsupported("infinite number");
      scratch[off] = 0x6c; // 'l'
      scratch.writeBigInt64BE(BigInt(v), off + 1);
      return off + 9;
    case "object": {
      if (v === null) {
        ensure(off, 1);
        scratch[off] = 0x56; // 'V'
        return off + 1;
      }
      if (Array.isArray(v)) {
        ensure(off, 5);
        scratch[off] = 0x41; // 'A'
        const start = off + 1;
        off += 5;
        for (const item of v) {
          if (item === undefined) throw new Unsupported("undefined in array");
          off = writeValue(off, item);
        }
        scratch.writeUInt32BE(off - start - 4, start);
        return off;
      }
      if (Buffer.isBuffer(v)) {
        ensure(off, 5 + v.length);
        scratch[off] = 0x78; // 'x'
        scratch.writeUInt32BE(v.length, off + 1);
        v.copy(scratch, off + 5);
        return off + 5 + v.length;
      }
      if (Object.hasOwn(v, "!")) throw new Unsupported("typed field value");
      ensure(off, 1);
      scratch[off] = 0x46; // 'F'
      return writeTable(off + 1, v);
    }
    default:
      throw new Unsupported(`field value of type ${typeof v}`);
  }
}

/** BasicPublish method frame, constant for one (channel, exchange, routing key, mandatory). */
export function encodePublishMethod(
  channel: number,
  exchange: string,
  routingKey: string,
  mandatory: boolean,
): Buffer {
  const ex = Buffer.from(exchange, "utf8");
  const rk = Buffer.from(routingKey, "utf8");
  if (ex.length > 255 || rk.length > 255) throw new Error("exchange or routing key longer than 255 bytes");
  const buf = Buffer.alloc(17 + ex.length + rk.length);
  buf[0] = 1;
  buf.writeUInt16BE(channel, 1);
  buf.writeUInt32BE(buf.length - 8, 3);
  buf.writeUInt32BE(0x003c0028, 7); // basic.publish
  buf.writeUInt16BE(0, 11); // ticket
  let off = 13;
  buf[off++] = ex.length;
  off += ex.copy(buf, off);
  buf[off++] = rk.length;
  off += rk.copy(buf, off);
  buf[off++] = mandatory ? 1 : 0;
  buf[off] = FRAME_END;
  return buf;
}

/**
 * All frames of one publish (method + content header + body), byte-identical to amqplib 2.3.1's encoding, or
 * null when `options` uses something this encoder leaves to amqplib.
 */
export function encodePublishFrames(
  channel: number,
  method: Buffer,
  content: Buffer,
  options: Options.Publish,
  frameMax: number,
): Buffer | null {
  for (const key in options) {
    if (!PUBLISHABLE.has(key) && (options as Record<string, unknown>)[key] !== undefined) return null;
  }
  const { contentType, contentEncoding, headers, deliveryMode, priority, correlationId } = options;
  if (deliveryMode !== undefined && typeof deliveryMode !== "number") return null;
  if (headers !== undefined && (typeof headers !== "object" || headers === null)) return null;
  try {
    // Content header frame, built in the scratch buffer.
    ensure(0, 21);
    scratch[0] = 2;
    scratch.writeUInt16BE(channel, 1);
    scratch.writeUInt32BE(0x003c0000, 7); // class 60, weight 0
    const size = content.length;
    scratch.writeUInt32BE(Math.floor(size / 0x100000000), 11);
    scratch.writeUInt32BE(size >>> 0, 15);
    let flags = 0;
    let off = 21;
    if (contentType !== undefined) {
      flags |= 0x8000;
      off = writeShortStr(off, contentType);
    }
    if (contentEncoding !== undefined) {
      flags |= 0x4000;
      off = writeShortStr(off, contentEncoding);
    }
    // amqplib always sends a (possibly empty) headers table.
    flags |= 0x2000;
    off = writeTable(off, headers ?? {});
    if (deliveryMode !== undefined) {
      flags |= 0x1000;
      ensure(off, 1);
      scratch.writeUInt8(deliveryMode, off++);
    }
    if (priority !== undefined) {
      flags |= 0x0800;
      ensure(off, 1);
      scratch.writeUInt8(priority, off++);
    }
    if (correlationId !== undefined) {
      flags |= 0x0400;
      off = writeShortStr(off, correlationId);
    }
    scratch.writeUInt16BE(flags, 19);
    ensure(off, 1);
    scratch[off] = FRAME_END;
    scratch.writeUInt32BE(off - 7, 3);
    const headerLen = off + 1;

    const maxBody = frameMax - 8;
    if (!(maxBody > 0)) return null;
    const bodyFrames = size === 0 ? 0 : Math.ceil(size / maxBody);
    const out = Buffer.allocUnsafe(method.length + headerLen + size + 8 * bodyFrames);
    let o = method.copy(out, 0);
    o += scratch.copy(out, o, 0, headerLen);
    for (let start = 0; start < size; start += maxBody) {
      const end = Math.min(size, start + maxBody);
      out[o] = 3;
      out.writeUInt16BE(channel, o + 1);
      out.writeUInt32BE(end - start, o + 3);
      o += 7;
      o += content.copy(out, o, start, end);
      out[o++] = FRAME_END;
    }
    return out;
  } catch (err) {
    if (err instanceof Unsupported || err instanceof RangeError) return null;
    throw err;
  }
}
