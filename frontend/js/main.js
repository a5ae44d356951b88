// Application shell: hash routes, role-based navigation, session handling, the
// shared websocket for doctors and admins, and the outbox for paramedics.

import { h, replace } from "./dom.js";
import { currentUser, isSignedIn, logout, onSessionChange } from "./session.js";
import { onLiveMessage, startLive, stopLive, subscribe } from "./live.js";
import { clearAlerts, initAlerts, raiseCriticalAlert } from "./alerts.js";
import { onOutboxChange, pending, startOutbox } from "./offline.js";
import * as loginPage from "./pages/login.js";
import * as submitPage from "./pages/submit.js";
import * as minePage from "./pages/mine.js";
import * as boardPage from "./pages/board.js";
import * as patientPage from "./pages/patient.js";
import * as usersPage from "./pages/users.js";
import * as modelCardPage from "./pages/model_card.js";
import * as auditPage from "./pages/audit.js";

const ALL_ROLES = ["PARAMEDIC", "DOCTOR", "ADMIN"];

const ROUTES = [
  { path: "submit", label: "New patient", roles: ["PARAMEDIC", "ADMIN"], page: submitPage },
  { path: "mine", label: "My patients", roles: ["PARAMEDIC", "ADMIN"], page: minePage },
  { path: "board", label: "Board", roles: ["DOCTOR", "ADMIN"], page: boardPage },
  { path: "users", label: "Users", roles: ["ADMIN"], page: usersPage },
  { path: "model-card", label: "Model card", roles: ["ADMIN"], page: modelCardPage },
  { path: "audit", label: "Audit log", roles: ["ADMIN"], page: auditPage },
  { path: "patients", label: null, roles: ALL_ROLES, page: patientPage },
];

const HOME = { PARAMEDIC: "submit", DOCTOR: "board", ADMIN: "board" };

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const sessionInfo = document.getElementById("session-info");
const noticeElement = document.getElementById("notice");

let cleanup = null;
let loginMessage = "";
let stopOutbox = null;
let stopBoardSubscription = null;
let noticeTimer = null;

/** Show a short message in the polite live region; errors stay until replaced. */
export function showNotice(text, kind = "info") {
  clearTimeout(noticeTimer);
  replace(noticeElement, text ? h("p", { class: `notice-${kind}` }, text) : null);
  if (text && kind !== "error") noticeTimer = setTimeout(() => replace(noticeElement), 8_000);
}

export function navigate(path) {
  if (window.location.hash === `#/${path}`) route();
  else window.location.hash = `#/${path}`;
}

function parseHash() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return { path: parts[0] || "", params: parts.slice(1).map(decodeURIComponent) };
}

function renderNav(user, currentPath) {
  if (!user) {
    replace(nav);
    replace(sessionInfo);
    return;
  }
  const links = ROUTES.filter((item) => item.label && item.roles.includes(user.role)).map((item) =>
    h(
      "a",
      { href: `#/${item.path}`, "aria-current": item.path === currentPath ? "page" : null },
      item.label,
    ),
  );
  replace(nav, links);
  const waiting = user.role === "PARAMEDIC" || user.role === "ADMIN" ? pending(user.id).length : 0;
  replace(
    sessionInfo,
    waiting
      ? h(
          "span",
          { class: "badge outbox", dataset: { testid: "outbox-count" } },
          `${waiting} waiting to send`,
        )
      : null,
    h("span", { class: "who" }, `${user.name || user.email} (${user.role})`),
    h("button", { type: "button", class: "btn btn-small", onclick: () => logout() }, "Log out"),
  );
}

function route() {
  const { path, params } = parseHash();
  const user = isSignedIn() ? currentUser() : null;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  if (!user) {
    renderNav(null);
    if (path !== "login") {
      window.location.hash = "#/login";
      return;
    }
    const message = loginMessage;
    loginMessage = "";
    cleanup = loginPage.render(main, {
      message,
      onLogin: () => navigate(HOME[currentUser().role] || "submit"),
    });
    return;
  }
  const match = ROUTES.find((item) => item.path === path);
  if (!match || !match.roles.includes(user.role)) {
    navigate(HOME[user.role] || "submit");
    return;
  }
  renderNav(user, path);
  cleanup = match.page.render(main, { params, user, navigate, showNotice }) || null;
  main.focus({ preventScroll: true });
}

function startRoleServices(user) {
  if (user.role === "DOCTOR" || user.role === "ADMIN") {
    startLive();
    stopBoardSubscription = subscribe({ channel: "board" });
  }
  if (user.role === "PARAMEDIC" || user.role === "ADMIN") {
    stopOutbox = startOutbox(
      () => (currentUser() ? currentUser().id : null),
      (stored) =>
        showNotice(`${stored.length} stored submission(s) sent to the hospital.`, "success"),
      (entry, error) => showNotice(`A stored submission was rejected: ${error.message}`, "error"),
    );
  }
}

function stopRoleServices() {
  if (stopBoardSubscription) stopBoardSubscription();
  stopBoardSubscription = null;
  stopLive();
  clearAlerts();
  if (stopOutbox) stopOutbox();
  stopOutbox = null;
}

onLiveMessage((message) => {
  if (message.type === "alert.critical" && message.patient) raiseCriticalAlert(message.patient);
});

onOutboxChange(() => {
  const user = currentUser();
  if (user) renderNav(user, parseHash().path);
});

onSessionChange((session, reason) => {
  if (reason === "login") {
    startRoleServices(session.user);
  } else if (reason === "logout" || reason === "expired") {
    stopRoleServices();
    loginMessage =
      reason === "expired"
        ? "Your session expired. Log in again to continue; unsent submissions are kept."
        : "You are logged out.";
    if (parseHash().path === "login") route();
    else window.location.hash = "#/login";
  }
});

initAlerts(document.getElementById("alerts"));
window.addEventListener("hashchange", route);
if (isSignedIn()) startRoleServices(currentUser());
route();
