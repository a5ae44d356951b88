// Vital-sign fields of POST /patients with their units and plausible ranges.
// The ranges repeat the API's own (layers/triage_core/triage_core/schemas.py), so
// most typos are caught before a request is sent; the API checks them again.

export const NUMERIC_FIELDS = [
  { name: "age", label: "Age", unit: "years", min: 0, max: 120, required: true },
  { name: "heart_rate", label: "Heart rate", unit: "beats/min", min: 20, max: 250, required: true },
  {
    name: "respiratory_rate",
    label: "Respiratory rate",
    unit: "breaths/min",
    min: 4,
    max: 60,
    required: true,
  },
  { name: "spo2", label: "SpO2", unit: "%", min: 50, max: 100, required: true },
  {
    name: "systolic_bp",
    label: "Systolic blood pressure",
    unit: "mmHg",
    min: 40,
    max: 300,
    required: true,
  },
  {
    name: "diastolic_bp",
    label: "Diastolic blood pressure",
    unit: "mmHg",
    min: 20,
    max: 200,
    required: false,
  },
  {
    name: "temperature",
    label: "Temperature",
    unit: "°C",
    min: 30.0,
    max: 44.0,
    required: false,
    decimals: 1,
  },
  { name: "gcs", label: "Glasgow Coma Scale", unit: "points", min: 3, max: 15, required: false },
];

export const CONSCIOUSNESS_LEVELS = [
  { value: "A", label: "Alert" },
  { value: "C", label: "New confusion" },
  { value: "V", label: "Responds to voice" },
  { value: "P", label: "Responds to pain" },
  { value: "U", label: "Unresponsive" },
];

export const MAX_COMPLAINT_LENGTH = 200;

/** Plausible range as text, e.g. "30.0 to 44.0 °C". */
export function rangeText(field) {
  const digits = field.decimals || 0;
  return `${field.min.toFixed(digits)} to ${field.max.toFixed(digits)} ${field.unit}`;
}

/** Unit of an API vitals field, for display next to stored values. */
export function unitOf(name) {
  const field = NUMERIC_FIELDS.find((item) => item.name === name);
  return field ? field.unit : "";
}

export function labelOf(name) {
  const field = NUMERIC_FIELDS.find((item) => item.name === name);
  if (field) return field.label;
  const other = {
    sex: "Sex",
    supplemental_oxygen: "Supplemental oxygen",
    spo2_scale: "SpO2 scale",
    consciousness: "Consciousness (ACVPU)",
    injury: "Injury",
    chief_complaint: "Chief complaint",
  };
  return other[name] || name;
}

function parseNumber(field, raw) {
  const text = String(raw ?? "")
    .trim()
    .replace(",", ".");
  if (text === "") {
    return field.required ? { error: `${field.label} is required.` } : { value: null };
  }
  if (!/^-?\d+(\.\d+)?$/.test(text)) {
    return { error: `${field.label} must be a number in ${field.unit}.` };
  }
  const number = Number(text);
  if (!field.decimals && !Number.isInteger(number)) {
    return { error: `${field.label} must be a whole number of ${field.unit}.` };
  }
  if (number < field.min || number > field.max) {
    return {
      error: `${field.label} ${text} ${field.unit} is outside the plausible range ${rangeText(field)}.`,
    };
  }
  const value = field.decimals ? Math.round(number * 10) / 10 : number;
  return { value };
}

/**
 * Check raw form values and build the request body.
 * Returns {body, errors}; `errors` maps an API field name to a message.
 */
export function buildVitals(raw) {
  const errors = {};
  const body = {};
  for (const field of NUMERIC_FIELDS) {
    const result = parseNumber(field, raw[field.name]);
    if (result.error) errors[field.name] = result.error;
    else if (result.value !== null) body[field.name] = result.value;
  }
  if (
    body.diastolic_bp !== undefined &&
    body.systolic_bp !== undefined &&
    body.diastolic_bp >= body.systolic_bp
  ) {
    errors.diastolic_bp = `Diastolic blood pressure must be below the systolic ${body.systolic_bp} mmHg.`;
  }
  if (raw.sex === "female" || raw.sex === "male") body.sex = raw.sex;
  else errors.sex = "Choose the sex.";
  if (CONSCIOUSNESS_LEVELS.some((level) => level.value === raw.consciousness)) {
    body.consciousness = raw.consciousness;
  } else {
    errors.consciousness = "Choose the level of consciousness.";
  }
  body.supplemental_oxygen = Boolean(raw.supplemental_oxygen);
  body.spo2_scale = raw.spo2_scale_2 ? 2 : 1;
  if (raw.injury === "yes") body.injury = true;
  else if (raw.injury === "no") body.injury = false;
  const complaint = String(raw.chief_complaint ?? "").trim();
  if (complaint.length > MAX_COMPLAINT_LENGTH) {
    errors.chief_complaint = `Shorten the chief complaint to ${MAX_COMPLAINT_LENGTH} characters.`;
  } else if (/[\u0000-\u001f]/.test(complaint)) {
    errors.chief_complaint = "Remove line breaks and control characters.";
  } else if (complaint) {
    body.chief_complaint = complaint;
  }
  return { body, errors };
}
