// TRUST_PROXY: who stands between the browser and the App. It becomes Express's `trust proxy` setting, which
// decides req.ip (the address rate limits count per client) and req.secure from X-Forwarded-For/-Proto.
// Unset: nobody; the socket address is the client, and X-Forwarded-* headers are ignored for this.
import { isIP } from "node:net";
import { z } from "zod";

/** false: no proxy; a number: that many proxies in front (hop count); a list: the proxies' addresses. */
export type TrustProxy = false | number | string[];

const NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function validEntry(e: string): boolean {
  if (NAMES.has(e)) return true;
  const [ip, prefix, extra] = e.split("/");
  const family = isIP(ip ?? "");
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * Parses a TRUST_PROXY value: "" / "false" / "0" (off), a hop count ("1": one ingress), or a comma-separated
 * list of IP addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. Throws on anything else,
 * including "true" (which would believe the X-Forwarded-For of any client that sends one).
 */
export function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim();
  if (v === "" || /^(false|off|no|0)$/i.test(v)) return false;
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n > 64) throw new Error("a hop count must be at most 64");
    return n;
  }
  if (/^(true|on|yes)$/i.test(v)) {
    throw new Error(
      "true would take any client's X-Forwarded-For as its address: give the number of proxies in front of the App (e.g. 1) or their addresses",
    );
  }
  const entries = v.split(",").map((e) => e.trim());
  const bad = entries.filter((e) => !validEntry(e));
  if (bad.length > 0) {
    throw new Error(
      `not an IP address, CIDR range or one of loopback, linklocal, uniquelocal: ${bad.map((b) => JSON.stringify(b)).join(", ")}`,
    );
  }
  return entries;
}

/** The config key's schema (a string from the environment; a number or boolean from a JSON config file). */
export const TrustProxySetting = z
  .union([z.string(), z.number(), z.boolean()])
  .optional()
  .transform((v, ctx): TrustProxy => {
    try {
      return parseTrustProxy(v === undefined ? "" : String(v));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });
