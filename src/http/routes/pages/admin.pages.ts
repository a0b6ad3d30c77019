// Administration of users (newer upstream /admin/... views): pending users first, approve, reject, make or
// revoke admin, delete. Every action is a CSRF-checked form POST calling UserService, the same code as the
// admin API (POST /accept, DELETE /users/<id>, Slack approve/reject), so e-mails and caches behave alike.
// Every action but approve asks first: the list links to GET /admin/users/<id>/<action>, a confirmation
// page saying what changes or is lost, whose form makes the POST (docs/api.md "Pages").
// Guard: a signed-in administrator; with ENABLE_AUTH=false the page is open, as the admin API is then.
import { type Request, type Response, Router } from "express";
import { AppError } from "../../../domain/errors.js";
import type { PagesService } from "../../../domain/pages.service.js";
import type { UserRecord } from "../../../domain/repositories.js";
import type { UserService } from "../../../domain/users.service.js";
import { flash, requireCsrf } from "../../middleware/session.js";
import type { Confirmation, PageKit } from "./kit.js";

/** "1 request", "3 requests". */
const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

/** What the admin pages use: the user service's actions (as the admin API) and the users as pages list them. */
export interface AdminPageServices {
  users: Pick<UserService, "accept" | "reject" | "setAdmin" | "deleteUser">;
  pages: Pick<PagesService, "user" | "usersForAdmin" | "requestCount">;
}

export function adminPages(s: AdminPageServices, kit: PageKit): Router {
  const r = Router();
  const { users, pages } = s;

  /** The user named by the URL, or null (not a number, or no such user). */
  const userParam = async (req: Request) => {
    const id = /^\d{1,9}$/.test(String(req.params.id)) ? Number(req.params.id) : null;
    return id === null ? null : pages.user(id);
  };

  // The confirmation pages: what each action changes or loses, in the words of the user it is done to.
  type Confirm = (u: UserRecord, requests: number) => Omit<Confirmation, "action" | "back">;
  const CONFIRM: Record<string, Confirm> = {
    reject: (u) => ({
      heading: `Reject ${u.name}?`,
      text: `${u.name} (${u.email}) signed up and waits for approval. Rejecting removes the sign-up.`,
      consequences: [
        "The profile and its API token are deleted; the API keeps refusing the token.",
        "No e-mail is sent. If they sign in again, they are told their sign-up was not approved and may sign up again.",
      ],
      button: "Reject sign-up",
      danger: true,
    }),
    delete: (u, n) => ({
      heading: `Delete ${u.name}?`,
      text: `The account of ${u.name} (${u.email}) is deleted at once. This cannot be undone.`,
      consequences: [
        "Their API token stops working and they are signed out everywhere.",
        n > 0
          ? `Their ${plural(n, "transform request")} and results stay, owned by nobody: only administrators see them from now on.`
          : "They have no transform requests.",
        "If they sign in again they are told the account was deleted, and may ask for a new one (approved again).",
      ],
      button: "Delete user",
      danger: true,
    }),
    "make-admin": (u) => ({
      heading: `Make ${u.name} an administrator?`,
      text: `${u.name} (${u.email}) gets every administrator right.`,
      consequences: [
        "They see and may cancel or delete every user's requests.",
        "They approve, reject and delete users, and make or revoke administrators.",
        "They delete datasets and call the admin API with their token.",
      ],
      button: "Make administrator",
    }),
    "revoke-admin": (u) => ({
      heading: `Revoke ${u.name}'s administrator rights?`,
      text: `${u.name} (${u.email}) becomes an ordinary user.`,
      consequences: [
        "They are signed out of every browser at once (their sessions had administrator rights).",
        "They see only their own requests; the admin pages and the admin API refuse them.",
        "Their API token keeps working for their own requests.",
      ],
      button: "Revoke administrator rights",
    }),
  };
  r.get("/admin/users/:id/:action", kit.adminRequired, async (req, res) => {
    const action = String(req.params.action);
    const make = Object.hasOwn(CONFIRM, action) ? CONFIRM[action] : undefined;
    const user = make ? await userParam(req) : null;
    if (!make || !user) return kit.errorPage(req, res, 404, "Not found", `user ${req.params.id} not found`);
    if (action === "reject" && !user.pending) {
      flash(req, "warning", `${user.email} is already approved: delete the account instead.`);
      return res.redirect(303, "/admin/users");
    }
    if ((action === "delete" || action === "revoke-admin") && user.id === req.session.userId) {
      flash(req, "danger", "You cannot do that to your own account (ask another administrator).");
      return res.redirect(303, "/admin/users");
    }
    const requests = action === "delete" ? await pages.requestCount(user.id) : 0;
    kit.confirm(req, res, {
      ...make(user, requests),
      action: `/admin/users/${user.id}/${action}`,
      back: `/admin/users#user-${user.id}`,
    });
  });

  r.get("/admin/users", kit.adminRequired, async (req, res) => {
    const all = await pages.usersForAdmin();
    kit.render(req, res, "admin_users", {
      title: "Users",
      users: all,
      me: req.session.userId ?? null,
      pending: all.filter((u) => u.pending).length,
    });
  });

  const act =
    (fn: (userId: number) => Promise<string>, selfLockout: boolean) =>
    async (req: Request, res: Response): Promise<void> => {
      const user = await userParam(req);
      if (!user) return kit.errorPage(req, res, 404, "Not found", `user ${req.params.id} not found`);
      if (selfLockout && user.id === req.session.userId) {
        flash(req, "danger", "You cannot do that to your own account (ask another administrator).");
        return res.redirect(303, "/admin/users");
      }
      try {
        flash(req, "success", await fn(user.id));
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        flash(req, "danger", err.message);
      }
      res.redirect(303, "/admin/users");
    };
  const emailOf = async (id: number) => (await pages.user(id))!.email;
  const post = (path: string, fn: (userId: number) => Promise<string>, selfLockout = false) =>
    r.post(path, kit.form, requireCsrf, kit.adminRequired, act(fn, selfLockout));

  post("/admin/users/:id/approve", async (id) => {
    const u = await users.accept(await emailOf(id));
    return `${u.email} has been approved.`;
  });
  post("/admin/users/:id/reject", async (id) => {
    const u = await users.reject(await emailOf(id));
    return `${u.email} has been rejected.`;
  });
  post("/admin/users/:id/make-admin", async (id) => {
    const u = await users.setAdmin(await emailOf(id), true);
    return `${u.email} is now an administrator.`;
  });
  post(
    "/admin/users/:id/revoke-admin",
    async (id) => {
      const u = await users.setAdmin(await emailOf(id), false);
      return `${u.email} is no longer an administrator.`;
    },
    true,
  );
  post(
    "/admin/users/:id/delete",
    async (id) => {
      const email = await emailOf(id);
      await users.deleteUser(id);
      return `${email} has been deleted.`;
    },
    true,
  );

  return r;
}
