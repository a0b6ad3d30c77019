// A small stand-in for kube-apiserver speaking the REST paths the Kubernetes launcher uses: core/v1
// configmaps, apps/v1 deployments and autoscaling/v1 horizontalpodautoscalers in a namespace (create, get,
// delete, list with fieldSelector metadata.name / labelSelector k=v). Answers carry the real shapes: 201 with
// the stored object, 409 AlreadyExists and 404 NotFound `Status` objects, a success `Status` on delete.
// Every request is recorded; faults (status, delay) can be injected per method and resource.
import { randomUUID } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";

export type Resource = "configmaps" | "deployments" | "horizontalpodautoscalers";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
  status: number;
}

export interface Fault {
  method?: string;
  resource: Resource;
  /** Answer this status with a Status object instead of handling the request. */
  status?: number;
  message?: string;
  reason?: string;
  /** Wait this long before handling (or faulting) the request. */
  delayMs?: number;
  /** How many matching requests the fault applies to (default: every one). */
  times?: number;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string; prefix: string }> = {
  configmaps: { kind: "ConfigMap", apiVersion: "v1", prefix: "/api/v1" },
  deployments: { kind: "Deployment", apiVersion: "apps/v1", prefix: "/apis/apps/v1" },
  horizontalpodautoscalers: {
    kind: "HorizontalPodAutoscaler",
    apiVersion: "autoscaling/v1",
    prefix: "/apis/autoscaling/v1",
  },
};

const PATH =
  /^\/(?:api\/v1|apis\/apps\/v1|apis\/autoscaling\/v1)\/namespaces\/([^/]+)\/([a-z]+)(?:\/([^/]+))?$/;

type Obj = { metadata: Record<string, unknown> & { name: string }; [k: string]: unknown };

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  /** namespace/resource/name → stored object */
  private readonly objects = new Map<string, Obj>();
  private faults: Array<Fault & { left: number }> = [];
  private server: Server | null = null;
  private rv = 1;
  url = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.handle(req.method ?? "GET", req.url ?? "/", req.headers["content-type"], chunks, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** A KubeConfig pointing at this server (plain http needs insecure-skip-tls-verify in client-node 1.x). */
  kubeConfig(): KubeConfig {
    return kubeConfigFor(this.url);
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? Number.POSITIVE_INFINITY });
  }

  clearFaults(): void {
    this.faults = [];
  }

  get(namespace: string, resource: Resource, name: string): Obj | undefined {
    return this.objects.get(`${namespace}/${resource}/${name}`);
  }

  list(namespace: string, resource: Resource): Obj[] {
    const prefix = `${namespace}/${resource}/`;
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }

  /** Number of objects stored, all namespaces and resources. */
  get size(): number {
    return this.objects.size;
  }

  /** Sets `.status` of a stored object (what the controllers would do). */
  setStatus(namespace: string, resource: Resource, name: string, status: unknown): void {
    const obj = this.get(namespace, resource, name);
    if (!obj) throw new Error(`no ${resource} ${name}`);
    obj.status = status;
  }

  /** Stores an object directly, as if someone else created it. */
  put(namespace: string, resource: Resource, obj: Obj): void {
    this.objects.set(`${namespace}/${resource}/${obj.metadata.name}`, obj);
  }

  private async handle(
    method: string,
    rawUrl: string,
    contentType: string | undefined,
    chunks: Buffer[],
    res: ServerResponse,
  ): Promise<void> {
    const url = new URL(rawUrl, "http://fake");
    const query = Object.fromEntries(url.searchParams.entries());
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = null;
    if (text !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const rec: RecordedRequest = { method, path: url.pathname, query, contentType, body, status: 0 };
    this.requests.push(rec);
    const send = (status: number, payload: unknown) => {
      rec.status = status;
      if (res.destroyed) return;
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };

    const m = PATH.exec(url.pathname);
    const resource = m?.[2] as Resource | undefined;
    if (!m || !resource || !(resource in KINDS) || !url.pathname.startsWith(KINDS[resource].prefix)) {
      send(404, statusObj(404, "NotFound", `the server could not find the requested resource`));
      return;
    }
    const namespace = m[1]!;
    const name = m[3] ? decodeURIComponent(m[3]) : undefined;
    const { kind, apiVersion } = KINDS[resource];

    const fault = this.faults.find(
      (f) => f.resource === resource && (!f.method || f.method === method) && f.left > 0,
    );
    if (fault) {
      fault.left--;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.status) {
        send(
          fault.status,
          statusObj(
            fault.status,
            fault.reason ?? reasonFor(fault.status),
            fault.message ?? `injected ${fault.status}`,
            name,
            resource,
          ),
        );
        return;
      }
    }

    const key = (n: string) => `${namespace}/${resource}/${n}`;
    if (method === "POST" && !name) {
      const obj = body as Obj;
      const objName = obj?.metadata?.name;
      if (!objName) {
        send(
          422,
          statusObj(422, "Invalid", `${kind} "" is invalid: metadata.name: Required value`, "", resource),
        );
        return;
      }
      if (this.objects.has(key(objName))) {
        send(
          409,
          statusObj(409, "AlreadyExists", `${resource} "${objName}" already exists`, objName, resource),
        );
        return;
      }
      const stored: Obj = {
        ...obj,
        apiVersion,
        kind,
        metadata: {
          ...obj.metadata,
          name: objName,
          namespace,
          uid: randomUUID(),
          resourceVersion: String(this.rv++),
          creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        },
      };
      // A real API server answers an HPA create with its (empty) status; some clients require these fields.
      if (resource === "horizontalpodautoscalers") stored.status = { currentReplicas: 0, desiredReplicas: 0 };
      if (resource === "deployments") stored.status = {};
      this.objects.set(key(objName), stored);
      send(201, stored);
      return;
    }
    if (method === "GET" && !name) {
      let items = this.list(namespace, resource);
      const fs = query.fieldSelector;
      if (fs) {
        for (const term of fs.split(",")) {
          const [field, value] = term.split("=");
          if (field === "metadata.name") items = items.filter((o) => o.metadata.name === value);
          else if (field === "metadata.namespace") items = items.filter(() => namespace === value);
        }
      }
      const ls = query.labelSelector;
      if (ls) {
        for (const term of ls.split(",")) {
          const [k, v] = term.split("=");
          items = items.filter((o) => (o.metadata.labels as Record<string, string> | undefined)?.[k!] === v);
        }
      }
      send(200, { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
      return;
    }
    if (name && (method === "GET" || method === "DELETE")) {
      const obj = this.objects.get(key(name));
      if (!obj) {
        send(404, statusObj(404, "NotFound", `${resource} "${name}" not found`, name, resource));
        return;
      }
      if (method === "GET") {
        send(200, obj);
        return;
      }
      this.objects.delete(key(name));
      send(200, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        details: { name, kind: resource, uid: obj.metadata.uid },
      });
      return;
    }
    send(
      405,
      statusObj(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`),
    );
  }
}

function reasonFor(status: number): string {
  switch (status) {
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "AlreadyExists";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    default:
      return status >= 500 ? "InternalError" : "BadRequest";
  }
}

function statusObj(code: number, reason: string, message: string, name?: string, kind?: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(name !== undefined ? { details: { name, kind } } : {}),
    code,
  };
}

/** A KubeConfig for a plain-http API server at `url` (client-node 1.x needs insecure-skip-tls-verify). */
export function kubeConfigFor(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
    users: [{ name: "fake", token: "test-token" }],
    contexts: [{ name: "fake", cluster: "fake", user: "fake" }],
    currentContext: "fake",
  });
  return kc;
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  return new FakeKubeApi().start();
}
