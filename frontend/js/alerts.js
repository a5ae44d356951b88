// Critical-patient alerts for doctors: a banner in an assertive live region plus a
// WebAudio beep that repeats every 10 s until a doctor acknowledges the alert.

import { h, replace } from "./dom.js";
import { percent, probabilityOf, summarize } from "./clinical.js";
import { idOf } from "./api.js";

const BEEP_INTERVAL_MS = 10_000;

let container = null;
let audioContext = null;
let beepTimer = null;
const open = new Map();
const acknowledged = new Set();

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

function render() {
  if (!container) return;
  const items = [...open.values()].map((patient) => {
    const id = idOf(patient);
    const vitals = summarize(patient);
    const complaint = vitals.chief_complaint ? `, ${vitals.chief_complaint}` : "";
    return h(
      "div",
      { class: "alert-critical", role: "alert", dataset: { patientId: id } },
      h("strong", {}, "CRITICAL patient"),
      h(
        "span",
        {},
        ` ICU risk ${percent(probabilityOf(patient))}, ` +
          `${vitals.age ?? "?"} y ${vitals.sex ?? ""}${complaint}. `,
      ),
      h("a", { href: `#/patients/${encodeURIComponent(id)}` }, "Open patient"),
      h(
        "button",
        { type: "button", class: "btn btn-danger", onclick: () => acknowledge(id) },
        "Acknowledge",
      ),
      soundEnabled()
        ? null
        : h(
            "span",
            { class: "sound-off", dataset: { testid: "sound-off" } },
            "Sound is off until you click or press a key on this page.",
          ),
    );
  });
  replace(container, items);
  document.body.classList.toggle("has-alert", open.size > 0);
}

function acknowledge(id) {
  open.delete(id);
  acknowledged.add(id);
  if (open.size === 0) {
    clearInterval(beepTimer);
    beepTimer = null;
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
