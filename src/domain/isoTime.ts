// Python `datetime.fromisoformat` accepts the forms the client sends (`0001-01-01T00:00:00+00:00`,
// `2026-09-15T19:37:57.205899`). We validate them here so that Postgres never sees an impossible date.
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Returns a string Postgres parses as timestamptz (naive = UTC), or null when invalid. */
export function normaliseIsoTime(s: string): string | null {
  const m = ISO.exec(s);
  if (!m) return null;
  const [, y, mo, d, h = "00", mi = "00", sec = "00", frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  const dim = [
    31,
    year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28,
    31,
    30,
    31,
    30,
    31,
    31,
    30,
    31,
    30,
    31,
  ];
  if (day > dim[month - 1]!) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return null;
  if (zone && zone !== "Z") {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.replace(":", "").slice(3, 5) || "0");
    if (zh > 23 || zm > 59) return null;
  }
  const fraction = frac ? `.${frac}` : "";
  if (!zone || zone === "Z") return `${y}-${mo}-${d}T${h}:${mi}:${sec}${fraction}+00:00`;
  // Python allows offsets up to ±23:59, Postgres only ±15:59: shift to UTC here.
  const sign = zone[0] === "-" ? -1 : 1;
  const offsetMin = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.replace(":", "").slice(3, 5) || "0"));
  const t = new Date(0);
  t.setUTCFullYear(year, month - 1, day);
  t.setUTCHours(Number(h), Number(mi) - offsetMin, Number(sec), 0);
  if (t.getUTCFullYear() < 1) return "0001-01-01T00:00:00+00:00";
  const p2 = (n: number) => String(n).padStart(2, "0");
  const yy = String(t.getUTCFullYear()).padStart(4, "0");
  return `${yy}-${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())}T${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())}${fraction}+00:00`;
}
