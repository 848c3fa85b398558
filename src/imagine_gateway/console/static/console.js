// The console is a static page that talks to the native API with the user's key.
// The key lives in sessionStorage only (gone when the tab closes) and is sent as a Bearer token.
"use strict";

const state = { models: [], cursor: null, timer: null };

// A link like /console#key=igw_sk_... signs in; the fragment never reaches a server, and is removed.
if (location.hash.startsWith("#key=")) {
  sessionStorage.setItem("imagine.key", decodeURIComponent(location.hash.slice(5)));
  history.replaceState(null, "", location.pathname);
}
const $ = (id) => document.getElementById(id);
const key = () => sessionStorage.getItem("imagine.key") || "";

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (key()) headers.Authorization = `Bearer ${key()}`;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body && body.error) || {};
    const details = (error.details || []).map((d) => `${d.field}: ${d.issue}`).join("; ");
    throw new Error(`${error.code || response.status}: ${error.message || "request failed"}${details ? ` (${details})` : ""}`);
  }
  return body;
}

function renderParams() {
  const model = state.models.find((m) => m.id === $("model").value);
  const box = $("params");
  box.replaceChildren();
  if (!model) return;
  const price = model.billing_type === "PER_SECOND"
    ? `${model.credits_per_second} credits per second`
    : model.billing_type === "PER_IMAGE" ? `${model.base_credits} credits per image` : `${model.base_credits} credits`;
  $("model-info").textContent = `${model.category}, ${price}, prompt up to ${model.max_prompt_length} characters`;
  $("prompt").maxLength = model.max_prompt_length;
  $("ref-label").hidden = !model.reference_media;
  for (const p of model.params) {
    const label = document.createElement("label");
    label.textContent = p.key;
    let input;
    if (p.type === "select") {
      input = document.createElement("select");
      for (const option of p.options) {
        const o = document.createElement("option");
        o.value = o.textContent = option;
        o.selected = option === String(p.default);
        input.append(o);
      }
    } else {
      input = document.createElement("input");
      input.type = p.type === "number" ? "number" : "text";
      if (p.min !== null) input.min = p.min;
      if (p.max !== null) input.max = p.max;
      if (p.step !== null) input.step = p.step;
      if (p.default !== null) input.value = p.default;
    }
    input.dataset.param = p.key;
    input.dataset.type = p.type;
    input.title = p.description || "";
    label.append(input);
    box.append(label);
  }
}

async function loadModels() {
  state.models = (await api("/api/v1/models")).data;
  $("model").replaceChildren(...state.models.map((m) => {
    const o = document.createElement("option");
    o.value = m.id;
    o.textContent = `${m.display_name} (${m.id})`;
    return o;
  }));
  renderParams();
}

async function loadCredits() {
  if (!key()) { $("credits").textContent = "Enter an API key to start."; return; }
  try {
    const c = await api("/api/v1/credits");
    $("credits").textContent = `Balance ${c.balance} credits · reserved ${c.reserved}`;
  } catch (e) { $("credits").textContent = e.message; }
}

function row(task) {
  const tr = document.createElement("tr");
  const cells = [task.id, task.model, null, `${task.final_credits}/${task.reserved_credits}`,
    new Date(task.created_at).toLocaleString()];
  cells.forEach((text, i) => {
    const td = document.createElement("td");
    if (i === 2) {
      const span = document.createElement("span");
      span.className = `status ${task.status}`;
      span.textContent = task.status === "processing" ? `processing ${task.progress}%` : task.status;
      td.append(span);
    } else td.textContent = text;
    tr.append(td);
  });
  const actions = document.createElement("td");
  const view = document.createElement("button");
  view.textContent = "View";
  view.onclick = () => showTask(task.id);
  actions.append(view);
  if (task.status === "queued" || task.status === "processing") {
    const cancel = document.createElement("button");
    cancel.textContent = "Cancel";
    cancel.onclick = async () => { await api(`/api/v1/generations/${task.id}/cancel`, { method: "POST" }); loadTasks(); };
    actions.append(cancel);
  }
  tr.append(actions);
  return tr;
}

async function loadTasks(append = false) {
  if (!key()) { $("task-rows").replaceChildren(); return; }
  const params = new URLSearchParams({ limit: "20" });
  if ($("status-filter").value) params.set("status", $("status-filter").value);
  if (append && state.cursor) params.set("cursor", state.cursor);
  const page = await api(`/api/v1/generations?${params}`);
  const rows = page.data.map(row);
  if (append) $("task-rows").append(...rows); else $("task-rows").replaceChildren(...rows);
  state.cursor = page.next_cursor;
  $("more").hidden = !page.has_more;
  const live = page.data.some((t) => t.status === "queued" || t.status === "processing");
  clearTimeout(state.timer);
  if (live && !append) state.timer = setTimeout(() => { loadTasks(); loadCredits(); }, 3000);
}

async function showTask(id) {
  const task = await api(`/api/v1/generations/${id}`);
  $("detail").hidden = false;
  $("detail-title").textContent = `${task.id} — ${task.status}`;
  const media = $("detail-media");
  media.replaceChildren();
  for (const item of (task.result && task.result.media) || []) {
    const el = document.createElement(item.kind === "video" ? "video" : "img");
    el.src = item.url;
    if (item.kind === "video") { el.controls = true; if (item.poster_url) el.poster = item.poster_url; }
    media.append(el);
  }
  $("detail-json").textContent = JSON.stringify(task, null, 2);
}

async function create(event) {
  event.preventDefault();
  $("create-error").textContent = "";
  try {
    const params = {};
    for (const input of $("params").querySelectorAll("[data-param]")) {
      if (input.value === "") continue;
      params[input.dataset.param] = input.dataset.type === "number" ? Number(input.value) : input.value;
    }
    const file = $("reference").files[0];
    if (file && !$("ref-label").hidden) {
      const form = new FormData();
      form.append("file", file);
      form.append("kind", "image");
      form.append("model", $("model").value);
      const uploaded = await api("/api/v1/files", { method: "POST", body: form });
      params.referenceMediaItems = [{ url: uploaded.url, kind: "image", name: uploaded.name, mimeType: uploaded.mime_type }];
    }
    const task = await api("/api/v1/generations", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify({ model: $("model").value, prompt: $("prompt").value, params }),
    });
    await loadTasks();
    await loadCredits();
    showTask(task.id);
  } catch (e) { $("create-error").textContent = e.message; }
}

$("key-form").onsubmit = (e) => { e.preventDefault(); sessionStorage.setItem("imagine.key", $("api-key").value.trim()); $("api-key").value = ""; loadCredits(); loadTasks(); };
$("forget-key").onclick = () => { sessionStorage.removeItem("imagine.key"); loadCredits(); loadTasks(); };
$("model").onchange = renderParams;
$("create-form").onsubmit = create;
$("refresh").onclick = () => loadTasks();
$("status-filter").onchange = () => loadTasks();
$("more").onclick = () => loadTasks(true);
loadModels().then(loadCredits).then(() => loadTasks()).catch((e) => { $("credits").textContent = e.message; });
