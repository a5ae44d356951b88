// Inline SVG charts; numbers are drawn as text as well, so no value depends on colour.

import { svg } from "./dom.js";

/**
 * Horizontal bar chart of [{label, value, className}] scaled to the largest value.
 * Returns an <svg role="img"> whose aria-label lists every value.
 */
export function barChart(rows, { title }) {
  const rowHeight = 26;
  const labelWidth = 110;
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
      const width = (row.value / max) * barWidth;
      return svg(
        "g",
        {},
        svg("text", { x: 0, y: y + 17, class: "chart-label" }, row.label),
        svg("rect", {
          x: labelWidth,
          y: y + 4,
          width: Math.max(width, 1),
          height: 18,
          rx: 3,
          class: `chart-bar ${row.className || ""}`,
        }),
        svg(
          "text",
          { x: labelWidth + Math.max(width, 1) + 6, y: y + 17, class: "chart-value" },
          String(row.value),
        ),
      );
    }),
  );
}
