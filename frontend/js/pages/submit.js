// Paramedic form for POST /patients and the result: ICU risk, NEWS2, reasons.

import { ApiError, api, idOf } from "../api.js";
import { news2Panel, predictionPanel, reasonsPanel } from "../clinical.js";
import { formatTime, h, replace } from "../dom.js";
import { submitPatient } from "../offline.js";
import {
  CONSCIOUSNESS_LEVELS,
  MAX_COMPLAINT_LENGTH,
  NUMERIC_FIELDS,
  buildVitals,
  rangeText,
} from "../vitals.js";

const PENDING_POLL_MS = 3_000;
const PENDING_POLL_LIMIT = 40;

function errorSlot(name) {
  return h("p", { class: "field-error", id: `error-${name}`, dataset: { errorFor: name } });
}

function numberField(field) {
  const id = `field-${field.name}`;
  return h(
    "div",
    { class: "field", dataset: { field: field.name } },
    h(
      "label",
      { for: id },
      field.label,
      field.required ? null : h("span", { class: "optional" }, " (optional)"),
    ),
    h(
      "div",
      { class: "with-unit" },
      h("input", {
        id,
        name: field.name,
        type: "text",
        inputmode: field.decimals ? "decimal" : "numeric",
        autocomplete: "off",
        "aria-describedby": `range-${field.name} error-${field.name}`,
      }),
      h("span", { class: "unit", "aria-hidden": "true" }, field.unit),
    ),
    h("p", { class: "hint", id: `range-${field.name}` }, rangeText(field)),
    errorSlot(field.name),
  );
}

function radioGroup(name, legend, options, extraClass = "") {
  return h(
    "fieldset",
    {
      class: `choice ${extraClass}`,
      dataset: { field: name },
      "aria-describedby": `error-${name}`,
    },
    h("legend", {}, legend),
    h(
      "div",
      { class: "choices" },
      options.map((option) =>
        h(
          "label",
          { class: "choice-tile" },
          h("input", { type: "radio", name, value: option.value }),
          h("span", {}, option.label),
        ),
      ),
    ),
    errorSlot(name),
  );
}

function buildForm() {
  const byName = Object.fromEntries(
    NUMERIC_FIELDS.map((field) => [field.name, numberField(field)]),
  );
  const complaint = h("textarea", {
    id: "field-chief_complaint",
    name: "chief_complaint",
    rows: 2,
    maxlength: MAX_COMPLAINT_LENGTH,
    "aria-describedby": "error-chief_complaint",
  });
  return h(
    "form",
    { class: "vitals-form", novalidate: true },
    h("div", { class: "error-summary", id: "error-summary", tabindex: "-1", role: "alert" }),
    h(
      "fieldset",
      { class: "group" },
      h("legend", {}, "Patient"),
      byName.age,
      radioGroup("sex", "Sex", [
        { value: "female", label: "Female" },
        { value: "male", label: "Male" },
      ]),
    ),
    h(
      "fieldset",
      { class: "group" },
      h("legend", {}, "Vital signs"),
      byName.heart_rate,
      byName.respiratory_rate,
      byName.spo2,
      h(
        "div",
        { class: "field toggle", dataset: { field: "supplemental_oxygen" } },
        h(
          "label",
          { class: "switch" },
          h("input", {
            type: "checkbox",
            name: "supplemental_oxygen",
            role: "switch",
            id: "field-supplemental_oxygen",
          }),
          h("span", {}, "Supplemental oxygen"),
        ),
        errorSlot("supplemental_oxygen"),
      ),
      h(
        "div",
        { class: "field toggle", dataset: { field: "spo2_scale" } },
        h(
          "label",
          { class: "switch" },
          h("input", { type: "checkbox", name: "spo2_scale_2", id: "field-spo2_scale" }),
          h(
            "span",
            {},
            "SpO2 scale 2: documented hypercapnic respiratory failure (target 88 to 92 %)",
          ),
        ),
        errorSlot("spo2_scale"),
      ),
      byName.systolic_bp,
      byName.diastolic_bp,
      byName.temperature,
    ),
    radioGroup(
      "consciousness",
      "Consciousness (ACVPU)",
      CONSCIOUSNESS_LEVELS.map((level) => ({
        value: level.value,
        label: `${level.value}: ${level.label}`,
      })),
      "group acvpu",
    ),
    h(
      "fieldset",
      { class: "group" },
      h("legend", {}, "More (optional)"),
      byName.gcs,
      radioGroup("injury", "Injury", [
        { value: "yes", label: "Yes" },
        { value: "no", label: "No" },
        { value: "", label: "Unknown" },
      ]),
      h(
        "div",
        { class: "field", dataset: { field: "chief_complaint" } },
        h(
          "label",
          { for: "field-chief_complaint" },
          "Chief complaint",
          h("span", { class: "optional" }, " (optional, at most 200 characters)"),
        ),
        complaint,
        errorSlot("chief_complaint"),
      ),
    ),
    h("button", { type: "submit", class: "btn btn-primary btn-block btn-large" }, "Submit patient"),
  );
}

function readForm(form) {
  const data = new FormData(form);
  const raw = {};
  for (const field of NUMERIC_FIELDS) raw[field.name] = data.get(field.name);
  raw.sex = data.get("sex");
  raw.consciousness = data.get("consciousness");
  raw.supplemental_oxygen = data.get("supplemental_oxygen") === "on";
  raw.spo2_scale_2 = data.get("spo2_scale_2") === "on";
  raw.injury = data.get("injury");
  raw.chief_complaint = data.get("chief_complaint");
  return raw;
}

/** Put each message next to its field; unknown fields go to the summary only. */
function showErrors(form, errors) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]"))
    input.removeAttribute("aria-invalid");
  const summary = form.querySelector("#error-summary");
  const entries = Object.entries(errors);
  if (!entries.length) {
    replace(summary);
    return;
  }
  const items = entries.map(([field, message]) => {
    const slot = form.querySelector(`#error-${CSS.escape(field)}`);
    const input =
      form.querySelector(`#field-${CSS.escape(field)}`) ||
      form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (slot) slot.textContent = message;
    if (input) input.setAttribute("aria-invalid", "true");
    return h(
      "li",
      {},
      input
        ? h(
            "a",
            {
              href: `#field-${field}`,
              onclick: (event) => {
                event.preventDefault();
                input.focus();
              },
            },
            message,
          )
        : message,
    );
  });
  replace(summary, h("h2", {}, "Check these fields"), h("ul", {}, items));
  summary.focus();
}

function resultView(patient, { onNew }) {
  return h(
    "section",
    { class: "result", "aria-labelledby": "result-heading", dataset: { patientId: idOf(patient) } },
    h("h2", { id: "result-heading", tabindex: "-1" }, "Submitted"),
    h(
      "p",
      { class: "muted" },
      `Patient ${idOf(patient)}, ${formatTime(patient.created_at)}, status ${patient.status || "incoming"}`,
    ),
    h(
      "div",
      { class: "panels" },
      predictionPanel(patient),
      news2Panel(patient.news2),
      reasonsPanel(patient),
    ),
    h(
      "button",
      { type: "button", class: "btn btn-primary btn-large", onclick: onNew },
      "New patient",
    ),
  );
}

function queuedView(entry, { onNew }) {
  return h(
    "section",
    { class: "result", "aria-labelledby": "result-heading", dataset: { queued: entry.key } },
    h("h2", { id: "result-heading", tabindex: "-1" }, "Stored on this device"),
    h(
      "p",
      { class: "notice-warning" },
      "No connection to the server. The submission is stored on this device and is sent " +
        "automatically when the connection returns. It will not be sent twice.",
    ),
    h(
      "button",
      { type: "button", class: "btn btn-primary btn-large", onclick: onNew },
      "New patient",
    ),
  );
}

export function render(main, { user, showNotice }) {
  let pollTimer = null;
  const container = h("div", {});
  main.replaceChildren(h("h1", {}, "New patient"), container);

  const showForm = () => {
    clearTimeout(pollTimer);
    const form = buildForm();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const { body, errors } = buildVitals(readForm(form));
      showErrors(form, errors);
      if (Object.keys(errors).length) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "Submitting...";
      try {
        const result = await submitPatient(body, user.id);
        if (result.patient) showResult(result.patient);
        else showQueued(result.queued);
      } catch (error) {
        button.disabled = false;
        button.textContent = "Submit patient";
        if (error instanceof ApiError && error.status === 400) {
          showErrors(form, { [error.field || "body"]: error.message });
        } else {
          showErrors(form, { body: error.message });
        }
      }
    });
    replace(container, form);
  };

  const focusHeading = () => container.querySelector("#result-heading")?.focus();

  const showResult = (patient, polls = 0) => {
    replace(container, resultView(patient, { onNew: showForm }));
    if (polls === 0) focusHeading();
    if (
      patient.prediction &&
      patient.prediction.state === "pending" &&
      polls < PENDING_POLL_LIMIT
    ) {
      pollTimer = setTimeout(async () => {
        try {
          showResult(await api.get(`/patients/${encodeURIComponent(idOf(patient))}`), polls + 1);
        } catch (error) {
          if (error.isNetwork) showResult(patient, polls + 1);
          else showNotice(`Could not refresh the prediction: ${error.message}`, "error");
        }
      }, PENDING_POLL_MS);
    }
  };

  const showQueued = (entry) => {
    replace(container, queuedView(entry, { onNew: showForm }));
    focusHeading();
  };

  showForm();
  return () => clearTimeout(pollTimer);
}
