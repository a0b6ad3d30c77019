// The profile form of the web pages (docs/sign-in.md): its fields, their rules and messages, and the parse
// that gives the page every field's first problem at once.
import { z } from "zod";

const EXPERIMENTS = ["ATLAS", "CMS"] as const;

export const ProfileForm = z.object({
  name: z.string().trim().min(1, "Name is required").max(120, "At most 120 characters"),
  email: z.string().trim().min(1, "E-mail is required").max(320).email("Not a valid e-mail address"),
  institution: z.string().trim().min(1, "Institution is required").max(120, "At most 120 characters"),
  experiment: z.enum(EXPERIMENTS, { message: "Choose ATLAS or CMS" }).default("ATLAS"),
});

/** The form's values as typed (shown again when refused). */
export type ProfileValues = z.input<typeof ProfileForm>;

/** The form's values, or each field's first error message. */
export function parseProfile(
  body: unknown,
): { ok: true; value: z.output<typeof ProfileForm> } | { ok: false; errors: Record<string, string> } {
  const r = ProfileForm.safeParse(body);
  if (r.success) return { ok: true, value: r.data };
  const errors: Record<string, string> = {};
  for (const i of r.error.issues) errors[String(i.path[0])] ??= i.message;
  return { ok: false, errors };
}
