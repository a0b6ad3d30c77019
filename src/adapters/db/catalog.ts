// A database schema read from pg_catalog, in a form that can be compared and turned back into DDL.
//
// Definitions come from Postgres' own deparsers (format_type, pg_get_expr, pg_get_constraintdef,
// pg_get_indexdef, pg_get_triggerdef, pg_get_functiondef). They qualify a name only when it is not visible
// through the search_path, so `describeSchema` reads a schema with the search_path set to that schema
// alone: the definitions come out unqualified and can be replayed in another schema (src/adapters/db/adopt.ts
// builds the App's schema in a scratch schema and copies what is missing into the adopted one).

import type pg from "pg";

export interface ColumnDesc {
  name: string;
  /** format_type(), e.g. `character varying(120)`, `timestamp(6) without time zone`. */
  type: string;
  notNull: boolean;
  default: string | null;
  /** "" | "a" (GENERATED ALWAYS AS IDENTITY) | "d" (BY DEFAULT). */
  identity: string;
  /** Expression of a stored generated column, else null. */
  generated: string | null;
  collation: string | null;
}

export interface ConstraintDesc {
  name: string;
  /** p primary key, u unique, f foreign key, c check, x exclusion. */
  type: string;
  def: string;
}

export interface IndexDesc {
  name: string;
  def: string;
  /** Backs a primary key, unique or exclusion constraint. */
  constraint: boolean;
}

export interface TriggerDesc {
  name: string;
  def: string;
}

export interface TableDesc {
  name: string;
  columns: ColumnDesc[];
  constraints: ConstraintDesc[];
  indexes: IndexDesc[];
  triggers: TriggerDesc[];
}

export interface SequenceDesc {
  name: string;
  /** CREATE SEQUENCE options (type, increment, bounds, start, cache, cycle). */
  options: string;
  ownedBy: { table: string; column: string } | null;
  /** Owned by an identity column (created with the column). */
  identity: boolean;
}

export interface FunctionDesc {
  name: string;
  /** pg_get_function_identity_arguments(), the signature's key. */
  args: string;
  /** pg_get_functiondef() with the schema-qualified name made unqualified. */
  def: string;
}

export interface SchemaDesc {
  tables: Map<string, TableDesc>;
  enums: Map<string, string[]>;
  sequences: Map<string, SequenceDesc>;
  functions: Map<string, FunctionDesc>;
  /** Objects of kinds this module does not describe (views, domains, ...), as `<kind> <name>`. */
  unsupported: string[];
}

export const functionKey = (f: { name: string; args: string }) => `${f.name}(${f.args})`;

export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Reads every table, enum, sequence and function of `schema`. Runs `SET LOCAL search_path`, so call it
 * inside a transaction; the caller restores its own search_path afterwards.
 */
export async function describeSchema(client: pg.ClientBase, schema: string): Promise<SchemaDesc> {
  await client.query(`SET LOCAL search_path TO ${quoteIdent(schema)}`);
  const nsp = (
    await client.query<{ oid: number }>("SELECT oid FROM pg_namespace WHERE nspname = $1", [schema])
  ).rows[0]?.oid;
  const out: SchemaDesc = {
    tables: new Map(),
    enums: new Map(),
    sequences: new Map(),
    functions: new Map(),
    unsupported: [],
  };
  if (nsp === undefined) return out;

  const rels = await client.query<{ oid: number; relname: string; relkind: string; ext: boolean }>(
    `SELECT c.oid, c.relname, c.relkind::text AS relkind,
            EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                              AND d.deptype = 'e') AS ext
       FROM pg_class c WHERE c.relnamespace = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      ORDER BY c.relname`,
    [nsp],
  );
  const byOid = new Map<number, TableDesc>();
  for (const r of rels.rows) {
    if (r.relkind === "r" || r.relkind === "p") {
      const t: TableDesc = { name: r.relname, columns: [], constraints: [], indexes: [], triggers: [] };
      out.tables.set(r.relname, t);
      byOid.set(r.oid, t);
    } else {
      const kind = { v: "view", m: "materialized view", f: "foreign table" }[r.relkind] ?? r.relkind;
      out.unsupported.push(`${kind} ${r.relname}`);
    }
  }
  const oids = [...byOid.keys()];

  const cols = await client.query<{
    attrelid: number;
    attname: string;
    type: string;
    attnotnull: boolean;
    def: string | null;
    attidentity: string;
    attgenerated: string;
    collation: string | null;
  }>(
    `SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
            pg_get_expr(d.adbin, d.adrelid) AS def, a.attidentity::text AS attidentity,
            a.attgenerated::text AS attgenerated,
            CASE WHEN a.attcollation <> t.typcollation THEN quote_ident(co.collname) END AS collation
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       LEFT JOIN pg_collation co ON co.oid = a.attcollation
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  for (const c of cols.rows) {
    const generated = c.attgenerated === "s" ? c.def : null;
    byOid.get(c.attrelid)?.columns.push({
      name: c.attname,
      type: c.type,
      notNull: c.attnotnull,
      default: generated ? null : c.def,
      identity: c.attidentity,
      generated,
      collation: c.collation,
    });
  }

  const cons = await client.query<{ conrelid: number; conname: string; contype: string; def: string }>(
    `SELECT conrelid, conname, contype::text AS contype, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE conrelid = ANY($1::oid[]) ORDER BY conrelid, conname`,
    [oids],
  );
  for (const c of cons.rows)
    byOid.get(c.conrelid)?.constraints.push({ name: c.conname, type: c.contype, def: c.def });

  const idx = await client.query<{ indrelid: number; relname: string; def: string; constraint: boolean }>(
    `SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid, 0, true) AS def,
            EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                                                     AND con.conrelid = i.indrelid
                                                     AND con.contype IN ('p', 'u', 'x')) AS constraint
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = ANY($1::oid[]) ORDER BY i.indrelid, ic.relname`,
    [oids],
  );
  for (const i of idx.rows)
    byOid.get(i.indrelid)?.indexes.push({ name: i.relname, def: i.def, constraint: i.constraint });

  const trg = await client.query<{ tgrelid: number; tgname: string; def: string }>(
    `SELECT tgrelid, tgname, pg_get_triggerdef(oid, true) AS def FROM pg_trigger
      WHERE tgrelid = ANY($1::oid[]) AND NOT tgisinternal ORDER BY tgrelid, tgname`,
    [oids],
  );
  for (const t of trg.rows) byOid.get(t.tgrelid)?.triggers.push({ name: t.tgname, def: t.def });

  const types = await client.query<{ typname: string; typtype: string; labels: string[] | null }>(
    `SELECT t.typname, t.typtype::text AS typtype,
            (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) AS labels
       FROM pg_type t
       LEFT JOIN pg_class c ON c.oid = t.typrelid
      WHERE t.typnamespace = $1
        AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
        AND (t.typrelid = 0 OR c.relkind = 'c')
      ORDER BY t.typname`,
    [nsp],
  );
  for (const t of types.rows) {
    if (t.typtype === "e") out.enums.set(t.typname, t.labels ?? []);
    else {
      const kind = { d: "domain", r: "range type", m: "multirange type", c: "composite type" }[t.typtype];
      out.unsupported.push(`${kind ?? "type"} ${t.typname}`);
    }
  }

  const seqs = await client.query<{
    relname: string;
    options: string;
    owner_table: string | null;
    owner_column: string | null;
    deptype: string | null;
  }>(
    `SELECT c.relname,
            format('AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s',
                   format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache,
                   CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END) AS options,
            tc.relname AS owner_table, a.attname AS owner_column, d.deptype::text AS deptype
       FROM pg_class c
       JOIN pg_sequence s ON s.seqrelid = c.oid
       LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
       LEFT JOIN pg_class tc ON tc.oid = d.refobjid
       LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE c.relnamespace = $1 AND c.relkind = 'S'
      ORDER BY c.relname`,
    [nsp],
  );
  for (const s of seqs.rows) {
    out.sequences.set(s.relname, {
      name: s.relname,
      options: s.options,
      ownedBy: s.owner_table && s.owner_column ? { table: s.owner_table, column: s.owner_column } : null,
      identity: s.deptype === "i",
    });
  }

  const fns = await client.query<{
    proname: string;
    args: string;
    prokind: string;
    qualified: string;
    def: string | null;
  }>(
    `SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args, p.prokind::text AS prokind,
            quote_ident(n.nspname) || '.' || quote_ident(p.proname) AS qualified,
            CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END AS def
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.pronamespace = $1
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                    AND d.deptype = 'e')
      ORDER BY p.proname, args`,
    [nsp],
  );
  for (const f of fns.rows) {
    if (!f.def) {
      out.unsupported.push(`${f.prokind === "a" ? "aggregate" : "routine"} ${f.proname}(${f.args})`);
      continue;
    }
    // pg_get_functiondef always qualifies the routine's own name: "CREATE OR REPLACE FUNCTION s.name(".
    const kind = f.prokind === "p" ? "PROCEDURE" : "FUNCTION";
    const head = `CREATE OR REPLACE ${kind} ${f.qualified}(`;
    const def = f.def.startsWith(head)
      ? `CREATE OR REPLACE ${kind} ${quoteIdent(f.proname)}(${f.def.slice(head.length)}`
      : f.def;
    const desc = { name: f.proname, args: f.args, def };
    out.functions.set(functionKey(desc), desc);
  }

  for (const r of rels.rows) if (r.ext) out.unsupported.push(`extension-owned relation ${r.relname}`);
  return out;
}
