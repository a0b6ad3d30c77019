// Row types of the repositories' SQL: each query states its result columns once, by Postgres type, and gets
// its row type from that declaration instead of a cast. Prisma's TypedSQL would generate these types, but its
// query introspection cannot run on these machines (docs/database.md, "Typed SQL"), so they are declared here
// and test/integration/rowShapes.test.ts checks every declaration against the database: the column names and
// types Postgres reports for the query, and the values the drivers return (NULL only where declared).
import type { TransformStatusName } from "../../domain/status.js";
import type { Sql } from "./database.js";

/**
 * The JavaScript value node-postgres and PGlite give for each Postgres type the repositories read. They
 * differ on int8: node-postgres keeps the exact decimal text, PGlite gives a number.
 */
interface PgToJs {
  int2: number;
  int4: number;
  int8: string | number;
  float4: number;
  float8: number;
  /** The exact decimal text (both drivers); `extract(epoch FROM …)` is numeric. */
  numeric: string;
  text: string;
  varchar: string;
  bool: boolean;
  timestamp: Date;
  timestamptz: Date;
  /** The `transformstatus` enum (docs/database.md): its labels are the domain's status names. */
  transformstatus: TransformStatusName;
  "text[]": string[];
  "int4[]": number[];
}

export type PgType = keyof PgToJs;
/** A column's Postgres type; a trailing `?` when the column may be NULL. */
export type ColumnType = PgType | `${PgType}?`;
export type Columns = Readonly<Record<string, ColumnType>>;

type ValueOf<T extends ColumnType> = T extends `${infer B extends PgType}?`
  ? PgToJs[B] | null
  : T extends PgType
    ? PgToJs[T]
    : never;

/** The row type a column declaration stands for. */
export type RowOf<C extends Columns> = { -readonly [K in keyof C]: ValueOf<C[K]> };

export interface RowShape<C extends Columns> {
  readonly columns: C;
  /** Runs `text` and returns its rows, typed by the declaration. */
  all(on: Sql, text: string, params?: unknown[]): Promise<RowOf<C>[]>;
  /** The first row, or undefined when there is none. */
  first(on: Sql, text: string, params?: unknown[]): Promise<RowOf<C> | undefined>;
}

const declared: Columns[] = [];

/** Every declaration made so far (rowShapes.test.ts checks that each one is exercised). */
export function declaredShapes(): readonly Columns[] {
  return declared;
}

/** What a test observer sees of every query run through a shape: the declaration, the SQL and the rows. */
export type ShapeObserver = (columns: Columns, text: string, rows: readonly object[]) => void;
let observer: ShapeObserver | null = null;

/** Test hook (rowShapes.test.ts): sees every shaped query; null stops it. */
export function observeShapedQueries(fn: ShapeObserver | null): void {
  observer = fn;
}

/**
 * Declares the result columns of a query. The driver's rows are taken as that type here, the one place
 * that trusts the database, and the test checks the declarations against it.
 */
export function rowShape<const C extends Columns>(columns: C): RowShape<C> {
  declared.push(columns);
  const all = async (on: Sql, text: string, params?: unknown[]): Promise<RowOf<C>[]> => {
    const rows = await on.query<RowOf<C>>(text, params);
    if (observer) observer(columns, text, rows);
    return rows;
  };
  return {
    columns,
    all,
    async first(on, text, params) {
      return (await all(on, text, params))[0];
    },
  };
}
