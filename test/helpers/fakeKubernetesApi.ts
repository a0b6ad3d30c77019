// A small stand-in for kube-apiserver speaking the REST paths the Kubernetes launcher uses: core/v1
// configmaps and persistentvolumeclaims, apps/v1 deployments and autoscaling/v1 horizontalpodautoscalers in
// a namespace (create, get, delete, list with or without fieldSelector metadata.name / labelSelector, also
// across all namespaces). Answers carry the real shapes: 201 with the stored object (uid, resourceVersion,
// creationTimestamp set by the server), 409 AlreadyExists and 404 NotFound `Status` objects, a success
// `Status` on delete, `<Kind>List` on list.
//
// Every created object is validated like the real API server would: against the official Kubernetes JSON
// schemas (kubernetes-models, generated from the OpenAPI of the API server) plus the most common semantic
// checks of the apiserver's validation (names, labels, selector vs template labels, volume mounts, quantities,
// ConfigMap keys/size, HPA bounds). An invalid object gets 422 `Invalid` with `details.causes`, is not
// stored, and is recorded in `invalidObjects`, so a launcher bug shows up as a failed test.
//
// Every request is recorded; faults (status, delay) can be injected per method and resource, and objects
// can be injected directly (e.g. an old Deployment for age-based cleanup, a Bound/Pending PVC).
import { randomUUID } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v1/HorizontalPodAutoscaler";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";

export type Resource = "configmaps" | "deployments" | "horizontalpodautoscalers" | "persistentvolumeclaims";

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

/** One `causes` entry of a 422 Invalid Status, as kube-apiserver writes it. */
export interface StatusCause {
  reason: "FieldValueRequired" | "FieldValueInvalid" | "FieldValueDuplicate" | "FieldValueNotFound";
  message: string;
  field: string;
}

/** An object the fake refused with 422 Invalid. */
export interface InvalidObject {
  namespace: string;
  resource: Resource;
  kind: string;
  name: string;
  /** The Status message sent back. */
  message: string;
  causes: StatusCause[];
  body: unknown;
}

export interface InjectOptions {
  /** metadata.creationTimestamp to store (default now); a Date or an RFC 3339 string. */
  creationTimestamp?: Date | string;
}

const KINDS: Record<Resource, { kind: string; apiVersion: string; prefix: string; group: string }> = {
  configmaps: { kind: "ConfigMap", apiVersion: "v1", prefix: "/api/v1", group: "" },
  persistentvolumeclaims: { kind: "PersistentVolumeClaim", apiVersion: "v1", prefix: "/api/v1", group: "" },
  deployments: { kind: "Deployment", apiVersion: "apps/v1", prefix: "/apis/apps/v1", group: "apps" },
  horizontalpodautoscalers: {
    kind: "HorizontalPodAutoscaler",
    apiVersion: "autoscaling/v1",
    prefix: "/apis/autoscaling/v1",
    group: "autoscaling",
  },
};

/** The official schema of each resource (kubernetes-models: `new X(obj).validate()` throws on a violation). */
const MODELS: Record<Resource, new (data: never) => { validate(): void }> = {
  configmaps: ConfigMap,
  persistentvolumeclaims: PersistentVolumeClaim,
  deployments: Deployment,
  horizontalpodautoscalers: HorizontalPodAutoscaler,
};

/** /<prefix>[/namespaces/<ns>]/<resource>[/<name>] */
const PATH =
  /^\/(?:api\/v1|apis\/apps\/v1|apis\/autoscaling\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?$/;

type Obj = { metadata: Record<string, unknown> & { name: string }; [k: string]: unknown };

const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

export class FakeKubernetesApi {
  readonly requests: RecordedRequest[] = [];
  /** Every object refused with 422 Invalid by the schema/semantic validation (injected faults excluded). */
  readonly invalidObjects: InvalidObject[] = [];
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

  /**
   * `inject(fault)`: answer matching requests with a fault (status and/or delay).
   * `inject(namespace, resource, obj, { creationTimestamp })`: store an object as if someone else created
   * it (server fields filled in; an explicit creationTimestamp e.g. for age-based cleanup tests).
   */
  inject(fault: Fault): void;
  inject(namespace: string, resource: Resource, obj: Obj, opts?: InjectOptions): Obj;
  inject(
    faultOrNamespace: Fault | string,
    resource?: Resource,
    obj?: Obj,
    opts: InjectOptions = {},
  ): Obj | undefined {
    if (typeof faultOrNamespace !== "string") {
      this.faults.push({ ...faultOrNamespace, left: faultOrNamespace.times ?? Number.POSITIVE_INFINITY });
      return undefined;
    }
    if (!resource || !obj) throw new Error("inject(namespace, resource, obj) needs a resource and an object");
    return this.put(faultOrNamespace, resource, obj, opts);
  }

  /** A PersistentVolumeClaim in `phase` (Bound, Pending, Lost), as the PV controller would leave it. */
  injectPvc(namespace: string, name: string, phase: "Bound" | "Pending" | "Lost" = "Bound"): Obj {
    return this.put(namespace, "persistentvolumeclaims", {
      metadata: { name },
      spec: {
        accessModes: ["ReadWriteMany"],
        resources: { requests: { storage: "10Gi" } },
        ...(phase === "Bound" ? { volumeName: `pvc-${randomUUID()}` } : {}),
        volumeMode: "Filesystem",
      },
      status:
        phase === "Bound"
          ? { phase, accessModes: ["ReadWriteMany"], capacity: { storage: "10Gi" } }
          : { phase },
    });
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

  /** Number of objects stored, all namespaces and resources (PVCs included). */
  get size(): number {
    return this.objects.size;
  }

  /** Objects a transformer launcher owns (ConfigMaps, Deployments, HPAs): PVCs are the cluster's. */
  get launcherObjects(): Array<{ namespace: string; resource: Resource; name: string }> {
    return [...this.objects.keys()]
      .map((k) => {
        const [namespace, resource, name] = k.split("/") as [string, Resource, string];
        return { namespace, resource, name };
      })
      .filter((o) => o.resource !== "persistentvolumeclaims");
  }

  /** Recorded requests with this method on this resource (e.g. count("POST", "deployments")). */
  count(method: string, resource: Resource, status?: number): number {
    return this.requests.filter(
      (r) =>
        r.method === method &&
        PATH.exec(r.path)?.[2] === resource &&
        (status === undefined || r.status === status),
    ).length;
  }

  /** Sets `.status` of a stored object (what the controllers would do). */
  setStatus(namespace: string, resource: Resource, name: string, status: unknown): void {
    const obj = this.get(namespace, resource, name);
    if (!obj) throw new Error(`no ${resource} ${name}`);
    obj.status = status;
  }

  /**
   * Stores an object directly, as if someone else created it; fills in apiVersion, kind, namespace, uid,
   * resourceVersion and creationTimestamp (now unless given in `opts` or already in the object).
   */
  put(namespace: string, resource: Resource, obj: Obj, opts: InjectOptions = {}): Obj {
    const { kind, apiVersion } = KINDS[resource];
    const ts = opts.creationTimestamp ?? (obj.metadata.creationTimestamp as string | undefined) ?? new Date();
    const stored: Obj = {
      apiVersion,
      kind,
      ...obj,
      metadata: {
        uid: randomUUID(),
        ...obj.metadata,
        namespace,
        resourceVersion: String(this.rv++),
        creationTimestamp: typeof ts === "string" ? ts : rfc3339(ts),
      },
    };
    this.objects.set(`${namespace}/${resource}/${obj.metadata.name}`, stored);
    return stored;
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
    const namespace = m[1] !== undefined ? decodeURIComponent(m[1]) : undefined;
    const name = m[3] ? decodeURIComponent(m[3]) : undefined;
    const { kind, apiVersion, group } = KINDS[resource];

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

    // Cluster-wide: only list (GET /apis/apps/v1/deployments).
    if (namespace === undefined) {
      if (method === "GET" && !name) {
        const items = this.select(
          [...this.objects.values()].filter((o) => o.kind === kind),
          query,
        );
        if (typeof items === "string") send(400, statusObj(400, "BadRequest", items));
        else send(200, listObj(kind, apiVersion, items, this.rv, query));
        return;
      }
      send(404, statusObj(404, "NotFound", `the server could not find the requested resource`));
      return;
    }

    const key = (n: string) => `${namespace}/${resource}/${n}`;
    if (method === "POST" && !name) {
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        send(400, statusObj(400, "BadRequest", `the body of the request was in an unknown format`));
        return;
      }
      const obj = body as Partial<Obj> & Record<string, unknown>;
      if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
        send(
          400,
          statusObj(
            400,
            "BadRequest",
            `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
          ),
        );
        return;
      }
      if (obj.kind !== undefined && obj.kind !== kind) {
        send(
          400,
          statusObj(
            400,
            "BadRequest",
            `the kind in the data (${String(obj.kind)}) does not match the expected kind (${kind})`,
          ),
        );
        return;
      }
      const bodyNs = obj.metadata?.namespace;
      if (bodyNs !== undefined && bodyNs !== "" && bodyNs !== namespace) {
        send(
          400,
          statusObj(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
          ),
        );
        return;
      }
      const objName = typeof obj.metadata?.name === "string" ? obj.metadata.name : "";
      const causes = validateObject(resource, obj);
      if (causes.length > 0) {
        const qualified = group ? `${kind}.${group}` : kind;
        const message = `${qualified} "${objName}" is invalid: ${causes
          .map((c) => `${c.field}: ${c.message}`)
          .join(", ")}`;
        this.invalidObjects.push({ namespace, resource, kind, name: objName, message, causes, body });
        send(422, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message,
          reason: "Invalid",
          details: { name: objName, group, kind, causes },
          code: 422,
        });
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
          creationTimestamp: rfc3339(new Date()),
        },
      };
      // A real API server answers an HPA create with its (empty) status; some clients require these fields.
      if (resource === "horizontalpodautoscalers") stored.status = { currentReplicas: 0, desiredReplicas: 0 };
      if (resource === "deployments") stored.status = {};
      if (resource === "persistentvolumeclaims") stored.status = { phase: "Pending" };
      this.objects.set(key(objName), stored);
      send(201, stored);
      return;
    }
    if (method === "GET" && !name) {
      const items = this.select(this.list(namespace, resource), query);
      if (typeof items === "string") send(400, statusObj(400, "BadRequest", items));
      else send(200, listObj(kind, apiVersion, items, this.rv, query));
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

  /** fieldSelector / labelSelector filtering; a string is a 400 message for an unparsable selector. */
  private select(items: Obj[], query: Record<string, string>): Obj[] | string {
    let out = items;
    const fs = query.fieldSelector;
    if (fs) {
      for (const term of fs.split(",")) {
        const neg = term.includes("!=");
        const [field, value] = term.split(/!=|==|=/) as [string, string | undefined];
        const get = (o: Obj) =>
          field === "metadata.name"
            ? o.metadata.name
            : field === "metadata.namespace"
              ? (o.metadata.namespace as string)
              : undefined;
        if (field !== "metadata.name" && field !== "metadata.namespace") {
          return `"${field}" is not a known field selector: only "metadata.name", "metadata.namespace"`;
        }
        out = out.filter((o) => (get(o) === value) !== neg);
      }
    }
    const ls = query.labelSelector;
    if (ls) {
      const reqs = parseLabelSelector(ls);
      if (typeof reqs === "string") return reqs;
      out = out.filter((o) => {
        const labels = (o.metadata.labels as Record<string, string> | undefined) ?? {};
        return reqs.every((r) => r(labels));
      });
    }
    return out;
  }
}

function listObj(kind: string, apiVersion: string, items: Obj[], rv: number, query: Record<string, string>) {
  const sorted = [...items].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
  // limit/continue pagination as the API server does it (continue token opaque to clients).
  const offset = query.continue ? Number(Buffer.from(query.continue, "base64url").toString("utf8")) || 0 : 0;
  const limit = query.limit ? Number(query.limit) : 0;
  const page = limit > 0 ? sorted.slice(offset, offset + limit) : sorted.slice(offset);
  const more = limit > 0 && offset + limit < sorted.length;
  return {
    kind: `${kind}List`,
    apiVersion,
    metadata: {
      resourceVersion: String(rv),
      ...(more
        ? {
            continue: Buffer.from(String(offset + limit)).toString("base64url"),
            remainingItemCount: sorted.length - offset - limit,
          }
        : {}),
    },
    items: page,
  };
}

/** Label selector (equality- and set-based), each requirement a predicate; a string is a parse error. */
function parseLabelSelector(sel: string): Array<(labels: Record<string, string>) => boolean> | string {
  const terms: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of sel) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(cur);
      cur = "";
    } else cur += ch;
  }
  terms.push(cur);
  const out: Array<(labels: Record<string, string>) => boolean> = [];
  for (const raw of terms) {
    const t = raw.trim();
    const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t);
    const eq = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(t);
    const absent = /^!([^\s!=(),]+)$/.exec(t);
    const exists = /^([^\s!=(),]+)$/.exec(t);
    if (set) {
      const [, k, op, vals] = set as unknown as [string, string, string, string];
      const values = new Set(vals.split(",").map((v) => v.trim()));
      out.push(op === "in" ? (l) => k in l && values.has(l[k]!) : (l) => !(k in l) || !values.has(l[k]!));
    } else if (eq) {
      const [, k, op, v] = eq as unknown as [string, string, string, string];
      out.push(op === "!=" ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if (absent) {
      const k = absent[1]!;
      out.push((l) => !(k in l));
    } else if (exists) {
      const k = exists[1]!;
      out.push((l) => k in l);
    } else {
      return `unable to parse requirement: found '${t}'`;
    }
  }
  return out;
}

// ---- validation: schema (kubernetes-models) + the apiserver's common semantic checks ---------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .filter((p) => p !== "")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), "");
}

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

function schemaCauses(resource: Resource, obj: unknown): StatusCause[] {
  try {
    new MODELS[resource](obj as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!Array.isArray(errors)) {
      return [
        { reason: "FieldValueInvalid", field: "", message: `Invalid value: ${(err as Error).message}` },
      ];
    }
    return errors.map((e) => {
      const base = fieldPath(e.instancePath);
      if (e.keyword === "required") {
        const missing = String(e.params.missingProperty);
        return {
          reason: "FieldValueRequired",
          field: base ? `${base}.${missing}` : missing,
          message: "Required value",
        };
      }
      return {
        reason: "FieldValueInvalid",
        field: base,
        message: `Invalid value: ${e.message ?? e.keyword}`,
      };
    });
  }
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === "object" && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function nameCauses(name: unknown, field: string, pattern: RegExp, max: number, what: string): StatusCause[] {
  if (typeof name !== "string" || name === "") {
    return [{ reason: "FieldValueRequired", field, message: "Required value" }];
  }
  if (name.length > max || !pattern.test(name)) {
    return [
      {
        reason: "FieldValueInvalid",
        field,
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 ${what} must consist of lower case alphanumeric characters, '-'${what === "subdomain" ? " or '.'" : ""}, and must start and end with an alphanumeric character (at most ${max} characters)`,
      },
    ];
  }
  return [];
}

function labelCauses(labels: unknown, field: string): StatusCause[] {
  if (labels === undefined) return [];
  const out: StatusCause[] = [];
  for (const [k, v] of Object.entries(isRec(labels) ? labels : {})) {
    const [prefix, nm] = k.includes("/") ? (k.split("/", 2) as [string, string]) : [null, k];
    if (
      (prefix !== null && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) ||
      nm.length > 63 ||
      !QUALIFIED_NAME.test(nm)
    ) {
      out.push({
        reason: "FieldValueInvalid",
        field,
        message: `Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.'`,
      });
    }
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      out.push({
        reason: "FieldValueInvalid",
        field,
        message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (at most 63 characters)`,
      });
    }
  }
  return out;
}

function quantityCauses(resources: unknown, field: string): StatusCause[] {
  const out: StatusCause[] = [];
  if (!isRec(resources)) return out;
  for (const part of ["limits", "requests"] as const) {
    const q = resources[part];
    if (!isRec(q)) continue;
    for (const [res, v] of Object.entries(q)) {
      const s = typeof v === "number" ? String(v) : v;
      if (typeof s !== "string" || !QUANTITY.test(s)) {
        out.push({
          reason: "FieldValueInvalid",
          field: `${field}.${part}[${res}]`,
          message: `Invalid value: ${JSON.stringify(v)}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
        });
      }
    }
  }
  const lim = isRec(resources.limits) ? resources.limits : {};
  const req = isRec(resources.requests) ? resources.requests : {};
  for (const [res, v] of Object.entries(req)) {
    const l = lim[res];
    if (l !== undefined && parseQuantity(v) > parseQuantity(l)) {
      out.push({
        reason: "FieldValueInvalid",
        field: `${field}.requests[${res}]`,
        message: `Invalid value: ${JSON.stringify(v)}: must be less than or equal to ${res} limit of ${String(l)}`,
      });
    }
  }
  return out;
}

function parseQuantity(v: unknown): number {
  const s = String(v);
  const m = /^([+-]?[\d.]+)(.*)$/.exec(s);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  const mult: Record<string, number> = {
    "": 1,
    n: 1e-9,
    u: 1e-6,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    P: 1e15,
    E: 1e18,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  const suffix = m[2] ?? "";
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  return n * (mult[suffix] ?? Number.NaN);
}

function podSpecCauses(spec: Rec, field: string): StatusCause[] {
  const out: StatusCause[] = [];
  const volumes = arr(spec.volumes).filter(isRec);
  const volumeNames = new Set<string>();
  volumes.forEach((v, i) => {
    const f = `${field}.volumes[${i}].name`;
    out.push(...nameCauses(v.name, f, DNS1123_LABEL, 63, "label"));
    if (typeof v.name === "string") {
      if (volumeNames.has(v.name)) {
        out.push({
          reason: "FieldValueDuplicate",
          field: f,
          message: `Duplicate value: ${JSON.stringify(v.name)}`,
        });
      }
      volumeNames.add(v.name);
    }
    const sources = Object.keys(v).filter((k) => k !== "name");
    if (sources.length !== 1) {
      out.push({
        reason: sources.length === 0 ? "FieldValueRequired" : "FieldValueInvalid",
        field: `${field}.volumes[${i}]`,
        message:
          sources.length === 0
            ? "Required value: must specify a volume type"
            : "Forbidden: may not specify more than 1 volume type",
      });
    }
  });
  const containers = arr(spec.containers).filter(isRec);
  if (containers.length === 0) {
    out.push({ reason: "FieldValueRequired", field: `${field}.containers`, message: "Required value" });
  }
  const containerNames = new Set<string>();
  containers.forEach((c, i) => {
    const cf = `${field}.containers[${i}]`;
    out.push(...nameCauses(c.name, `${cf}.name`, DNS1123_LABEL, 63, "label"));
    if (typeof c.name === "string") {
      if (containerNames.has(c.name)) {
        out.push({
          reason: "FieldValueDuplicate",
          field: `${cf}.name`,
          message: `Duplicate value: ${JSON.stringify(c.name)}`,
        });
      }
      containerNames.add(c.name);
    }
    if (typeof c.image !== "string" || c.image.trim() === "") {
      out.push({ reason: "FieldValueRequired", field: `${cf}.image`, message: "Required value" });
    }
    if (
      c.imagePullPolicy !== undefined &&
      !["Always", "IfNotPresent", "Never"].includes(String(c.imagePullPolicy))
    ) {
      out.push({
        reason: "FieldValueInvalid",
        field: `${cf}.imagePullPolicy`,
        message: `Unsupported value: ${JSON.stringify(c.imagePullPolicy)}: supported values: "Always", "IfNotPresent", "Never"`,
      });
    }
    arr(c.volumeMounts)
      .filter(isRec)
      .forEach((vm, j) => {
        if (typeof vm.name !== "string" || !volumeNames.has(vm.name)) {
          out.push({
            reason: "FieldValueNotFound",
            field: `${cf}.volumeMounts[${j}].name`,
            message: `Not found: ${JSON.stringify(vm.name)}`,
          });
        }
        if (typeof vm.mountPath !== "string" || vm.mountPath === "") {
          out.push({
            reason: "FieldValueRequired",
            field: `${cf}.volumeMounts[${j}].mountPath`,
            message: "Required value",
          });
        }
      });
    arr(c.env)
      .filter(isRec)
      .forEach((e, j) => {
        if (typeof e.name !== "string" || e.name === "") {
          out.push({
            reason: "FieldValueRequired",
            field: `${cf}.env[${j}].name`,
            message: "Required value",
          });
        }
        if (e.value !== undefined && e.valueFrom !== undefined) {
          out.push({
            reason: "FieldValueInvalid",
            field: `${cf}.env[${j}].valueFrom`,
            message: 'Invalid value: "": may not be specified when `value` is not empty',
          });
        }
      });
    out.push(...quantityCauses(c.resources, `${cf}.resources`));
  });
  return out;
}

/** The causes the API server would list for this object (empty: valid). */
export function validateObject(resource: Resource, obj: unknown): StatusCause[] {
  const out = schemaCauses(resource, obj);
  if (!isRec(obj)) return out;
  const meta = isRec(obj.metadata) ? obj.metadata : {};
  out.push(...nameCauses(meta.name, "metadata.name", DNS1123_SUBDOMAIN, 253, "subdomain"));
  out.push(...labelCauses(meta.labels, "metadata.labels"));
  const spec = isRec(obj.spec) ? obj.spec : {};

  if (resource === "configmaps") {
    const data = isRec(obj.data) ? obj.data : {};
    const bin = isRec(obj.binaryData) ? obj.binaryData : {};
    let size = 0;
    for (const [k, v] of Object.entries(data)) {
      if (!CONFIGMAP_KEY.test(k)) {
        out.push({
          reason: "FieldValueInvalid",
          field: "data",
          message: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
        });
      }
      size += k.length + Buffer.byteLength(String(v));
    }
    for (const [k, v] of Object.entries(bin)) {
      if (!CONFIGMAP_KEY.test(k)) {
        out.push({
          reason: "FieldValueInvalid",
          field: "binaryData",
          message: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
        });
      }
      if (k in data) {
        out.push({
          reason: "FieldValueInvalid",
          field: "binaryData",
          message: `Invalid value: ${JSON.stringify(k)}: duplicate of key present in data`,
        });
      }
      if (typeof v === "string" && (v.length % 4 !== 0 || !BASE64.test(v))) {
        out.push({
          reason: "FieldValueInvalid",
          field: `binaryData[${k}]`,
          message: "Invalid value: illegal base64 data",
        });
      }
      size += k.length + (typeof v === "string" ? Buffer.from(v, "base64").byteLength : 0);
    }
    if (size > 1024 * 1024) {
      out.push({
        reason: "FieldValueInvalid",
        field: "",
        message: `Too long: must have at most 1048576 bytes`,
      });
    }
  }

  if (resource === "deployments") {
    const template = isRec(spec.template) ? spec.template : {};
    const tmeta = isRec(template.metadata) ? template.metadata : {};
    const tlabels = isRec(tmeta.labels) ? (tmeta.labels as Record<string, unknown>) : {};
    out.push(...labelCauses(tmeta.labels, "spec.template.metadata.labels"));
    const selector = isRec(spec.selector) ? spec.selector : null;
    const matchLabels = selector && isRec(selector.matchLabels) ? selector.matchLabels : {};
    if (selector && Object.keys(matchLabels).length === 0 && arr(selector.matchExpressions).length === 0) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.selector",
        message: "Invalid value: {}: empty selector is invalid for deployment",
      });
    }
    out.push(...labelCauses(matchLabels, "spec.selector.matchLabels"));
    if (Object.entries(matchLabels).some(([k, v]) => tlabels[k] !== v)) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.template.metadata.labels",
        message: `Invalid value: ${JSON.stringify(tlabels)}: \`selector\` does not match template \`labels\``,
      });
    }
    if (typeof spec.replicas === "number" && spec.replicas < 0) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.replicas",
        message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
      });
    }
    const pod = isRec(template.spec) ? template.spec : null;
    if (pod) {
      if (pod.restartPolicy !== undefined && pod.restartPolicy !== "Always") {
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.template.spec.restartPolicy",
          message: `Unsupported value: ${JSON.stringify(pod.restartPolicy)}: supported values: "Always"`,
        });
      }
      if (typeof pod.terminationGracePeriodSeconds === "number" && pod.terminationGracePeriodSeconds < 0) {
        out.push({
          reason: "FieldValueInvalid",
          field: "spec.template.spec.terminationGracePeriodSeconds",
          message: "Invalid value: must be greater than or equal to 0",
        });
      }
      out.push(...podSpecCauses(pod, "spec.template.spec"));
    }
  }

  if (resource === "horizontalpodautoscalers") {
    const min = typeof spec.minReplicas === "number" ? spec.minReplicas : 1;
    const max = spec.maxReplicas;
    if (min < 1) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.minReplicas",
        message: `Invalid value: ${min}: must be greater than or equal to 1`,
      });
    }
    if (typeof max === "number" && max < min) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.maxReplicas",
        message: `Invalid value: ${max}: must be greater than or equal to \`minReplicas\``,
      });
    }
    const cpu = spec.targetCPUUtilizationPercentage;
    if (typeof cpu === "number" && cpu < 1) {
      out.push({
        reason: "FieldValueInvalid",
        field: "spec.targetCPUUtilizationPercentage",
        message: `Invalid value: ${cpu}: must be greater than or equal to 1`,
      });
    }
    const ref = isRec(spec.scaleTargetRef) ? spec.scaleTargetRef : {};
    for (const f of ["kind", "name"] as const) {
      if (typeof ref[f] !== "string" || ref[f] === "") {
        out.push({
          reason: "FieldValueRequired",
          field: `spec.scaleTargetRef.${f}`,
          message: "Required value",
        });
      }
    }
  }
  // The same problem reported twice (schema + semantic) is listed once, as the API server aggregates.
  const seen = new Set<string>();
  return out.filter((c) => {
    const k = `${c.field}|${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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

/** A kubeconfig file (YAML) pointing at `url`, for KUBECONFIG of an App started from the environment. */
export function kubeConfigYaml(url: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${url}`,
    "    insecure-skip-tls-verify: true",
    "users:",
    "- name: fake",
    "  user:",
    "    token: test-token",
    "contexts:",
    "- name: fake",
    "  context:",
    "    cluster: fake",
    "    user: fake",
    "current-context: fake",
    "",
  ].join("\n");
}

export async function startFakeKubernetesApi(): Promise<FakeKubernetesApi> {
  return new FakeKubernetesApi().start();
}
