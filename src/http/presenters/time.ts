/** `YYYY-MM-DDTHH:MM:SS.ffffffZ` — naive UTC with a literal Z and 6 fractional digits (docs/decisions.md D1). */
export function isoZ(d: Date): string {
  const s = d.toISOString(); // 2024-10-21T17:40:31.123Z
  return `${s.slice(0, 23)}000Z`;
}

/** Python `isoformat()` of a naive timestamp with microseconds, no zone (docs/decisions.md D22). */
export function isoNaive(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000`;
}
