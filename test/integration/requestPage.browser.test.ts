// The request and results pages in a real browser (issue 13): headless Chromium against the App (Postgres,
// in-process broker, local results in a temporary RESULTS_DIR), at laptop (1280×800) and phone (390×844)
// widths. While reports arrive the elapsed time ticks, the rate and the time-left estimate appear, "N failed"
// becomes a link to the failed files, and the plot's y axis ends at the file count; the time zone of the
// page's times is named; the client snippet is copied by its button; Cancel and Delete go through their
// confirmation pages; a result file is downloaded from the results page; dates do not wrap; on a phone the
// plot keeps its height and its labels do not overlap.
//
// Screenshots: test-artifacts/screenshots/request-*.png.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const TZ = "America/New_York";

/** What the predicates run in the browser use (the tests compile without the DOM lib). */
interface Doc {
  document: { getElementById(id: string): { textContent: string | null; hidden?: boolean } | null };
}
type Box = { x: number; y: number; width: number; height: number };

let app: TestApp;
let browser: Browser;
let results: string;
const shots: string[] = [];

beforeAll(async () => {
  results = mkdtempSync(join(tmpdir(), "sx-request-browser-"));
  app = await startTestApp({
    broker: "memory",
    env: { RESULTS_DIR: results, PROGRESS_INTERVAL_MS: "400" },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  rmSync(results, { recursive: true, force: true });
  if (shots.length) console.log(`request page screenshots:\n  ${shots.join("\n  ")}`);
});

async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    shots.push(await screenshot(page, `request-${name}-${label}`));
  }
  await page.setViewportSize(LAPTOP);
}

async function submit(n: number, title: string) {
  const tag = randomBytes(4).toString("hex");
  const r = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      title,
      "file-list": Array.from(
        { length: n },
        (_, i) => `root://eos.example//atlas/${tag}/DAOD_PHYS.${i}.root`,
      ),
      selection: Buffer.from("def run_query(input_filenames=None):\n    return {'n': 1}\n").toString(
        "base64",
      ),
      codegen: "passthrough",
      "result-destination": "object-store",
      "result-format": "root-file",
    }),
  });
  expect(r.status).toBe(200);
  const requestId = ((await r.json()) as { request_id: string }).request_id;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  return { requestId, files: await app.deps.repos.datasets.files(rec.didId) };
}

async function report(requestId: string, file: { id: number; paths: string }, ok: boolean): Promise<void> {
  const object = `DAOD_PHYS.${file.id}.root`;
  if (ok) {
    mkdirSync(join(results, requestId), { recursive: true });
    writeFileSync(join(results, requestId, object), `bytes of file ${file.id}`);
  }
  const r = await fetch(`${app.url}/servicex/internal/transformation/${requestId}/file-complete`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      requestId,
      "file-path": file.paths,
      "file-id": file.id,
      status: ok ? "success" : "failure",
      "total-time": 0.35,
      "total-events": 5000,
      "total-bytes": 3_500_000,
      "avg-rate": 14285,
      place: { host_name: `transformer-${requestId.slice(0, 8)}-pod${file.id % 3}`, site: "local" },
      ...(ok ? { "s3-object-name": object } : { error: "OSError: XRootD timeout reading the file" }),
    }),
  });
  expect(r.status).toBe(200);
}

const textOf = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent())?.trim() ?? "";
const overlaps = (a: Box, b: Box) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

describe("the request page in a browser", () => {
  it("ticks, estimates, links the failures, names the time zone, copies the snippet, and confirms Cancel and Delete", async () => {
    const page = await openPage(browser, undefined, { viewport: LAPTOP, timezoneId: TZ });
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
    try {
      const s = await submit(60, "Jet pT, ttbar sample");
      const url = `${app.url}/transformation-request/${s.requestId}`;
      await page.goto(url);
      // The zone is named; the times are the viewer's, UTC on hover.
      expect(await textOf(page, "tz-note")).toMatch(
        /^Times are in your time zone, America\/New_York \(UTC−0[45]:00\)/,
      );
      expect(await page.locator("time").first().getAttribute("title")).toMatch(/ UTC$/);
      // The y axis of a 60-file request: 0/15/30/45/60.
      expect(await page.locator("#chart svg text.axis[x='2']").allTextContents()).toEqual([
        "0",
        "15",
        "30",
        "45",
        "60",
      ]);
      // The elapsed time ticks.
      const first = await textOf(page, "elapsed");
      await page.waitForFunction(
        (before) => (globalThis as unknown as Doc).document.getElementById("elapsed")?.textContent !== before,
        first,
        { timeout: 5000 },
      );
      expect(await textOf(page, "failed-none")).toBe("0 failed");
      expect(await page.locator("#failed-link").isHidden()).toBe(true);
      // The snippet's Copy button (shown with JavaScript) copies exactly the snippet.
      await page.click("button.copy");
      const copied = await page.evaluate(() =>
        (
          globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
        ).navigator.clipboard.readText(),
      );
      expect(copied).toBe(await page.locator("#snippet").textContent());
      expect(copied).toContain(`get_transform_status("${s.requestId}")`);

      for (let i = 0; i < 30; i++) {
        await report(s.requestId, s.files[i]!, i % 10 !== 4);
        await new Promise((r) => setTimeout(r, 60));
      }
      await page.waitForFunction(
        () => (globalThis as unknown as Doc).document.getElementById("n-completed")?.textContent === "27",
        undefined,
        { timeout: 10_000 },
      );
      expect(await textOf(page, "rate")).toMatch(/^[\d.,]+ files\/s · [\d.]+ [kMG]?B\/s$/);
      expect(await textOf(page, "eta")).toMatch(/^about \d/);
      expect(await page.locator("#failed-link").isVisible()).toBe(true);
      expect(await page.locator("#failed-link").textContent()).toBe("3 failed");
      // The errors card and the output's totals follow too (the grouped errors come with a reload).
      expect(await page.locator("#errors-live").isVisible()).toBe(true);
      expect(await textOf(page, "n-errors")).toBe("3");
      await page.waitForFunction(
        () =>
          (globalThis as unknown as Doc).document.getElementById("out-files")?.textContent ===
          "27 files, root-file",
        undefined,
        { timeout: 10_000 },
      );
      await page.waitForFunction(
        () =>
          Number(
            (
              globalThis as unknown as {
                document: { querySelector(s: string): { getAttribute(n: string): string | null } | null };
              }
            ).document
              .querySelector("#chart svg")
              ?.getAttribute("data-points"),
          ) >= 2,
        undefined,
        { timeout: 10_000 },
      );
      await shoot(page, "running");

      // On a phone: the plot keeps a readable height and its labels do not overlap.
      await page.setViewportSize(PHONE);
      const chart = (await page.locator("#chart svg.chart").boundingBox())!;
      expect(chart.height).toBeGreaterThanOrEqual(180);
      const labels: Box[] = [];
      for (const t of await page.locator("#chart svg text").all()) labels.push((await t.boundingBox())!);
      for (let i = 0; i < labels.length; i++)
        for (let j = i + 1; j < labels.length; j++)
          expect(overlaps(labels[i]!, labels[j]!), `labels ${i}, ${j}`).toBe(false);
      // Dates stay on one line.
      const submitted = (await page.locator("dd time").first().boundingBox())!;
      expect(submitted.height).toBeLessThan(30);
      await page.setViewportSize(LAPTOP);

      // "3 failed" opens the failed files, each with its error.
      await Promise.all([page.waitForURL(/results\?status=failure$/), page.click("#failed-link")]);
      expect(await page.locator("table.results tbody tr").count()).toBe(3);
      expect(await page.locator("table.results tbody tr").first().textContent()).toContain("XRootD timeout");
      await shoot(page, "results-failed");
      await page.goBack();

      // Cancel asks first: with JavaScript in a dialog over the page, whose Cancel changes nothing.
      await page.click("#cancel");
      const dialog = page.locator("dialog.confirm-dialog");
      await dialog.waitFor();
      expect(await dialog.locator("ul.consequences").textContent()).toContain("30 files not transformed yet");
      await shoot(page, "confirm-cancel-dialog");
      await dialog.locator("[data-cancel]").click();
      await dialog.waitFor({ state: "detached" });
      expect(page.url()).toBe(url);
      expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("running");
      // The same question as a page of its own (the link's target, what a browser without JavaScript opens).
      await page.goto(`${url}/cancel`);
      expect(await page.locator("ul.consequences").textContent()).toContain("30 files not transformed yet");
      await shoot(page, "confirm-cancel");
      await Promise.all([page.waitForURL(url), page.click("a[data-cancel]")]);
      expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("running");
      await page.click("#cancel");
      await Promise.all([page.waitForURL(url, { waitUntil: "load" }), dialog.locator("#confirm").click()]);
      expect(await page.locator(".flash").first().textContent()).toContain("canceled");
      expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("canceled");
      // Finished: Results is the primary button, Delete a quiet link to its confirmation.
      expect(await page.locator("#results-button").getAttribute("class")).toBe("button ");
      expect(await page.locator("#delete").getAttribute("class")).toContain("quiet-danger");
      await shoot(page, "canceled");
      await page.click("#delete");
      await dialog.waitFor();
      const lost = (await dialog.locator("ul.consequences").textContent())!;
      expect(lost).toContain("27 result files");
      expect(lost).toContain("progress history are deleted");
      await shoot(page, "confirm-delete-dialog");
      await page.goto(`${url}/delete`);
      await shoot(page, "confirm-delete");
      await Promise.all([
        page.waitForURL(`${app.url}/dashboard`, { waitUntil: "load" }),
        page.click("#confirm"),
      ]);
      expect(await app.deps.repos.requests.find(s.requestId)).toBeNull();
    } finally {
      await page.context().close();
    }
  });

  it("downloads a result file from the results page and shows per-file time, rate and size", async () => {
    const page = await openPage(browser, undefined, {
      viewport: LAPTOP,
      timezoneId: TZ,
      acceptDownloads: true,
    });
    try {
      const s = await submit(12, "Electron ID scale factors");
      for (let i = 0; i < 12; i++) await report(s.requestId, s.files[i]!, i !== 4);
      await eventually(async () => (await app.deps.repos.requests.find(s.requestId))!.status === "complete");
      await page.goto(`${app.url}/transformation-request/${s.requestId}`);
      // Sizes in human units, as the API's bytes say (a failed report's bytes count too, as upstream).
      const rec = (await app.deps.repos.requests.find(s.requestId))!;
      expect(rec.totalBytes).toBe(12 * 3_500_000);
      expect(await page.locator("#out-bytes").textContent()).toBe("42 MB");
      expect(await page.locator("#chart svg text.axis[x='2']").allTextContents()).toEqual([
        "0",
        "3",
        "6",
        "9",
        "12",
      ]);
      expect(await page.locator("#selection-h").textContent()).toContain("decoded from base64");
      await shoot(page, "complete");
      await page.goto(`${app.url}/transformation-request/${s.requestId}/results`);
      const row = page.locator("table.results tbody tr").first();
      expect(await row.locator("td[data-label=Time]").textContent()).toBe("0.35 s");
      expect(await row.locator("td[data-label=Rate]").textContent()).toContain("10 MB/s");
      expect(await row.locator("td[data-label=Size]").textContent()).toBe("3.5 MB");
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        row.locator("a.download").click(),
      ]);
      expect(download.suggestedFilename()).toBe(`DAOD_PHYS.${s.files[0]!.id}.root`);
      expect(readFileSync((await download.path())!, "utf8")).toBe(`bytes of file ${s.files[0]!.id}`);
      // Reported times stay on one line on a phone.
      await page.setViewportSize(PHONE);
      const t = (await row.locator("time").boundingBox())!;
      expect(t.height).toBeLessThan(30);
      await page.setViewportSize(LAPTOP);
      await shoot(page, "results");
    } finally {
      await page.context().close();
    }
  });
});
