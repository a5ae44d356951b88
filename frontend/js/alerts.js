// Critical-patient alerts for doctors: one banner in an assertive live region for
// every unacknowledged critical patient, plus a WebAudio beep that repeats every 10 s
// while any of them is unacknowledged.

import { h, replace } from "./dom.js";
import { percent, probabilityOf, summarize } from "./clinical.js";
import { idOf } from "./api.js";

const BEEP_INTERVAL_MS = 10_000;

let container = null;
let audioContext = null;
let beepTimer = null;
const open = new Map();
const acknowledged = new Set();
// True while the list of other critical patients is expanded, kept across re-renders.
let listOpen = false;

/** Create the AudioContext inside a user gesture, which browsers require for sound. */
function unlockAudio() {
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!AudioContextClass) return;
  if (soundEnabled()) return;
  if (!audioContext) audioContext = new AudioContextClass();
  // Re-render only when sound turns on: a re-render on every key press would move
  // the keyboard focus away from the Acknowledge button.
  const showState = () => {
    if (soundEnabled()) render();
  };
  if (audioContext.state === "suspended") {
    audioContext.resume().then(showState, () => {});
  } else {
    showState();
  }
}

function soundEnabled() {
  return audioContext !== null && audioContext.state === "running";
}

function beep() {
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  if (!audioContext) return;
  const start = audioContext.currentTime;
  for (const offset of [0, 0.3]) {
    const oscillator = audioContext.createOscillator();
    const gain = audioContext.createGain();
    oscillator.type = "square";
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.2);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.22);
  }
}

function describe(patient) {
  const vitals = summarize(patient);
  const complaint = vitals.chief_complaint ? `, ${vitals.chief_complaint}` : "";
  return (
    `ICU risk ${percent(probabilityOf(patient))}, ` +
    `${vitals.age ?? "?"} y ${vitals.sex ?? ""}${complaint}`
  );
}

function patientLink(patient, text) {
  return h("a", { href: `#/patients/${encodeURIComponent(idOf(patient))}` }, text);
}

/**
 * Draw one banner for all open alerts: the newest critical patient, the count, a
 * list with a link to each, "Acknowledge" for the newest and "Acknowledge all".
 */
function render() {
  if (!container) return;
  const patients = [...open.values()];
  document.body.classList.toggle("has-alert", patients.length > 0);
  if (patients.length === 0) {
    replace(container);
    return;
  }
  const newest = patients[patients.length - 1];
  const count = patients.length;
  const others = patients.slice(0, -1).reverse();
  replace(
    container,
    h(
      "div",
      {
        class: "alert-critical",
        role: "alert",
        dataset: { patientId: idOf(newest), count: String(count) },
      },
      h("strong", {}, "CRITICAL patient"),
      h("span", {}, ` ${describe(newest)}. `),
      patientLink(newest, "Open patient"),
      h(
        "button",
        { type: "button", class: "btn btn-danger", onclick: () => acknowledge([idOf(newest)]) },
        "Acknowledge",
      ),
      count > 1
        ? h(
            "div",
            { class: "alert-more" },
            h(
              "p",
              { class: "alert-count", dataset: { testid: "alert-count" } },
              `${count} unacknowledged critical patients`,
            ),
            h(
              "button",
              {
                type: "button",
                class: "btn btn-danger",
                onclick: () => acknowledge(patients.map(idOf)),
              },
              "Acknowledge all",
            ),
            h(
              "details",
              {
                open: listOpen,
                ontoggle: (event) => {
                  listOpen = event.target.open;
                },
              },
              h(
                "summary",
                {},
                others.length === 1 ? "Show the other patient" : `Show the other ${others.length}`,
              ),
              h(
                "ul",
                { class: "alert-list" },
                others.map((patient) =>
                  h(
                    "li",
                    { dataset: { patientId: idOf(patient) } },
                    patientLink(patient, describe(patient)),
                  ),
                ),
              ),
            ),
          )
        : null,
      soundEnabled()
        ? null
        : h(
            "span",
            { class: "sound-off", dataset: { testid: "sound-off" } },
            "Sound is off until you click or press a key on this page.",
          ),
    ),
  );
}

function acknowledge(ids) {
  for (const id of ids) {
    open.delete(id);
    acknowledged.add(id);
  }
  if (open.size === 0) {
    clearInterval(beepTimer);
    beepTimer = null;
    listOpen = false;
  }
  render();
}

/** Show an alert for a patient summary; repeats for the same patient are ignored. */
export function raiseCriticalAlert(patient) {
  const id = idOf(patient);
  if (!id || acknowledged.has(id)) return;
  open.set(id, patient);
  render();
  beep();
  if (!beepTimer) beepTimer = setInterval(beep, BEEP_INTERVAL_MS);
}

export function clearAlerts() {
  open.clear();
  acknowledged.clear();
  clearInterval(beepTimer);
  beepTimer = null;
  render();
}

export function initAlerts(element) {
  container = element;
  for (const type of ["pointerdown", "keydown"]) {
    window.addEventListener(type, unlockAudio, { capture: true });
  }
}
