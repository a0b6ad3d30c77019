// Contract of the users, token, device-flow, dataset, instance-information and health routes (docs/api.md):
// each answer of the real App (Postgres, sign-in on, a real OIDC provider for the terminal sign-in, a local
// Slack stand-in) is checked against the response schema that the App's own /openapi.json publishes for
// that route and status (loaded from the App, turned into a validator; object schemas are closed, so an
// undocumented field fails too), and against the field names the clients read. One 200 and at least one
// error answer per route.
import { randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  FakeSlack,
  slackBlockActionsPayload,
  slackInteractionBody,
  slackSignedHeaders,
} from "../helpers/fakeSlack.js";
import { type Answer, type CallOptions, httpCall } from "../helpers/http.js";
import { type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const ADMIN_EMAIL = "chief@contract.example";
const SIGNING_SECRET = `contract-slack-${randomBytes(6).toString("hex")}`;
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/**
 * Fields the clients read, per route. docs/api.md names some in its tables (`{"client", "config"}`); the rest
 * are what the Python `servicex` client and the admin tools read (datasets: docs/decisions.md D25).
 */
const CLIENT_READS = {
  info: ["app-version", "code-gen-image", "capabilities"],
  token: ["access_token"],
  user: ["email", "id", "admin", "pending"],
  pendingUser: ["email", "id", "admin"],
  dataset: [
    "id",
    "name",
    "did_finder",
    "n_files",
    "size",
    "events",
    "last_used",
    "last_updated",
    "lookup_status",
    "is_stale",
  ],
  datasetFile: ["id", "adler32", "file_size", "file_events", "paths"],
  datasetDeleted: ["dataset-id", "stale"],
  error: ["message"],
} as const;

interface OpenApiDoc {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: { "application/json"?: { schema: unknown } } }> }>
  >;
}

let provider: OidcTestProvider;
let app: TestApp;
let doc: OpenApiDoc;
let apiMap: string;
const slack = new FakeSlack();
let adminToken: string;
let userToken: string;

const call = (method: string, path: string, o: CallOptions = {}) => httpCall(`${app.url}${path}`, method, o);

/** The validator of the response `status` of `method path` as /openapi.json publishes it. */
function documented(method: string, path: string, status: number): z.ZodType {
  const openApiPath = path.replace(/:(\w+)/g, "{$1}");
  const response = doc.paths[openApiPath]?.[method.toLowerCase()]?.responses[String(status)];
  expect(response, `${method} ${path} documents ${status}`).toBeDefined();
  const schema = response?.content?.["application/json"]?.schema;
  expect(schema, `${method} ${path} ${status} has a JSON schema`).toBeDefined();
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

/** The answer has `status`, and its body is what the document says `route` answers with it. */
function expectDocumented(r: Answer, route: string, status: number): Record<string, unknown> {
  const [method, path] = route.split(" ") as [string, string];
  expect(r.status, `${route}: ${r.text.slice(0, 300)}`).toBe(status);
  const check = documented(method, path, status).safeParse(r.json);
  expect(check.error, `${route} ${status} body ${r.text.slice(0, 300)}`).toBeUndefined();
  return r.json as Record<string, unknown>;
}

function expectFields(body: unknown, fields: readonly string[]): void {
  expect(Object.keys(body as object)).toEqual(expect.arrayContaining([...fields]));
}

/** The `{"a", "b"}` field list docs/api.md gives in the table row of `route`. */
function fieldsInApiMap(route: string): string[] {
  const row = apiMap.split("\n").find((l) => l.startsWith(`| \`${route}\``));
  expect(row, `docs/api.md has a row for ${route}`).toBeDefined();
  const list = /\{("[^{}]+")\}/.exec(row!)?.[1];
  expect(list, `docs/api.md names the fields of ${route}`).toBeDefined();
  return [...list!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

async function user(label: string, o: { approved: boolean }) {
  const email = `${label}.${randomBytes(3).toString("hex")}@contract.example`;
  const u = (await app.deps.users.provision({
    sub: `s-${randomUUID()}`,
    email,
    name: label,
    institution: "U",
  }))!;
  if (o.approved) await app.deps.users.accept(u.email);
  return u;
}

/** A terminal's device flow at the provider, approved by `account`: the provider's access token. */
async function providerAccessToken(account: string): Promise<string> {
  const form = async (url: string, fields: Record<string, string>) => {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, string>;
  };
  const md = (await (await fetch(provider.metadataUrl)).json()) as Record<string, string>;
  const da = await form(md.device_authorization_endpoint!, {
    client_id: provider.deviceClientId,
    scope: "openid profile email",
  });
  expect(await provider.approveDeviceWithHttp(da.verification_uri_complete!, account)).toBe("approved");
  const tok = await form(md.token_endpoint!, {
    grant_type: DEVICE_GRANT,
    device_code: da.device_code!,
    client_id: provider.deviceClientId,
  });
  return tok.access_token!;
}

beforeAll(async () => {
  await slack.start();
  provider = await startOidcProvider({
    users: {
      terminal: {
        name: "Term Inal",
        organization: "Uni",
        email: "terminal@contract.example",
        emailVerified: true,
      },
    },
  });
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      ENABLE_METRICS: "true",
      JWT_SECRET_KEY: `contract-jwt-${randomBytes(8).toString("hex")}`,
      SECRET_KEY: "contract-session-secret-0123456789",
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: provider.metadataUrl,
      OAUTH_CLIENT_ID: provider.clientId,
      OAUTH_CLIENT_SECRET: provider.clientSecret,
      OAUTH_DEVICE_FLOW_CLIENT_ID: provider.deviceClientId,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_RESPONSE_URL_HOSTS: JSON.stringify(["hooks.slack.com", slack.url]),
    },
  });
  const admin = (await app.deps.users.provision({
    sub: "chief-sub",
    email: ADMIN_EMAIL,
    name: "Chief",
    institution: "HQ",
  }))!;
  adminToken = app.deps.jwt!.issue("access", admin.email).token;
  userToken = app.deps.jwt!.issue("access", (await user("someone", { approved: true })).email).token;
  const r = await call("GET", "/openapi.json");
  expect(r.status).toBe(200);
  doc = r.json as OpenApiDoc;
  apiMap = await readFile(new URL("../../docs/api.md", import.meta.url), "utf8");
}, 120_000);

afterAll(async () => {
  await app?.close();
  await provider?.stop();
  await slack.stop();
});

describe("Instance information and health", () => {
  it("When GET /servicex and GET /multiple-codegen-list are called, then the bodies are the documented ones", async () => {
    const info = expectDocumented(await call("GET", "/servicex"), "GET /servicex", 200);
    expectFields(info, CLIENT_READS.info);
    expectDocumented(await call("GET", "/multiple-codegen-list"), "GET /multiple-codegen-list", 200);
  });

  it("When /healthz, /readyz, /openapi.json and /metrics are called, then they answer as documented", async () => {
    expect(expectDocumented(await call("GET", "/healthz"), "GET /healthz", 200)).toEqual({ status: "ok" });
    const ready = expectDocumented(await call("GET", "/readyz"), "GET /readyz", 200);
    expect(ready.status).toBe("ready");
    // /readyz's 503 body has the same documented schema (covered by the outage tests' answers).
    documented("GET", "/readyz", 503);
    const metrics = await call("GET", "/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(doc.paths["/metrics"]?.get).toBeDefined();
  });
});

describe("Tokens", () => {
  it("When POST /token/refresh gets the user's API token, then the body is documented and has access_token; without a token it is the documented 401", async () => {
    const u = await user("refresher", { approved: true });
    const apiToken = await app.deps.users.rotateApiToken(u.id);
    const ok = expectDocumented(
      await call("POST", "/token/refresh", { token: apiToken }),
      "POST /token/refresh",
      200,
    );
    expectFields(ok, CLIENT_READS.token);
    expect(ok.auth_disabled).toBe(false);
    expectDocumented(await call("POST", "/token/refresh"), "POST /token/refresh", 401);
    expectDocumented(
      await call("POST", "/token/refresh", { token: "not-a-jwt" }),
      "POST /token/refresh",
      422,
    );
  });
});

describe("User administration", () => {
  it("When an admin lists users and pending users, then each item has the fields clients read; a non-admin gets the documented 403, no token the documented 401", async () => {
    const p = await user("waiting", { approved: false });
    const all = expectDocumented(await call("GET", "/users", { token: adminToken }), "GET /users", 200);
    for (const u of all.users as unknown[]) expectFields(u, CLIENT_READS.user);
    const pending = expectDocumented(
      await call("GET", "/pending", { token: adminToken }),
      "GET /pending",
      200,
    );
    expect((pending.users as Array<{ email: string }>).map((u) => u.email)).toContain(p.email);
    for (const u of pending.users as unknown[]) expectFields(u, CLIENT_READS.pendingUser);
    expectDocumented(await call("GET", "/users", { token: userToken }), "GET /users", 403);
    expectDocumented(await call("GET", "/pending"), "GET /pending", 401);
  });

  it("When an admin accepts a pending user and deletes one, then the answers are documented; unknown ones are the documented 404s", async () => {
    const p = await user("accept-me", { approved: false });
    const ok = expectDocumented(
      await call("POST", "/accept", { token: adminToken, body: { email: p.email } }),
      "POST /accept",
      200,
    );
    expectFields(ok, CLIENT_READS.error);
    expectDocumented(
      await call("POST", "/accept", { token: adminToken, body: { email: "nobody@contract.example" } }),
      "POST /accept",
      404,
    );
    const d = await user("delete-me", { approved: true });
    expectDocumented(
      await call("DELETE", `/users/${d.id}`, { token: adminToken }),
      "DELETE /users/:user_id",
      200,
    );
    const gone = expectDocumented(
      await call("DELETE", `/users/${d.id}`, { token: adminToken }),
      "DELETE /users/:user_id",
      404,
    );
    expectFields(gone, CLIENT_READS.error);
  });

  it("When DELETE /pending and DELETE /users are called by a non-admin, then the documented 403; by the admin, the documented count (last: it removes the admin)", async () => {
    expectDocumented(await call("DELETE", "/pending", { token: userToken }), "DELETE /pending", 403);
    expectDocumented(await call("DELETE", "/users", { token: userToken }), "DELETE /users", 403);
    await user("pending-to-delete", { approved: false });
    expectDocumented(await call("DELETE", "/pending", { token: adminToken }), "DELETE /pending", 200);
    // Runs last in this file's user tests: every user, the admin too, is gone afterwards.
    expectDocumented(await call("DELETE", "/users", { token: adminToken }), "DELETE /users", 200);
  });
});

describe("Slack buttons", () => {
  it("When a signed Approve click arrives, then 200 with an empty body; an unsigned one is the documented 401; a non-interaction the documented 400", async () => {
    const p = await user("slack", { approved: false });
    const payload = slackBlockActionsPayload({
      actionId: "accept_user",
      value: p.email,
      responseUrl: slack.responseUrl(randomBytes(3).toString("hex")),
    });
    const body = slackInteractionBody(payload);
    const ok = await call("POST", "/slack", { raw: body, headers: slackSignedHeaders(SIGNING_SECRET, body) });
    expect({ status: ok.status, text: ok.text }).toEqual({ status: 200, text: "" });
    const forged = await call("POST", "/slack", {
      raw: body,
      headers: slackSignedHeaders("another-secret", body),
    });
    expectFields(expectDocumented(forged, "POST /slack", 401), CLIENT_READS.error);
    const junk = "payload=nope";
    expectDocumented(
      await call("POST", "/slack", { raw: junk, headers: slackSignedHeaders(SIGNING_SECRET, junk) }),
      "POST /slack",
      400,
    );
  });
});

describe("Sign-in from a terminal", () => {
  it("When a terminal asks where to sign in and trades a provider token, then the bodies are documented with docs/api.md's fields; no token is the documented 401", async () => {
    const info = expectDocumented(await call("GET", "/device-flow-info"), "GET /device-flow-info", 200);
    expectFields(info, fieldsInApiMap("GET /device-flow-info"));
    const token = await providerAccessToken("terminal");
    const out = expectDocumented(
      await call("GET", "/bearer-token-exchange", { token }),
      "GET /bearer-token-exchange",
      200,
    );
    expectFields(out, fieldsInApiMap("GET /bearer-token-exchange"));
    expectDocumented(await call("GET", "/bearer-token-exchange"), "GET /bearer-token-exchange", 401);
  });
});

describe("Cached datasets", () => {
  it("When a dataset is listed, read with its files and marked stale twice, then every answer is documented with the fields clients read", async () => {
    const token = app.deps.jwt!.issue("access", (await user("datasets", { approved: true })).email).token;
    const paths = [`root://eos//${randomBytes(4).toString("hex")}/a.root`, "root://eos//b.root"];
    const sub = await call("POST", "/servicex/transformation", {
      token,
      body: {
        "file-list": paths,
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      },
    });
    expect(sub.status, sub.text).toBe(200);
    const requestId = (sub.json as { request_id: string }).request_id;
    const req = await app.deps.repos.requests.find(requestId);
    const datasetId = req!.didId;

    const list = expectDocumented(
      await call("GET", "/servicex/datasets?did-finder=user", { token }),
      "GET /servicex/datasets",
      200,
    );
    const listed = (list.datasets as Array<{ id: number }>).find((d) => d.id === datasetId);
    expect(listed).toBeDefined();
    expectFields(listed, CLIENT_READS.dataset);
    expectDocumented(await call("GET", "/servicex/datasets"), "GET /servicex/datasets", 401);

    const one = expectDocumented(
      await call("GET", `/servicex/datasets/${datasetId}`, { token }),
      "GET /servicex/datasets/:dataset_id",
      200,
    );
    expectFields(one, [...CLIENT_READS.dataset, "files"]);
    expect(one.files).toHaveLength(2);
    for (const f of one.files as unknown[]) expectFields(f, CLIENT_READS.datasetFile);
    expectDocumented(
      await call("GET", "/servicex/datasets/999999999", { token }),
      "GET /servicex/datasets/:dataset_id",
      404,
    );

    const stale = expectDocumented(
      await call("DELETE", `/servicex/datasets/${datasetId}`, { token }),
      "DELETE /servicex/datasets/:dataset_id",
      200,
    );
    expect(stale).toEqual({ "dataset-id": datasetId, stale: true });
    expectFields(stale, CLIENT_READS.datasetDeleted);
    expectDocumented(
      await call("DELETE", `/servicex/datasets/${datasetId}`, { token }),
      "DELETE /servicex/datasets/:dataset_id",
      400,
    );
  });
});
