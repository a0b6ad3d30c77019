// A fixed-rate GET poller in its own process (W4), so its latencies are not inflated by the W1 load
// generator's event loop. Runs until a line arrives on stdin, then prints its figures as JSON.
import { openLoop, request } from "./lib.js";

const [url, rate] = process.argv.slice(2);
let stop = false;
process.stdin.once("data", () => {
  stop = true;
});
const r = await openLoop(
  Number(rate),
  () => stop,
  () => request(url!, "GET"),
);
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
