// One process at a time on an embedded (PGlite) database directory. PGlite has no postmaster to refuse a second
// process: two processes on one directory both start, and one of them loses its writes at the next restart (or
// aborts with "RuntimeError: Aborted()"). So whoever opens the directory first writes `<dir>.lock` with its
// pid, start time, command and host; the next one reads it and refuses with a message naming that process. A
// lock whose process is gone (kill -9, a crash, a container restarted with the same pid) is taken over.
import { readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";

export interface LockHolder {
  pid: number;
  /** ISO time the holding process started. */
  started: string;
  command: string;
  host: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat), to tell a reused pid. */
  procStart?: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly lockFile: string,
    readonly holder: LockHolder,
  ) {
    super(
      `The embedded database ${dir} is in use by another process: pid ${holder.pid}` +
        `${holder.host !== hostname() ? ` on host ${holder.host}` : ""}, started ${holder.started}, ` +
        `command: ${holder.command}. Only one process can open it: stop that process first ` +
        `(or use Postgres, DATABASE_URL, to run several).` +
        // On another host its liveness cannot be checked (a shared volume): the operator decides.
        (holder.host !== hostname() ? ` If that process is gone, remove ${lockFile}.` : ""),
    );
    this.name = "DataDirLockedError";
  }
}

/** The start time of a process in clock ticks since boot, or undefined where /proc is unavailable. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: count fields after its closing ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

function alive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true; // cannot tell: assume it runs
  if (holder.pid === process.pid) return false; // our pid, but not our lock: a previous life (containers: pid 1)
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (holder.procStart !== undefined) {
    const now = procStart(holder.pid);
    if (now !== undefined && now !== holder.procStart) return false; // the pid was reused
  }
  return true;
}

function readLock(file: string): { text: string; holder: LockHolder | null } | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    return { text, holder: typeof h.pid === "number" && h.pid > 0 ? h : null };
  } catch {
    return { text, holder: null };
  }
}

const held = new Set<string>();

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface DataDirLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes `<dir>.lock` for this process, or throws DataDirLockedError naming the live process that holds it.
 * A lock left by a process that is gone is taken over. Released by `release()` and at process exit.
 */
export function lockDataDir(dir: string): DataDirLock {
  const file = `${dir}.lock`;
  if (held.has(file)) {
    throw new DataDirLockedError(dir, file, {
      pid: process.pid,
      started: new Date(Date.now() - process.uptime() * 1000).toISOString(),
      command: "this process (the directory is already open in it)",
      host: hostname(),
    });
  }
  const me: LockHolder = {
    pid: process.pid,
    started: new Date(Date.now() - process.uptime() * 1000).toISOString(),
    command: process.argv.join(" "),
    host: hostname(),
    ...(procStart(process.pid) !== undefined ? { procStart: procStart(process.pid) } : {}),
  };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, text, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 50) throw e;
    }
    const seen = readLock(file);
    if (seen === null) continue; // released meanwhile
    if (seen.holder && alive(seen.holder)) throw new DataDirLockedError(dir, file, seen.holder);
    if (!seen.holder && Date.now() - statSync(file).mtimeMs < 2_000) {
      // Being written by a process that is starting right now: look again shortly.
      sleepSync(50);
      continue;
    }
    // Stale: remove it, unless it changed since it was read (another process took it over meanwhile).
    if (readLock(file)?.text === seen.text) {
      try {
        unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
  }
  held.add(file);
  const release = () => {
    if (!held.delete(file)) return;
    process.off("exit", release);
    try {
      if (readFileSync(file, "utf8") === text) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.on("exit", release);
  return { file, release };
}
