// One gallery tile: the task's thumbnail (an image, or a video poster that plays on hover, focus or
// tap), its prompt, model, status badge and age. Also used for "what you just made" on the form.

import { h, badge, when, LIVE } from "./dom.js";

/** The media element of a task's first result, or a placeholder saying where the task is. */
export function thumbnail(task, { full = false } = {}) {
  const media = task.result && !task.result.expired ? task.result.media || [] : [];
  const first = media[0];
  if (!first) {
    let text = task.status;
    if (task.status === "processing") text = `processing ${task.progress}%`;
    if (task.error) text = task.error.code;
    if (task.result && task.result.expired) text = "result expired";
    const bar = task.status === "processing" ? h("progress", { max: "100", value: String(task.progress || 0) }) : null;
    return h("div", { class: `placeholder ${task.status}`, "aria-hidden": "true" }, h("span", {}, text), bar);
  }
  const label = task.prompt ? `Result of “${task.prompt.slice(0, 120)}”` : `Result of ${task.id}`;
  if (first.kind === "video") {
    return h("video", {
      src: first.url, poster: first.poster_url || null, muted: true, loop: !full, playsinline: true,
      preload: full ? "metadata" : "none", controls: full, "aria-label": label,
    });
  }
  return h("img", { src: first.url, alt: label, loading: full ? "eager" : "lazy", decoding: "async" });
}

/** A tile for the grid; `tile.update(task)` redraws it when the task's event stream says more. */
export function tile(task) {
  const li = h("li", { class: "tile", dataset: { taskId: task.id } });
  li.update = (next) => fill(li, next);
  fill(li, task);
  return li;
}

function fill(li, task) {
  li.dataset.status = task.status;
  const href = `#/task/${encodeURIComponent(task.id)}`;
  const media = h("a", { class: "media", href, tabindex: "-1", "aria-hidden": "true" }, thumbnail(task));
  const video = media.querySelector("video");
  if (video) wirePlayback(li, media, video);
  const title = task.prompt ? task.prompt : "(no prompt)";
  const count = task.result && !task.result.expired ? (task.result.media || []).length : 0;
  if (count > 1) media.append(h("span", { class: "count" }, `×${count}`));
  li.replaceChildren(media, h("div", { class: "tile-meta" },
    h("a", { class: "tile-title", href }, title),
    h("div", { class: "tile-line" }, badge(task), h("span", { class: "muted" }, task.model)),
    h("time", { class: "muted", datetime: task.created_at }, when(task.created_at))));
  li.classList.toggle("live", LIVE.has(task.status));
}

// Hover (mouse) or keyboard focus plays the muted video; a tap plays it first and opens it second.
// With "reduce motion" set in the system, nothing plays by itself: the detail view has the controls.
function wirePlayback(li, media, video) {
  if (matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  const play = () => { video.play().catch(() => {}); };
  const pause = () => { video.pause(); };
  li.addEventListener("pointerenter", (e) => { if (e.pointerType === "mouse") play(); });
  li.addEventListener("pointerleave", (e) => { if (e.pointerType === "mouse") pause(); });
  li.addEventListener("focusin", play);
  li.addEventListener("focusout", pause);
  let touched = false;
  media.addEventListener("pointerdown", (e) => { touched = e.pointerType !== "mouse"; });
  media.addEventListener("click", (e) => {
    if (touched && video.paused) { e.preventDefault(); play(); }
  });
}
