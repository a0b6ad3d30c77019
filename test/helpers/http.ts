// One HTTP call as the API tests see it (status, parsed JSON when the body is JSON, raw text, headers), and
// the comparison they share: status and body exactly, except the App's own extra `code` key on error bodies
// (clients read `message` only), which must then be a string.
import { expect } from "vitest";

export interface Answer {
  status: number;
  json: unknown;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** `Authorization: Bearer <token>` */
  token?: string;
  /** The whole Authorization header (wins over `token`). */
  auth?: string;
  /** A Cookie header value. */
  cookie?: string;
  /** JSON body */
  body?: unknown;
  /** form-encoded body */
  form?: Record<string, string>;
  /** a raw body with its headers */
  raw?: string;
  headers?: Record<string, string>;
}

export async function httpCall(url: string, method: string, o: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.auth !== undefined) headers.authorization = o.auth;
  if (o.cookie !== undefined) headers.cookie = o.cookie;
  let body: string | undefined = o.raw;
  if (o.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(o.form).toString();
  } else if (o.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(o.body);
  }
  const res = await fetch(url, { method, headers, body, redirect: "manual" });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Status and body, the body compared without the App's own `code` key. */
export function expectAnswer(r: Answer, status: number, body: unknown): void {
  let got = r.json;
  if (got && typeof got === "object" && !Array.isArray(got) && "code" in got) {
    const { code, ...rest } = got as Record<string, unknown>;
    expect(typeof code).toBe("string");
    got = rest;
  }
  expect({ status: r.status, body: got }).toEqual({ status, body });
}

/**
 * `httpCall` bound to one App: `api.get("/path")`. `base` is its URL, anything with `url` (a TestApp), or a
 * function giving the URL (for a module-level client of an App started in beforeAll).
 */
export function client(base: string | { url: string } | (() => string)) {
  const root = () => (typeof base === "function" ? base() : typeof base === "string" ? base : base.url);
  const call = (method: string, path: string, o: CallOptions = {}) => httpCall(`${root()}${path}`, method, o);
  return {
    call,
    get: (path: string, o?: CallOptions) => call("GET", path, o),
    post: (path: string, o?: CallOptions) => call("POST", path, o),
    put: (path: string, o?: CallOptions) => call("PUT", path, o),
    patch: (path: string, o?: CallOptions) => call("PATCH", path, o),
    delete: (path: string, o?: CallOptions) => call("DELETE", path, o),
  };
}

export type Client = ReturnType<typeof client>;

/** The parsed JSON body of an answer, typed by the caller (undefined when the body was not JSON). */
export const jsonOf = <T = Record<string, unknown>>(r: Answer): T => r.json as T;
