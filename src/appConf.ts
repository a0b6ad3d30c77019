// Reads the file named by APP_CONFIG_FILE. Upstream's Helm chart renders it as Python assignments
// (`KEY = 'str'`, `KEY = True`, numbers, dict and list literals over one or more lines, comments, and
// `KEY = ` where the template left the value empty); a dotenv file (`KEY=value`) is read by the same rules,
// and a file starting with `{` is JSON. Only literals are understood: anything else is reported with its
// line number, never evaluated.

export class AppConfError extends Error {}

/** Keys and values of a Python-syntax or dotenv app.conf. None and empty values are left out (unset). */
export function parseAppConf(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (/^\s*(#.*)?$/.test(line)) continue;
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (!m)
      throw new AppConfError(`line ${i + 1}: not a KEY = value assignment: ${line.trim().slice(0, 80)}`);
    const key = m[1] as string;
    let rest = m[2] as string;
    // A dict or list may span lines: read on until its brackets balance.
    const first = rest.trimStart()[0];
    if (first === "{" || first === "[" || first === "(") {
      while (!balanced(rest) && i + 1 < lines.length) rest += `\n${lines[++i]}`;
    }
    try {
      const v = parseValue(rest);
      if (v === undefined || v === null) delete out[key];
      else out[key] = v;
    } catch (e) {
      throw new AppConfError(`line ${i + 1}: ${key}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** True when every bracket opened outside a string is closed. */
function balanced(s: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#") {
      const nl = s.indexOf("\n", i);
      if (nl < 0) break;
      i = nl;
    } else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth--;
  }
  return depth <= 0 && quote === null;
}

/** One value: a Python literal, or (dotenv) bare text up to a ` #` comment. Empty → undefined. */
function parseValue(raw: string): unknown {
  const text = raw.trim();
  if (text === "") return undefined;
  const structured = /^['"{[(]/.test(text);
  try {
    const p = new LiteralParser(text);
    const v = p.value();
    p.end();
    // Top-level numbers stay text: the configuration schema converts (and range-checks) them.
    return typeof v === "number" ? String(v) : v;
  } catch (e) {
    if (structured) throw e;
  }
  // dotenv: unquoted text (a host:port, a URL, …); an inline comment needs white space before '#'.
  return text.replace(/\s+#.*$/, "");
}

/** Python literals: str (single, double, triple quotes, adjacent strings concatenated), int, float, bool, None,
 * dict, list, tuple. */
class LiteralParser {
  private i = 0;
  constructor(private readonly s: string) {}

  end(): void {
    this.ws();
    if (this.i < this.s.length)
      throw new Error(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 20))}`);
  }

  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === "'" || c === '"') {
      let str = this.str();
      for (;;) {
        this.ws();
        const n = this.s[this.i];
        if (n !== "'" && n !== '"') return str;
        str += this.str();
      }
    }
    if (c === "{") return this.dict();
    if (c === "[" || c === "(") return this.list(c === "[" ? "]" : ")");
    const word = /^(True|False|None)\b/.exec(this.s.slice(this.i));
    if (word) {
      this.i += (word[1] as string).length;
      return { True: true, False: false, None: null }[word[1] as "True" | "False" | "None"];
    }
    const num = /^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/.exec(this.s.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return Number(num[0].replace(/_/g, ""));
    }
    throw new Error(`not a literal: ${JSON.stringify(this.s.slice(this.i, this.i + 20))}`);
  }

  private ws(): void {
    for (;;) {
      const m = /^(?:\s+|#[^\n]*)/.exec(this.s.slice(this.i));
      if (!m || m[0] === "") return;
      this.i += m[0].length;
    }
  }

  private str(): string {
    const q = this.s[this.i] as string;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) throw new Error("unterminated string");
      if (this.s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = this.s[this.i++] as string;
      if (c === "\n" && !triple) throw new Error("unterminated string");
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.s[this.i++];
      const simple: Record<string, string> = {
        n: "\n",
        t: "\t",
        r: "\r",
        "\\": "\\",
        "'": "'",
        '"': '"',
        "\n": "",
      };
      if (e !== undefined && e in simple) out += simple[e];
      else out += `\\${e ?? ""}`;
    }
  }

  private dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === "}") {
        this.i++;
        return out;
      }
      const k = this.value();
      if (typeof k !== "string") throw new Error("dict keys must be strings");
      this.ws();
      if (this.s[this.i++] !== ":") throw new Error("expected ':' in dict");
      out[k] = this.value();
      this.ws();
      if (this.s[this.i] === ",") this.i++;
      else if (this.s[this.i] !== "}") throw new Error("expected ',' or '}' in dict");
    }
  }

  private list(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ",") this.i++;
      else if (this.s[this.i] !== close) throw new Error(`expected ',' or '${close}' in list`);
    }
  }
}
