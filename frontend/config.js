// Default endpoints for a frontend served next to the API. The local gateway
// replaces this file with its own, and cloud deployments upload one that names
// the API Gateway URLs.
window.TRIAGE_CONFIG = window.TRIAGE_CONFIG || {
  apiBaseUrl: "/api",
  websocketUrl:
    (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/ws",
};
