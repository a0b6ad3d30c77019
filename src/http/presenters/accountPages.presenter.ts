// What the sign-up pages show (docs/sign-in.md, docs/api.md "Pages"): the API docs page's sections, the
// servicex.yaml a user downloads, the notice for someone whose account an administrator removed, and the
// identity provider as a person knows it.
import type { RemovedAccount } from "../../domain/pages.service.js";

/** The docs page's sections, in order: who calls the routes of each OpenAPI tag. */
const DOC_SECTIONS: Record<string, { heading: string; intro: string }> = {
  client: {
    heading: "Transform requests and datasets",
    intro: "What the Python client calls: submit a request, follow it, fetch its results.",
  },
  users: {
    heading: "Users and tokens",
    intro: "Access tokens for the client, and user administration (administrators only).",
  },
  internal: {
    heading: "Inside the cluster",
    intro: "Called by the DID finders, the transformers and the clean-up jobs, not by users.",
  },
};

/** `code` spans of an operation's summary as text pieces the docs view escapes one by one. */
function codeSpans(text: string): { text: string; code: boolean }[] {
  return text.split("`").map((t, i) => ({ text: t, code: i % 2 === 1 }));
}

/** The docs page's sections (views/docs.ejs) from the OpenAPI operations; empty sections are left out. */
export function docsSections(
  ops: ReadonlyArray<{ tag: string; method: string; path: string; summary: string }>,
) {
  return Object.entries(DOC_SECTIONS)
    .map(([tag, s]) => ({
      ...s,
      id: `api-${tag}`,
      operations: ops
        .filter((o) => o.tag === tag)
        .map((o) => ({ method: o.method, path: o.path, summary: codeSpans(o.summary) })),
    }))
    .filter((s) => s.operations.length > 0);
}

/** servicex.yaml: one endpoint, the default; `token` only with sign-in on. */
export function servicexYaml(o: { name: string; endpoint: string; token?: string }): string {
  const lines = ["api_endpoints:", `  - name: ${o.name}`, `    endpoint: ${o.endpoint}`];
  if (o.token !== undefined) lines.push(`    token: ${o.token}`);
  lines.push(`default_endpoint: ${o.name}`, "");
  return lines.join("\n");
}

/** A date as the pages write it without JavaScript (UTC). */
function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * What someone whose account an administrator removed is told at sign-in, before the profile form
 * (docs/sign-in.md). `approval`: new accounts wait for an administrator's approval.
 */
export function removedAccountNotice(gone: RemovedAccount, approval: boolean): string {
  const day = utcDay(gone.removedAt);
  const wait = approval ? " an administrator has to approve it before the API accepts its token." : "";
  return gone.wasPending
    ? `Your earlier sign-up (removed on ${day}) was not approved by the administrators of this ServiceX. You may sign up again below${wait ? `;${wait}` : "."}`
    : `Your ServiceX account was deleted by an administrator on ${day}, and its API token no longer works. You may create a new profile below${wait ? `;${wait}` : "."}`;
}

/** The identity provider as a person knows it: its host name (e.g. auth.globus.org). */
export function providerName(iss: string | undefined): string | null {
  if (!iss) return null;
  try {
    return new URL(iss).host;
  } catch {
    return iss;
  }
}
