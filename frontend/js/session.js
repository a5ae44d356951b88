// Tokens and the signed-in user. Tokens live in sessionStorage, so they survive a
// reload of the tab but not closing it. The access token is refreshed with the
// refresh token one minute before it expires.

const STORAGE_KEY = "triage.session";
const REFRESH_MARGIN_MS = 60_000;
const RETRY_AFTER_NETWORK_ERROR_MS = 15_000;

let state = load();
let refreshTimer = null;
let refreshInFlight = null;
const listeners = new Set();

function load() {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function save() {
  if (state) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state));
  else sessionStorage.removeItem(STORAGE_KEY);
}

function notify(reason) {
  for (const listener of listeners) listener(state, reason);
}

/** Call `listener(session, reason)` on login, refresh, logout and expiry. */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function currentUser() {
  return state ? state.user : null;
}

export function accessToken() {
  return state ? state.accessToken : null;
}

export function isSignedIn() {
  return state !== null && Date.now() < state.refreshExpiresAt;
}

/** Store a login or refresh response: {access_token, refresh_token, expires_in, user}. */
export function store(tokens, reason) {
  const now = Date.now();
  state = {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token || (state && state.refreshToken),
    accessExpiresAt: now + Number(tokens.expires_in || 900) * 1000,
    // Responses do not carry the refresh-token lifetime, so the client assumes the
    // server default (REFRESH_TOKEN_TTL_SECONDS, 12 hours) for each new refresh
    // token. A refresh the server rejects earlier still ends the session.
    refreshExpiresAt:
      tokens.refresh_token || !state ? now + 12 * 3600 * 1000 : state.refreshExpiresAt,
    user: tokens.user || (state && state.user),
  };
  save();
  scheduleRefresh();
  notify(reason);
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  if (!state) return;
  const delay = Math.max(5_000, state.accessExpiresAt - Date.now() - REFRESH_MARGIN_MS);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {});
  }, delay);
}

/**
 * Exchange the refresh token for a new access token. Concurrent callers share one
 * request. A 401 ends the session with reason "expired"; a network error keeps
 * the session and retries later, because a paramedic may be out of coverage.
 */
export function refresh() {
  if (!state) return Promise.reject(new Error("not signed in"));
  if (refreshInFlight) return refreshInFlight;
  const base = window.TRIAGE_CONFIG.apiBaseUrl;
  refreshInFlight = fetch(`${base}/auth/refresh`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: state.refreshToken }),
  })
    .then(async (response) => {
      if (response.ok) {
        store(await response.json(), "refresh");
        return state.accessToken;
      }
      if (response.status === 400 || response.status === 401 || response.status === 403) {
        expire();
        throw new Error("session expired");
      }
      throw new Error(`refresh failed with HTTP ${response.status}`);
    })
    .catch((error) => {
      if (state) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => refresh().catch(() => {}), RETRY_AFTER_NETWORK_ERROR_MS);
      }
      throw error;
    })
    .finally(() => {
      refreshInFlight = null;
    });
  return refreshInFlight;
}

/** Return a usable access token, refreshing first when it expires within 30 s. */
export async function freshAccessToken() {
  if (!state) return null;
  if (Date.now() > state.accessExpiresAt - 30_000) {
    try {
      return await refresh();
    } catch {
      return state ? state.accessToken : null;
    }
  }
  return state.accessToken;
}

/** End the session because the server no longer accepts its tokens. */
export function expire() {
  clearTimeout(refreshTimer);
  state = null;
  save();
  notify("expired");
}

export function logout() {
  clearTimeout(refreshTimer);
  state = null;
  save();
  notify("logout");
}

if (state) {
  if (Date.now() >= state.refreshExpiresAt) {
    state = null;
    save();
  } else {
    scheduleRefresh();
  }
}
