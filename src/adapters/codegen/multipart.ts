// A small, strict multipart parser (RFC 2046 / RFC 7578) over a complete Buffer. Used for the answer of a
// ServiceX code generator (docs/codegen.md), which requests-toolbelt's MultipartEncoder produces:
//
//   --<boundary>\r\nContent-Disposition: form-data; name="transformer_image"\r\n\r\n<value>\r\n
//   --<boundary>\r\n ... \r\n--<boundary>--\r\n
//
// Part bodies stay Buffers (the zip part is binary and carries no filename); nothing is decoded as text
// except the part headers. Only a complete delimiter line ends a part: CRLF "--" boundary followed by "--"
// (close) or by optional spaces/tabs and CRLF. Anything else, e.g. "\r\n--" inside zip bytes, is data.

export interface MultipartPart {
  /** `name` parameter of Content-Disposition, or null when absent. */
  name: string | null;
  /** `filename` (or decoded `filename*`) parameter of Content-Disposition, or null when absent. */
  filename: string | null;
  /** The part's Content-Type header, or null when absent. */
  contentType: string | null;
  /** The part's body, byte for byte (a copy, independent of the input buffer). */
  data: Buffer;
}

/** Thrown for an invalid content type or a body that is not well-formed multipart. */
export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MultipartError";
  }
}

const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SPACE = 0x20;
const TAB = 0x09;
const CRLFCRLF = Buffer.from("\r\n\r\n", "latin1");

// RFC 2046 bchars: DIGIT / ALPHA / "'" / "(" / ")" / "+" / "_" / "," / "-" / "." / "/" / ":" / "=" / "?" / " "
const BOUNDARY_RE = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const HEADER_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface ParsedHeaderValue {
  /** The value before the first ";" (trimmed, case preserved). */
  value: string;
  /** Parameters by lower-cased name; quoted strings unquoted (backslash escapes resolved); first one wins. */
  params: Map<string, string>;
}

/** Parses `value; a=b; c="d; e"` as used by Content-Type and Content-Disposition. Throws MultipartError. */
export function parseHeaderValue(input: string): ParsedHeaderValue {
  const len = input.length;
  const firstSemi = input.indexOf(";");
  const value = (firstSemi === -1 ? input : input.slice(0, firstSemi)).trim();
  const params = new Map<string, string>();
  let pos = firstSemi === -1 ? len : firstSemi + 1;
  const skipWs = () => {
    while (pos < len && (input[pos] === " " || input[pos] === "\t")) pos++;
  };
  while (pos < len) {
    skipWs();
    if (pos >= len) break;
    if (input[pos] === ";") {
      pos++;
      continue;
    }
    const nameStart = pos;
    while (pos < len && input[pos] !== "=" && input[pos] !== ";") pos++;
    const name = input.slice(nameStart, pos).trim().toLowerCase();
    if (pos >= len || input[pos] !== "=" || name === "" || !HEADER_NAME_RE.test(name)) {
      throw new MultipartError(`malformed parameter "${input.slice(nameStart, pos).trim()}" in "${input}"`);
    }
    pos++; // "="
    skipWs();
    let paramValue: string;
    if (input[pos] === '"') {
      pos++;
      let out = "";
      let closed = false;
      while (pos < len) {
        const c = input[pos]!;
        if (c === "\\" && pos + 1 < len) {
          out += input[pos + 1];
          pos += 2;
          continue;
        }
        if (c === '"') {
          closed = true;
          pos++;
          break;
        }
        out += c;
        pos++;
      }
      if (!closed) throw new MultipartError(`unterminated quoted string in "${input}"`);
      skipWs();
      if (pos < len && input[pos] !== ";") {
        throw new MultipartError(`unexpected text after quoted parameter "${name}" in "${input}"`);
      }
      paramValue = out;
    } else {
      const valueStart = pos;
      while (pos < len && input[pos] !== ";") pos++;
      paramValue = input.slice(valueStart, pos).trim();
      if (paramValue === "") throw new MultipartError(`empty value for parameter "${name}" in "${input}"`);
    }
    if (!params.has(name)) params.set(name, paramValue);
  }
  return { value, params };
}

/** Extracts and validates the boundary of a `multipart/*` content type. Throws MultipartError. */
export function multipartBoundary(contentType: string): string {
  if (contentType.trim() === "")
    throw new MultipartError("missing content type (expected multipart/form-data)");
  const parsed = parseHeaderValue(contentType);
  if (!/^multipart\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/i.test(parsed.value)) {
    throw new MultipartError(`not a multipart content type: "${contentType}"`);
  }
  const boundary = parsed.params.get("boundary");
  if (boundary === undefined) throw new MultipartError(`missing boundary parameter in "${contentType}"`);
  if (!BOUNDARY_RE.test(boundary))
    throw new MultipartError(`invalid boundary "${boundary}" (RFC 2046: 1-70 chars)`);
  return boundary;
}

type Delimiter = { kind: "part" | "close"; next: number };

/** After the bytes of "--<boundary>" at `at`: a close delimiter, a part delimiter line, or not a delimiter. */
function classifyDelimiter(body: Buffer, at: number): Delimiter | null {
  if (body[at] === DASH && body[at + 1] === DASH) return { kind: "close", next: at + 2 };
  let p = at;
  while (body[p] === SPACE || body[p] === TAB) p++; // transport padding
  if (body[p] === CR && body[p + 1] === LF) return { kind: "part", next: p + 2 };
  return null;
}

/** Finds the next real delimiter ("\r\n--<boundary>" + valid ending) at or after `from`. */
function findDelimiter(
  body: Buffer,
  delim: Buffer,
  from: number,
): { index: number; delimiter: Delimiter } | null {
  let search = from;
  for (;;) {
    const index = body.indexOf(delim, search);
    if (index === -1) return null;
    const delimiter = classifyDelimiter(body, index + delim.length);
    if (delimiter) return { index, delimiter };
    search = index + 1;
  }
}

function parsePartHeaders(raw: string): Map<string, string> {
  const headers = new Map<string, string>();
  let last: string | null = null;
  for (const line of raw.split("\r\n")) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      // obsolete line folding: continuation of the previous header
      if (last === null) throw new MultipartError(`part header block starts with a continuation line`);
      headers.set(last, `${headers.get(last)} ${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    const name = colon === -1 ? "" : line.slice(0, colon).toLowerCase();
    if (!HEADER_NAME_RE.test(name)) throw new MultipartError(`malformed part header line "${line}"`);
    if (headers.has(name)) {
      last = null;
      continue; // first one wins
    }
    headers.set(name, line.slice(colon + 1).trim());
    last = name;
  }
  return headers;
}

function decodeExtValue(value: string): string | null {
  // RFC 5987: charset'language'percent-encoded
  const m = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!m || !/^utf-8$/i.test(m[1]!)) return null;
  try {
    return decodeURIComponent(m[2]!);
  } catch {
    return null;
  }
}

function toPart(headers: Map<string, string>, data: Buffer): MultipartPart {
  let name: string | null = null;
  let filename: string | null = null;
  const disposition = headers.get("content-disposition");
  if (disposition !== undefined) {
    const parsed = parseHeaderValue(disposition);
    name = parsed.params.get("name") ?? null;
    filename = parsed.params.get("filename") ?? null;
    if (filename === null) {
      const ext = parsed.params.get("filename*");
      if (ext !== undefined) filename = decodeExtValue(ext);
    }
  }
  const contentType = headers.get("content-type");
  return {
    name,
    filename,
    contentType: contentType === undefined ? null : contentType,
    data: Buffer.from(data),
  };
}

/**
 * Parses a complete multipart body, returning its parts in order. Preamble and epilogue are ignored; the
 * closing delimiter is required (a truncated body is rejected). Throws MultipartError with a clear message.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const boundary = multipartBoundary(contentType);
  const dashBoundary = Buffer.from(`--${boundary}`, "latin1");
  const delim = Buffer.from(`\r\n--${boundary}`, "latin1");

  // Opening delimiter: at the very start, or after a preamble (then preceded by CRLF).
  let current: Delimiter | null = null;
  if (body.subarray(0, dashBoundary.length).equals(dashBoundary)) {
    current = classifyDelimiter(body, dashBoundary.length);
  }
  if (!current) {
    const found = findDelimiter(body, delim, 0);
    if (!found)
      throw new MultipartError(`malformed multipart body: opening boundary "--${boundary}" not found`);
    current = found.delimiter;
  }

  const parts: MultipartPart[] = [];
  while (current.kind === "part") {
    const headerStart: number = current.next;
    let headerEnd: number;
    let dataStart: number;
    if (body[headerStart] === CR && body[headerStart + 1] === LF) {
      headerEnd = headerStart; // no headers at all
      dataStart = headerStart + 2;
    } else {
      headerEnd = body.indexOf(CRLFCRLF, headerStart);
      if (headerEnd === -1) {
        throw new MultipartError(`malformed multipart body: headers of part ${parts.length} not terminated`);
      }
      dataStart = headerEnd + 4;
    }
    const headerBytes = body.subarray(headerStart, headerEnd);
    if (headerBytes.includes(delim)) {
      throw new MultipartError(`malformed multipart body: headers of part ${parts.length} not terminated`);
    }
    const headers =
      headerEnd === headerStart ? new Map<string, string>() : parsePartHeaders(headerBytes.toString("utf8"));
    const next = findDelimiter(body, delim, dataStart);
    if (!next) {
      throw new MultipartError(
        `malformed multipart body: closing boundary "--${boundary}--" not found (truncated body?)`,
      );
    }
    parts.push(toPart(headers, body.subarray(dataStart, next.index)));
    current = next.delimiter;
  }
  return parts;
}
