// REST client. Every error, including a dropped connection, becomes an ApiError
// with the API's {code, message, field} so that pages show one kind of error.

import { expire, freshAccessToken, refresh } from "./session.js";

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }

  /** True when the request never got an HTTP response (offline, DNS, reset). */
  get isNetwork() {
    return this.status === 0;
  }
}

function baseUrl() {
  return window.TRIAGE_CONFIG.apiBaseUrl.replace(/\/$/, "");
}

async function parseError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error ? body.error : {};
  return new ApiError(
    response.status,
    error.code || `http_${response.status}`,
    error.message || `The server returned HTTP ${response.status}.`,
    error.field || null,
  );
}

/**
 * Send one request and return the parsed JSON body (null for 204).
 * A 401 triggers one token refresh and one retry; a second 401 ends the session.
 */
export async function request(method, path, options = {}) {
  const { body, headers = {}, auth = true, query } = options;
  let url = `${baseUrl()}${path}`;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }

  const send = async (token) => {
    const allHeaders = { Accept: "application/json", ...headers };
    if (body !== undefined) allHeaders["Content-Type"] = "application/json";
    if (auth && token) allHeaders.Authorization = `Bearer ${token}`;
    try {
      return await fetch(url, {
        method,
        headers: allHeaders,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "network", "No connection to the server.");
    }
  };

  let response = await send(auth ? await freshAccessToken() : null);
  if (response.status === 401 && auth) {
    let token = null;
    try {
      token = await refresh();
    } catch {
      token = null;
    }
    if (!token) {
      // refresh() has already ended the session when the server rejected the
      // refresh token; after a network error the session stays for a retry.
      throw await parseError(response);
    }
    response = await send(token);
    if (response.status === 401) {
      expire();
    }
  }
  if (!response.ok) throw await parseError(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  get: (path, query) => request("GET", path, { query }),
  post: (path, body, headers) => request("POST", path, { body, headers }),
  patch: (path, body) => request("PATCH", path, { body }),
};

/** Return the id of a patient or user document, whichever key the API used. */
export function idOf(document) {
  return document.id || document._id;
}
