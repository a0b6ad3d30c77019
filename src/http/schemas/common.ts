import { z } from "zod";

/** A string Postgres can store: no NUL characters (they would otherwise surface as a 500). */
export const text = (max: number) =>
  z
    .string()
    .max(max, { message: `must be at most ${max} characters` })
    .refine((s) => !s.includes("\u0000"), { message: "must not contain NUL characters" });

/** Integers as JSON numbers or numeric strings (reqparse type=int accepted both). */
export const intLike = (min: number, max: number) =>
  z
    .union([
      z.number(),
      z
        .string()
        .regex(/^-?\d+$/, { message: "must be an integer" })
        .transform(Number),
    ])
    .pipe(
      z
        .number()
        .int({ message: "must be an integer" })
        .min(min, { message: `must be at least ${min}` })
        .max(max, { message: `must be at most ${max}` }),
    );

export const INT32_MAX = 2 ** 31 - 1;
export const SAFE_MAX = Number.MAX_SAFE_INTEGER;

/** Request ids in paths: a UUID or the integer primary key (docs/api.md). */
export const requestIdParam = z.object({ request_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) });
export const datasetIdParam = z.object({
  dataset_id: z
    .string()
    .regex(/^\d{1,9}$/)
    .transform(Number),
});

/** reqparse `type=bool`: any non-empty value is true, except the usual spellings of false. */
export const boolQuery = z
  .string()
  .optional()
  .transform((v) => (v === undefined ? undefined : !["", "false", "False", "0", "no", "off"].includes(v)));

export const pageQuery = {
  page: intLike(1, 1_000_000).optional(),
  per_page: intLike(1, 1000).optional(),
};

export const MessageResponse = z.object({ message: z.string() });
