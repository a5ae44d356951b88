// A paramedic's own submissions (the API filters GET /patients for paramedics),
// plus the ones still stored on this device.

import { api, idOf } from "../api.js";
import { news2Badge, news2WarningMarker, riskBadge, statusLabel } from "../clinical.js";
import { formatTime, h, replace } from "../dom.js";
import { onOutboxChange, pending } from "../offline.js";

function outboxSection(userId) {
  const entries = pending(userId);
  if (!entries.length) return null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "outbox-heading" },
    h("h2", { id: "outbox-heading" }, "Waiting to send"),
    h(
      "ul",
      { class: "plain-list", dataset: { testid: "outbox" } },
      entries.map((entry) =>
        h(
          "li",
          {},
          `${formatTime(entry.queuedAt)}: ${entry.body.age} y ${entry.body.sex}, ` +
            `HR ${entry.body.heart_rate}/min, SpO2 ${entry.body.spo2} %` +
            (entry.attempts ? ` (${entry.attempts} attempt(s) so far)` : ""),
        ),
      ),
    ),
  );
}

function patientRow(patient) {
  const vitals = patient.vitals || {};
  const id = idOf(patient);
  return h(
    "li",
    { class: "patient-card", dataset: { patientId: id } },
    h(
      "a",
      { href: `#/patients/${encodeURIComponent(id)}`, class: "card-link" },
      h(
        "span",
        { class: "card-title" },
        `${vitals.age ?? "?"} y ${vitals.sex ?? ""}`,
        vitals.chief_complaint ? `, ${vitals.chief_complaint}` : "",
      ),
      h(
        "span",
        { class: "card-meta" },
        `${formatTime(patient.created_at)}, ${statusLabel(patient.status)}`,
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

export function render(main, { user }) {
  const outbox = h("div", {});
  const list = h("div", { "aria-live": "polite" }, h("p", {}, "Loading..."));
  main.replaceChildren(h("h1", {}, "My patients"), outbox, list);

  const renderOutbox = () => replace(outbox, outboxSection(user.id));
  const load = async () => {
    try {
      const page = await api.get("/patients", { page_size: 100, submitted_by: user.id });
      const items = page.items || [];
      replace(
        list,
        items.length
          ? h(
              "ul",
              { class: "patient-list", dataset: { testid: "my-patients" } },
              items.map(patientRow),
            )
          : h("p", {}, "No patients submitted yet."),
        page.total > items.length
          ? h("p", { class: "muted" }, `Showing ${items.length} of ${page.total}.`)
          : null,
      );
    } catch (error) {
      replace(list, h("p", { class: "notice-error" }, `Could not load patients: ${error.message}`));
    }
  };

  renderOutbox();
  load();
  const stopWatching = onOutboxChange(() => {
    renderOutbox();
    load();
  });
  const timer = setInterval(load, 30_000);
  return () => {
    stopWatching();
    clearInterval(timer);
  };
}
