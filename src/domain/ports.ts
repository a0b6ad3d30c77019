// Ports: what the domain needs from the outside world. Adapters in src/adapters implement them; buildApp()
// receives concrete instances, so tests can pass real adapters or small fakes without module mocking.

/** kwargs of a `transformer_sidecar.transform_file` Celery task (docs/broker.md, docs/decisions.md D27). */
export interface TransformTask {
  request_id: string;
  file_id: number;
  paths: string[];
  service_endpoint: string;
  result_destination: string;
  result_format: string;
}

/** args of a `did_finder_<scheme>.lookup_dataset` Celery task (docs/broker.md): [did, dataset_id, endpoint]. */
export interface LookupTask {
  scheme: string;
  did: string;
  datasetId: number;
  endpoint: string;
}

/**
 * The App's side of RabbitMQ (or the in-process broker of the embedded default).
 * Every publish resolves only once the broker has confirmed every message; it rejects when the
 * connection is lost before that, so the caller (the dispatcher) keeps Postgres as the source of truth.
 */
export interface TaskBroker {
  /** Declares `transformer-<request_id>` (non-durable, auto-delete) and publishes one task per entry. */
  publishTransformTasks(requestId: string, tasks: readonly TransformTask[]): Promise<void>;
  /** Declares exchange+queue `did_finder_<scheme>` (durable, direct) and publishes the lookup task. */
  publishLookup(task: LookupTask): Promise<void>;
  /** Removes `transformer-<request_id>` (used at shutdown); missing queue is not an error. */
  deleteTransformQueue(requestId: string): Promise<void>;
  /** Listener runs after every (re)connection, once the channel is usable again. Returns an unsubscribe. */
  onConnected(listener: () => void): () => void;
  /** True while a usable connection exists. */
  isConnected(): boolean;
  /** Waits for outstanding confirms, then closes. */
  close(): Promise<void>;
}

/** What the code generator returns (docs/codegen.md): the science image, language, command and a zip. */
export interface GeneratedCode {
  image: string;
  language: string;
  command: string;
  /** zip of the generated files; the transformer launcher turns it into the `<id>-generated-source` ConfigMap. */
  zip: Buffer;
}

export interface CodeGenerator {
  /** Names usable as `codegen` in a submit. */
  names(): string[];
  /** Throws CodeGenError (domain/errors.ts) with a user-facing message when the generator fails. */
  generate(codegen: string, selection: string): Promise<GeneratedCode>;
}

/** Everything a launcher needs to start the transformers of one request. */
export interface LaunchSpec {
  requestId: string;
  image: string;
  workers: number;
  files: number;
  resultDestination: string;
  resultFormat: string;
  transformerLanguage: string | null;
  transformerCommand: string | null;
  generatedCode: GeneratedCode | null;
}

/** Starts and stops transformers (Kubernetes, local processes, or nothing when disabled). */
export interface TransformerLauncher {
  readonly kind: string;
  start(spec: LaunchSpec): Promise<void>;
  /** Idempotent; missing objects are not an error. Called exactly once per request reaching a terminal state. */
  shutdown(requestId: string): Promise<void>;
  /** The transformer Deployment's status in upstream's snake_case form, or null when there is none. */
  deploymentStatus?(requestId: string): Promise<object | null>;
  /** Every transformer object this launcher can find (kubernetes-cleanup); launchers without objects omit it. */
  listObjects?(): Promise<LaunchedObject[]>;
  /** Start-up checks (e.g. the results PVC exists and is Bound); throws with an operator-facing message. */
  verifyStartup?(): Promise<void>;
}

/** One object a launcher created for a request (a ConfigMap, Deployment or HPA on Kubernetes). */
export interface LaunchedObject {
  kind: string;
  name: string;
  requestId: string;
  createdAt: Date | null;
}

/** User-facing notifications (Slack sign-up message, welcome e-mail); the identity issue fills it in. */
export interface Notifier {
  /** `emailVerified`: whether the identity provider vouches for the e-mail (absent: not known). */
  userSignedUp(user: { email: string; name: string; emailVerified?: boolean }): Promise<void>;
  userApproved(user: { email: string; name: string }): Promise<void>;
}

export const noopNotifier: Notifier = {
  async userSignedUp() {},
  async userApproved() {},
};
