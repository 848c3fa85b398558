// The gallery: the account's generations newest first, filtered by model, status and date, paged by
// cursor, with live badges from each running task's event stream.

import { api, follow, withQuery } from "./api.js";
import { h, field, notice, LIVE } from "./dom.js";
import { models, meta, creditsChanged } from "./shared.js";
import { tile } from "./tiles.js";

const PAGE = 24;
const MAX_PAGES_PER_LOAD = 8; // date filters are applied here: bound how far one "load more" reads

export async function render(root, { query }) {
  let streams = new AbortController();
  const [catalog, info] = await Promise.all([models(), meta()]);
  const filters = {
    model: query.get("model") || "", status: query.get("status") || "",
    from: query.get("from") || "", to: query.get("to") || "",
  };
  const modelSelect = h("select", {}, h("option", { value: "" }, "All models"),
    catalog.map((m) => h("option", { value: m.id, selected: m.id === filters.model }, m.display_name)));
  const statusSelect = h("select", {}, h("option", { value: "" }, "All statuses"),
    info.statuses.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
  const fromInput = h("input", { type: "date", value: filters.from });
  const toInput = h("input", { type: "date", value: filters.to });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter generations" },
    field("Model", modelSelect, { name: "model" }), field("Status", statusSelect, { name: "status" }),
    field("From", fromInput, { name: "from" }), field("To", toInput, { name: "to" }));
  form.addEventListener("change", () => {
    Object.assign(filters, { model: modelSelect.value, status: statusSelect.value, from: fromInput.value, to: toInput.value });
    // The fragment keeps the filters (a reload or a shared link shows the same), without a new render.
    history.replaceState(null, "", withQuery("#/gallery", filters));
    streams.abort();
    streams = new AbortController();
    grid.replaceChildren();
    cursor = null;
    shown = 0;
    status.textContent = "Loading…";
    load();
  });
  form.addEventListener("submit", (e) => e.preventDefault());

  const grid = h("ul", { class: "grid", "aria-label": "Generations" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const status = h("div", { class: "muted", role: "status" });
  const created = query.get("created");
  root.append(
    h("div", { class: "view-head" }, h("h2", { tabindex: "-1" }, "Gallery"),
      h("a", { class: "button primary", href: "#/create" }, "New generation")),
    ...(created ? [notice(`Generation ${created} was created; its badge below follows it.`)] : []),
    form, status, grid, more);

  let cursor = null;
  let shown = 0;
  let round = 0; // a filter change starts a new round: answers of an older one are dropped
  const load = async () => {
    const mine = (round += 1);
    more.disabled = true;
    try {
      const page = await readPage({ ...filters }, cursor);
      if (mine !== round) return;
      cursor = page.cursor;
      for (const task of page.items) {
        const item = tile(task);
        grid.append(item);
        if (LIVE.has(task.status)) watch(item, task, streams.signal);
      }
      shown += page.items.length;
      more.hidden = !cursor;
      status.textContent = shown ? `${shown} generation${shown === 1 ? "" : "s"} shown` : "No generations match.";
    } catch (error) {
      status.replaceChildren(notice(error.message, "error"));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  await load();
  return () => streams.abort();
}

/** The next matching tasks: API filters for model/status, the date range applied to created_at. */
async function readPage(filters, cursor) {
  const items = [];
  for (let pages = 0; pages < MAX_PAGES_PER_LOAD; pages += 1) {
    const page = await api(withQuery("/api/v1/generations",
      { limit: PAGE, cursor, model: filters.model, status: filters.status }));
    cursor = page.has_more ? page.next_cursor : null;
    let older = false;
    for (const task of page.data) {
      const day = localDay(task.created_at);
      if (filters.from && day < filters.from) { older = true; break; }
      if (!filters.to || day <= filters.to) items.push(task);
    }
    if (older) cursor = null; // newest first: everything after this is before "from"
    if (!cursor || items.length >= PAGE) break;
  }
  return { items, cursor };
}

function localDay(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function watch(item, task, signal) {
  follow(task.id, (next) => {
    item.update(next);
    if (!LIVE.has(next.status)) creditsChanged();
  }, signal);
}
