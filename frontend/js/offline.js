// Outbox of patient submissions. Each one is stored in localStorage with a
// client-generated Idempotency-Key before the first attempt and removed only after
// an API response, so a retry after a lost response never creates a second patient.

import { ApiError, api } from "./api.js";

const STORAGE_KEY = "triage.outbox";
const RETRY_INTERVAL_MS = 20_000;

const listeners = new Set();
const inFlight = new Set();
let flushing = null;

function read() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
  } catch {
    return [];
  }
}

function write(entries) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(entries));
  for (const listener of listeners) listener(entries);
}

/** Generate a random UUID v4. crypto.randomUUID exists only in secure contexts. */
export function newIdempotencyKey() {
  if (window.crypto.randomUUID) return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Entries of one user that still wait for the API. */
export function pending(userId) {
  return read().filter((entry) => entry.userId === userId);
}

export function onOutboxChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function remove(key) {
  write(read().filter((entry) => entry.key !== key));
}

function update(key, changes) {
  write(read().map((entry) => (entry.key === key ? { ...entry, ...changes } : entry)));
}

async function post(entry) {
  return api.post("/patients", entry.body, { "Idempotency-Key": entry.key });
}

/**
 * Store the submission, then send it. Returns {patient} when the API stored it,
 * {queued: entry} when the connection failed, and throws ApiError for a rejection
 * (4xx), after removing the entry because resending cannot succeed.
 */
export async function submitPatient(body, userId) {
  const entry = {
    key: newIdempotencyKey(),
    body,
    userId,
    queuedAt: new Date().toISOString(),
    attempts: 0,
  };
  write([...read(), entry]);
  return sendEntry(entry);
}

async function sendEntry(entry) {
  if (inFlight.has(entry.key)) return { queued: entry };
  inFlight.add(entry.key);
  try {
    const patient = await post(entry);
    remove(entry.key);
    return { patient };
  } catch (error) {
    if (
      error instanceof ApiError &&
      (error.isNetwork || error.status >= 500 || error.status === 401)
    ) {
      update(entry.key, { attempts: entry.attempts + 1, lastError: error.message });
      return { queued: entry };
    }
    remove(entry.key);
    throw error;
  } finally {
    inFlight.delete(entry.key);
  }
}

/**
 * Send every stored entry of `userId`, oldest first. Returns the patients the API
 * stored. Rejected entries are dropped and reported through `onRejected`.
 */
export function flushOutbox(userId, onRejected = () => {}) {
  if (flushing) return flushing;
  const run = async () => {
    const stored = [];
    for (const entry of pending(userId)) {
      try {
        const result = await sendEntry(entry);
        if (result.queued) break;
        stored.push(result.patient);
      } catch (error) {
        onRejected(entry, error);
      }
    }
    return stored;
  };
  // Web Locks keep two tabs of one browser from sending an entry at the same time.
  // The Idempotency-Key already makes that harmless, so the lock only saves requests.
  const locked = navigator.locks ? navigator.locks.request("triage-outbox", run) : run();
  flushing = locked.finally(() => {
    flushing = null;
  });
  return flushing;
}

/** Flush when the browser goes online and every 20 s while entries remain. */
export function startOutbox(userIdProvider, onStored, onRejected) {
  const tick = async () => {
    const userId = userIdProvider();
    if (!userId || pending(userId).length === 0) return;
    const stored = await flushOutbox(userId, onRejected);
    if (stored.length) onStored(stored);
  };
  window.addEventListener("online", tick);
  const timer = setInterval(tick, RETRY_INTERVAL_MS);
  tick();
  return () => {
    window.removeEventListener("online", tick);
    clearInterval(timer);
  };
}
