// Bar charts drawn as SVG in the browser from the usage API's JSON (no chart library: two bar charts
// do not earn one). Each chart has a text title for screen readers, and the view shows the same
// numbers as a table beside it.

import { h } from "./dom.js";

/**
 * A vertical bar chart of `rows` [{label, value}] (by day) or, with horizontal: true, one bar per
 * row (by model). The SVG scales to its box through its viewBox.
 */
export function barChart(rows, { title, unit = "credits", horizontal = false } = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = horizontal ? horizontalBars(rows, max, unit) : verticalBars(rows, max, unit);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: ${rows.map((r) => `${r.label} ${r.value} ${unit}`).join(", ") || "no usage"}`);
  svg.setAttribute("class", "chart");
  svg.prepend(h("title", {}, title));
  return svg;
}

function verticalBars(rows, max, unit) {
  const width = 600;
  const height = 220;
  const left = 40;
  const bottom = 40;
  const slot = (width - left) / Math.max(rows.length, 1);
  const bars = rows.map((row, i) => {
    const barHeight = ((height - bottom - 10) * row.value) / max;
    const x = left + i * slot + slot * 0.15;
    const y = height - bottom - barHeight;
    const every = Math.ceil(rows.length / 10); // at most ten date labels, so they stay readable
    return h("g", {},
      h("rect", { class: "bar", x, y, width: Math.max(slot * 0.7, 1), height: barHeight },
        h("title", {}, `${row.label}: ${row.value} ${unit}`)),
      i % every === 0 ? h("text", { x: x + slot * 0.35, y: height - bottom + 14, "text-anchor": "middle" }, row.label.slice(5)) : null);
  });
  return h("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
    h("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#8a93a6" }),
    h("text", { x: left - 6, y: 16, "text-anchor": "end" }, String(max)),
    h("text", { x: left - 6, y: height - bottom, "text-anchor": "end" }, "0"),
    bars);
}

function horizontalBars(rows, max, unit) {
  const width = 600;
  const row = 28;
  const left = 200;
  const height = Math.max(row * rows.length + 10, 40);
  return h("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" },
    rows.map((r, i) => {
      const barWidth = ((width - left - 60) * r.value) / max;
      const y = 5 + i * row;
      return h("g", {},
        h("text", { x: left - 8, y: y + 17, "text-anchor": "end" }, r.label.length > 28 ? `${r.label.slice(0, 27)}…` : r.label),
        h("rect", { class: "bar", x: left, y: y + 4, width: Math.max(barWidth, 1), height: row - 8 },
          h("title", {}, `${r.label}: ${r.value} ${unit}`)),
        h("text", { x: left + barWidth + 6, y: y + 17 }, String(r.value)));
    }));
}
