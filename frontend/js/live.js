// One websocket per signed-in doctor or admin, shared by the board, the patient
// page and the critical alerts. After a dropped connection it reconnects with
// exponential back-off (1 s, 2 s, 4 s ... capped at 30 s, plus up to 20 % jitter)
// and subscribes again.

import { freshAccessToken } from "./session.js";

const BASE_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

let socket = null;
let running = false;
let attempt = 0;
let reconnectTimer = null;
let status = { state: "offline", retryInMs: 0 };
const subscriptions = new Map();
const messageListeners = new Set();
const statusListeners = new Set();

function setStatus(state, retryInMs = 0) {
  status = { state, retryInMs, attempt };
  for (const listener of statusListeners) listener(status);
}

function subscriptionKey(message) {
  return `${message.channel}:${message.patient_id || ""}`;
}

function sendSubscription(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ action: "subscribe", ...message }));
  }
}

async function connect() {
  if (!running) return;
  setStatus("connecting");
  const token = await freshAccessToken();
  if (!running) return;
  if (!token) {
    setStatus("offline");
    return;
  }
  const url = `${window.TRIAGE_CONFIG.websocketUrl}?token=${encodeURIComponent(token)}`;
  let openedAt = 0;
  try {
    socket = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  const current = socket;
  current.addEventListener("open", () => {
    openedAt = Date.now();
    setStatus("connected");
    for (const message of subscriptions.values()) sendSubscription(message);
  });
  current.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    for (const listener of messageListeners) listener(message);
  });
  current.addEventListener("close", () => {
    if (current !== socket) return;
    socket = null;
    // A connection that stayed up for 10 s resets the back-off. One that the server
    // closes right after opening, for example after a rejected token, does not.
    if (openedAt && Date.now() - openedAt > 10_000) attempt = 0;
    scheduleReconnect();
  });
}

function scheduleReconnect() {
  if (!running) {
    setStatus("offline");
    return;
  }
  const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  const jittered = Math.round(delay * (1 + Math.random() * 0.2));
  attempt += 1;
  setStatus("reconnecting", jittered);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, jittered);
}

/** Open the connection if it is not open; idempotent. */
export function startLive() {
  if (running) return;
  running = true;
  attempt = 0;
  connect();
}

/** Close the connection for good, e.g. at logout. */
export function stopLive() {
  running = false;
  clearTimeout(reconnectTimer);
  subscriptions.clear();
  if (socket) {
    const current = socket;
    socket = null;
    current.close(1000, "logout");
  }
  setStatus("offline");
}

/** Reconnect now instead of waiting for the back-off timer. */
export function reconnectNow() {
  if (!running || (socket && socket.readyState <= WebSocket.OPEN)) return;
  attempt = 0;
  clearTimeout(reconnectTimer);
  connect();
}

/** Subscribe to {channel: "board"} or {channel: "patient", patient_id}; returns an undo. */
export function subscribe(message) {
  const key = subscriptionKey(message);
  subscriptions.set(key, message);
  sendSubscription(message);
  return () => subscriptions.delete(key);
}

export function onLiveMessage(listener) {
  messageListeners.add(listener);
  return () => messageListeners.delete(listener);
}

export function onLiveStatus(listener) {
  statusListeners.add(listener);
  listener(status);
  return () => statusListeners.delete(listener);
}

window.addEventListener("online", reconnectNow);
