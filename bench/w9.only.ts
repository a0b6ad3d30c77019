// npx tsx bench/w9.only.ts — runs W9 alone (page timings; see w9.pages.ts); BENCH_ONLY_W=8 runs W8 instead.
import { runW8 } from "./w8.history.js";
import { runW9 } from "./w9.pages.js";

const PG_ADMIN = process.env.BENCH_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const line = (n: string, v: string, e = "") => console.log(`${n.padEnd(48)} ${v.padStart(14)}  ${e}`);
const which = process.env.BENCH_ONLY_W ?? "9";
(which === "8" ? runW8({ pgAdminUrl: PG_ADMIN, line }) : runW9({ pgAdminUrl: PG_ADMIN, line })).then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
