// Small DOM helpers shared by every view: element building, formatting, and field errors.

/** h("a", {href: "#/x", class: "btn"}, "text", child) builds an element; on* attributes bind events. */
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "rect", "g", "text", "line", "title", "path"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name in el && !svg && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A locale date and time, or an em dash for null. */
export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** Seconds between two ISO instants, to one decimal ("3.2 s"), or an em dash. */
export function span(fromIso, toIso) {
  if (!fromIso || !toIso) return "—";
  return `${((new Date(toIso) - new Date(fromIso)) / 1000).toFixed(1)} s`;
}

export const LIVE = new Set(["queued", "processing"]);

/** The status badge of a task: a colour class and a word (progress while processing). */
export function badge(task) {
  const text = task.status === "processing" ? `processing ${task.progress}%` : task.status;
  return h("span", { class: `badge ${task.status}`, dataset: { status: task.status } }, text);
}

/** A status line that screen readers announce ("polite"), for results of actions. */
export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A stable id for a field name such as "params.duration" or "params.referenceMediaItems[0].role". */
export function fieldId(field) {
  return `f-${field.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
}

/**
 * A labelled form row: the label, the control, a hint and the place its error goes.
 * The control gets the id, and aria-describedby pointing at the hint and the error.
 */
export function field(label, control, { hint = "", name = "" } = {}) {
  const id = control.id || fieldId(name || label);
  control.id = id;
  const hintEl = hint ? h("small", { class: "hint", id: `${id}-hint` }, hint) : null;
  const errorEl = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  control.setAttribute("aria-describedby", [hintEl ? `${id}-hint` : "", `${id}-error`].join(" ").trim());
  if (name) control.dataset.field = name;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintEl, errorEl);
}

/** Shows `message` beside the control whose data-field is `name`; false when no such control. */
export function showFieldError(root, name, message) {
  const control = $$("[data-field]", root).find((el) => el.dataset.field === name);
  if (!control) return false;
  const error = document.getElementById(`${control.id}-error`);
  error.textContent = message;
  error.hidden = false;
  control.setAttribute("aria-invalid", "true");
  return control;
}

export function clearFieldErrors(root) {
  for (const el of $$(".field-error", root)) { el.textContent = ""; el.hidden = true; }
  for (const el of $$("[aria-invalid]", root)) el.removeAttribute("aria-invalid");
}

/** Bytes as "10 MiB" or "157.7 KiB" (the limits are set in binary units). */
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? Number(n.toFixed(1)) : n} ${units[i]}`;
}
