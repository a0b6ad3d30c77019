// What the web pages need besides the request, re-run and user services (docs/api.md "Pages"): the end of a
// browser sign-in, the signed-in user's record for the layout and the profile, the user list and a user's request count for the admin
// pages, an earlier removal of an account for the sign-in callback (docs/sign-in.md), the soft delete of a
// dataset, and the live state of a running request (its transformers, its queue), bounded in time so that a
// slow Kubernetes API or broker never holds a page.
import type { DatasetsRepo, RequestsRepo, UserRecord, UsersRepo } from "./repositories.js";
import type { TransformerLauncher } from "./ports.js";
import type { SignInIdentity, UserService } from "./users.service.js";

/** An account an administrator removed (deleted, or rejected while pending), as sign-in reports it. */
export interface RemovedAccount {
  removedAt: Date;
  /** The account was still waiting for approval: its sign-up was rejected (or deleted before approval). */
  wasPending: boolean;
}

/** The removed-accounts rows written by the database on every DELETE of a user (removedAccounts.repo.ts). */
export interface RemovedAccounts {
  latest(iss: string, subjects: readonly string[]): Promise<RemovedAccount | null>;
}

/** How long the request page waits for the launcher and for the broker. */
export interface LiveStateLimits {
  deploymentMs: number;
  queueMs: number;
}

/** A check that answered (`ok`), or did not within its limit or failed (`ok: false`, no value). */
export type Bounded<T> = { ok: true; value: T } | { ok: false; value: null };

/** Resolves within `ms` or gives `fallback` (a rejection gives `fallback` too). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => setTimeout(() => r(fallback), ms).unref()),
  ]);
}

export class PagesService {
  constructor(
    private readonly o: {
      users: Pick<UsersRepo, "byId" | "byIdWithStatus" | "list">;
      accounts: Pick<UserService, "signIn" | "startSession">;
      removedAccounts: RemovedAccounts;
      requests: Pick<RequestsRepo, "count">;
      datasets: Pick<DatasetsRepo, "markStale">;
      launcher: Pick<TransformerLauncher, "deploymentStatus">;
      /** Messages waiting in a queue, when the broker can tell (null: no such queue). */
      queueDepth?: ((queue: string) => Promise<number | null>) | undefined;
    },
  ) {}

  /**
   * The end of a browser sign-in (docs/sign-in.md): the account keyed by the identity's subject (never one
   * found by e-mail) and the server-side record of session `sid`. `user` is the account signed in to, or
   * null: no profile yet, or a pre-provisioned account to claim (the profile form does both); `removed` is an
   * earlier removal by an administrator of an account of this identity, asked only when there is none now.
   */
  async signIn(
    sid: string,
    id: SignInIdentity,
  ): Promise<{ user: UserRecord | null; removed: RemovedAccount | null }> {
    const found = await this.o.accounts.signIn(id);
    const user = found?.refreshToken ? found : null;
    await this.o.accounts.startSession(sid, { userId: user?.id ?? null, iss: id.iss, sub: id.sub });
    const removed = found ? null : await this.o.removedAccounts.latest(id.iss, id.subjects);
    return { user, removed };
  }

  /** A user by id (the signed-in viewer, a request's submitter, the user an admin action names). */
  user(id: number): Promise<UserRecord | null> {
    return this.o.users.byId(id);
  }

  /** A user with the e-mail verification state the profile page shows. */
  profile(id: number): Promise<UserRecord | null> {
    return this.o.users.byIdWithStatus(id);
  }

  /** Every user, pending first (they wait for someone), then by name. */
  async usersForAdmin(): Promise<UserRecord[]> {
    const all = await this.o.users.list();
    return all.sort(
      (a, b) => Number(b.pending) - Number(a.pending) || a.name.localeCompare(b.name) || a.id - b.id,
    );
  }

  /** How many transform requests a user submitted. */
  requestCount(userId: number): Promise<number> {
    return this.o.requests.count({ submittedBy: userId });
  }

  /** Soft delete (the dataset becomes stale); false when it already was. */
  markDatasetStale(id: number): Promise<boolean> {
    return this.o.datasets.markStale(id);
  }

  /** Whether the launcher can report a request's transformers (the Kubernetes launchers). */
  get reportsTransformers(): boolean {
    return Boolean(this.o.launcher.deploymentStatus);
  }

  /**
   * A running request's transformer Deployment and queue depth, each null when not asked for (a finished
   * request, a launcher or broker that cannot tell), `ok: false` when it did not answer within its limit.
   */
  async liveState(
    requestId: string,
    ask: { deployment: boolean; queue: boolean },
    limits: LiveStateLimits,
  ): Promise<{ deployment: Bounded<object | null> | null; queueDepth: Bounded<number | null> | null }> {
    const status = this.o.launcher.deploymentStatus?.bind(this.o.launcher);
    const depth = this.o.queueDepth;
    const failed = { ok: false as const, value: null };
    const [deployment, queueDepth] = await Promise.all([
      ask.deployment && status
        ? within<Bounded<object | null>>(
            status(requestId).then((value) => ({ ok: true as const, value })),
            limits.deploymentMs,
            failed,
          )
        : Promise.resolve(null),
      ask.queue && depth
        ? within<Bounded<number | null>>(
            depth(`transformer-${requestId}`).then((value) => ({ ok: true as const, value })),
            limits.queueMs,
            failed,
          )
        : Promise.resolve(null),
    ]);
    return { deployment, queueDepth };
  }
}
