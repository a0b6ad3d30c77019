// Adopting a database made by upstream's Flask App (alembic migrations) in place.
//
// Such a database already holds upstream's tables (`users`, `requests`, `datasets`, `files`,
// `transform_result`, `alembic_version`) but no `_prisma_migrations`, so the schema engine refuses it ("the
// database schema is not empty"). Adoption, in ONE transaction (an interruption leaves the database as it
// was):
//   1. recognises upstream's revision (`alembic_version`) and checks upstream's tables against the exact
//      schema upstream's migrations make at that revision (src/adapters/db/upstreamSchemas.ts); a hand-made
//      difference is refused, naming it;
//   2. replays every migration of prisma/migrations (whatever exists at run time) in a scratch schema and
//      compares it with the database (src/adapters/db/catalog.ts): what the migrations would have created
//      beyond upstream's schema is created (types and enum values, tables, sequences, columns — only
//      nullable or defaulted ones on upstream's tables —, functions, indexes, triggers, and the constraints of
//      the App's own tables). Upstream's columns, types, constraints and rows are left as they are; where the
//      App relies on a column default upstream's table lacks, or upstream requires a column the App does not
//      write, a BEFORE INSERT trigger fills the value (`sx_adopt_fill_<table>`);
//   3. records every migration as applied in `_prisma_migrations` (what `prisma migrate resolve --applied`
//      writes), so later migrations apply normally, and the adoption itself in `_sx_adoption`;
//   4. runs the optional `adopt.sql` of each migration directory: data a migration derives from existing rows
//      (replaying a migration in an empty scratch schema carries its structure only).

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type pg from "pg";
import {
  type ColumnDesc,
  describeSchema,
  quoteIdent,
  quoteLiteral,
  type SchemaDesc,
  type TableDesc,
} from "./catalog.js";
import { ADOPTABLE_REVISIONS, OLDER_REVISIONS, type UpstreamSchema } from "./upstreamSchemas.js";

type Log = (msg: string) => void;

/** Adoption was refused before anything was written; the message says why and what to do. */
export class AdoptionRefusedError extends Error {
  override readonly name = "AdoptionRefusedError";
}

export interface AdoptionStep {
  why: string;
  sql: string;
}

export interface AdoptionResult {
  revision: string;
  steps: AdoptionStep[];
  /** Differences left as they are (upstream's definition kept), for the log and the record. */
  notes: string[];
  /** Migrations recorded as applied. */
  baseline: string[];
  ms: number;
  dryRun: boolean;
}

/** What the database holds before migrating: Prisma's table, and upstream's alembic revisions if any. */
export async function inspectDatabase(
  client: pg.ClientBase,
): Promise<{ prisma: boolean; alembic: string[] | null; adoptedRevision: string | null }> {
  const r = await client.query<{ prisma: boolean; alembic: boolean; adoption: boolean }>(
    `SELECT to_regclass('_prisma_migrations') IS NOT NULL AS prisma,
            to_regclass('alembic_version') IS NOT NULL AS alembic,
            to_regclass('_sx_adoption') IS NOT NULL AS adoption`,
  );
  const { prisma, alembic, adoption } = r.rows[0]!;
  const revisions = alembic
    ? (await client.query<{ v: string }>("SELECT version_num AS v FROM alembic_version ORDER BY 1")).rows.map(
        (x) => x.v,
      )
    : null;
  const adopted = adoption
    ? ((
        await client.query<{ v: string }>(
          "SELECT alembic_revision AS v FROM _sx_adoption ORDER BY adopted_at DESC, id DESC LIMIT 1",
        )
      ).rows[0]?.v ?? null)
    : null;
  return { prisma, alembic: revisions, adoptedRevision: adopted };
}

const knownList = () =>
  Object.values(ADOPTABLE_REVISIONS).map((s) => `${s.revision} (upstream ${s.releases})`);

/** The upstream schema of the database's alembic revision, or AdoptionRefusedError saying what to do. */
export function upstreamSchemaFor(revisions: string[]): UpstreamSchema {
  const known = knownList().join(", ");
  if (revisions.length !== 1) {
    throw new AdoptionRefusedError(
      `Cannot adopt the upstream ServiceX database: alembic_version holds ${
        revisions.length === 0 ? "no revision" : `${revisions.length} revisions (${revisions.join(", ")})`
      }, expected exactly one. This App adopts ${known}. Let upstream's App bring the database to its head ` +
        "(`flask db upgrade`, which upstream runs at start-up), then start this App again. Nothing was changed.",
    );
  }
  const rev = revisions[0]!;
  const schema = ADOPTABLE_REVISIONS[rev];
  if (schema) return schema;
  const older = OLDER_REVISIONS[rev];
  if (older !== undefined) {
    throw new AdoptionRefusedError(
      `Cannot adopt the upstream ServiceX database: its alembic revision is ${rev} (upstream ${older}), older ` +
        `than this App adopts: ${known}. Upgrade upstream first: run upstream's App at v1.5.3 on this database ` +
        "(its start-up runs `flask db upgrade` to v1_3_0; note that upstream's v1_3_0 migration itself deletes " +
        "the rows of files, requests and transform_result), stop it, then start this App again. Nothing was changed.",
    );
  }
  throw new AdoptionRefusedError(
    `Cannot adopt the upstream ServiceX database: unknown alembic revision ${JSON.stringify(rev)}. This App ` +
      `adopts ${known}; older upstream revisions (${Object.keys(OLDER_REVISIONS).join(", ")}) must be ` +
      "upgraded with upstream's App first. A newer upstream release has a schema this App does not know yet: " +
      "run an upstream release that ends at a known revision, or a newer version of this App. Nothing was changed.",
  );
}

// ---------------------------------------------------------------------------------------------------------
// Upstream's tables as they must be

const columnLine = (c: ColumnDesc) =>
  `${c.name} ${c.type}${c.notNull ? " NOT NULL" : ""}${c.default ? ` DEFAULT ${c.default}` : ""}`;

/** Differences between the database's upstream tables and upstream's schema at `schema.revision`. */
export function upstreamDifferences(db: SchemaDesc, schema: UpstreamSchema): string[] {
  const out: string[] = [];
  for (const [table, want] of Object.entries(schema.tables)) {
    const have = db.tables.get(table);
    if (!have) {
      out.push(`table ${table} is missing`);
      continue;
    }
    const haveCols = new Map(have.columns.map((c) => [c.name, c]));
    for (const line of want.columns) {
      const name = line.slice(0, line.indexOf(" "));
      const col = haveCols.get(name);
      if (!col) out.push(`column ${table}.${name} is missing (upstream: ${line})`);
      else if (columnLine(col) !== line)
        out.push(`column ${table}.${columnLine(col)} differs from upstream's ${line}`);
      haveCols.delete(name);
    }
    for (const col of haveCols.values()) {
      if (col.notNull && col.default === null && !col.generated && !col.identity) {
        out.push(`column ${table}.${columnLine(col)} is not upstream's and is NOT NULL without a default`);
      }
    }
    const haveCons = new Map(have.constraints.map((c) => [c.name, `${c.name} ${c.def}`]));
    for (const line of want.constraints) {
      const name = line.slice(0, line.indexOf(" "));
      const got = haveCons.get(name);
      if (!got) out.push(`constraint ${name} on ${table} is missing (upstream: ${line})`);
      else if (got !== line) out.push(`constraint ${got} on ${table} differs from upstream's ${line}`);
      haveCons.delete(name);
    }
    for (const got of haveCons.values()) out.push(`constraint ${got} on ${table} is not upstream's`);
    const haveIdx = new Set(have.indexes.map((i) => i.def));
    for (const def of want.indexes) if (!haveIdx.has(def)) out.push(`index missing or different: ${def}`);
  }
  for (const [name, labels] of Object.entries(schema.enums)) {
    const have = db.enums.get(name);
    if (!have) out.push(`enum type ${name} is missing`);
    else if (labels.some((l) => !have.includes(l))) {
      out.push(`enum type ${name} is (${have.join(", ")}), upstream's is (${labels.join(", ")})`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The migrations

export interface MigrationFile {
  name: string;
  sql: string;
  /** sha256 of migration.sql, as Prisma records it. */
  checksum: string;
  /** Optional `adopt.sql` of the directory, run when the migration is baselined by an adoption. */
  adoptSql: string | null;
}

export async function readMigrationFiles(migrationsDir: string): Promise<MigrationFile[]> {
  const dirents = await readdir(migrationsDir, { withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    },
  );
  const names = dirents
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  const out: MigrationFile[] = [];
  for (const name of names) {
    const sql = await readFile(path.join(migrationsDir, name, "migration.sql"), "utf8");
    const adoptSql = await readFile(path.join(migrationsDir, name, "adopt.sql"), "utf8").catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return null;
        throw err;
      },
    );
    out.push({ name, sql, checksum: createHash("sha256").update(sql).digest("hex"), adoptSql });
  }
  return out;
}

/** SQL text without comments and string/dollar-quoted bodies' quotes kept (a rough lexer, enough to spot names). */
function withoutComments(sql: string): string {
  return sql.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/--[^\n]*/g, " ");
}

/** Migrations are replayed in a scratch schema: a schema-qualified name would reach outside it. */
function schemaQualifiedNames(m: MigrationFile, schemas: string[]): string | null {
  const text = withoutComments(m.sql);
  for (const s of schemas) {
    const re = new RegExp(`(^|[^\\w$."])("${s}"|${s})\\s*\\.\\s*["\\w]`, "i");
    const hit = re.exec(text);
    if (hit) return `${m.name}: schema-qualified name "${hit[0].trim()}…"`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// Planning: what the migrations' schema has that the database lacks

function columnSql(c: ColumnDesc): string {
  let s = `${quoteIdent(c.name)} ${c.type}`;
  if (c.collation) s += ` COLLATE ${c.collation}`;
  if (c.identity) s += ` GENERATED ${c.identity === "a" ? "ALWAYS" : "BY DEFAULT"} AS IDENTITY`;
  if (c.generated) s += ` GENERATED ALWAYS AS (${c.generated}) STORED`;
  if (c.default !== null) s += ` DEFAULT ${c.default}`;
  if (c.notNull) s += " NOT NULL";
  return s;
}

interface Plan {
  steps: AdoptionStep[];
  notes: string[];
  errors: string[];
}

export function planAdoption(ref: SchemaDesc, db: SchemaDesc, upstream: UpstreamSchema): Plan {
  const steps: AdoptionStep[] = [];
  const notes: string[] = [];
  const errors: string[] = [];
  const add = (why: string, sql: string) => steps.push({ why, sql });
  const upstreamTables = new Set(Object.keys(upstream.tables));

  for (const u of ref.unsupported)
    errors.push(`the migrations create ${u}, which adoption cannot carry over`);
  for (const u of db.unsupported) notes.push(`${u} (not upstream's, not ours) left alone`);

  // Relation names of the database (tables, indexes, sequences share one namespace per schema).
  const dbRelations = new Set<string>([...db.tables.keys(), ...db.sequences.keys()]);
  for (const t of db.tables.values()) for (const i of t.indexes) dbRelations.add(i.name);

  for (const name of ref.tables.keys()) {
    if (db.tables.has(name) && !upstreamTables.has(name)) {
      errors.push(`table ${name} exists but is not upstream's: the App's migrations would create it`);
    } else if (!db.tables.has(name) && dbRelations.has(name)) {
      errors.push(
        `relation ${name} exists and is not a table, the App's migrations would create a table ${name}`,
      );
    }
  }

  // 1. Enum types and enum values.
  for (const [name, labels] of ref.enums) {
    const have = db.enums.get(name);
    if (!have) {
      add(
        `enum type ${name}`,
        `CREATE TYPE ${quoteIdent(name)} AS ENUM (${labels.map(quoteLiteral).join(", ")})`,
      );
      continue;
    }
    const present = new Set(have);
    labels.forEach((label, i) => {
      if (present.has(label)) return;
      const before = labels
        .slice(0, i)
        .reverse()
        .find((l) => present.has(l));
      const after = labels.slice(i + 1).find((l) => present.has(l));
      const where = before ? ` AFTER ${quoteLiteral(before)}` : after ? ` BEFORE ${quoteLiteral(after)}` : "";
      add(
        `enum value ${name}.${label}`,
        `ALTER TYPE ${quoteIdent(name)} ADD VALUE IF NOT EXISTS ${quoteLiteral(label)}${where}`,
      );
      present.add(label);
    });
  }

  // 2. Sequences (identity sequences come with their column).
  const newSequences = [...ref.sequences.values()].filter((s) => !s.identity && !dbRelations.has(s.name));
  for (const s of newSequences)
    add(`sequence ${s.name}`, `CREATE SEQUENCE ${quoteIdent(s.name)} ${s.options}`);

  // 3. Functions (before tables: a default or an index may call one; bodies are not checked, see caller).
  for (const [key, f] of ref.functions) {
    const have = db.functions.get(key);
    if (!have) add(`function ${key}`, f.def);
    else if (have.def !== f.def) notes.push(`function ${key} exists with another definition; kept`);
  }

  // 4. Tables of the App, and columns of the App on upstream's tables.
  const newTables: TableDesc[] = [];
  const fills = new Map<string, string[]>();
  for (const [name, t] of ref.tables) {
    const have = db.tables.get(name);
    if (!have) {
      newTables.push(t);
      add(
        `table ${name}`,
        `CREATE TABLE ${quoteIdent(name)} (\n  ${t.columns.map(columnSql).join(",\n  ")}\n)`,
      );
      continue;
    }
    const haveCols = new Map(have.columns.map((c) => [c.name, c]));
    for (const c of t.columns) {
      const hc = haveCols.get(c.name);
      if (!hc) {
        if (c.notNull && c.default === null && !c.identity && !c.generated) {
          errors.push(`the migrations add ${name}.${c.name} NOT NULL without a default to upstream's table`);
        } else {
          add(`column ${name}.${c.name}`, `ALTER TABLE ${quoteIdent(name)} ADD COLUMN ${columnSql(c)}`);
        }
        continue;
      }
      if (hc.type !== c.type || hc.notNull !== c.notNull || (hc.default ?? "") !== (c.default ?? "")) {
        notes.push(
          `${name}.${c.name}: upstream's ${columnLine(hc)} kept (the migrations have ${columnLine(c)})`,
        );
      }
      if (c.default !== null && hc.default === null) {
        const list = fills.get(name) ?? [];
        list.push(`NEW.${quoteIdent(c.name)} := COALESCE(NEW.${quoteIdent(c.name)}, ${c.default});`);
        fills.set(name, list);
      }
    }
    // Upstream's required columns the App does not know: filled by the revision's trigger line.
    const refCols = new Set(t.columns.map((c) => c.name));
    for (const hc of have.columns) {
      if (refCols.has(hc.name) || !hc.notNull || hc.default !== null || hc.identity || hc.generated) continue;
      const fill = upstream.fills[`${name}.${hc.name}`];
      if (!fill)
        errors.push(
          `upstream's ${name}.${hc.name} is NOT NULL without a default and the App does not write it`,
        );
      else {
        const list = fills.get(name) ?? [];
        list.push(fill);
        fills.set(name, list);
      }
    }
  }
  for (const s of newSequences) {
    if (s.ownedBy) {
      add(
        `sequence ${s.name} owned by ${s.ownedBy.table}.${s.ownedBy.column}`,
        `ALTER SEQUENCE ${quoteIdent(s.name)} OWNED BY ${quoteIdent(s.ownedBy.table)}.${quoteIdent(s.ownedBy.column)}`,
      );
    }
  }

  // 5. Constraints: all of the App's own tables (keys before foreign keys). On upstream's tables none is
  // added: a new constraint there could refuse upstream's own writes after switching back.
  const newNames = new Set(newTables.map((t) => t.name));
  const constraintSteps: AdoptionStep[] = [];
  for (const t of ref.tables.values()) {
    const have = db.tables.get(t.name);
    const haveCons = new Map((have?.constraints ?? []).map((c) => [c.name, c.def]));
    for (const c of t.constraints) {
      const sql = `ALTER TABLE ${quoteIdent(t.name)} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.def}`;
      if (newNames.has(t.name)) constraintSteps.push({ why: `constraint ${c.name} on ${t.name}`, sql });
      else if (!haveCons.has(c.name))
        notes.push(`constraint ${c.name} on upstream's ${t.name} not added (${c.def})`);
      else if (haveCons.get(c.name) !== c.def) {
        notes.push(
          `constraint ${c.name} on ${t.name}: upstream's ${haveCons.get(c.name)} kept (the migrations have ${c.def})`,
        );
      }
    }
  }
  constraintSteps.sort(
    (a, b) => Number(a.sql.includes(" FOREIGN KEY ")) - Number(b.sql.includes(" FOREIGN KEY ")),
  );
  steps.push(...constraintSteps);

  // 6. Indexes not backing a constraint.
  for (const t of ref.tables.values()) {
    const have = db.tables.get(t.name);
    const haveDefs = new Map((have?.indexes ?? []).map((i) => [i.name, i.def]));
    for (const i of t.indexes) {
      if (i.constraint && newNames.has(t.name)) continue; // created by its constraint
      if (haveDefs.get(i.name) === i.def) continue;
      if (dbRelations.has(i.name)) {
        const other = haveDefs.get(i.name);
        notes.push(
          `index ${i.name}: ${other ? `upstream's ${other}` : "an existing relation of that name"} kept (the migrations have ${i.def})`,
        );
        continue;
      }
      add(`index ${i.name} on ${t.name}`, i.def);
    }
  }

  // 7. Triggers.
  for (const t of ref.tables.values()) {
    const have = new Set((db.tables.get(t.name)?.triggers ?? []).map((x) => x.name));
    for (const tr of t.triggers) if (!have.has(tr.name)) add(`trigger ${tr.name} on ${t.name}`, tr.def);
  }

  // 8. Values upstream's tables do not default and the App leaves to the database (or never writes).
  for (const [table, lines] of fills) {
    const fn = `sx_adopt_fill_${table}`;
    add(
      `fill ${table}'s values upstream leaves to its own code`,
      `CREATE OR REPLACE FUNCTION ${quoteIdent(fn)}() RETURNS trigger LANGUAGE plpgsql AS $fn$\nBEGIN\n  ${lines.join("\n  ")}\n  RETURN NEW;\nEND\n$fn$`,
    );
    add(
      `trigger ${fn} on ${table}`,
      `CREATE TRIGGER ${quoteIdent(fn)} BEFORE INSERT ON ${quoteIdent(table)} FOR EACH ROW EXECUTE FUNCTION ${quoteIdent(fn)}()`,
    );
  }
  return { steps, notes, errors };
}

/** What the migrations' schema has and the adopted database still lacks (empty once adoption worked). */
export function missingAfterAdoption(ref: SchemaDesc, db: SchemaDesc): string[] {
  const out: string[] = [];
  for (const [name, t] of ref.tables) {
    const have = db.tables.get(name);
    if (!have) {
      out.push(`table ${name}`);
      continue;
    }
    const cols = new Set(have.columns.map((c) => c.name));
    for (const c of t.columns) if (!cols.has(c.name)) out.push(`column ${name}.${c.name}`);
    const trg = new Set(have.triggers.map((x) => x.name));
    for (const x of t.triggers) if (!trg.has(x.name)) out.push(`trigger ${x.name} on ${name}`);
  }
  const rels = new Set<string>();
  for (const t of db.tables.values()) for (const i of t.indexes) rels.add(i.name);
  for (const t of ref.tables.values())
    for (const i of t.indexes) if (!rels.has(i.name)) out.push(`index ${i.name}`);
  for (const [name, labels] of ref.enums) {
    const have = new Set(db.enums.get(name) ?? []);
    for (const l of labels) if (!have.has(l)) out.push(`enum value ${name}.${l}`);
  }
  for (const key of ref.functions.keys()) if (!db.functions.has(key)) out.push(`function ${key}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Running it

/** `_prisma_migrations` exactly as Prisma's schema engine creates it. */
const PRISMA_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

const ADOPTION_TABLE = `CREATE TABLE IF NOT EXISTS "_sx_adoption" (
    "id"                SERIAL PRIMARY KEY,
    "adopted_at"        TIMESTAMPTZ NOT NULL DEFAULT now(),
    "alembic_revision"  VARCHAR(32) NOT NULL,
    "migrations"        TEXT[] NOT NULL,
    "statements"        TEXT NOT NULL,
    "notes"             TEXT[] NOT NULL,
    "duration_ms"       INTEGER NOT NULL
)`;

function pgMessage(err: unknown): string {
  const e = err as { message?: string; detail?: string; hint?: string };
  return [e.message ?? String(err), e.detail, e.hint].filter(Boolean).join(" — ");
}

/**
 * Adopts the upstream database `client` is connected to (see the file comment). The caller holds the
 * migration lock. With `dryRun`, everything is done inside the transaction and rolled back: the result says
 * what would be done, and nothing is written.
 */
export async function adoptUpstream(
  client: pg.ClientBase,
  opts: { migrationsDir: string; log?: Log; dryRun?: boolean },
): Promise<AdoptionResult> {
  const started = Date.now();
  const { alembic } = await inspectDatabase(client);
  const upstream = upstreamSchemaFor(alembic ?? []);
  const migrations = await readMigrationFiles(opts.migrationsDir);

  await client.query("BEGIN");
  let committed = false;
  try {
    // Waiting behind a live upstream App's transaction: give up with a message rather than hang.
    await client.query("SET LOCAL lock_timeout = '30s'");
    await client.query("SET LOCAL statement_timeout = 0");
    const target = (await client.query<{ s: string }>("SELECT current_schema() AS s")).rows[0]!.s;
    const db = await describeSchema(client, target);

    const differences = upstreamDifferences(db, upstream);
    if (differences.length > 0) {
      throw new AdoptionRefusedError(
        `Cannot adopt the upstream ServiceX database: its tables differ from upstream's schema at alembic ` +
          `revision ${upstream.revision} (altered by hand?):\n  - ${differences.join("\n  - ")}\nRestore ` +
          "upstream's definitions (or let upstream's migrations recreate them), then start this App again. " +
          "Nothing was changed.",
      );
    }
    const scratch = `sx_adopt_${randomBytes(6).toString("hex")}`;
    const escaping = migrations.map((m) => schemaQualifiedNames(m, [target, "public"])).filter(Boolean);
    if (escaping.length > 0) {
      throw new Error(
        `Cannot adopt: migrations are replayed in a scratch schema, and these name a schema:\n  - ${escaping.join("\n  - ")}`,
      );
    }

    await client.query(`CREATE SCHEMA ${quoteIdent(scratch)}`);
    await client.query(`SET LOCAL search_path TO ${quoteIdent(scratch)}`);
    for (const m of migrations) {
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new Error(
          `Cannot adopt: replaying migration ${m.name} in a scratch schema failed: ${pgMessage(err)}`,
          {
            cause: err,
          },
        );
      }
    }
    const ref = await describeSchema(client, scratch);
    const plan = planAdoption(ref, db, upstream);
    if (plan.errors.length > 0) {
      throw new AdoptionRefusedError(
        `Cannot adopt the upstream ServiceX database:\n  - ${plan.errors.join("\n  - ")}\nNothing was changed.`,
      );
    }

    await client.query(`SET LOCAL search_path TO ${quoteIdent(target)}`);
    // Function bodies may name tables created after them; they are checked when called.
    await client.query("SET LOCAL check_function_bodies = off");
    for (const step of plan.steps) {
      try {
        await client.query(step.sql);
      } catch (err) {
        throw new Error(
          `Cannot adopt: creating ${step.why} failed: ${pgMessage(err)}\n  statement: ${step.sql.split("\n")[0]}\n` +
            "Nothing was changed.",
          { cause: err },
        );
      }
    }

    const after = await describeSchema(client, target);
    const missing = missingAfterAdoption(ref, after);
    if (missing.length > 0) {
      throw new Error(
        `Cannot adopt: after adoption the database still lacks ${missing.join(", ")}. Nothing was changed.`,
      );
    }
    await client.query(`DROP SCHEMA ${quoteIdent(scratch)} CASCADE`);
    await client.query(`SET LOCAL search_path TO ${quoteIdent(target)}`);

    const hooks: AdoptionStep[] = migrations
      .filter((m) => m.adoptSql !== null)
      .map((m) => ({ why: `${m.name}/adopt.sql`, sql: m.adoptSql! }));
    for (const step of hooks) {
      try {
        await client.query(step.sql);
      } catch (err) {
        throw new Error(`Cannot adopt: ${step.why} failed: ${pgMessage(err)}. Nothing was changed.`, {
          cause: err,
        });
      }
    }

    await client.query(PRISMA_MIGRATIONS_TABLE);
    for (const m of migrations) {
      await client.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), now(), 0)`,
        [randomUUID(), m.checksum, m.name],
      );
    }
    const steps = [...plan.steps, ...hooks];
    const ms = Date.now() - started;
    await client.query(ADOPTION_TABLE);
    await client.query(
      `INSERT INTO "_sx_adoption" (alembic_revision, migrations, statements, notes, duration_ms)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        upstream.revision,
        migrations.map((m) => m.name),
        steps.map((s) => `-- ${s.why}\n${s.sql};`).join("\n\n"),
        plan.notes,
        ms,
      ],
    );
    if (opts.dryRun) await client.query("ROLLBACK");
    else await client.query("COMMIT");
    committed = true;
    const result: AdoptionResult = {
      revision: upstream.revision,
      steps,
      notes: plan.notes,
      baseline: migrations.map((m) => m.name),
      ms: Date.now() - started,
      dryRun: opts.dryRun === true,
    };
    opts.log?.(
      `${opts.dryRun ? "Would adopt" : "Adopted"} the upstream ServiceX database at alembic revision ` +
        `${upstream.revision} in ${result.ms} ms: ${steps.length} statement(s), ${migrations.length} ` +
        `migration(s) recorded as applied${opts.dryRun ? " (dry run: rolled back, nothing written)" : ""}.`,
    );
    return result;
  } finally {
    if (!committed) await client.query("ROLLBACK").catch(() => {});
  }
}

/** Refuses a database adopted earlier whose alembic revision has since changed (upstream ran newer migrations). */
export function checkAdoptedRevision(state: {
  alembic: string[] | null;
  adoptedRevision: string | null;
}): void {
  if (!state.alembic || !state.adoptedRevision) return;
  const now = state.alembic.join(", ");
  if (state.alembic.length === 1 && state.alembic[0] === state.adoptedRevision) return;
  throw new AdoptionRefusedError(
    `This database was adopted from upstream ServiceX at alembic revision ${state.adoptedRevision}, but ` +
      `alembic_version now says ${now || "nothing"}: upstream's migrations have changed upstream's tables since. ` +
      "This App does not know that schema; run upstream's App at a release ending at " +
      `${state.adoptedRevision} (or restore the database), or a version of this App that knows ${now}. Nothing was changed.`,
  );
}
