// Doctor board: patients sorted by ICU risk, kept live over the websocket.

import { api, idOf } from "../api.js";
import { barChart } from "../charts.js";
import {
  RISK_LEVELS,
  news2Badge,
  news2WarningMarker,
  riskBadge,
  riskLabel,
  riskLevelOf,
  statusLabel,
  summarize,
  warningTexts,
} from "../clinical.js";
import { formatTime, h, replace } from "../dom.js";
import { onLiveMessage, onLiveStatus, reconnectNow } from "../live.js";

export const STATUSES = [
  "incoming",
  "arrived",
  "in_treatment",
  "admitted_icu",
  "admitted_ward",
  "discharged",
  "transferred",
];
const OPEN_STATUSES = new Set(["incoming", "arrived", "in_treatment"]);

function riskSortOf(patient) {
  return typeof patient.risk_sort === "number" ? patient.risk_sort : -1;
}

function compareForBoard(a, b) {
  const byRisk = riskSortOf(b) - riskSortOf(a);
  if (byRisk !== 0) return byRisk;
  return String(b.created_at || "").localeCompare(String(a.created_at || ""));
}

function matchesFilters(patient, filters) {
  if (filters.status === "open" && !OPEN_STATUSES.has(patient.status)) return false;
  if (filters.status !== "open" && filters.status !== "all" && patient.status !== filters.status) {
    return false;
  }
  if (filters.risk !== "all" && riskLevelOf(patient) !== filters.risk) return false;
  return true;
}

function select(id, label, options, value, onChange) {
  return h(
    "div",
    { class: "field inline" },
    h("label", { for: id }, label),
    h(
      "select",
      { id, onchange: (event) => onChange(event.target.value) },
      options.map(([optionValue, text]) =>
        h("option", { value: optionValue, selected: optionValue === value }, text),
      ),
    ),
  );
}

function patientRow(patient, isNew) {
  const id = idOf(patient);
  const level = riskLevelOf(patient);
  return h(
    "li",
    {
      class: `patient-card risk-border-${level}${isNew ? " is-new" : ""}`,
      dataset: { patientId: id, risk: level },
    },
    h(
      "a",
      { href: `#/patients/${encodeURIComponent(id)}`, class: "card-link" },
      h(
        "span",
        { class: "card-title" },
        `${patient.age ?? "?"} y ${patient.sex ?? ""}`,
        patient.chief_complaint ? `, ${patient.chief_complaint}` : "",
      ),
      h(
        "span",
        { class: "card-meta" },
        `${statusLabel(patient.status)}, ${formatTime(patient.created_at)}`,
        patient.assigned_doctor_id ? ", assigned" : ", unassigned",
      ),
    ),
    h(
      "span",
      { class: "card-badges" },
      riskBadge(patient),
      " ",
      news2Badge(patient),
      news2WarningMarker(patient),
    ),
  );
}

function statsView(stats) {
  if (!stats) return null;
  const byRisk = stats.by_risk_level || stats.risk_levels || {};
  const byStatus = stats.by_status || stats.statuses || {};
  const tiles = [
    ["Open critical", stats.open_critical],
    ["Arrivals today", stats.arrivals_today ?? stats.today_arrivals],
  ].filter(([, value]) => value !== undefined && value !== null);
  return h(
    "div",
    { class: "stats", dataset: { testid: "stats" } },
    h(
      "dl",
      { class: "tiles" },
      tiles.map(([label, value]) =>
        h("div", { class: "tile" }, h("dt", {}, label), h("dd", {}, String(value))),
      ),
    ),
    barChart(
      // Every level gets a row, so the chart keeps its shape as counts change.
      [...RISK_LEVELS, "pending"].map((level) => ({
        label: riskLabel(level),
        value: Number(byRisk[level]) || 0,
        className: `risk-${level}`,
      })),
      { title: "ICU risk levels", testid: "chart-risk" },
    ),
    barChart(
      STATUSES.filter((status) => byStatus[status] !== undefined).map((status) => ({
        label: statusLabel(status),
        value: Number(byStatus[status]) || 0,
      })),
      { title: "Statuses", testid: "chart-status" },
    ),
  );
}

export function render(main, { showNotice }) {
  const filters = { status: "open", risk: "all" };
  const patients = new Map();
  const fresh = new Set();
  let statsTimer = null;

  const connection = h("p", {
    class: "connection",
    role: "status",
    dataset: { testid: "connection" },
  });
  const statsBox = h("section", { "aria-label": "Counts" });
  const list = h("ul", { class: "patient-list board-list", dataset: { testid: "board" } });
  const empty = h("p", { class: "muted", hidden: true }, "No patients match the filters.");

  const renderList = () => {
    const rows = [...patients.values()]
      .filter((patient) => matchesFilters(patient, filters))
      .sort(compareForBoard);
    replace(
      list,
      rows.map((patient) => patientRow(patient, fresh.has(idOf(patient)))),
    );
    empty.hidden = rows.length > 0;
  };

  const loadStats = async () => {
    try {
      replace(statsBox, statsView(await api.get("/stats")));
    } catch (error) {
      replace(
        statsBox,
        h("p", { class: "notice-error" }, `Could not load counts: ${error.message}`),
      );
    }
  };
  const scheduleStats = () => {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 500);
  };

  const load = async () => {
    const query = { page_size: 200 };
    if (filters.status !== "open" && filters.status !== "all") query.status = filters.status;
    if (filters.risk !== "all") query.risk_level = filters.risk;
    try {
      const page = await api.get("/patients", query);
      for (const patient of page.items || []) patients.set(idOf(patient), summarize(patient));
      renderList();
    } catch (error) {
      showNotice(`Could not load patients: ${error.message}`, "error");
    }
  };

  const enrich = async (id) => {
    try {
      const patient = await api.get(`/patients/${encodeURIComponent(id)}`);
      patients.set(id, {
        ...(patients.get(id) || {}),
        chief_complaint: patient.vitals?.chief_complaint ?? null,
        news2_warnings: warningTexts(patient.news2?.warnings),
      });
      renderList();
    } catch (error) {
      if (!error.isNetwork) showNotice(`Could not load patient details: ${error.message}`, "error");
    }
  };

  const setFilter = (key) => (value) => {
    filters[key] = value;
    renderList();
    load();
  };

  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Board"), connection),
    statsBox,
    h(
      "div",
      { class: "filters", role: "group", "aria-label": "Filters" },
      select(
        "filter-status",
        "Status",
        [
          ["open", "Open cases"],
          ["all", "All"],
          ...STATUSES.map((status) => [status, statusLabel(status)]),
        ],
        filters.status,
        setFilter("status"),
      ),
      select(
        "filter-risk",
        "ICU risk",
        [
          ["all", "All"],
          ...RISK_LEVELS.map((level) => [level, riskLabel(level)]),
          ["pending", "Pending"],
        ],
        filters.risk,
        setFilter("risk"),
      ),
    ),
    list,
    empty,
  );

  const stopStatus = onLiveStatus((status) => {
    connection.dataset.state = status.state;
    const texts = {
      connected: "Live: connected",
      connecting: "Connecting...",
      reconnecting: `Connection lost, retrying in ${Math.ceil(status.retryInMs / 1000)} s`,
      offline: "Not connected",
    };
    replace(
      connection,
      h("span", { class: "dot", "aria-hidden": "true" }),
      texts[status.state] || status.state,
      status.state === "reconnecting"
        ? h(
            "button",
            { type: "button", class: "btn btn-small", onclick: reconnectNow },
            "Retry now",
          )
        : null,
    );
    // Events may have been missed while disconnected, so reload on every reconnect.
    if (status.state === "connected") {
      load();
      scheduleStats();
    }
  });

  const stopMessages = onLiveMessage((message) => {
    if (
      !message.patient ||
      !["patient.created", "patient.updated", "alert.critical"].includes(message.type)
    )
      return;
    const id = idOf(message.patient);
    const known = patients.get(id);
    patients.set(id, { ...(known || {}), ...message.patient });
    // The websocket summary leaves out the chief complaint; fetch it once.
    if (!known || !("chief_complaint" in known)) enrich(id);
    if (message.type === "patient.created") {
      fresh.add(id);
      setTimeout(() => {
        fresh.delete(id);
      }, 10_000);
    }
    renderList();
    scheduleStats();
  });

  load();
  loadStats();
  return () => {
    stopStatus();
    stopMessages();
    clearTimeout(statsTimer);
  };
}
