// The App (or one of its command-line tools) as a child process, the way an operator runs it: its output is
// kept line by line, and the tests wait for lines or for the exit, never for a guessed duration.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * A port free right now, for an App process (PORT=0 would do for listening, but the callback address given to
 * transformers must name the real port).
 */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  child: ChildProcess;
  pid: number;
  /** Every line written to stdout so far. */
  stdout: string[];
  /** Every line written to stderr so far. */
  stderr: string[];
  exited: Promise<Exit>;
  /** Resolves with the first stdout/stderr line that matches (also one already written). */
  waitForLine(match: (line: string) => boolean, timeoutMs: number, what: string): Promise<string>;
  /** Base URL once the App logged that it listens (LOG_LEVEL info or lower). */
  listening(timeoutMs?: number): Promise<string>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = pathToFileURL(join(ROOT, "node_modules/tsx/dist/loader.mjs")).href;

/**
 * Runs `node --import tsx <script> …args` (script relative to the repository) with `env` over the tests'
 * environment, in `cwd` (default: the repository, as npm runs it).
 */
export function spawnApp(
  env: Record<string, string>,
  script = "src/main.ts",
  args: string[] = [],
  cwd = ROOT,
): AppProcess {
  const child = spawn(process.execPath, ["--import", TSX, join(ROOT, script), ...args], {
    cwd,
    env: { ...process.env, RABBIT_MQ_URL: "", DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const collect = (into: string[], stream: NodeJS.ReadableStream) => {
    let rest = "";
    stream.on("data", (chunk: Buffer) => {
      rest += chunk.toString();
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) {
        into.push(l);
        for (const w of waiters) w(l);
      }
    });
    stream.on("end", () => {
      if (rest) into.push(rest);
    });
  };
  collect(stdout, child.stdout!);
  collect(stderr, child.stderr!);
  const exited = new Promise<Exit>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const waitForLine = (match: (line: string) => boolean, timeoutMs: number, what: string) =>
    new Promise<string>((resolve, reject) => {
      const seen = [...stdout, ...stderr].find(match);
      if (seen !== undefined) return resolve(seen);
      const done = (line: string) => {
        if (!match(line)) return;
        clearTimeout(timer);
        waiters.delete(done);
        resolve(line);
      };
      const timer = setTimeout(() => {
        waiters.delete(done);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr.join("\n")}`,
          ),
        );
      }, timeoutMs);
      waiters.add(done);
      void exited.then(({ code, signal }) => {
        if (!waiters.has(done)) return;
        setTimeout(() => {
          if (!waiters.delete(done)) return;
          clearTimeout(timer);
          reject(
            new Error(
              `exited (${code ?? signal}) before ${what}\nstdout:\n${stdout.join("\n")}\nstderr:\n${stderr.join("\n")}`,
            ),
          );
        }, 100);
      });
    });
  return {
    child,
    pid: child.pid!,
    stdout,
    stderr,
    exited,
    waitForLine,
    async listening(timeoutMs = 120_000) {
      // A fresh embedded database takes 10–20 s to create, more while other test files run.
      const line = await waitForLine(
        (l) => l.includes("ServiceX App listening on"),
        timeoutMs,
        "the App to listen",
      );
      const port = (JSON.parse(line) as { address: { port: number } }).address.port;
      return `http://127.0.0.1:${port}`;
    },
  };
}
