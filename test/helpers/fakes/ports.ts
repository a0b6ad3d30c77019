// In-memory fakes of the outside-world ports (src/domain/ports.ts, src/domain/objectStore.ts) that record
// what the domain asked of them and can be told to fail.
import type { ObjectStore } from "../../../src/domain/objectStore.js";
import type {
  CodeGenerator,
  GeneratedCode,
  LaunchSpec,
  LookupTask,
  TaskBroker,
  TransformTask,
  TransformerLauncher,
} from "../../../src/domain/ports.js";

/** A broker that confirms every publish at once (or rejects while `down`). */
export class FakeBroker implements TaskBroker {
  readonly tasks: TransformTask[] = [];
  readonly lookups: LookupTask[] = [];
  readonly deletedQueues: string[] = [];
  down = false;
  private readonly listeners = new Set<() => void>();

  async publishTransformTasks(_requestId: string, tasks: readonly TransformTask[]): Promise<void> {
    if (this.down) throw new Error("broker down");
    this.tasks.push(...tasks);
  }
  async publishLookup(task: LookupTask): Promise<void> {
    if (this.down) throw new Error("broker down");
    this.lookups.push(task);
  }
  async deleteTransformQueue(requestId: string): Promise<void> {
    this.deletedQueues.push(requestId);
  }
  onConnected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  isConnected(): boolean {
    return !this.down;
  }
  async close(): Promise<void> {}

  /** The file ids published for one request, in order. */
  fileIds(requestId: string): number[] {
    return this.tasks.filter((t) => t.request_id === requestId).map((t) => t.file_id);
  }
}

export class FakeLauncher implements TransformerLauncher {
  readonly kind = "fake";
  readonly started: LaunchSpec[] = [];
  readonly shutdowns: string[] = [];
  /** When set, start() rejects with this message. */
  failStart: string | null = null;

  async start(spec: LaunchSpec): Promise<void> {
    if (this.failStart !== null) throw new Error(this.failStart);
    this.started.push(spec);
  }
  async shutdown(requestId: string): Promise<void> {
    this.shutdowns.push(requestId);
  }
  shutdownCount(requestId: string): number {
    return this.shutdowns.filter((r) => r === requestId).length;
  }
}

/** Generators by name; `down` makes generate() throw as an unreachable generator would. */
export class FakeCodeGenerator implements CodeGenerator {
  down = false;
  calls = 0;
  constructor(
    private readonly images: Record<string, string> = {
      uproot: "sslhep/servicex_func_adl_uproot_transformer:test",
    },
  ) {}

  names(): string[] {
    return Object.keys(this.images);
  }
  async generate(codegen: string, selection: string): Promise<GeneratedCode> {
    this.calls += 1;
    if (this.down) throw new Error("connect ECONNREFUSED");
    return {
      image: this.images[codegen] ?? "unknown:image",
      language: "python",
      command: "transform.py",
      zip: Buffer.from(selection),
    };
  }
}

export class FakeObjectStore implements ObjectStore {
  readonly buckets = new Map<string, Map<string, Uint8Array | string>>();
  /** When set, createBucket() rejects with this message. */
  failCreate: string | null = null;

  async createBucket(name: string): Promise<void> {
    if (this.failCreate !== null) throw new Error(this.failCreate);
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }
  async deleteBucketAndContents(name: string): Promise<number> {
    const n = this.buckets.get(name)?.size ?? 0;
    this.buckets.delete(name);
    return n;
  }
  async listBuckets(): Promise<string[]> {
    return [...this.buckets.keys()];
  }
  async putObject(bucket: string, key: string, body: Uint8Array | string): Promise<void> {
    await this.createBucket(bucket);
    this.buckets.get(bucket)!.set(key, body);
  }
  async putFile(bucket: string, key: string, path: string): Promise<void> {
    await this.putObject(bucket, key, path);
  }
  async presignGet(bucket: string, key: string): Promise<string> {
    return `memory://${bucket}/${key}`;
  }
  async objectSize(bucket: string, key: string): Promise<number | null> {
    const body = this.buckets.get(bucket)?.get(key);
    return body === undefined ? null : typeof body === "string" ? Buffer.byteLength(body) : body.length;
  }
  async ping(): Promise<boolean> {
    return true;
  }
  close(): void {}
}
