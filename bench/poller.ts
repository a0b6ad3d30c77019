// A fixed-rate GET poller in its own process (W4), so its latencies are not inflated by the W1 load
// generator's event loop. Starts on the first line on stdin ("go"), stops on the second ("stop"), then
// prints its figures as JSON.
import { openLoop, request } from "./lib.js";

const [url, rate] = process.argv.slice(2);
let lines = 0;
let started: () => void;
const go = new Promise<void>((r) => {
  started = r;
});
process.stdin.on("data", (c: Buffer) => {
  lines += c.toString().split("\n").filter(Boolean).length;
  if (lines >= 1) started();
});
// keep a connection warm before measuring
await request(url!, "GET");
await go;
const r = await openLoop(
  Number(rate),
  () => lines >= 2,
  () => request(url!, "GET"),
);
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
