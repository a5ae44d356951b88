// Display names for user ids from GET /doctors (doctors and admins) and GET /users
// (admins only), so the patient page shows names in place of usr_... ids.

import { api, idOf } from "./api.js";

const MAX_AGE_MS = 60_000;

let cached = null; // {userId, loadedAt, names: Map<id, name>}
let cachedDoctors = null; // {userId, loadedAt, request: Promise<items>}

function addItems(names, result) {
  const items = itemsOf(result);
  for (const item of items) {
    const id = item && idOf(item);
    if (id && (item.name || item.email)) names.set(id, item.name || item.email);
  }
}

function itemsOf(result) {
  return Array.isArray(result) ? result : (result && result.items) || [];
}

/**
 * Return the active doctors ({id, name}) from GET /doctors, kept for 60 s per user
 * and shared by the assign pick list and the name lookup.
 */
export function loadDoctors(user) {
  const fresh =
    cachedDoctors &&
    cachedDoctors.userId === user.id &&
    Date.now() - cachedDoctors.loadedAt < MAX_AGE_MS;
  if (!fresh) {
    const request = api.get("/doctors").then(itemsOf);
    // A failed request is not kept, so the next call tries again.
    request.catch(() => {
      cachedDoctors = null;
    });
    cachedDoctors = { userId: user.id, loadedAt: Date.now(), request };
  }
  return cachedDoctors.request;
}

/**
 * Load the names the signed-in user may see. A failed call leaves its names out.
 * Results are kept for 60 s per user, so re-rendering a page sends no requests.
 */
export async function loadNames(user) {
  if (cached && cached.userId === user.id && Date.now() - cached.loadedAt < MAX_AGE_MS) {
    return cached.names;
  }
  const names = new Map();
  const calls = [];
  if (user.role === "DOCTOR" || user.role === "ADMIN") calls.push(loadDoctors(user));
  if (user.role === "ADMIN") calls.push(api.get("/users"));
  for (const outcome of await Promise.allSettled(calls)) {
    if (outcome.status === "fulfilled") addItems(names, outcome.value);
  }
  cached = { userId: user.id, loadedAt: Date.now(), names };
  return names;
}

/** Forget the loaded names, for example after an admin changed a user. */
export function forgetNames() {
  cached = null;
  cachedDoctors = null;
}

/** Return "you" for the signed-in user, the name when known, else "another user". */
export function nameOf(id, names, user) {
  if (!id) return "nobody";
  if (user && id === user.id) return "you";
  return (names && names.get(id)) || "another user";
}
