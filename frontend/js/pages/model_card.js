// Admin: the model card (GET /model-card) with its manifest and PNG plots.

import { api } from "../api.js";
import { h, humanize, replace } from "../dom.js";
import { renderMarkdown } from "../markdown.js";

// Only inline PNG and JPEG data URLs are shown; anything else could load a remote resource.
const IMAGE_URL = /^data:image\/(png|jpeg);base64,[A-Za-z0-9+/=]+$/;

function safePlots(plots) {
  return Object.fromEntries(
    Object.entries(plots || {}).filter(([, url]) => typeof url === "string" && IMAGE_URL.test(url)),
  );
}

function manifestSummary(manifest) {
  if (!manifest) return null;
  const rows = Object.entries(manifest).filter(
    ([, value]) => value === null || typeof value !== "object",
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "manifest-heading" },
    h("h2", { id: "manifest-heading" }, "Manifest"),
    h(
      "table",
      { class: "kv" },
      h(
        "tbody",
        {},
        rows.map(([key, value]) =>
          h("tr", {}, h("th", { scope: "row" }, humanize(key)), h("td", {}, String(value))),
        ),
      ),
    ),
    h(
      "details",
      {},
      h("summary", {}, "Full manifest (JSON)"),
      h("pre", {}, JSON.stringify(manifest, null, 2)),
    ),
  );
}

export function render(main) {
  const body = h("div", {}, h("p", {}, "Loading..."));
  main.replaceChildren(h("h1", {}, "Model card"), body);
  api
    .get("/model-card")
    .then((card) => {
      const plots = safePlots(card.plots);
      const used = new Set();
      const text = renderMarkdown(card.markdown, plots, used);
      // Plots that the markdown does not place are listed after the manifest.
      const rest = Object.entries(plots).filter(([name]) => !used.has(name));
      replace(
        body,
        h("article", { class: "markdown panel", dataset: { testid: "model-card" } }, text),
        manifestSummary(card.manifest),
        rest.length === 0
          ? null
          : h(
              "section",
              { class: "panel", "aria-labelledby": "plots-heading" },
              h("h2", { id: "plots-heading" }, "Plots"),
              h(
                "div",
                { class: "plots" },
                rest.map(([name, url]) =>
                  h(
                    "figure",
                    {},
                    h("img", { src: url, alt: `Plot: ${humanize(name)}`, class: "plot" }),
                    h("figcaption", {}, humanize(name)),
                  ),
                ),
              ),
            ),
      );
    })
    .catch((error) =>
      replace(
        body,
        h("p", { class: "notice-error" }, `Could not load the model card: ${error.message}`),
      ),
    );
}
