// A small renderer for the subset of Helm (Go text/template + a few Sprig functions) that
// helm/servicex-app uses, so the chart can be rendered and checked without a `helm` binary.
//
// Supported: `{{ pipeline }}` with fields (`.Values.a.b`, `.`, `$`, `$var.a`), string/number/bool literals,
// parenthesised pipelines and `|`; `{{- ... -}}` whitespace trimming; `{{/* comments */}}`;
// `if`/`else if`/`else`/`end`, `range` (lists, and maps in key order, with `$k, $v :=`), `with`, `$x :=`,
// `define` + `include`; functions and, or, not, eq, ne, default, required, fail, quote, toYaml, toJson,
// b64enc, printf (%s %v %q %%), indent, nindent.
// Everything else throws HelmRenderError, and so do constructs Helm would render wrongly or emptily
// (printing a missing value, a map, or a number Helm would print in exponent form; `%s` of a number),
// so a test fails instead of passing on a manifest helm would render differently.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import yaml from "js-yaml";

export class HelmRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HelmRenderError";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lexing: text and actions, with trim markers applied.

type Piece = { kind: "text"; text: string } | { kind: "action"; body: string; where: string };

const SPACE = /[ \t\r\n]/;

function lex(src: string, file: string): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  let trimNext = false;
  const lineAt = (i: number) => src.slice(0, i).split("\n").length;
  while (pos < src.length) {
    const open = src.indexOf("{{", pos);
    let text = open === -1 ? src.slice(pos) : src.slice(pos, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    trimNext = false;
    if (open === -1) {
      if (text) pieces.push({ kind: "text", text });
      break;
    }
    let start = open + 2;
    const trimLeft = src[start] === "-" && SPACE.test(src[start + 1] ?? "");
    if (trimLeft) {
      text = text.replace(/[ \t\r\n]+$/, "");
      start += 1;
    }
    if (text) pieces.push({ kind: "text", text });
    // Find the closing braces outside string literals and comments.
    let i = start;
    let end = -1;
    while (i < src.length) {
      const c = src[i];
      if (src.startsWith("/*", i)) {
        const close = src.indexOf("*/", i + 2);
        if (close === -1) break;
        i = close + 2;
      } else if (c === '"') {
        i++;
        while (i < src.length && src[i] !== '"') i += src[i] === "\\" ? 2 : 1;
        i++;
      } else if (c === "`") {
        const close = src.indexOf("`", i + 1);
        if (close === -1) break;
        i = close + 1;
      } else if (src.startsWith("}}", i)) {
        end = i;
        break;
      } else {
        i++;
      }
    }
    const where = `${file}:${lineAt(open)}`;
    if (end === -1) throw new HelmRenderError(`${where}: unclosed action`);
    let bodyEnd = end;
    if (src[end - 1] === "-" && SPACE.test(src[end - 2] ?? "")) {
      bodyEnd = end - 1;
      trimNext = true;
    }
    pieces.push({ kind: "action", body: src.slice(start, bodyEnd).trim(), where });
    pos = end + 2;
  }
  return pieces;
}

// ---------------------------------------------------------------------------------------------------------
// Expressions.

type Tok =
  | { t: "(" | ")" | "|" | "," | ":=" }
  | { t: "str"; v: string }
  | { t: "num"; v: number }
  | { t: "field"; path: string[] }
  | { t: "var"; name: string; path: string[] }
  | { t: "ident"; v: string };

function tokenize(s: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const fieldChain = (): string[] => {
    const path: string[] = [];
    while (s[i] === ".") {
      const m = /^\.([A-Za-z_][A-Za-z0-9_]*)?/.exec(s.slice(i));
      if (!m) break;
      i += m[0].length;
      if (m[1] === undefined) {
        if (path.length > 0) throw new HelmRenderError(`${where}: bad field chain in '${s}'`);
        break; // plain `.`
      }
      path.push(m[1]);
    }
    return path;
  };
  while (i < s.length) {
    const c = s[i] as string;
    if (SPACE.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === "|" || c === ",") {
      if (c === ")" && s[i + 1] === ".") throw new HelmRenderError(`${where}: unsupported (pipeline).field`);
      toks.push({ t: c });
      i++;
    } else if (s.startsWith(":=", i)) {
      toks.push({ t: ":=" });
      i += 2;
    } else if (c === "=") {
      throw new HelmRenderError(`${where}: unsupported variable re-assignment '='`);
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
      const lit = s.slice(i, j + 1);
      try {
        toks.push({ t: "str", v: JSON.parse(lit) as string });
      } catch {
        throw new HelmRenderError(`${where}: unsupported string literal ${lit}`);
      }
      i = j + 1;
    } else if (c === "`") {
      const j = s.indexOf("`", i + 1);
      toks.push({ t: "str", v: s.slice(i + 1, j) });
      i = j + 1;
    } else if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(s.slice(i));
      if (!m) throw new HelmRenderError(`${where}: unexpected '${c}' in '${s}'`);
      toks.push({ t: "num", v: Number(m[0]) });
      i += m[0].length;
    } else if (c === ".") {
      toks.push({ t: "field", path: fieldChain() });
    } else if (c === "$") {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?/.exec(s.slice(i)) as RegExpExecArray;
      i += m[0].length;
      toks.push({ t: "var", name: m[1] ?? "", path: fieldChain() });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i)) as RegExpExecArray;
      i += m[0].length;
      if (s[i] === ".") throw new HelmRenderError(`${where}: unsupported method/field call on '${m[0]}'`);
      toks.push({ t: "ident", v: m[0] });
    } else {
      throw new HelmRenderError(`${where}: unexpected '${c}' in '${s}'`);
    }
  }
  return toks;
}

type Operand =
  | { k: "lit"; v: unknown }
  | { k: "field"; path: string[] }
  | { k: "var"; name: string; path: string[] }
  | { k: "ident"; name: string }
  | { k: "sub"; p: Pipeline };
type Command = Operand[];
interface Pipeline {
  decl: string[]; // variable names declared with :=
  cmds: Command[];
  where: string;
}

function parsePipeline(body: string, where: string, allowDecl: "none" | "one" | "two"): Pipeline {
  const toks = tokenize(body, where);
  let i = 0;
  const decl: string[] = [];
  const declEnd = toks.findIndex((t) => t.t === ":=");
  if (declEnd !== -1) {
    const head = toks.slice(0, declEnd);
    const names = head.filter((t) => t.t === "var").map((t) => (t as { name: string }).name);
    const ok =
      (head.length === 1 && names.length === 1) ||
      (allowDecl === "two" && head.length === 3 && names.length === 2 && head[1]?.t === ",");
    if (allowDecl === "none" || !ok || names.some((n) => n === "")) {
      throw new HelmRenderError(`${where}: unsupported declaration in '${body}'`);
    }
    decl.push(...names);
    i = declEnd + 1;
  }
  const parse = (stopAtParen: boolean): Pipeline => {
    const cmds: Command[] = [];
    let cmd: Command = [];
    while (i < toks.length) {
      const tok = toks[i] as Tok;
      i++;
      if (tok.t === "|") {
        if (cmd.length === 0) throw new HelmRenderError(`${where}: empty command in '${body}'`);
        cmds.push(cmd);
        cmd = [];
      } else if (tok.t === ")") {
        if (!stopAtParen) throw new HelmRenderError(`${where}: unbalanced ')' in '${body}'`);
        if (cmd.length > 0) cmds.push(cmd);
        return { decl: [], cmds, where };
      } else if (tok.t === "(") {
        cmd.push({ k: "sub", p: parse(true) });
      } else if (tok.t === "str" || tok.t === "num") {
        cmd.push({ k: "lit", v: tok.v });
      } else if (tok.t === "field") {
        cmd.push({ k: "field", path: tok.path });
      } else if (tok.t === "var") {
        cmd.push({ k: "var", name: tok.name, path: tok.path });
      } else if (tok.t === "ident") {
        if (tok.v === "true" || tok.v === "false") cmd.push({ k: "lit", v: tok.v === "true" });
        else if (tok.v === "nil") cmd.push({ k: "lit", v: null });
        else cmd.push({ k: "ident", name: tok.v });
      } else {
        throw new HelmRenderError(`${where}: unexpected '${tok.t}' in '${body}'`);
      }
    }
    if (stopAtParen) throw new HelmRenderError(`${where}: missing ')' in '${body}'`);
    if (cmd.length > 0) cmds.push(cmd);
    return { decl: [], cmds, where };
  };
  const p = parse(false);
  if (p.cmds.length === 0) throw new HelmRenderError(`${where}: empty pipeline`);
  return { ...p, decl };
}

// ---------------------------------------------------------------------------------------------------------
// Parsing actions into a tree.

type Node =
  | { t: "text"; s: string }
  | { t: "out"; p: Pipeline }
  | { t: "if"; p: Pipeline; then: Node[]; else: Node[] }
  | { t: "with"; p: Pipeline; then: Node[]; else: Node[] }
  | { t: "range"; p: Pipeline; then: Node[]; else: Node[] };

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define"]);
const UNSUPPORTED = new Set(["template", "block", "break", "continue", "tpl"]);

interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

function parseTemplate(src: string, file: string): Parsed {
  const pieces = lex(src, file);
  let i = 0;
  const defines = new Map<string, Node[]>();

  const keyword = (body: string): [string, string] => {
    const m = /^([A-Za-z_]+)\b\s*([\s\S]*)$/.exec(body);
    if (m && (KEYWORDS.has(m[1] as string) || UNSUPPORTED.has(m[1] as string))) {
      return [m[1] as string, m[2] as string];
    }
    return ["", body];
  };

  // Parses until one of `stops`; returns the nodes and the stopping action (keyword, rest).
  const parseList = (stops: string[], topLevel: boolean): [Node[], string, string, string] => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const piece = pieces[i] as Piece;
      i++;
      if (piece.kind === "text") {
        nodes.push({ t: "text", s: piece.text });
        continue;
      }
      const { body, where } = piece;
      if (body.startsWith("/*")) {
        if (!body.endsWith("*/")) throw new HelmRenderError(`${where}: a comment must fill its action`);
        continue;
      }
      const [kw, rest] = keyword(body);
      if (UNSUPPORTED.has(kw)) throw new HelmRenderError(`${where}: unsupported '${kw}'`);
      if (stops.includes(kw)) return [nodes, kw, rest, where];
      if (kw === "if") nodes.push(parseIf(rest, where));
      else if (kw === "with" || kw === "range") {
        const p = parsePipeline(rest, where, kw === "range" ? "two" : "none");
        const [then, stop, elseRest, w2] = parseList(["else", "end"], false);
        let elseNodes: Node[] = [];
        if (stop === "else") {
          if (elseRest) throw new HelmRenderError(`${w2}: unsupported 'else ${elseRest}' in ${kw}`);
          [elseNodes] = expectEnd(parseList(["end"], false), w2);
        } else if (stop !== "end") throw new HelmRenderError(`${where}: '${kw}' without end`);
        nodes.push({ t: kw, p, then, else: elseNodes });
      } else if (kw === "define") {
        if (!topLevel) throw new HelmRenderError(`${where}: define must be at top level`);
        const m = /^"([^"]+)"$/.exec(rest.trim());
        if (!m) throw new HelmRenderError(`${where}: define needs a quoted name`);
        const [body2] = expectEnd(parseList(["end"], false), where);
        if (defines.has(m[1] as string)) throw new HelmRenderError(`${where}: '${m[1]}' defined twice`);
        defines.set(m[1] as string, body2);
      } else if (kw === "else" || kw === "end") {
        throw new HelmRenderError(`${where}: unexpected '${kw}'`);
      } else {
        nodes.push({ t: "out", p: parsePipeline(body, where, "one") });
      }
    }
    if (!topLevel) throw new HelmRenderError(`${file}: missing {{ end }}`);
    return [nodes, "", "", file];
  };

  const expectEnd = (r: [Node[], string, string, string], where: string): [Node[]] => {
    if (r[1] !== "end" || r[2] !== "") throw new HelmRenderError(`${where}: expected {{ end }}`);
    return [r[0]];
  };

  const parseIf = (cond: string, where: string): Node => {
    const p = parsePipeline(cond, where, "none");
    const [then, stop, rest, w2] = parseList(["else", "end"], false);
    let elseNodes: Node[] = [];
    if (stop === "else") {
      const elseIf = /^if\b\s*([\s\S]*)$/.exec(rest);
      if (elseIf) elseNodes = [parseIf(elseIf[1] as string, w2)];
      else if (rest) throw new HelmRenderError(`${w2}: unsupported 'else ${rest}'`);
      else [elseNodes] = expectEnd(parseList(["end"], false), w2);
    } else if (stop !== "end" || rest) {
      throw new HelmRenderError(`${where}: 'if' without end`);
    }
    return { t: "if", p, then, else: elseNodes };
  };

  const [nodes] = parseList([], true);
  return { nodes, defines };
}

// ---------------------------------------------------------------------------------------------------------
// Evaluation.

/** Objects that are Go structs in Helm (Release, Chart): an unknown field is an error there. */
const structs = new WeakSet<object>();

class Scope {
  private readonly vars = new Map<string, unknown>();
  constructor(private readonly parent: Scope | null) {}
  get(name: string, where: string): unknown {
    if (this.vars.has(name)) return this.vars.get(name);
    if (this.parent) return this.parent.get(name, where);
    throw new HelmRenderError(`${where}: undefined variable $${name}`);
  }
  set(name: string, v: unknown): void {
    this.vars.set(name, v);
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Go template truthiness (also Sprig's `empty`, negated). */
function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return structs.has(v) || Object.keys(v).length > 0;
  return true;
}

function walk(v: unknown, path: string[], where: string): unknown {
  let cur = v;
  for (const key of path) {
    if (cur === undefined || cur === null) {
      throw new HelmRenderError(`${where}: nil pointer evaluating .${key} (${path.join(".")})`);
    }
    if (!isMap(cur)) throw new HelmRenderError(`${where}: can't evaluate field ${key} in a non-map`);
    if (structs.has(cur) && !(key in cur)) throw new HelmRenderError(`${where}: unknown field .${key}`);
    cur = cur[key];
  }
  return cur;
}

/** How Go's fmt prints a float64 (Helm reads all YAML numbers as float64) — only where that is plain. */
function goNumber(n: number, where: string): string {
  const abs = Math.abs(n);
  if (Number.isFinite(n) && (n === 0 || (abs >= 1e-4 && abs < 1e6))) return String(n);
  throw new HelmRenderError(
    `${where}: helm would print ${n} in exponent form (float64 %v); quote it in values.yaml`,
  );
}

/** A scalar as Go prints it with %v (strval in Sprig). */
function str(v: unknown, where: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") return goNumber(v, where);
  if (v === undefined || v === null) {
    throw new HelmRenderError(`${where}: renders a missing value (helm prints nothing); guard it`);
  }
  throw new HelmRenderError(`${where}: renders a map/list as Go syntax; use toYaml or toJson`);
}

function checkNumbers(v: unknown, where: string): void {
  if (typeof v === "number") goNumber(v, where);
  else if (Array.isArray(v)) for (const x of v) checkNumbers(x, where);
  else if (isMap(v)) for (const x of Object.values(v)) checkNumbers(x, where);
}

function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    isMap(val)
      ? Object.fromEntries(
          Object.keys(val)
            .sort()
            .map((k) => [k, val[k]]),
        )
      : val,
  );
}

function indentLines(n: number, s: string): string {
  const pad = " ".repeat(n);
  return pad + s.replaceAll("\n", `\n${pad}`);
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

function printf(format: string, args: unknown[], where: string): string {
  let argi = 0;
  const next = (): unknown => {
    if (argi >= args.length) throw new HelmRenderError(`${where}: printf: missing argument for '${format}'`);
    return args[argi++];
  };
  const out = format.replace(/%(.)/g, (_m, verb: string) => {
    if (verb === "%") return "%";
    const a = next();
    if (verb === "v") return str(a, where);
    if (verb === "s") {
      if (typeof a !== "string")
        throw new HelmRenderError(`${where}: printf %s of a ${typeof a} (helm: %!s(...))`);
      return a;
    }
    if (verb === "q") return goQuote(str(a, where));
    throw new HelmRenderError(`${where}: printf verb %${verb} unsupported`);
  });
  if (argi !== args.length) throw new HelmRenderError(`${where}: printf: too many arguments for '${format}'`);
  return out;
}

function sameKind(a: unknown, b: unknown, where: string): void {
  const kind = (x: unknown) => (x === null || x === undefined ? "nil" : typeof x);
  const ka = kind(a);
  if (ka !== kind(b) || ka === "object" || ka === "nil") {
    throw new HelmRenderError(`${where}: incompatible types for comparison (${ka}, ${kind(b)})`);
  }
}

interface Env {
  defines: Map<string, Node[]>;
  root: unknown; // `$`
}

class Renderer {
  constructor(private readonly defines: Map<string, Node[]>) {}

  renderNodes(nodes: Node[], dot: unknown, scope: Scope, env: Env): string {
    let out = "";
    for (const n of nodes) {
      if (n.t === "text") out += n.s;
      else if (n.t === "out") {
        const v = this.pipeline(n.p, dot, scope, env);
        if (n.p.decl.length > 0) scope.set(n.p.decl[0] as string, v);
        else out += str(v, n.p.where);
      } else if (n.t === "if") {
        const v = this.pipeline(n.p, dot, scope, env);
        out += this.renderNodes(truthy(v) ? n.then : n.else, dot, new Scope(scope), env);
      } else if (n.t === "with") {
        const v = this.pipeline(n.p, dot, scope, env);
        out += truthy(v)
          ? this.renderNodes(n.then, v, new Scope(scope), env)
          : this.renderNodes(n.else, dot, new Scope(scope), env);
      } else {
        const v = this.pipeline(n.p, dot, scope, env);
        let entries: [unknown, unknown][];
        if (Array.isArray(v)) entries = v.map((x, idx) => [idx, x]);
        else if (isMap(v) && !structs.has(v))
          entries = Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]);
        else if (v === undefined || v === null) entries = [];
        else throw new HelmRenderError(`${n.p.where}: range over a ${typeof v}`);
        if (entries.length === 0) out += this.renderNodes(n.else, dot, new Scope(scope), env);
        for (const [k, x] of entries) {
          const inner = new Scope(scope);
          if (n.p.decl.length === 1) inner.set(n.p.decl[0] as string, x);
          if (n.p.decl.length === 2) {
            inner.set(n.p.decl[0] as string, k);
            inner.set(n.p.decl[1] as string, x);
          }
          out += this.renderNodes(n.then, x, inner, env);
        }
      }
    }
    return out;
  }

  private pipeline(p: Pipeline, dot: unknown, scope: Scope, env: Env): unknown {
    let piped: { v: unknown } | null = null;
    for (const cmd of p.cmds) piped = { v: this.command(cmd, piped, dot, scope, env, p.where) };
    return (piped as { v: unknown }).v;
  }

  private operand(o: Operand, dot: unknown, scope: Scope, env: Env, where: string): unknown {
    if (o.k === "lit") return o.v;
    if (o.k === "field") return walk(dot, o.path, where);
    if (o.k === "var") return walk(o.name === "" ? env.root : scope.get(o.name, where), o.path, where);
    if (o.k === "sub") return this.pipeline(o.p, dot, scope, env);
    return this.call(o.name, [], where, dot, scope, env);
  }

  private command(
    cmd: Command,
    piped: { v: unknown } | null,
    dot: unknown,
    scope: Scope,
    env: Env,
    where: string,
  ): unknown {
    const head = cmd[0] as Operand;
    if (head.k !== "ident") {
      if (cmd.length > 1 || piped)
        throw new HelmRenderError(`${where}: can't give arguments to a non-function`);
      return this.operand(head, dot, scope, env, where);
    }
    const argOps = cmd.slice(1);
    // and/or evaluate lazily, as Go 1.18+ does.
    if (head.name === "and" || head.name === "or") {
      const thunks = argOps.map((o) => () => this.operand(o, dot, scope, env, where));
      if (piped) {
        const pv = piped.v;
        thunks.push(() => pv);
      }
      if (thunks.length < 1) throw new HelmRenderError(`${where}: ${head.name} needs arguments`);
      let last: unknown;
      for (const th of thunks) {
        last = th();
        if (head.name === "and" ? !truthy(last) : truthy(last)) return last;
      }
      return last;
    }
    const args = argOps.map((o) => this.operand(o, dot, scope, env, where));
    if (piped) args.push(piped.v);
    return this.call(head.name, args, where, dot, scope, env);
  }

  private call(
    name: string,
    args: unknown[],
    where: string,
    _dot: unknown,
    _scope: Scope,
    _env: Env,
  ): unknown {
    const n = (k: number) => {
      if (args.length !== k)
        throw new HelmRenderError(`${where}: ${name} takes ${k} argument(s), got ${args.length}`);
    };
    switch (name) {
      case "not":
        n(1);
        return !truthy(args[0]);
      case "eq":
      case "ne": {
        n(2);
        sameKind(args[0], args[1], where);
        return (args[0] === args[1]) === (name === "eq");
      }
      case "default":
        if (args.length !== 1 && args.length !== 2) n(2);
        return args.length === 2 && truthy(args[1]) ? args[1] : args[0];
      case "required":
        n(2);
        if (args[1] === undefined || args[1] === null || args[1] === "")
          throw new HelmRenderError(String(args[0]));
        return args[1];
      case "fail":
        n(1);
        throw new HelmRenderError(String(args[0]));
      case "quote":
        return args
          .filter((a) => a !== undefined && a !== null)
          .map((a) => goQuote(str(a, where)))
          .join(" ");
      case "toYaml": {
        n(1);
        if (args[0] === undefined || args[0] === null) return "null";
        checkNumbers(args[0], where);
        return yaml
          .dump(args[0], { sortKeys: true, lineWidth: -1, noRefs: true, noArrayIndent: true })
          .replace(/\n$/, "");
      }
      case "toJson":
        n(1);
        return args[0] === undefined ? "null" : sortedJson(args[0]);
      case "b64enc":
        n(1);
        if (typeof args[0] !== "string") throw new HelmRenderError(`${where}: b64enc of a ${typeof args[0]}`);
        return Buffer.from(args[0], "utf8").toString("base64");
      case "printf":
        if (typeof args[0] !== "string") throw new HelmRenderError(`${where}: printf needs a format string`);
        return printf(args[0], args.slice(1), where);
      case "indent":
      case "nindent": {
        n(2);
        if (typeof args[0] !== "number" || typeof args[1] !== "string") {
          throw new HelmRenderError(`${where}: ${name} takes a number and a string`);
        }
        const s = indentLines(args[0], args[1]);
        return name === "nindent" ? `\n${s}` : s;
      }
      case "include": {
        n(2);
        const body = this.defines.get(String(args[0]));
        if (!body) throw new HelmRenderError(`${where}: no template "${String(args[0])}"`);
        return this.renderNodes(body, args[1], new Scope(null), { defines: this.defines, root: args[1] });
      }
      default:
        throw new HelmRenderError(`${where}: unsupported function '${name}'`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Charts.

export type Values = Record<string, unknown>;

export interface Release {
  name: string;
  namespace: string;
}

export interface RenderedManifest {
  /** Template path relative to the chart, e.g. templates/deployment.yaml */
  template: string;
  object: Record<string, unknown>;
}

export interface RenderedChart {
  /** Rendered text per template (partials and NOTES.txt excluded). */
  files: Map<string, string>;
  manifests: RenderedManifest[];
  values: Values;
}

/** Helm's value coalescing: maps merge recursively, everything else is replaced; null deletes a default. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === null) delete out[k];
    else if (isMap(v) && isMap(out[k])) out[k] = mergeValues(out[k] as Values, v as Values);
    else out[k] = v;
  }
  return out;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? listFiles(p) : [p];
    });
}

export function loadValues(chartDir: string): Values {
  return (yaml.load(readFileSync(join(chartDir, "values.yaml"), "utf8")) ?? {}) as Values;
}

export function renderChart(chartDir: string, release: Release, overrides: Values = {}): RenderedChart {
  const meta = yaml.load(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Record<string, unknown>;
  const chart: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) chart[k.charAt(0).toUpperCase() + k.slice(1)] = v;
  const releaseObj: Record<string, unknown> = {
    Name: release.name,
    Namespace: release.namespace,
    Service: "Helm",
    IsInstall: true,
    IsUpgrade: false,
    Revision: 1,
  };
  structs.add(chart);
  structs.add(releaseObj);
  const values = mergeValues(loadValues(chartDir), overrides);
  const top: Record<string, unknown> = { Values: values, Release: releaseObj, Chart: chart };
  structs.add(top);

  const templatesDir = join(chartDir, "templates");
  const parsed = listFiles(templatesDir).map((p) => ({
    path: relative(chartDir, p),
    parsed: parseTemplate(readFileSync(p, "utf8"), relative(chartDir, p)),
  }));
  const defines = new Map<string, Node[]>();
  for (const { path, parsed: pt } of parsed) {
    for (const [name, body] of pt.defines) {
      if (defines.has(name)) throw new HelmRenderError(`${path}: '${name}' defined twice`);
      defines.set(name, body);
    }
  }
  const renderer = new Renderer(defines);
  const files = new Map<string, string>();
  const manifests: RenderedManifest[] = [];
  for (const { path, parsed: pt } of parsed) {
    const base = path.split("/").pop() as string;
    if (base.startsWith("_") || base === "NOTES.txt") continue;
    if (!/\.ya?ml$/.test(base)) throw new HelmRenderError(`${path}: unsupported template file type`);
    const text = renderer.renderNodes(pt.nodes, top, new Scope(null), { defines, root: top });
    files.set(path, text);
    let docs: unknown[];
    try {
      docs = yaml.loadAll(text);
    } catch (e) {
      throw new HelmRenderError(`${path}: rendered YAML does not parse: ${(e as Error).message}\n${text}`);
    }
    for (const doc of docs) {
      if (doc === null || doc === undefined) continue;
      if (!isMap(doc)) throw new HelmRenderError(`${path}: a rendered document is not a map`);
      manifests.push({ template: path, object: doc });
    }
  }
  return { files, manifests, values };
}

/** Renders one template text against `data` as dot (for tests of the renderer itself). */
export function renderString(src: string, data: Record<string, unknown>): string {
  const pt = parseTemplate(src, "inline");
  return new Renderer(pt.defines).renderNodes(pt.nodes, data, new Scope(null), {
    defines: pt.defines,
    root: data,
  });
}
