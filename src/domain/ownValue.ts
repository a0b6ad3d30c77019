/**
 * `obj[key]` for a key the caller chose, from `obj`'s own keys only. A plain object also answers for its
 * prototype's keys (`constructor`, `__proto__`, `toString`, …), so a bare lookup would take those names
 * as configured values.
 */
export function ownValue<T>(obj: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
