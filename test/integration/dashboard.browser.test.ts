// The dashboards in a real browser (issue 13, item 3; docs/api.md "Pages"): headless Chromium against the
// App on Postgres with sign-in on (users' browser sessions made as sign-in makes them). A new user sees how
// to submit a first request; a running row changes to "Complete with failures" while the page stays open as
// file reports arrive, and the polling stops once nothing is active; filters, search, the page past the end
// and nonsense parameters as a user clicks and types them; axe-core finds no serious or critical violation
// (aria-sort on the header cell, badge contrast). Every state is saved at laptop (1280x800) and phone
// (390x844) widths as test-artifacts/screenshots/dashboard-*.png.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSession } from "../../src/http/middleware/session.js";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const FAILING = new Set(["serious", "critical"]);

let app: TestApp;
let browser: Browser;
let axeSource: string;
const cookies: Record<string, string> = {};
const tokens: Record<string, string> = {};
const shots: string[] = [];
const tag = randomBytes(3).toString("hex");

/**
 * The page's document as the predicates run in the browser see it (the tests compile without the DOM lib).
 * Predicates are functions (a string would be evaluated with eval, which the CSP refuses) and are sent to
 * the page as source, so each names globalThis itself.
 */
interface Doc {
  document: {
    querySelector(s: string): { textContent: string | null; hidden?: boolean } | null;
    querySelectorAll(s: string): { length: number };
  };
}

beforeAll(async () => {
  axeSource = await readFile(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  const secret = `dash-browser-${randomBytes(8).toString("hex")}-0123456789abcdef`;
  app = await startTestApp({
    broker: "memory",
    env: { ENABLE_AUTH: "true", JWT_SECRET_KEY: secret, SECRET_KEY: secret },
  });
  for (const [name, admin] of [
    ["ann", true],
    ["ben", false],
    ["nia", false],
  ] as const) {
    const u = await app.deps.users.repo.insert({
      sub: `${name}-sub`,
      email: `${name}@dash-browser.example`,
      name: { ann: "Ann Admin", ben: "Ben Physicist", nia: "Nia New" }[name],
      institution: "Uni",
      experiment: "ATLAS",
      admin,
      pending: false,
      refreshToken: null,
    });
    const s = { ...newSession(), isAuthenticated: true, sub: `${name}-sub`, userId: u.id, admin };
    await app.deps.users.startSession(s.sid, {
      userId: u.id,
      iss: "https://issuer.dash-browser.example",
      sub: `${name}-sub`,
    });
    cookies[name] = app.deps.sessions.encode(s);
    const refresh = await app.deps.users.rotateApiToken(u.id);
    const r = await fetch(`${app.url}/token/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${refresh}` },
    });
    tokens[name] = ((await r.json()) as { access_token: string }).access_token;
  }
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  if (shots.length) console.log(`dashboard screenshots:\n  ${shots.join("\n  ")}`);
});

/** A browser page signed in as `who` (the session cookie sign-in sets). */
async function as(who: string): Promise<Page> {
  const page = await openPage(browser, undefined, { viewport: LAPTOP, timezoneId: "Europe/Zurich" });
  await page
    .context()
    .addCookies([
      { name: "sx_session", value: cookies[who]!, url: app.url, httpOnly: true, sameSite: "Lax" },
    ]);
  return page;
}

/** Runs axe-core in the page; returns its serious and critical violations as readable lines. */
async function audit(page: Page, label: string): Promise<string[]> {
  // evaluate() runs through the DevTools protocol: the page's CSP (no inline script) does not apply to it.
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: unknown[] }> } }
    ).axe;
    return (
      await axe.run((globalThis as unknown as { document: unknown }).document, {
        resultTypes: ["violations"],
      })
    ).violations;
  })) as Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }>;
  return violations
    .filter((v) => v.impact !== null && FAILING.has(v.impact))
    .map((v) => `${label}: [${v.impact}] ${v.id} (${v.help}) at ${JSON.stringify(v.nodes[0]?.target)}`);
}

/** Screenshots at both widths, with axe at each; returns the violations. */
async function shootAndAudit(page: Page, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    shots.push(await screenshot(page, `dashboard-${name}-${label}`));
    // Nothing wider than the screen (the table scrolls inside its own box if it must).
    const overflow = await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }
      ).document.documentElement;
      return d.scrollWidth - d.clientWidth;
    });
    if (overflow > 0) found.push(`${name} @ ${label}: the page is ${overflow} px wider than the screen`);
    found.push(...(await audit(page, `${name} @ ${label}`)));
  }
  await page.setViewportSize(LAPTOP);
  return found;
}

async function submit(token: string, o: { title: string; files?: number; did?: string }) {
  const r = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title: o.title,
      ...(o.did
        ? { did: o.did }
        : {
            "file-list": Array.from(
              { length: o.files ?? 1 },
              (_, i) => `root://eos.example//atlas/${randomBytes(4).toString("hex")}/DAOD_PHYS.${i}.root`,
            ),
          }),
      selection: "FuncADLQueryPHYSLITE().Select(lambda e: e.Jets())",
      codegen: "passthrough",
      "result-destination": "object-store",
    }),
  });
  expect(r.status).toBe(200);
  const requestId = ((await r.json()) as { request_id: string }).request_id;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const fileIds = (await app.deps.repos.datasets.files(rec.didId)).map((f) => f.id);
  return { requestId, id: rec.id, fileIds };
}

async function fileComplete(requestId: string, fileId: number, ok: boolean): Promise<void> {
  const r = await fetch(`${app.url}/servicex/internal/transformation/${requestId}/file-complete`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      requestId,
      "file-path": `root://eos.example//f${fileId}.root`,
      "file-id": fileId,
      status: ok ? "success" : "failure",
      "total-time": 2.5,
      "total-events": 10_000,
      "total-bytes": 4_000_000,
      "avg-rate": 4000,
      place: { host_name: `transformer-${requestId.slice(0, 8)}-pod`, site: "UC-AF" },
      ...(ok ? { "s3-object-name": `DAOD_PHYS.${fileId}.parquet` } : { error: "OSError: XRootD timeout" }),
    }),
  });
  expect(r.status).toBe(200);
}

describe("the dashboard in a browser", () => {
  it("shows a new user how to submit a first request", async () => {
    const page = await as("nia");
    try {
      const r = await page.goto(`${app.url}/dashboard`);
      expect(r?.status()).toBe(200);
      await expect(page.locator("h2").textContent()).resolves.toBe("No transform requests yet");
      expect(await page.locator(".empty-state pre").first().textContent()).toContain(`endpoint: ${app.url}`);
      expect(await page.locator(".empty-state pre").nth(1).textContent()).toContain("deliver(spec)");
      expect(await page.locator("table").count()).toBe(0);
      expect(await shootAndAudit(page, "empty")).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("updates a running row live when its files complete, then stops polling", async () => {
    const running = await submit(tokens.ben!, { title: `Jet pT live ${tag}`, files: 6 });
    const page = await as("ben");
    const polls: string[] = [];
    page.on("request", (req) => {
      if (req.url().includes("/dashboard/live")) polls.push(req.url());
    });
    try {
      await page.goto(`${app.url}/dashboard?q=${encodeURIComponent(`live ${tag}`)}`);
      const row = page.locator("table.dashboard tbody tr").first();
      expect(await row.locator(".status").textContent()).toBe("Running");
      expect(await row.locator(".files").textContent()).toBe("0 of 6 completed");
      expect(await page.locator('nav.filters a[data-filter="active"] .count').textContent()).toBe("1");
      expect(await page.locator('nav.filters a[data-filter="failed"] .count').textContent()).toBe("0");
      await page.waitForFunction(
        () => (globalThis as unknown as Doc).document.querySelector("#live-state")?.hidden === false,
      );
      expect(await page.locator("#live-state").textContent()).toBe("Updating 1 active request live.");
      const url = page.url();
      await shootAndAudit(page, "live-running").then((v) => expect(v).toEqual([]));

      // Reports arrive while the page is open: one file fails, five succeed.
      for (const [i, f] of running.fileIds.entries()) {
        await fileComplete(running.requestId, f, i !== 2);
        if (i === 2) {
          await page.waitForFunction(
            () =>
              (globalThis as unknown as Doc).document.querySelector("table.dashboard tbody tr .files")
                ?.textContent === "2 of 6 completed",
            undefined,
            { timeout: 20_000 },
          );
          expect(await row.locator(".bad").textContent()).toBe("1 failed (16.7%)");
        }
      }
      await eventually(
        async () => (await app.deps.repos.requests.find(running.requestId))!.status === "complete",
      );
      await page.waitForFunction(
        () =>
          (globalThis as unknown as Doc).document.querySelector("table.dashboard tbody tr .status")
            ?.textContent === "Complete with failures",
        undefined,
        { timeout: 20_000 },
      );
      expect(page.url()).toBe(url); // no reload: the row changed in place
      expect(await row.locator(".files").textContent()).toBe("5 of 6 completed");
      expect(
        await row
          .locator(".minibar .failed")
          .evaluate((e) => (e as unknown as { style: { width: string } }).style.width),
      ).toBe("16.7%");
      expect(await page.locator("#live-news").textContent()).toBe(
        `Jet pT live ${tag}: Complete with failures`,
      );
      expect(await page.locator("td[data-live-id]").count()).toBe(0);
      // the filters' counts followed the row: Active to Failed
      expect(await page.locator('nav.filters a[data-filter="active"] .count').textContent()).toBe("0");
      expect(await page.locator('nav.filters a[data-filter="failed"] .count').textContent()).toBe("1");
      await page.waitForFunction(() =>
        ((globalThis as unknown as Doc).document.querySelector("#live-state")?.textContent ?? "").startsWith(
          "Nothing on this page is active",
        ),
      );
      // The finish time arrived with the row, in the viewer's time zone.
      expect(await row.locator('td[data-label="Finished"] time').count()).toBe(1);
      const after = polls.length;
      expect(after).toBeGreaterThan(0);
      // Nothing active is left to ask for: no poll during the screenshots that follow either.
      await shootAndAudit(page, "live-done").then((v) => expect(v).toEqual([]));
      expect(polls.length).toBe(after);
    } finally {
      await page.context().close();
    }
  });

  it("filters by status, searches, shows badges, says when a page is past the end, and takes nonsense parameters", async () => {
    // Ben's other requests: complete, complete with failures, looking up a dataset, canceled.
    const clean = await submit(tokens.ben!, { title: `Zmumu skim ${tag}`, files: 2 });
    for (const f of clean.fileIds) await fileComplete(clean.requestId, f, true);
    const partial = await submit(tokens.ben!, { title: `ttbar partial ${tag}`, files: 10 });
    for (const [i, f] of partial.fileIds.entries()) await fileComplete(partial.requestId, f, i > 0);
    await submit(tokens.ben!, {
      title: `Higgs lookup ${tag}`,
      did: `rucio://mc23_13p6TeV:mc23_13p6TeV.601229.PhPy8EG_A14_ttbar_${tag}.deriv.DAOD_PHYS.e8514_p5855`,
    });
    const canceled = await submit(tokens.ben!, { title: `Tau canceled ${tag}`, files: 2 });
    const c = await fetch(`${app.url}/servicex/transformation/${canceled.requestId}/cancel`, {
      headers: { authorization: `Bearer ${tokens.ben}` },
    });
    expect(c.status).toBe(200);
    await eventually(async () => {
      const s = await Promise.all(
        [clean, partial, canceled].map(
          async (x) => (await app.deps.repos.requests.find(x.requestId))!.status,
        ),
      );
      return s.join() === "complete,complete,canceled";
    });
    for (let i = 0; i < 12; i++) await submit(tokens.ben!, { title: `Filler ${i} ${tag}`, files: 1 });

    const page = await as("ben");
    try {
      await page.goto(`${app.url}/dashboard`);
      const problems: string[] = [];
      problems.push(...(await shootAndAudit(page, "all")));
      // Badges, newest first.
      const badges = await page.locator("table.dashboard tbody .status").allTextContents();
      expect(badges.slice(0, 12)).toEqual(Array(12).fill("Running"));
      // The Failed count links to the failures.
      const failed = page.locator("nav.filters a", { hasText: "Failed" });
      expect(await failed.locator(".count").textContent()).toBe("2");
      await Promise.all([page.waitForURL(/status=failed/), failed.click()]);
      expect(await page.locator("table.dashboard tbody .status").allTextContents()).toEqual([
        "Complete with failures",
        "Complete with failures",
      ]);
      expect(await page.locator("nav.filters a[aria-current=page]").textContent()).toContain("Failed");
      problems.push(...(await shootAndAudit(page, "failed")));
      // A search typed into the box keeps the filter.
      await page.fill("#q", "TTBAR");
      await Promise.all([page.waitForURL(/q=TTBAR/), page.click("form.dash-search button[type=submit]")]);
      expect(page.url()).toContain("status=failed");
      expect(await page.locator("table.dashboard tbody tr a").allTextContents()).toEqual([
        `ttbar partial ${tag}`,
      ]);
      // The Active filter lists the lookup, which says what it does instead of "0 / 0".
      await page.goto(`${app.url}/dashboard?status=active&q=higgs`);
      expect(await page.locator("table.dashboard tbody .files").allTextContents()).toEqual([
        "Finding files…",
      ]);
      expect(await page.locator("table.dashboard tbody .status").allTextContents()).toEqual(["Lookup"]);
      problems.push(...(await shootAndAudit(page, "lookup")));
      // Sorting by status: the header cell carries aria-sort.
      await page.goto(`${app.url}/dashboard`);
      await Promise.all([page.waitForURL(/sort=status/), page.click("th a:has-text('Status')")]);
      expect(await page.locator("th[aria-sort]").textContent()).toContain("Status");
      expect(await page.locator("th[aria-sort]").getAttribute("aria-sort")).toBe("ascending");
      expect(await page.locator("a[aria-sort]").count()).toBe(0);
      const sorted = await page.locator("table.dashboard tbody .status").allTextContents();
      expect(sorted[0]).toBe("Running");
      // Past the end: said so, with a way back.
      await page.goto(`${app.url}/dashboard?page=999`);
      expect(await page.locator(".pager-past").textContent()).toContain(
        "Page 999 is past the end: there are 2 pages",
      );
      problems.push(...(await shootAndAudit(page, "past-end")));
      await Promise.all([page.waitForURL(/page=2$/), page.click(".pager-past a")]);
      expect(await page.locator("table.dashboard tbody tr").count()).toBeGreaterThan(0);
      // Nonsense parameters: the page, with what it did instead.
      const r = await page.goto(
        `${app.url}/dashboard?status=broken&sort=%3Cb%3E&order=up&page=-2&q=${"x".repeat(300)}`,
      );
      expect(r?.status()).toBe(200);
      const notes = await page.locator(".flash.warning").allTextContents();
      expect(notes.join("\n")).toMatch(/no status filter “broken”/);
      expect(notes.join("\n")).toMatch(/cannot be sorted by “<b>”/);
      expect(notes.join("\n")).toMatch(/cut to its first 200 characters/);
      expect(await page.locator("#q").inputValue()).toHaveLength(200);
      problems.push(...(await shootAndAudit(page, "bad-params")));
      expect(problems).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it("shows an administrator everyone's requests with their owners", async () => {
    const page = await as("ann");
    try {
      await page.goto(`${app.url}/global-dashboard?q=${tag}`);
      expect(await page.locator("table.dashboard thead th").allTextContents()).toEqual([
        "Title",
        "User",
        "Status",
        "Files",
        "Started ▼",
        "Finished",
      ]);
      expect(await page.locator('table.dashboard td[data-label="User"]').first().textContent()).toBe(
        "Ben Physicist",
      );
      expect(await page.locator("nav a", { hasText: "All requests" }).count()).toBe(1);
      expect(await shootAndAudit(page, "global")).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
