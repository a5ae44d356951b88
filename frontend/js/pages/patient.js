// Patient detail: vitals, NEWS2, ICU risk, notes, history, assignment and status.

import { api, idOf } from "../api.js";
import { news2Panel, predictionPanel, reasonsPanel, riskBadge, statusLabel } from "../clinical.js";
import { formatTime, h, humanize, replace, sameInstant } from "../dom.js";
import { onLiveMessage, subscribe } from "../live.js";
import { loadDoctors as fetchDoctors, loadNames, nameOf } from "../people.js";
import { CONSCIOUSNESS_LEVELS, NUMERIC_FIELDS, labelOf } from "../vitals.js";

// Allowed status changes. The API enforces the same rules and returns 409 otherwise.
export const TRANSITIONS = {
  incoming: ["arrived"],
  arrived: ["in_treatment"],
  in_treatment: ["admitted_icu", "admitted_ward", "discharged", "transferred"],
  admitted_icu: [],
  admitted_ward: [],
  discharged: [],
  transferred: [],
};

function yesNo(value) {
  if (value === true) return "yes";
  if (value === false) return "no";
  return "not recorded";
}

function vitalsTable(vitals) {
  const rows = [
    ["sex", vitals.sex],
    ...NUMERIC_FIELDS.map((field) => [
      field.name,
      vitals[field.name] === null || vitals[field.name] === undefined
        ? "not measured"
        : `${vitals[field.name]} ${field.unit}`,
    ]),
    ["supplemental_oxygen", yesNo(vitals.supplemental_oxygen)],
    ["spo2_scale", vitals.spo2_scale === 2 ? "2 (hypercapnic respiratory failure)" : "1"],
    [
      "consciousness",
      (() => {
        const level = CONSCIOUSNESS_LEVELS.find((item) => item.value === vitals.consciousness);
        return level ? `${level.value}: ${level.label}` : vitals.consciousness;
      })(),
    ],
    ["injury", yesNo(vitals.injury)],
    ["chief_complaint", vitals.chief_complaint || "not recorded"],
  ];
  return h(
    "section",
    { class: "panel", "aria-labelledby": "vitals-heading" },
    h("h3", { id: "vitals-heading" }, "Vital signs"),
    h(
      "table",
      { class: "kv" },
      h(
        "tbody",
        {},
        rows.map(([name, value]) =>
          h(
            "tr",
            { dataset: { field: name } },
            h("th", { scope: "row" }, labelOf(name)),
            h("td", {}, String(value ?? "-")),
          ),
        ),
      ),
    ),
  );
}

/** Render one history entry. A malformed entry is shown as unreadable, not hidden. */
function historyItem(entry, displayName) {
  if (!entry || typeof entry !== "object") {
    return h("li", { class: "warning-text" }, "Unreadable history entry");
  }
  const change =
    entry.field === "status"
      ? `status ${statusLabel(entry.old)} -> ${statusLabel(entry.new)}`
      : entry.field === "notes"
        ? "note added"
        : entry.field === "assigned_doctor_id"
          ? `assigned doctor ${displayName(entry.old)} -> ${displayName(entry.new)}`
          : `${humanize(entry.field)} ${entry.old ?? "none"} -> ${entry.new ?? "none"}`;
  return h(
    "li",
    {},
    `${formatTime(entry.at)}: ${change}`,
    entry.by ? h("span", { class: "muted" }, ` by ${displayName(entry.by)}`) : null,
  );
}

function historyPanel(history, displayName) {
  return h(
    "section",
    { class: "panel", "aria-labelledby": "history-heading" },
    h("h3", { id: "history-heading" }, "History"),
    history.length
      ? h(
          "ol",
          { class: "plain-list history", dataset: { testid: "history" } },
          history.map((entry) => historyItem(entry, displayName)),
        )
      : h("p", { class: "muted" }, "No changes yet."),
  );
}

export function render(main, { params, user, showNotice }) {
  const patientId = params[0];
  const canAct = user.role === "DOCTOR" || user.role === "ADMIN";
  const body = h("div", {}, h("p", {}, "Loading..."));
  const backPath = user.role === "PARAMEDIC" ? "mine" : "board";
  main.replaceChildren(
    h(
      "p",
      {},
      h(
        "a",
        { href: `#/${backPath}` },
        user.role === "PARAMEDIC" ? "Back to my patients" : "Back to the board",
      ),
    ),
    body,
  );
  let doctors = null;
  let names = new Map();
  let current = null;
  const displayName = (id) => nameOf(id, names, user);
  // The page re-renders on live updates, so the note being typed is kept here.
  let draftNote = "";

  const act = async (label, path, payload) => {
    try {
      const updated = await api.post(`/patients/${encodeURIComponent(patientId)}${path}`, payload);
      showNotice(`${label}: done.`, "success");
      if (updated && idOf(updated)) show(updated);
      else load();
    } catch (error) {
      showNotice(`${label} failed: ${error.message}`, "error");
    }
  };

  const loadDoctors = async () => {
    try {
      doctors = await fetchDoctors(user);
    } catch {
      // Without the list (API unreachable) the doctor's user id can still be typed.
      doctors = [];
    }
  };

  const actionsPanel = (patient) => {
    const next = TRANSITIONS[patient.status] || [];
    const doctorChoice =
      doctors && doctors.length
        ? h(
            "select",
            { id: "assign-doctor" },
            doctors.map((doctor) =>
              h("option", { value: idOf(doctor) }, doctor.name),
            ),
          )
        : h("input", {
            id: "assign-doctor",
            type: "text",
            placeholder: "usr_...",
            autocomplete: "off",
          });
    return h(
      "section",
      { class: "panel actions", "aria-labelledby": "actions-heading" },
      h("h3", { id: "actions-heading" }, "Actions"),
      h(
        "p",
        {},
        "Status: ",
        h("strong", { dataset: { testid: "status" } }, statusLabel(patient.status)),
      ),
      next.length
        ? h(
            "div",
            { class: "button-row", role: "group", "aria-label": "Change status" },
            next.map((status) =>
              h(
                "button",
                {
                  type: "button",
                  class: "btn",
                  dataset: { status },
                  onclick: () => act(`Status ${statusLabel(status)}`, "/status", { status }),
                },
                `Mark ${statusLabel(status)}`,
              ),
            ),
          )
        : h("p", { class: "muted" }, "Final status; no further changes."),
      h(
        "p",
        {},
        "Assigned doctor: ",
        h(
          "strong",
          { dataset: { testid: "assigned-doctor" } },
          nameOf(patient.assigned_doctor_id, names, user),
        ),
      ),
      h(
        "div",
        { class: "button-row" },
        user.role === "DOCTOR"
          ? h(
              "button",
              {
                type: "button",
                class: "btn",
                onclick: () => act("Assign to me", "/assign", { doctor_id: user.id }),
              },
              "Assign to me",
            )
          : null,
      ),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            const value = event.target.querySelector("#assign-doctor").value.trim();
            if (value) act("Assign", "/assign", { doctor_id: value });
          },
        },
        h(
          "label",
          { for: "assign-doctor" },
          doctors && doctors.length ? "Assign to doctor" : "Assign to doctor (user id)",
        ),
        doctorChoice,
        h("button", { type: "submit", class: "btn" }, "Assign"),
      ),
    );
  };

  const notesPanel = (patient) => {
    const notes = patient.notes || [];
    const textarea = h("textarea", {
      id: "note-text",
      rows: 3,
      maxlength: 2000,
      required: true,
      value: draftNote,
      oninput: (event) => {
        draftNote = event.target.value;
      },
    });
    return h(
      "section",
      { class: "panel", "aria-labelledby": "notes-heading" },
      h("h3", { id: "notes-heading" }, "Notes"),
      notes.length
        ? h(
            "ul",
            { class: "plain-list notes" },
            notes.map((note) =>
              note && typeof note === "object"
                ? h(
                    "li",
                    {},
                    h("p", { class: "note-text" }, note.text),
                    h(
                      "p",
                      { class: "muted" },
                      `${formatTime(note.created_at)}, ${displayName(note.author_id)}`,
                    ),
                  )
                : h("li", { class: "warning-text" }, "Unreadable note"),
            ),
          )
        : h("p", { class: "muted" }, "No notes yet."),
      canAct
        ? h(
            "form",
            {
              onsubmit: (event) => {
                event.preventDefault();
                const text = textarea.value.trim();
                if (text) {
                  draftNote = "";
                  act("Add note", "/notes", { text });
                }
              },
            },
            h("label", { for: "note-text" }, "Add a note"),
            textarea,
            h("button", { type: "submit", class: "btn" }, "Add note"),
          )
        : null,
    );
  };

  const show = (patient) => {
    const focusedId = document.activeElement && document.activeElement.id;
    current = patient;
    const vitals = patient.vitals || {};
    replace(
      body,
      h(
        "div",
        { class: "page-head" },
        h("h1", {}, `Patient: ${vitals.age ?? "?"} y ${vitals.sex ?? ""}`),
        riskBadge(patient),
      ),
      h(
        "p",
        { class: "muted id-line" },
        `${idOf(patient)}, submitted ${formatTime(patient.created_at)}`,
      ),
      h(
        "div",
        { class: "panels" },
        predictionPanel(patient),
        news2Panel(patient.news2),
        reasonsPanel(patient),
        vitalsTable(vitals),
        canAct ? actionsPanel(patient) : null,
        notesPanel(patient),
        historyPanel(patient.history || [], displayName),
      ),
    );
    if (focusedId) document.getElementById(focusedId)?.focus();
  };

  const load = async () => {
    try {
      if (canAct && doctors === null) await loadDoctors();
      names = await loadNames(user);
      show(await api.get(`/patients/${encodeURIComponent(patientId)}`));
    } catch (error) {
      replace(
        body,
        h("p", { class: "notice-error" }, `Could not load the patient: ${error.message}`),
      );
    }
  };

  const cleanups = [];
  if (canAct) {
    cleanups.push(subscribe({ channel: "patient", patient_id: patientId }));
    cleanups.push(
      onLiveMessage((message) => {
        if (
          !message.patient ||
          idOf(message.patient) !== patientId ||
          message.type !== "patient.updated"
        )
          return;
        // The response to our own change is already shown, so reload only for newer data.
        if (current && sameInstant(message.patient.updated_at, current.updated_at)) return;
        load();
      }),
    );
  }
  load();
  return () => cleanups.forEach((undo) => undo());
}
