// Admin: the audit log (GET /audit) with filters by patient and user, and paging.

import { api, idOf } from "../api.js";
import { formatTime, h, humanize, replace } from "../dom.js";

const PAGE_SIZE = 50;
const PATIENT_ID = /^pat_[0-9a-f]{32}$/;

function cell(label, ...children) {
  return h("td", { "data-label": label }, ...children);
}

export function render(main, { showNotice }) {
  const state = { page: 1, patientId: "", userId: "" };
  const users = new Map(); // id -> {name, email}
  const list = h("div", { dataset: { testid: "audit" } }, h("p", {}, "Loading..."));
  const pager = h("nav", { class: "pager", "aria-label": "Audit pages" });
  const patientInput = h("input", {
    id: "audit-patient",
    type: "text",
    autocomplete: "off",
    placeholder: "pat_...",
    spellcheck: "false",
  });
  const patientError = h("p", { class: "field-error", id: "audit-patient-error" });
  const userSelect = h("select", { id: "audit-user" }, h("option", { value: "" }, "Everyone"));

  const userLabel = (id) => {
    if (!id) return "-";
    const known = users.get(id);
    return known ? known.name || known.email : id;
  };

  const row = (entry) =>
    h(
      "tr",
      { dataset: { action: entry.action || "", entryId: entry.id || "" } },
      cell("Time", formatTime(entry.at)),
      cell("User", h("span", { class: "wrap-id" }, userLabel(entry.user_id))),
      cell("Role", entry.role || "-"),
      cell("Action", entry.action || "-"),
      cell(
        "Patient",
        entry.patient_id
          ? h(
              "a",
              { href: `#/patients/${encodeURIComponent(entry.patient_id)}`, class: "wrap-id" },
              entry.patient_id,
            )
          : "-",
      ),
      cell("Request id", h("span", { class: "wrap-id muted" }, entry.request_id || "-")),
    );

  const pagerButton = (label, page, enabled) =>
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small",
        disabled: !enabled,
        onclick: () => {
          state.page = page;
          load();
        },
      },
      label,
    );

  const load = async () => {
    const query = { page: state.page, page_size: PAGE_SIZE };
    if (state.patientId) query.patient_id = state.patientId;
    if (state.userId) query.user_id = state.userId;
    try {
      const result = await api.get("/audit", query);
      const items = result.items || [];
      const total = Number(result.total) || 0;
      const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      replace(
        list,
        items.length
          ? h(
              "div",
              { class: "table-scroll" },
              h(
                "table",
                { class: "data table-cards audit-table" },
                h("caption", {}, `${total} entries`),
                h(
                  "thead",
                  {},
                  h(
                    "tr",
                    {},
                    ["Time", "User", "Role", "Action", "Patient", "Request id"].map((title) =>
                      h("th", { scope: "col" }, title),
                    ),
                  ),
                ),
                h("tbody", {}, items.map(row)),
              ),
            )
          : h("p", { class: "muted" }, "No audit entries match the filters."),
      );
      replace(
        pager,
        pagerButton("Previous page", state.page - 1, state.page > 1),
        h("span", { dataset: { testid: "audit-page" } }, `Page ${state.page} of ${pages}`),
        pagerButton("Next page", state.page + 1, state.page < pages),
      );
    } catch (error) {
      replace(
        list,
        h("p", { class: "notice-error" }, `Could not load the audit log: ${error.message}`),
      );
      replace(pager);
    }
  };

  const loadUsers = async () => {
    try {
      const result = await api.get("/users");
      const items = Array.isArray(result) ? result : result.items || [];
      for (const item of items) users.set(idOf(item), item);
      const sorted = [...items].sort((a, b) =>
        String(a.name || a.email).localeCompare(String(b.name || b.email)),
      );
      replace(
        userSelect,
        h("option", { value: "" }, "Everyone"),
        sorted.map((item) =>
          h(
            "option",
            { value: idOf(item), selected: idOf(item) === state.userId },
            `${item.name || item.email} (${humanize(item.role).toLowerCase()})`,
          ),
        ),
      );
    } catch (error) {
      showNotice(`Could not load user names: ${error.message}`, "error");
    }
  };

  const applyFilters = (event) => {
    event.preventDefault();
    const patientId = patientInput.value.trim();
    patientError.textContent = "";
    patientInput.removeAttribute("aria-invalid");
    if (patientId && !PATIENT_ID.test(patientId)) {
      patientError.textContent = "A patient id is pat_ followed by 32 hex characters.";
      patientInput.setAttribute("aria-invalid", "true");
      patientInput.focus();
      return;
    }
    state.patientId = patientId;
    state.userId = userSelect.value;
    state.page = 1;
    load();
  };

  main.replaceChildren(
    h("h1", {}, "Audit log"),
    h(
      "form",
      { class: "panel audit-filters", novalidate: true, onsubmit: applyFilters },
      h(
        "div",
        { class: "field" },
        h("label", { for: "audit-patient" }, "Patient id"),
        patientInput,
        patientError,
      ),
      h("div", { class: "field" }, h("label", { for: "audit-user" }, "User"), userSelect),
      h("button", { type: "submit", class: "btn btn-primary" }, "Apply filters"),
    ),
    list,
    pager,
  );
  // Names first, so the first table already shows them; the log loads either way.
  loadUsers().then(load);
}
