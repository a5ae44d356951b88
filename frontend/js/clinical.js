// Display blocks for clinical values: ICU risk, NEWS2, reasons and warnings.
// Risk is always shown as text as well as colour.

import { h, svg } from "./dom.js";

export const RISK_LEVELS = ["low", "moderate", "high", "critical"];

// Sentence naming the ICU-risk model's inputs, the only copy in the frontend. Keep it
// in step with the `features` list of ml_container/model/manifest.json.
export const MODEL_INPUTS_TEXT =
  "Based on age, sex, SpO2, respiratory rate, heart rate and systolic BP. " +
  "Consciousness, temperature and oxygen are not model inputs; see NEWS2.";

const RISK_LABELS = {
  low: "Low",
  moderate: "Moderate",
  high: "High",
  critical: "Critical",
  pending: "Pending",
};

const NEWS2_BANDS = {
  low: "Low clinical risk",
  "low-medium": "Low-medium clinical risk (a single parameter scores 3)",
  medium: "Medium clinical risk: urgent review",
  high: "High clinical risk: emergency response",
};

export const NEWS2_PARAMETERS = [
  ["respiratory_rate", "Respiratory rate"],
  ["spo2", "SpO2"],
  ["air_or_oxygen", "Air or oxygen"],
  ["systolic_bp", "Systolic blood pressure"],
  ["heart_rate", "Pulse"],
  ["consciousness", "Consciousness"],
  ["temperature", "Temperature"],
];

const STATUS_LABELS = {
  incoming: "incoming",
  arrived: "arrived",
  in_treatment: "in treatment",
  admitted_icu: "admitted to ICU",
  admitted_ward: "admitted to ward",
  discharged: "discharged",
  transferred: "transferred",
};

/** Lower-case display text of a patient status such as "admitted to ICU". */
export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status ?? "").replaceAll("_", " ");
}

export function riskLabel(level) {
  return RISK_LABELS[level] || String(level || "Unknown");
}

export function news2BandLabel(band) {
  return NEWS2_BANDS[band] || String(band || "");
}

/** Format a probability in 0..1 as a percentage with one decimal, e.g. "8.3 %". */
export function percent(probability) {
  if (typeof probability !== "number") return "-";
  return `${(probability * 100).toFixed(1)} %`;
}

/**
 * Board fields of a patient document, in the shape of the websocket summary
 * (triage_core.events.patient_summary). A summary passes through unchanged.
 */
export function summarize(patient) {
  if (!patient.vitals && !patient.prediction && !patient.news2) return patient;
  const prediction = patient.prediction || {};
  const news2 = patient.news2 || {};
  const vitals = patient.vitals || {};
  return {
    id: patient.id || patient._id,
    status: patient.status,
    age: vitals.age,
    sex: vitals.sex,
    chief_complaint: vitals.chief_complaint,
    news2_total: news2.total,
    news2_risk: news2.risk,
    news2_partial: news2.partial,
    news2_warnings: warningTexts(news2.warnings),
    prediction_state: prediction.state,
    probability: prediction.probability,
    risk_level: prediction.risk_level,
    risk_sort: patient.risk_sort,
    assigned_doctor_id: patient.assigned_doctor_id,
    submitted_by: patient.submitted_by,
    created_at: patient.created_at,
    updated_at: patient.updated_at,
  };
}

/** Return the NEWS2 warnings as strings, dropping any other kind of item. */
export function warningTexts(warnings) {
  if (!Array.isArray(warnings)) return [];
  return warnings
    .map((item) => (typeof item === "string" ? item : item && item.message))
    .filter((text) => typeof text === "string" && text.length > 0);
}

/** Build the short list-row marker for NEWS2 warnings, with the full text for screen readers. */
export function news2WarningMarker(patient) {
  const summary = summarize(patient);
  const texts = warningTexts(summary.news2_warnings);
  if (!texts.length) return null;
  return h(
    "span",
    {
      class: "badge news2-caution",
      title: texts.join(" "),
      dataset: { testid: "news2-warning-marker" },
    },
    h("span", { "aria-hidden": "true" }, "⚠ "),
    "NEWS2 caution",
    h("span", { class: "visually-hidden" }, `: ${texts.join(" ")}`),
  );
}

/** Risk level of a patient document or summary; "pending" before scoring. */
export function riskLevelOf(patient) {
  const summary = summarize(patient);
  if (summary.prediction_state === "pending") return "pending";
  return summary.risk_level || "pending";
}

export function probabilityOf(patient) {
  const summary = summarize(patient);
  return typeof summary.probability === "number" ? summary.probability : null;
}

/** Small inline badge such as "Critical ICU risk 72.4 %" with a colour class and full text. */
export function riskBadge(patient) {
  const level = riskLevelOf(patient);
  const probability = probabilityOf(patient);
  const text =
    level === "pending"
      ? "ICU risk pending"
      : `${riskLabel(level)} ICU risk${probability === null ? "" : ` ${percent(probability)}`}`;
  return h("span", { class: `badge risk-${level}`, dataset: { risk: level } }, text);
}

/** Badge with the NEWS2 total of a patient document or summary. */
export function news2Badge(patient) {
  const summary = summarize(patient);
  if (summary.news2_total === undefined || summary.news2_total === null) {
    return h("span", { class: "badge" }, "NEWS2 -");
  }
  const partial = summary.news2_partial ? " (partial)" : "";
  return h(
    "span",
    {
      class: `badge news2-${summary.news2_risk}`,
      dataset: { news2: String(summary.news2_total) },
      title: news2BandLabel(summary.news2_risk),
    },
    `NEWS2 ${summary.news2_total}${partial}`,
  );
}

/** Horizontal bar from 0 to 100 %, filled up to `probability`. */
export function riskGauge(probability, level) {
  const width = 300;
  const filled = Math.max(2, Math.min(1, probability) * width);
  return svg(
    "svg",
    {
      class: "gauge",
      viewBox: `0 0 ${width} 24`,
      role: "img",
      "aria-label": `ICU risk ${percent(probability)}, ${riskLabel(level)}`,
    },
    svg("rect", { x: 0, y: 4, width, height: 16, rx: 4, class: "gauge-track" }),
    svg("rect", {
      x: 0,
      y: 4,
      width: filled,
      height: 16,
      rx: 4,
      class: `gauge-fill risk-${level}`,
    }),
  );
}

/** Panel with the ICU risk of a patient, or the pending state. */
export function predictionPanel(patient) {
  const prediction = patient.prediction || {};
  const level = riskLevelOf(patient);
  if (level === "pending") {
    const attempts = prediction.attempts ? ` after ${prediction.attempts} attempt(s)` : "";
    return h(
      "section",
      { class: "panel pending", "aria-labelledby": "risk-heading", dataset: { state: "pending" } },
      h("h3", { id: "risk-heading" }, "ICU risk: prediction pending"),
      h(
        "p",
        {},
        `The prediction service has not scored this patient yet${attempts}. ` +
          "The risk appears here as soon as it is available; NEWS2 below is complete.",
      ),
      modelInputsNote(),
    );
  }
  const probability = probabilityOf(patient);
  return h(
    "section",
    { class: `panel risk-panel risk-border-${level}`, "aria-labelledby": "risk-heading" },
    h("h3", { id: "risk-heading" }, "ICU admission risk"),
    h(
      "p",
      { class: "big-value" },
      h(
        "span",
        { class: "risk-percent", dataset: { testid: "risk-percent" } },
        percent(probability),
      ),
      " ",
      h(
        "span",
        { class: `badge risk-${level}`, dataset: { risk: level } },
        `${riskLabel(level)} risk`,
      ),
    ),
    probability === null ? null : riskGauge(probability, level),
    modelInputsNote(),
    prediction.model_version
      ? h("p", { class: "muted" }, `Model ${prediction.model_version}`)
      : null,
  );
}

function modelInputsNote() {
  return h("p", { class: "model-inputs", dataset: { testid: "model-inputs" } }, MODEL_INPUTS_TEXT);
}

/** Panel with the NEWS2 total, its band and the points per parameter. */
export function news2Panel(news2) {
  if (!news2)
    return h("section", { class: "panel" }, h("h3", {}, "NEWS2"), h("p", {}, "Not scored."));
  const parameters = news2.parameters || {};
  const missing = new Set(news2.missing || []);
  const warnings = warningTexts(news2.warnings);
  const rows = NEWS2_PARAMETERS.map(([key, label]) => {
    const points = parameters[key];
    const notMeasured = missing.has(key) || points === undefined || points === null;
    return h(
      "tr",
      { dataset: { parameter: key } },
      h("th", { scope: "row" }, label),
      h("td", { class: "num" }, notMeasured ? "not measured" : String(points)),
      h("td", { "aria-hidden": "true" }, notMeasured ? null : pointsBar(points)),
    );
  });
  return h(
    "section",
    { class: "panel", "aria-labelledby": "news2-heading" },
    h("h3", { id: "news2-heading" }, "NEWS2"),
    h(
      "p",
      { class: "big-value" },
      h("span", { dataset: { testid: "news2-total" } }, String(news2.total)),
      " ",
      h(
        "span",
        { class: `badge news2-${news2.risk}`, dataset: { band: news2.risk } },
        news2BandLabel(news2.risk),
      ),
    ),
    warnings.length
      ? h(
          "div",
          {
            class: "warnings news2-warnings",
            role: "note",
            dataset: { testid: "news2-warnings" },
          },
          h("h4", {}, "NEWS2 caution"),
          h(
            "ul",
            {},
            warnings.map((text) => h("li", {}, text)),
          ),
        )
      : null,
    news2.partial
      ? h(
          "p",
          { class: "warning-text" },
          `Partial score: not measured ${[...missing].join(", ")}. Missing parameters count 0 points.`,
        )
      : null,
    news2.spo2_scale === 2
      ? h("p", {}, "SpO2 scored on scale 2 (hypercapnic respiratory failure).")
      : null,
    h(
      "table",
      { class: "points" },
      h("caption", { class: "visually-hidden" }, "NEWS2 points per parameter"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Parameter"),
          h("th", { scope: "col" }, "Points"),
          h("th", {}, ""),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function pointsBar(points) {
  const cells = [0, 1, 2].map((index) =>
    svg("rect", {
      x: index * 14,
      y: 2,
      width: 12,
      height: 12,
      rx: 2,
      class: index < points ? `pt-on pt-${points}` : "pt-off",
    }),
  );
  return svg("svg", { class: "points-bar", viewBox: "0 0 42 16", width: 42, height: 16 }, cells);
}

/** Build the panel with the top reasons of the prediction and the model's warnings. */
export function reasonsPanel(patient) {
  const prediction = patient.prediction || {};
  const reasons = prediction.reasons || [];
  const warnings = prediction.warnings || [];
  if (!reasons.length && !warnings.length) return null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "reasons-heading" },
    h("h3", { id: "reasons-heading" }, "Why this risk"),
    reasons.length
      ? h(
          "ul",
          { class: "reasons" },
          reasons.map((reason) =>
            h(
              "li",
              { class: `reason-${reason.direction}` },
              h(
                "span",
                { class: "direction", "aria-hidden": "true" },
                reason.direction === "lowers" ? "▼" : "▲",
              ),
              " ",
              reason.text || `${reason.feature} ${reason.value} ${reason.direction} risk`,
            ),
          ),
        )
      : null,
    warnings.length ? warningsList(warnings) : null,
  );
}

export function warningsList(warnings) {
  return h(
    "div",
    { class: "warnings", role: "note" },
    h("h4", {}, "Warnings"),
    h(
      "ul",
      {},
      warnings.map((warning) =>
        h("li", { dataset: { field: warning.field || "" } }, warning.message),
      ),
    ),
  );
}
