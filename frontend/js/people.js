// Display names for user ids from GET /doctors (doctors and admins) and GET /users
// (admins only), so the patient page shows names in place of usr_... ids.

import { api, idOf } from "./api.js";

const MAX_AGE_MS = 60_000;

let cached = null; // {userId, loadedAt, names: Map<id, name>}

function addItems(names, result) {
  const items = Array.isArray(result) ? result : (result && result.items) || [];
  for (const item of items) {
    const id = item && idOf(item);
    if (id && (item.name || item.email)) names.set(id, item.name || item.email);
  }
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
  if (user.role === "DOCTOR" || user.role === "ADMIN") calls.push(api.get("/doctors"));
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
}

/** Return "you" for the signed-in user, the name when known, else "another user". */
export function nameOf(id, names, user) {
  if (!id) return "nobody";
  if (user && id === user.id) return "you";
  return (names && names.get(id)) || "another user";
}
