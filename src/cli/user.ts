// User administration from the command line (docs/api.md CLI), for sites without Slack or before the first
// admin exists. The same rules as the API and the Slack buttons (src/domain/users.service.ts).
//
//   npm run user -- create <sub> <email> <name> <institution> [refresh_token]
//   npm run user -- list [--email-filter <text>] [--pending]
//   npm run user -- approve <email>          (sends the welcome e-mail when Mailgun is configured)
//   npm run user -- make-admin <email>
//   npm run user -- revoke-admin <email>
//   npm run user -- delete <email>
//   npm run user -- load-defaults <users.json>  (a list of {sub, email, name, institution, refresh_token})
//
// The database is the App's (DATABASE_URL, SQLALCHEMY_DATABASE_URI, or the embedded PGlite database in
// DATA_DIR — which only one process can open: beside a running server it refuses, naming the server).
import { readFile } from "node:fs/promises";
import { pino } from "pino";
import { DataDirLockedError } from "../adapters/db/dataDirLock.js";
import { openDatabase } from "../adapters/db/database.js";
import { notifierFor, userServiceFor } from "../compose.js";
import { ConfigError, loadProcessConfig } from "../config.js";
import { AppError } from "../domain/errors.js";

const USAGE = `usage: npm run user -- <command>
  create <sub> <email> <name> <institution> [refresh_token]
  list [--email-filter <text>] [--pending]
  approve <email> | make-admin <email> | revoke-admin <email> | delete <email>
  load-defaults <users.json>`;

/** A mistake on the command line (not an HTTP answer): printed, then exit with `exit` (2: usage, 1: other). */
class CliError extends Error {
  constructor(
    message: string,
    readonly exit: 1 | 2,
  ) {
    super(message);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  let config: ReturnType<typeof loadProcessConfig>;
  try {
    config = loadProcessConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" }, pino.destination(2));
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({
      url: config.databaseUrl,
      dataDir: config.DATA_DIR === "memory://" ? "memory://" : `${config.DATA_DIR}/pglite`,
      poolSize: 2,
      // The server (or boot.sh) migrates a Postgres database; the embedded one is migrated when opened.
      migrate: !config.databaseUrl,
      log: () => {},
    });
  } catch (e) {
    // The embedded database is open in a running server: say which, instead of PGlite's "Aborted()".
    if (e instanceof DataDirLockedError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  const notifier = notifierFor(config, logger);
  const { users } = userServiceFor(config, db, notifier, logger);
  const need = (n: number) => {
    if (args.length < n) throw new CliError(USAGE, 2);
  };
  try {
    switch (command) {
      case "create": {
        need(4);
        const [sub, email, name, institution, refreshToken] = args as [
          string,
          string,
          string,
          string,
          string?,
        ];
        const u = await users.provision({
          sub,
          email,
          name,
          institution,
          refreshToken: refreshToken ?? null,
        });
        console.log(
          u
            ? `created user ${u.id} <${u.email}>${u.admin ? " (admin)" : ""}${u.pending ? " (pending)" : ""}`
            : `a user with sub ${sub} exists: skipped`,
        );
        break;
      }
      case "list": {
        const i = args.indexOf("--email-filter");
        const filter = i >= 0 ? args[i + 1] : undefined;
        const list = await users.repo.list({
          ...(filter ? { emailContains: filter } : {}),
          ...(args.includes("--pending") ? { pending: true } : {}),
        });
        for (const u of list) {
          console.log(
            `${u.id}\t${u.email}\t${u.name}\t${u.admin ? "admin" : "-"}\t${u.pending ? "pending" : "approved"}`,
          );
        }
        break;
      }
      case "approve":
        need(1);
        await users.accept(args[0]!);
        console.log(`user ${args[0]} now ready for access`);
        break;
      case "make-admin":
      case "revoke-admin":
        need(1);
        await users.setAdmin(args[0]!, command === "make-admin");
        console.log(
          `user ${args[0]} ${command === "make-admin" ? "is now an admin" : "is no longer an admin"}`,
        );
        break;
      case "delete": {
        need(1);
        const u = await users.repo.byEmail(args[0]!);
        if (!u) throw new CliError(`No user registered with email: ${args[0]}`, 1);
        await users.deleteUser(u.id);
        console.log(`user ${args[0]} has been deleted`);
        break;
      }
      case "load-defaults": {
        need(1);
        const list = JSON.parse(await readFile(args[0]!, "utf8")) as Array<Record<string, string | null>>;
        if (!Array.isArray(list)) throw new CliError(`${args[0]}: expected a JSON list of users`, 1);
        let created = 0;
        for (const x of list) {
          if (!x.sub || !x.email || !x.name)
            throw new CliError(`${args[0]}: every user needs sub, email and name`, 1);
          const u = await users.provision({
            sub: x.sub,
            email: x.email,
            name: x.name,
            institution: x.institution ?? null,
            refreshToken: x.refresh_token ?? null,
          });
          if (u) created++;
        }
        console.log(`${created} user(s) created, ${list.length - created} already present`);
        break;
      }
      default:
        console.error(`unknown command: ${command}\n${USAGE}`);
        return 2;
    }
    return 0;
  } catch (e) {
    if (e instanceof CliError || e instanceof AppError) {
      console.error(e.message);
      return e instanceof CliError ? e.exit : 1;
    }
    throw e;
  } finally {
    await notifier.drain();
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
