// Inline SVG charts; numbers are drawn as text as well, so no value depends on colour.

import { h, svg } from "./dom.js";

/**
 * Titled box with a horizontal bar chart of [{label, value, className}], scaled to
 * the largest value. The <svg role="img"> carries an aria-label that lists every
 * value. When every value is 0 the box shows "No patients yet" instead of bars.
 */
export function barChart(rows, { title, testid }) {
  const total = rows.reduce((sum, row) => sum + row.value, 0);
  return h(
    "figure",
    { class: "chart-box", dataset: { testid: testid || "chart" } },
    h("figcaption", { class: "chart-title" }, title),
    total > 0 ? bars(rows, title) : h("p", { class: "muted chart-empty" }, "No patients yet"),
  );
}

function bars(rows, title) {
  const rowHeight = 28;
  const labelWidth = 130;
  const barWidth = 170;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const height = rows.length * rowHeight;
  const description = rows.map((row) => `${row.label} ${row.value}`).join(", ");
  return svg(
    "svg",
    {
      class: "bar-chart",
      viewBox: `0 0 ${labelWidth + barWidth + 40} ${height}`,
      role: "img",
      "aria-label": `${title}: ${description}`,
    },
    rows.map((row, index) => {
      const y = index * rowHeight;
      // A zero count draws no bar, only its number.
      const width = row.value > 0 ? Math.max((row.value / max) * barWidth, 2) : 0;
      return svg(
        "g",
        { dataset: { label: row.label, value: String(row.value) } },
        svg("text", { x: 0, y: y + 18, class: "chart-label" }, row.label),
        svg("rect", {
          x: labelWidth,
          y: y + 5,
          width,
          height: 18,
          rx: 3,
          class: `chart-bar ${row.className || ""}`,
        }),
        svg(
          "text",
          { x: labelWidth + width + 6, y: y + 18, class: "chart-value" },
          String(row.value),
        ),
      );
    }),
  );
}
