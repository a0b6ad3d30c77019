// The cache-size budget of the data lifecycle (docs/api.md, data-lifecycle), parsed once by config.ts; a
// neutral module so the configuration does not depend on a domain service.

const UNITS: Record<string, number> = { "": 1, b: 1, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15 };

/**
 * Parses MAX_DESIRED_TRANSFORM_CACHE_SIZE: "500gb", "10TB", "1.5 tb", or plain bytes (units pb/tb/gb/mb,
 * decimal as upstream, case-insensitive). Empty → null; anything else throws.
 */
export function parseCacheSize(value: string): number | null {
  const s = value.trim().toLowerCase();
  if (s === "") return null;
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(b|mb|gb|tb|pb)?$/.exec(s);
  if (!m)
    throw new Error(`Invalid cache size "${value}": expected a number with an optional unit mb/gb/tb/pb`);
  return Math.floor(Number(m[1]) * UNITS[m[2] ?? ""]!);
}
