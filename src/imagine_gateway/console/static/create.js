// The create form, generated from GET /api/v1/models: every model, every mode of it (the reference
// roles it takes), its params, the prompt limit, the price, and the API's errors beside their fields.

import { api } from "./api.js";
import { h, $, field, notice, showFieldError, clearFieldErrors } from "./dom.js";
import { models, model as findModel, meta, creditsChanged } from "./shared.js";
import { referencePicker } from "./references.js";
import { priceLine } from "./price.js";

const label = (key) => key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, " ");

export async function render(root, { query }) {
  const [catalog, info] = await Promise.all([models(), meta()]);
  const from = query.get("from") ? await api(`/api/v1/generations/${encodeURIComponent(query.get("from"))}`).catch(() => null) : null;
  const start = (from && (await findModel(from.model))) || catalog.find((m) => m.api_status === "available") || catalog[0];

  const modelSelect = h("select", {}, ["image", "video", "audio"].map((category) => {
    const group = catalog.filter((m) => m.category === category);
    return group.length ? h("optgroup", { label: category }, group.map((m) =>
      h("option", { value: m.id, selected: m.id === start.id }, `${m.display_name} (${m.id})`))) : null;
  }));
  const modeSelect = h("select", {});
  const prompt = h("textarea", { rows: "4" });
  const counter = h("output", { class: "counter", for: "f-prompt", "aria-live": "off" });
  const paramsBox = h("div", { class: "params" });
  const refsSlot = h("div", {});
  const price = priceLine();
  const submit = h("button", { type: "submit", class: "primary" }, "Generate");
  const formError = h("div", { id: "form-error" });
  const form = h("form", { class: "card create", novalidate: true },
    h("h2", { tabindex: "-1" }, from ? "Create again" : "New generation"),
    field("Model", modelSelect, { name: "model" }),
    h("p", { class: "muted", id: "model-info" }),
    field("Generation type", modeSelect, { name: "mode", hint: "Which files the request takes" }),
    field("Prompt", prompt, { name: "prompt" }), counter,
    paramsBox, refsSlot, price.element, formError, submit);
  root.append(form);

  let current = null; // {model, mode, picker}
  const body = () => ({
    model: current.model.id,
    prompt: prompt.value,
    params: { ...readParams(paramsBox), ...refsParam(current.picker) },
  });
  const changed = () => {
    countPrompt(current.model, current.mode, prompt, counter);
    price.update(body());
  };
  const setModel = (m, prefill = null) => {
    modeSelect.replaceChildren(...(m.modes || []).map((mode) => h("option", { value: mode.name }, mode.name)));
    $(`[for="${modeSelect.id}"]`, form).parentElement.hidden = !(m.modes || []).length;
    const facts = [m.category, `prompt up to ${m.max_prompt_length} characters`, ...(m.notices || [])];
    $("#model-info", form).textContent = facts.join(" · ");
    const mode = prefill ? modeFor(m, prefill.refs) : (m.modes || [])[0] || null;
    if (mode) modeSelect.value = mode.name;
    setMode(m, mode, prefill || { params: {}, refs: [] }); // a new model starts from its own defaults
  };
  const setMode = (m, mode, prefill = null) => {
    const values = prefill ? prefill.params : readParams(paramsBox);
    paramsBox.replaceChildren(...m.params.map((p) => paramField(p, mode, values[p.key])));
    const picker = referencePicker(m, mode, info.role_kinds, () => changed());
    if (prefill && prefill.refs.length) picker.setItems(prefill.refs, (kind) => defaultRole(m, kind));
    refsSlot.replaceChildren(picker.element);
    current = { model: m, mode, picker };
    changed();
  };

  modelSelect.addEventListener("change", async () => setModel(await findModel(modelSelect.value)));
  modeSelect.addEventListener("change", () => setMode(current.model, current.model.modes.find((x) => x.name === modeSelect.value)));
  // Typing and picking values; the reference pickers report their own changes once a file is in.
  form.addEventListener("input", (e) => {
    if (e.target !== modelSelect && e.target !== modeSelect && e.target.type !== "file") changed();
  });

  if (from) {
    prompt.value = from.prompt || "";
    const refs = (from.params && from.params.referenceMediaItems) || [];
    setModel(start, { params: from.params || {}, refs });
  } else {
    setModel(start);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    formError.replaceChildren();
    if (current.picker.busy()) { formError.append(notice("Wait until the files have uploaded.", "error")); return; }
    submit.disabled = true;
    try {
      const task = await api("/api/v1/generations", { method: "POST", body: body(), headers: { "Idempotency-Key": requestKey() } });
      creditsChanged();
      location.hash = `#/gallery?created=${encodeURIComponent(task.id)}`;
    } catch (error) {
      showErrors(form, formError, current.picker, error);
    } finally {
      submit.disabled = false;
    }
  });
}

/** The first mode that takes every role of the items and whose required roles they fill. */
function modeFor(m, refs) {
  const roles = new Set(refs.map((r) => r.role || defaultRole(m, r.kind)));
  const modes = m.modes || [];
  const fits = (mode) => [...roles].every((r) => r in mode.roles)
    && Object.entries(mode.roles).every(([r, limits]) => limits.min === 0 || roles.has(r));
  return modes.find(fits) || modes.find((mode) => [...roles].every((r) => r in mode.roles)) || modes[0] || null;
}

/** The role a file without one has: what the seeds' single reference meant. */
function defaultRole(m, kind) {
  if (m.category === "image") return "source";
  return { image: "first_frame", audio: "audio", video: "edit" }[kind] || "first_frame";
}

function paramField(p, mode, value) {
  const served = mode && mode.options && mode.options[p.key];
  const hintParts = [p.description];
  let control;
  if (p.type === "select") {
    const options = served ? p.options.filter((o) => served.includes(o)) : p.options;
    control = h("select", {}, p.default == null ? h("option", { value: "" }, "(not set)") : null,
      options.map((o) => h("option", { value: o, selected: String(value ?? p.default) === o }, o)));
  } else if (p.type === "number") {
    let { min, max } = p;
    if (p.key === "duration" && mode && mode.duration) {
      min = Math.max(min ?? mode.duration.min, mode.duration.min);
      max = Math.min(max ?? mode.duration.max, mode.duration.max);
      if (min > max) ({ min, max } = p);
    }
    control = h("input", { type: "number", inputmode: "decimal", min: min ?? null, max: max ?? null, step: p.step ?? "any", value: String(value ?? p.default ?? "") });
    if (min != null || max != null) hintParts.push(`${min ?? "…"} to ${max ?? "…"}`);
  } else {
    control = h("input", { type: "text", value: String(value ?? p.default ?? "") });
  }
  control.dataset.param = p.key;
  control.dataset.type = p.type;
  return field(label(p.key), control, { name: `params.${p.key}`, hint: hintParts.filter(Boolean).join(" · ") });
}

function readParams(box) {
  const params = {};
  for (const input of box.querySelectorAll("[data-param]")) {
    if (input.value === "") continue;
    params[input.dataset.param] = input.dataset.type === "number" && !Number.isNaN(Number(input.value)) ? Number(input.value) : input.value;
  }
  return params;
}

function refsParam(picker) {
  const items = picker ? picker.items() : [];
  return items.length ? { referenceMediaItems: items } : {};
}

function countPrompt(m, mode, prompt, counter) {
  const limit = m.max_prompt_length;
  const required = mode ? mode.prompt_required : true;
  counter.textContent = `${prompt.value.length} / ${limit} characters${required ? "" : " · optional in this mode"}`;
  counter.classList.toggle("over", prompt.value.length > limit);
}

/** Each detail beside the control of its field; what has no control goes above the button. */
function showErrors(form, formError, picker, error) {
  const loose = [];
  let first = null;
  for (const d of error.details.length ? error.details : [{ field: "", issue: error.message }]) {
    const text = d.issue;
    let target = d.field && showFieldError(form, d.field, text);
    const ref = /^params\.referenceMediaItems\[(\d+)\]/.exec(d.field || "");
    if (!target && ref) {
      const control = picker.errorTarget(Number(ref[1]), d.field);
      const where = control.dataset.stamp === undefined ? `file ${Number(ref[1]) + 1}: ` : "";
      target = showFieldError(form, control.dataset.field, `${where}${text}`);
    }
    if (target) first ??= target; else loose.push(d.field ? `${d.field}: ${text}` : text);
  }
  if (loose.length || !first) {
    formError.append(notice(`${error.code}: ${loose.join("; ") || error.message}`, "error"));
  }
  (first || submitOf(form)).focus();
}

const submitOf = (form) => form.querySelector("[type=submit]");

/** An Idempotency-Key (crypto.randomUUID needs a secure context; a LAN http:// console is not one). */
function requestKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
