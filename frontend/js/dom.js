// DOM helpers. Every text value goes through textContent or setAttribute, so
// data from the API or the user never gets parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttributes(element, attributes) {
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") {
      element.setAttribute("class", value);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "value" || key === "checked") {
      element[key] = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function appendChildren(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Create an HTML element; strings among the children become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  applyAttributes(element, attributes);
  appendChildren(element, children);
  return element;
}

/** Create an SVG element for the inline charts. */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  applyAttributes(element, attributes);
  appendChildren(element, children);
  return element;
}

/** Replace every child of `element` with `children`. */
export function replace(element, ...children) {
  element.replaceChildren();
  appendChildren(element, children);
  return element;
}

let idCounter = 0;

/** Return an id that is unique within the page, for label and aria links. */
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** Parse an ISO 8601 timestamp; the API stores UTC, so a value without a zone is UTC. */
export function parseTime(value) {
  if (!value) return null;
  const text = String(value);
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`;
  const date = new Date(zoned);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** True when two timestamps name the same millisecond. */
export function sameInstant(first, second) {
  const a = parseTime(first);
  const b = parseTime(second);
  return a !== null && b !== null && a.getTime() === b.getTime();
}

/** Format an ISO 8601 timestamp in the browser's locale, or a dash when absent. */
export function formatTime(value) {
  if (!value) return "-";
  const date = parseTime(value);
  if (date === null) return String(value);
  return date.toLocaleString(undefined, {
    dateStyle: "short",
    timeStyle: "short",
  });
}

/** Turn a snake_case API value such as "in_treatment" into "in treatment". */
export function humanize(value) {
  return String(value ?? "").replaceAll("_", " ");
}
