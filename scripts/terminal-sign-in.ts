// Sign in to a ServiceX App from a terminal (an ssh session, a batch node) and write servicex.yaml for the
// Python `servicex` client. docs/sign-in.md "Signing in from a terminal" describes the flow:
//   1. GET <app>/device-flow-info           → the public client id and the provider's discovery document
//   2. POST <device_authorization_endpoint> → a user code and a verification URL (RFC 8628)
//   3. you open the URL in any browser, enter the code and sign in at your identity provider
//   4. POST <token_endpoint> (polling)      → the provider's access token
//   5. GET <app>/bearer-token-exchange      → your ServiceX API token (`jwt`), and whether it awaits approval
//   6. POST <app>/token/refresh             → checks the API token works
//   7. servicex.yaml (mode 0600)            → api_endpoints: [{name, endpoint, token}], default_endpoint
//
//   npx tsx scripts/terminal-sign-in.ts --app https://servicex.example.org [--out servicex.yaml]
//        [--name <endpoint name>] [--force] [--stdout]
//
// The Python client reads `.servicex` or `servicex.yaml` from the current directory, then each parent
// directory, then the home directory; --out chooses where this one goes (default ./servicex.yaml). Without
// --force an existing file is left alone and the new content is printed instead. --stdout prints the file
// and writes nothing. Only Node's own modules are used, so the file can be copied and run anywhere.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const TIMEOUT_MS = 30_000;

class Stop extends Error {}

function usage(): never {
  console.error(
    "usage: npx tsx scripts/terminal-sign-in.ts --app <ServiceX URL> [--out servicex.yaml] [--name <name>] [--force] [--stdout]",
  );
  process.exit(2);
}

/** The JSON body of a response, or a Stop naming what answered what. */
async function json(res: Response, what: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new Stop(
    `${what} answered HTTP ${res.status} with something that is not JSON: ${text.slice(0, 200)}`,
  );
}

async function call(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new Stop(
      `${what} (${url}) could not be reached: ${(err as Error).cause ?? (err as Error).message}`,
    );
  }
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
  body: new URLSearchParams(fields).toString(),
});

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: "string" },
      out: { type: "string", default: "servicex.yaml" },
      name: { type: "string" },
      force: { type: "boolean", default: false },
      stdout: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help || !values.app) usage();
  const app = values.app.replace(/\/+$/, "");
  const name = values.name ?? new URL(app).hostname;

  // 1. Where to sign in.
  const infoRes = await call(
    `${app}/device-flow-info`,
    { headers: { accept: "application/json" } },
    "ServiceX",
  );
  const info = await json(infoRes, "ServiceX /device-flow-info");
  if (infoRes.status !== 200) {
    throw new Stop(
      `This ServiceX does not offer sign-in from a terminal: ${str(info.message) ?? infoRes.status}`,
    );
  }
  const clientId = str(info.client);
  const discoveryUrl = str(info.config);
  if (!clientId || !discoveryUrl) throw new Stop("ServiceX /device-flow-info gave no client or config");
  const discovery = await json(await call(discoveryUrl, {}, "The identity provider"), "discovery document");
  const deviceEndpoint = str(discovery.device_authorization_endpoint);
  const tokenEndpoint = str(discovery.token_endpoint);
  if (!deviceEndpoint || !tokenEndpoint) {
    throw new Stop(`The identity provider (${discoveryUrl}) publishes no device authorization endpoint`);
  }

  // 2. A code for the person.
  const daRes = await call(
    deviceEndpoint,
    form({ client_id: clientId, scope: "openid profile email" }),
    "device authorization",
  );
  const da = await json(daRes, "device authorization");
  const deviceCode = str(da.device_code);
  const userCode = str(da.user_code);
  const verificationUri = str(da.verification_uri) ?? str(da.verification_url);
  if (daRes.status !== 200 || !deviceCode || !userCode || !verificationUri) {
    throw new Stop(
      `The identity provider refused the device authorization: ${str(da.error_description) ?? str(da.error) ?? daRes.status}`,
    );
  }
  const expiresIn = typeof da.expires_in === "number" ? da.expires_in : 600;
  let interval = typeof da.interval === "number" && da.interval > 0 ? da.interval : 5;
  console.log(`To sign in to ServiceX at ${app}:`);
  console.log(`  1. open ${verificationUri} in a browser (on any computer or phone)`);
  console.log(`  2. enter the code ${userCode} and sign in`);
  const complete = str(da.verification_uri_complete);
  if (complete) console.log(`  (or open ${complete} , which fills in the code)`);
  console.log(`Waiting for you (the code expires in ${Math.round(expiresIn / 60)} min)...`);

  // 3-4. Poll the token endpoint as RFC 8628 §3.5 says.
  const deadline = Date.now() + expiresIn * 1000;
  let accessToken: string | undefined;
  while (!accessToken) {
    if (Date.now() > deadline) throw new Stop("The code expired before it was approved; run this again.");
    await new Promise((r) => setTimeout(r, interval * 1000));
    const res = await call(
      tokenEndpoint,
      form({ grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: clientId }),
      "token endpoint",
    );
    const body = await json(res, "token endpoint");
    if (res.status === 200 && str(body.access_token)) {
      accessToken = str(body.access_token);
      break;
    }
    switch (body.error) {
      case "authorization_pending":
        continue;
      case "slow_down":
        interval += 5;
        continue;
      case "access_denied":
        throw new Stop("The sign-in was refused at the identity provider.");
      case "expired_token":
        throw new Stop("The code expired before it was approved; run this again.");
      default:
        throw new Stop(
          `The token endpoint refused: ${str(body.error_description) ?? str(body.error) ?? res.status}`,
        );
    }
  }

  // 5. The provider's token for the ServiceX API token.
  const exRes = await call(
    `${app}/bearer-token-exchange`,
    { headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" } },
    "ServiceX",
  );
  const ex = await json(exRes, "ServiceX /bearer-token-exchange");
  const jwt = str(ex.jwt);
  if (exRes.status !== 200 || !jwt) {
    throw new Stop(
      `ServiceX refused the sign-in (HTTP ${exRes.status}): ${str(ex.message) ?? JSON.stringify(ex)}`,
    );
  }
  console.log(`Signed in as ${str(ex.email) ?? "?"}${ex.admin === true ? " (administrator)" : ""}.`);

  // 6. The API token works at /token/refresh (pending accounts get an access token the API still refuses).
  const rf = await call(
    `${app}/token/refresh`,
    { method: "POST", headers: { authorization: `Bearer ${jwt}` } },
    "ServiceX",
  );
  if (rf.status !== 200) {
    throw new Stop(
      `ServiceX issued a token that /token/refresh refuses (HTTP ${rf.status}): ${await rf.text()}`,
    );
  }
  if (ex.pending === true) {
    console.log(
      "Your account awaits approval by a ServiceX administrator: until then the API refuses the token.",
    );
    console.log(
      "You will get an e-mail when it is approved; the same token then works, with nothing to download again.",
    );
  }

  // 7. servicex.yaml, the shape the Python client reads (and /.servicex serves).
  const yaml = [
    "api_endpoints:",
    `  - name: ${name}`,
    `    endpoint: ${app}`,
    `    token: ${jwt}`,
    `default_endpoint: ${name}`,
    "",
  ].join("\n");
  const out = resolve(values.out);
  if (values.stdout) {
    process.stdout.write(yaml);
    return;
  }
  if (existsSync(out) && !values.force) {
    console.log(`${out} exists and was left alone (--force replaces it). Its new content would be:`);
    process.stdout.write(yaml);
    return;
  }
  writeFileSync(out, yaml, { mode: 0o600 });
  chmodSync(out, 0o600); // also when --force replaced a file made with other permissions
  console.log(`Wrote ${out} (readable only by you).`);
  console.log(
    "The servicex Python client finds it when run from this directory or below; or copy it to your home directory.",
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Stop ? err.message : err);
  process.exitCode = 1;
});
