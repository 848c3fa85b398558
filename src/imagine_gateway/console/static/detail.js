// One generation: full-size media, prompt, params, references, credits, timings, error, download,
// cancel and "create again". Follows the task's event stream while it runs.

import { api, follow } from "./api.js";
import { h, badge, when, span, notice, bytes, LIVE } from "./dom.js";
import { isAdmin, creditsChanged } from "./shared.js";
import { thumbnail } from "./tiles.js";

export async function render(root, { arg: id }) {
  const streams = new AbortController();
  const box = h("div", { class: "detail" });
  root.append(h("p", {}, h("a", { href: "#/gallery" }, "← Gallery")), box);
  let task;
  try {
    task = await api(`/api/v1/generations/${encodeURIComponent(id)}`);
  } catch (error) {
    box.append(h("h2", { tabindex: "-1" }, "Generation not found"), notice(error.message, "error"));
    return null;
  }
  const admin = (await isAdmin()) ? await adminView(id) : null;
  draw(box, task, admin);
  if (LIVE.has(task.status)) {
    follow(task.id, (next) => {
      const ended = !LIVE.has(next.status);
      draw(box, next, admin);
      if (ended) creditsChanged();
    }, streams.signal);
  }
  return () => streams.abort();
}

async function adminView(id) {
  return api(`/api/v1/admin/generations/${encodeURIComponent(id)}`).catch(() => null);
}

function draw(box, task, admin) {
  const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : "";
  const media = task.result && !task.result.expired ? task.result.media || [] : [];
  box.replaceChildren(
    h("div", { class: "view-head" }, h("h2", { tabindex: "-1", id: "detail-title" }, "Generation ", h("code", {}, task.id)), badge(task)),
    h("div", { class: "detail-grid" },
      h("div", { class: "detail-media" }, media.length ? media.map((m, i) => fullMedia(task, m, i)) : thumbnail(task, { full: true })),
      h("div", { class: "detail-facts" },
        actions(task),
        task.error ? h("div", { class: "notice error", role: "alert" }, h("strong", {}, task.error.code), ": ", task.error.message) : null,
        h("h3", {}, "Prompt"), h("p", { class: "prompt" }, task.prompt || "(none)"),
        facts(task, admin),
        params(task),
        references(task))));
  if (focused) document.getElementById(focused)?.focus();
}

function fullMedia(task, item, index) {
  const one = { ...task, result: { ...task.result, media: [item] } };
  const el = thumbnail(one, { full: true });
  el.id = `media-${index}`;
  const name = `${task.id}-${index + 1}.${(item.mime_type || "").split("/")[1] || "bin"}`;
  return h("figure", {}, el, h("figcaption", { class: "muted" },
    [item.width && `${item.width}×${item.height}`, item.duration_seconds && `${item.duration_seconds} s`, bytes(item.size_bytes)]
      .filter(Boolean).join(" · "), " ",
    h("a", { href: item.url, download: name }, "Download")));
}

function actions(task) {
  const row = h("div", { class: "actions" },
    h("a", { class: "button", href: `#/create?from=${encodeURIComponent(task.id)}` }, "Create again"));
  if (LIVE.has(task.status)) {
    const cancel = h("button", { type: "button", id: "cancel-task" }, "Cancel");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      try {
        await api(`/api/v1/generations/${encodeURIComponent(task.id)}/cancel`, { method: "POST" });
        creditsChanged();
      } catch (error) {
        cancel.replaceWith(notice(error.message, "error"));
      }
    });
    row.append(cancel);
  }
  return row;
}

function facts(task, admin) {
  const billing = task.billing || null;
  const rows = [
    ["Model", task.model],
    ["Credits reserved", task.reserved_credits],
    ["Credits final", LIVE.has(task.status) ? "— (running)" : task.final_credits],
    billing && ["Charged / released", `${billing.charged} / ${billing.released}${billing.reason ? ` (${billing.reason})` : ""}`],
    ["Created", when(task.created_at)],
    ["Completed", when(task.completed_at)],
    ["Took", span(task.created_at, task.completed_at)],
    ["Client request id", task.client_request_id || "—"],
    admin && ["Provider", admin.provider || "—"],
    admin && ["Upstream cost", admin.upstream_cost_usd != null ? `$${admin.upstream_cost_usd}` : "—"],
    admin && ["Margin", admin.margin_usd != null ? `$${admin.margin_usd}` : "—"],
  ].filter(Boolean);
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]));
}

function params(task) {
  const entries = Object.entries(task.params || {}).filter(([k]) => k !== "referenceMediaItems");
  if (!entries.length) return null;
  return [h("h3", {}, "Parameters"),
    h("dl", { class: "facts" }, entries.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))]))];
}

function references(task) {
  const items = (task.params && task.params.referenceMediaItems) || [];
  if (!items.length) return null;
  return [h("h3", {}, "References"), h("ul", { class: "refs" }, items.map((item, i) => h("li", {},
    item.kind === "image" ? h("img", { src: item.url, alt: `Reference ${i + 1} (${item.role || item.kind})`, loading: "lazy" })
      : h("span", { class: "placeholder" }, item.kind),
    h("span", { class: "muted" }, [item.role || item.kind, item.timestampSeconds != null ? ` at ${item.timestampSeconds} s` : ""].join("")))))];
}
