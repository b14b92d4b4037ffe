// The transport under the API client: one request to `/api/*` with a given token (or none),
// retried on a gateway error, its answer read or turned into an `ApiError` (RFC 9457 problem
// documents). It knows nothing of the session, so the session (`login`) and the client that
// adds the session's token (`api.ts`) both build on it: imports go api → session → http.

import type { Problem } from "./types";

/** One invalid part of a request, as a 422 problem's `errors` lists it. */
export type ProblemIssue = Pick<NonNullable<Problem["errors"]>[number], "loc" | "msg">;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly code: string | null = null,
    readonly issues: ProblemIssue[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(detail || title);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
}

async function problemFrom(response: Response): Promise<ApiError> {
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      // Partial: a gateway in front of the API may answer with a body of its own.
      const body = (await response.json()) as Partial<Problem>;
      const code = body.type?.split("/").pop() ?? null;
      return new ApiError(
        response.status,
        body.title ?? response.statusText,
        body.detail ?? "",
        code,
        Array.isArray(body.errors) ? body.errors : [],
        retryAfter,
      );
    } catch {
      // fall through: not the JSON it claimed to be
    }
  }
  const text = response.status >= 500 ? "" : (await response.text().catch(() => "")).slice(0, 200);
  return new ApiError(response.status, response.statusText || `HTTP ${response.status}`, text, null, [], retryAfter);
}

async function send(path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  return fetch(`/api${path}`, {
    method: options.method ?? "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
    cache: "no-store",
    signal: options.signal,
  });
}

const RETRYABLE = new Set([502, 503, 504]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A GET that met a gateway error (a Lambda cold start or throttle) is tried twice more. */
export async function sendWithRetry(path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const idempotent = (options.method ?? "GET") === "GET";
  for (let attempt = 0; ; attempt += 1) {
    const response = await send(path, options, token);
    if (!idempotent || attempt >= 2 || !RETRYABLE.has(response.status)) return response;
    await sleep(500 * 2 ** attempt);
  }
}

/** `exchange`'s response, or an `ApiError` with status 0 when the server could not be reached
 *  (an abort is passed on as it is). */
export async function reach(exchange: () => Promise<Response>): Promise<Response> {
  try {
    return await exchange();
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "Network error", "The server could not be reached. Check your connection and retry.");
  }
}

/** The body of a successful response (JSON or text; nothing for a 204); otherwise its problem. */
export async function readResponse<T>(response: Response): Promise<T> {
  if (!response.ok) throw await problemFrom(response);
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("Content-Type") ?? "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

/** A request without a token (log in, sign up). Throws `ApiError`. */
export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return readResponse<T>(await reach(() => sendWithRetry(path, options, null)));
}

/** One line for a person: the problem's title and detail, and what was wrong with each field. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.issues.map((issue) => {
      const field = issue.loc.filter((part) => part !== "body").join(".");
      return field ? `${field}: ${issue.msg}` : issue.msg;
    });
    const head = error.detail && error.detail !== error.title ? `${error.title}: ${error.detail}` : error.title;
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : "";
    return [head + (fields.length ? "." : ""), ...fields].join(" ") + wait;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}
