// Web pages (docs/api.md). This file: the sign-up flow (docs/api.md, docs/sign-in.md): home, about, the API
// docs page, sign-in through OIDC, the callback, sign-out, profile creation and editing, API-token rotation
// and the servicex.yaml download. Server-rendered (ejs), usable without JavaScript. State changes are
// CSRF-checked form POSTs; GET /api-token and GET /sign-out only show the confirmation form, so a link on
// another site can neither rotate a token nor sign anyone out. HEAD changes nothing: the two GETs that act (/sign-in starts a sign-in, /auth-callback
// finishes one) answer HEAD with 405. Sign-in rules: docs/sign-in.md. Request, dataset and admin pages live
// in ./pages/.
import express, { type Request, type Response, Router } from "express";
import type { OidcClient } from "../../adapters/auth/oidc.js";
import type { Config } from "../../config.js";
import { AppError } from "../../domain/errors.js";
import type { PagesService } from "../../domain/pages.service.js";
import type { UserService } from "../../domain/users.service.js";
import { refuseHead } from "../middleware/head.js";
import { rateLimit } from "../middleware/rateLimit.js";
import { operations } from "../openapi.js";
import {
  docsSections,
  providerName,
  removedAccountNotice,
  servicexYaml,
} from "../presenters/accountPages.presenter.js";
import { type ProfileValues, parseProfile } from "../schemas/profile.schemas.js";
import { clearSession, flash, renewSession, requestScheme, requireCsrf } from "../middleware/session.js";
import { type AdminPageServices, adminPages } from "./pages/admin.pages.js";
import { type DatasetPageServices, datasetPages } from "./pages/datasets.pages.js";
import { type KitServices, pageKit } from "./pages/kit.js";
import { type DashboardServices, dashboardPages } from "./pages/dashboard.pages.js";
import { type RequestPageServices, requestPages } from "./pages/requests.pages.js";
import { type RerunPageServices, rerunPages } from "./pages/rerun.pages.js";

/** The services of the web pages: this file's sign-up flow, and the pages in ./pages/. */
export interface WebServices
  extends KitServices,
    DashboardServices,
    RequestPageServices,
    RerunPageServices,
    DatasetPageServices,
    AdminPageServices {
  users: Pick<
    UserService,
    | "endSessions"
    | "attachSession"
    | "createProfile"
    | "updateProfile"
    | "rotateApiToken"
    | "currentApiToken"
    | "accept"
    | "reject"
    | "setAdmin"
    | "deleteUser"
  >;
  config: Config;
  pages: PagesService;
  /** The pages' read model: lists, counts and searches over requests, results and datasets. */
  queries: RequestPageServices["queries"] & DashboardServices["queries"] & DatasetPageServices["queries"];
  reruns: RequestPageServices["reruns"] & RerunPageServices["reruns"];
  /** Sign-in provider; null when no OIDC client is configured. */
  oidc: Pick<OidcClient, "start" | "finish" | "revoke" | "endSessionUrl"> | null;
}

/** docs/api.md `get_correct_url`: the external base URL (scheme rule in requestScheme). */
export function externalBase(req: Request): string {
  return `${requestScheme(req)}://${req.get("host") ?? "localhost"}`;
}

/** Only same-site relative paths may be redirected to after sign-in (no open redirects). */
function safeNext(v: unknown): string | undefined {
  return typeof v === "string" && /^\/(?![/\\])[^\s]*$/.test(v) ? v : undefined;
}

export function webRoutes(s: WebServices): Router {
  const r = Router();
  const { config, users, pages } = s;
  const form = express.urlencoded({ extended: false, limit: "32kb" });

  const kit = pageKit(s);
  const { render, errorPage, oauthRequired } = kit;

  const noAuthUser = (req: Request, res: Response) =>
    errorPage(
      req,
      res,
      404,
      "No user profile",
      "Authentication is disabled on this instance: there are no user profiles or API tokens. The client needs no token.",
    );

  r.get("/", (req, res) => {
    // The default INSTANCE_NAME ("servicex") says nothing; a site's own name is shown under the title.
    const instance = config.INSTANCE_NAME.toLowerCase() === "servicex" ? "" : config.INSTANCE_NAME;
    render(req, res, "home", { instance, endpoint: externalBase(req) });
  });

  // The API's routes for people (the machine-readable document is /openapi.json), inside the layout.
  r.get("/docs", (req, res) => {
    render(req, res, "docs", { version: config.appVersion, sections: docsSections(operations()) });
  });

  // Browsers ask for /favicon.ico on pages that name no icon (JSON answers, files): the layout's icon.
  r.get("/favicon.ico", (_req, res) => {
    res.set("Cache-Control", "public, max-age=86400").redirect(301, "/static/favicon.svg");
  });

  r.get("/about", (req, res) => {
    render(req, res, "about", {
      instance: config.INSTANCE_NAME,
      version: config.appVersion,
      codegens: config.codeGenImages,
    });
  });

  refuseHead(r, "/sign-in", "GET");
  refuseHead(r, "/auth-callback", "GET");

  r.get("/sign-in", async (req, res) => {
    if (!s.oidc) {
      flash(req, "danger", "Sign-in is not configured on this instance.");
      return res.redirect(302, "/");
    }
    const { url, pending } = await s.oidc.start(`${externalBase(req)}/auth-callback`);
    const next = safeNext(req.query.next);
    req.session.oidc = { ...pending, ...(next ? { next } : {}) };
    res.redirect(302, url);
  });

  r.get("/auth-callback", rateLimit({ limit: config.RATE_LIMIT_PER_MINUTE }), async (req, res) => {
    if (typeof req.query.error === "string") {
      const why =
        typeof req.query.error_description === "string" ? req.query.error_description : req.query.error;
      delete req.session.oidc;
      flash(req, "danger", `You could not be logged into the portal: ${why}`);
      return res.redirect(302, "/");
    }
    const pending = req.session.oidc;
    if (!s.oidc || !pending) {
      return errorPage(
        req,
        res,
        400,
        "Sign-in failed",
        "This sign-in was not started here or has expired. Please sign in again.",
      );
    }
    if (typeof req.query.code !== "string") return res.redirect(302, "/sign-in");
    delete req.session.oidc; // one use, whatever happens
    let id: Awaited<ReturnType<OidcClient["finish"]>>;
    try {
      id = await s.oidc.finish(new URL(req.originalUrl, `${externalBase(req)}/`), pending);
    } catch (err) {
      s.logger.warn({ err: String(err) }, "sign-in callback refused");
      return errorPage(
        req,
        res,
        400,
        "Sign-in failed",
        `The identity provider's answer was refused: ${(err as Error).message}`,
      );
    }
    renewSession(req);
    Object.assign(req.session, {
      isAuthenticated: true,
      iss: id.iss,
      sub: id.sub,
      subjects: id.subjects,
      email: id.email ?? undefined,
      verifiedEmails: id.verifiedEmails,
      name: id.name ?? undefined,
      institution: id.organization ?? undefined,
      idp: id.tokens,
    });
    const { user: signedIn, removed: gone } = await pages.signIn(req.session.sid, id);
    if (signedIn) {
      req.session.userId = signedIn.id;
      req.session.admin = signedIn.admin;
      req.session.email = signedIn.email;
      return res.redirect(302, pending.next ?? "/dashboard");
    }
    // No profile yet, or a pre-provisioned user to claim: the profile form (pre-filled) does it. Someone
    // whose account an administrator removed is told so first (docs/sign-in.md).
    if (gone) flash(req, "warning", removedAccountNotice(gone, !config.OAUTH_ALLOW_ALL_AFTER_AUTH));
    res.redirect(302, "/profile/new");
  });

  // GET shows the confirmation form (works without JavaScript); the POST with the CSRF token signs out.
  r.get("/sign-out", (req, res) => {
    if (!req.session.isAuthenticated) return res.redirect(302, "/");
    kit.confirm(req, res, {
      heading: "Sign out",
      text: "Sign out of ServiceX on every device and browser where you are signed in?",
      action: "/sign-out",
      button: "Sign out",
      back: req.session.userId ? "/profile" : "/",
    });
  });

  r.post(
    "/sign-out",
    form,
    (req, res, next) => {
      // Already signed out (or the session was ended elsewhere): nothing to end, nothing to protect.
      if (req.session.isAuthenticated) return next();
      clearSession(req, res);
      res.redirect(303, "/");
    },
    requireCsrf,
    async (req, res) => {
      const { idp, userId, iss, sub, sid, isAuthenticated } = req.session;
      // Every session of the user ends now, copies of this cookie included (server-side records).
      if (isAuthenticated) {
        await users.endSessions({ sid, ...(userId ? { userId } : {}), ...(iss && sub ? { iss, sub } : {}) });
      }
      clearSession(req, res);
      if (s.oidc && idp) {
        await s.oidc.revoke(idp);
        const home = `${externalBase(req)}/`;
        const logout = await s.oidc.endSessionUrl(home, idp.idToken);
        if (logout) return res.redirect(303, logout);
        if ((config.OAUTH_METADATA_URL ?? "https://auth.globus.org").includes("auth.globus.org")) {
          const q = new URLSearchParams({
            client: config.OAUTH_CLIENT_ID ?? config.GLOBUS_CLIENT_ID ?? "",
            redirect_uri: home,
            redirect_name: "ServiceX Portal",
          });
          return res.redirect(303, `https://auth.globus.org/v2/web/logout?${q}`);
        }
      }
      res.redirect(303, "/");
    },
  );

  r.get("/profile", oauthRequired, async (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    const user = await pages.profile(req.session.userId!);
    if (!user) return res.redirect(302, "/profile/new");
    // The API token is on the page (masked, revealed on demand): never kept by a cache. A user without one
    // (made by the CLI) gets it from the servicex.yaml download, not from a GET of this page.
    res.set("Cache-Control", "no-store");
    const token = user.refreshToken && req.method === "GET" ? await users.currentApiToken(user.id) : null;
    render(req, res, "profile", { user, token });
  });

  const PROFILE_FORMS = {
    new: { heading: "Create your profile", action: "/profile/new" },
    edit: { heading: "Edit your profile", action: "/profile/edit" },
  } as const;
  const profileForm = (
    req: Request,
    res: Response,
    kind: keyof typeof PROFILE_FORMS,
    values: ProfileValues,
    errors: Record<string, string> = {},
    status = 200,
  ) =>
    render(
      req,
      res,
      "profile_form",
      {
        ...PROFILE_FORMS[kind],
        kind,
        values,
        errors,
        // Who is signed in, so that someone at the wrong account can sign out (and sign in with another).
        identity: { email: req.session.email ?? null, provider: providerName(req.session.iss) },
        approval: !config.OAUTH_ALLOW_ALL_AFTER_AUTH,
      },
      status,
    );
  /** The form again with a flash message and the field errors. */
  const refuseProfile = (
    req: Request,
    res: Response,
    kind: keyof typeof PROFILE_FORMS,
    values: ProfileValues,
    errors: Record<string, string>,
    status: number,
    message = "Profile could not be saved. Please fix invalid fields below.",
  ) => {
    flash(req, "danger", message);
    return profileForm(req, res, kind, values, errors, status);
  };

  r.get("/profile/new", oauthRequired, (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    if (req.session.userId) return res.redirect(302, "/profile");
    profileForm(req, res, "new", {
      name: req.session.name ?? "",
      email: req.session.email ?? "",
      institution: req.session.institution ?? "",
      experiment: "ATLAS",
    });
  });

  r.post("/profile/new", form, requireCsrf, oauthRequired, async (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    if (req.session.userId) return res.redirect(302, "/profile");
    const parsed = parseProfile(req.body);
    const values = req.body as ProfileValues;
    if (!parsed.ok) return refuseProfile(req, res, "new", values, parsed.errors, 400);
    let user: Awaited<ReturnType<typeof users.createProfile>>;
    try {
      user = await users.createProfile({
        ...(req.session.iss ? { iss: req.session.iss } : {}),
        sub: req.session.sub!,
        subjects: req.session.subjects ?? [req.session.sub!],
        verifiedEmails: req.session.verifiedEmails ?? [],
        ...parsed.value,
      });
    } catch (err) {
      if (err instanceof AppError && (err.status === 409 || err.status === 422)) {
        const message = `Profile could not be saved. ${err.message}.`;
        return refuseProfile(req, res, "new", values, { email: err.message }, 409, message);
      }
      throw err;
    }
    await users.attachSession(req.session.sid, user.id);
    req.session.userId = user.id;
    req.session.admin = user.admin;
    req.session.email = user.email;
    flash(
      req,
      "success",
      user.pending
        ? "Profile created! Your account is pending approval. We'll email you when it's ready."
        : "Profile created!",
    );
    res.redirect(302, "/profile");
  });

  r.get("/profile/edit", oauthRequired, async (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    const user = await pages.user(req.session.userId!);
    if (!user) return res.redirect(302, "/profile/new");
    profileForm(req, res, "edit", {
      name: user.name,
      email: user.email,
      institution: user.institution ?? "",
      experiment: (user.experiment ?? "ATLAS") as "ATLAS",
    });
  });

  r.post("/profile/edit", form, requireCsrf, oauthRequired, async (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    const parsed = parseProfile(req.body);
    const values = req.body as ProfileValues;
    if (!parsed.ok) return refuseProfile(req, res, "edit", values, parsed.errors, 400);
    try {
      const user = await users.updateProfile(
        req.session.userId!,
        parsed.value,
        req.session.verifiedEmails ?? [],
      );
      req.session.email = user.email;
    } catch (err) {
      if (err instanceof AppError && (err.status === 409 || err.status === 422)) {
        return refuseProfile(req, res, "edit", values, { email: err.message }, 409);
      }
      throw err;
    }
    flash(req, "success", "Your profile has been updated.");
    res.redirect(302, "/profile");
  });

  r.get("/api-token", oauthRequired, (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    kit.confirm(req, res, {
      heading: "Generate a new API token?",
      text: "A new token replaces your current one at once.",
      consequences: [
        "The current token stops working: every servicex.yaml you downloaded (laptop, cluster, notebooks) is refused by the API from now on.",
        "Download servicex.yaml again afterwards and replace the old copies.",
        "Your requests and their results are not touched.",
      ],
      action: "/api-token",
      button: "Generate a new token",
      back: "/profile",
    });
  });

  r.post("/api-token", form, requireCsrf, oauthRequired, async (req, res) => {
    if (!config.ENABLE_AUTH) return noAuthUser(req, res);
    await users.rotateApiToken(req.session.userId!);
    flash(req, "success", "Your new API token has been generated!");
    res.redirect(302, "/profile");
  });

  r.get("/.servicex", oauthRequired, async (req, res) => {
    if (req.method === "HEAD") {
      // The headers only: making the file may issue a token (a user without one), which HEAD must not do.
      res
        .status(200)
        .set("Content-Type", "text/plain; charset=utf-8")
        .set("Content-Disposition", 'attachment; filename="servicex.yaml"')
        .set("Cache-Control", "no-store")
        .end();
      return;
    }
    const yaml = servicexYaml({
      name: config.INSTANCE_NAME || (req.get("host") ?? "servicex").split(":")[0]!,
      endpoint: externalBase(req),
      ...(config.ENABLE_AUTH ? { token: await users.currentApiToken(req.session.userId!) } : {}),
    });
    res
      .status(200)
      .set("Content-Type", "text/plain; charset=utf-8")
      .set("Content-Disposition", 'attachment; filename="servicex.yaml"')
      .set("Cache-Control", "no-store")
      .send(yaml);
  });

  r.use(dashboardPages(s, kit));
  r.use(rerunPages(s, kit));
  r.use(requestPages(s, kit));
  r.use(datasetPages(s, kit));
  r.use(adminPages(s, kit));

  return r;
}
