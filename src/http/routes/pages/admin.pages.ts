// Administration of users (newer upstream /admin/... views): pending users first, approve, reject, make or
// revoke admin, delete. Every action is a CSRF-checked form POST calling UserService, the same code as the
// admin API (POST /accept, DELETE /users/<id>, Slack approve/reject), so e-mails and caches behave alike.
// Guard: a signed-in administrator; with ENABLE_AUTH=false the page is open, as the admin API is then.
import { type Request, type Response, Router } from "express";
import { AppError } from "../../../domain/errors.js";
import type { AppDeps } from "../../deps.js";
import { flash, requireCsrf } from "../../middleware/session.js";
import type { PageKit } from "./kit.js";

export function adminPages(deps: AppDeps, kit: PageKit): Router {
  const r = Router();
  const { users } = deps;

  r.get("/admin/users", kit.adminRequired, async (req, res) => {
    const all = await users.repo.list();
    // Pending first (they wait for someone), then by name.
    all.sort((a, b) => Number(b.pending) - Number(a.pending) || a.name.localeCompare(b.name) || a.id - b.id);
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
      const id = /^\d{1,9}$/.test(String(req.params.id)) ? Number(req.params.id) : null;
      const user = id === null ? null : await users.repo.byId(id);
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
  const emailOf = async (id: number) => (await users.repo.byId(id))!.email;
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
