// Reference files of the create form, one group per role of the chosen mode (first frame, last frame,
// keyframes, references, audio, the video to edit or extend). Each file is uploaded through the Files
// API as soon as it is picked, previewed, and becomes one params.referenceMediaItems entry.

import { api } from "./api.js";
import { h, field, bytes } from "./dom.js";

const ROLE_NAMES = {
  first_frame: "First frame", last_frame: "Last frame", keyframe: "Keyframes", reference: "Reference images",
  audio: "Reference audio", edit: "Video to edit", extend: "Video to extend", source: "Source images",
};

/** Accepted MIME types of a kind for this model (the catalog's list, or any file of the kind). */
function accept(model, kind) {
  const types = model.reference_media && model.reference_media.mime_types[kind];
  return types ? types.join(",") : `${kind}/*`;
}

/**
 * The groups of the mode's roles. Returns {element, items(), errorTarget(index), setItems(list)}.
 * `roleKinds` maps each role to the kind of file it takes (from /console/meta.json).
 */
export function referencePicker(model, mode, roleKinds, onChange = () => {}) {
  const groups = Object.entries(mode ? mode.roles : {}).map(([role, limits]) => group(model, role, limits, roleKinds[role], onChange));
  const element = h("fieldset", { class: "refs-picker", hidden: !groups.length, "data-field": "params.referenceMediaItems", id: "f-refs", tabindex: "-1" },
    h("legend", {}, "Reference files"), h("p", { class: "field-error", id: "f-refs-error", hidden: true }),
    groups.map((g) => g.element));
  const items = () => groups.flatMap((g) => g.items());
  return {
    element,
    items,
    /** The control beside which an error about referenceMediaItems[index] belongs. */
    errorTarget(index, name = "") {
      let seen = 0;
      for (const g of groups) {
        const count = g.items().length;
        if (index < seen + count) {
          const stamp = g.element.querySelectorAll("input[data-stamp]")[index - seen];
          return name.endsWith(".timestampSeconds") && stamp ? stamp : g.input;
        }
        seen += count;
      }
      return element;
    },
    /** Puts existing items (from "create again") back into their role's group. */
    setItems(list, defaultRole) {
      for (const item of list) {
        const role = item.role || defaultRole(item.kind);
        const g = groups.find((x) => x.role === role);
        if (g) g.add({ ...item, role, preview: item.kind === "image" ? item.url : null });
      }
    },
    busy: () => groups.some((g) => g.busy()),
  };
}

function group(model, role, { min: low, max: high }, kind, onChange) {
  const chosen = [];
  let uploading = 0;
  const input = h("input", { type: "file", accept: accept(model, kind), multiple: high > 1 });
  const list = h("ul", { class: "ref-list" });
  const progress = h("p", { class: "muted", role: "status" });
  const limit = (model.reference_media && model.reference_media.max_bytes[kind]) || null;
  const need = low === high ? `${low}` : `${low} to ${high}`;
  const hint = `${need} ${kind} file${high > 1 ? "s" : ""}${limit ? `, up to ${bytes(limit)} each` : ""}`;
  const row = field(ROLE_NAMES[role] || role, input, { name: `ref-${role}`, hint });
  const error = row.querySelector(".field-error");

  const redraw = () => {
    list.replaceChildren(...chosen.map((item, i) => h("li", {},
      item.preview ? h("img", { src: item.preview, alt: `${ROLE_NAMES[role] || role} ${i + 1}: ${item.name || ""}` })
        : h("span", { class: "placeholder" }, kind),
      h("span", { class: "ref-name" }, item.name || item.url.split("?")[0].split("/").pop()),
      role === "keyframe" ? timestamp(item, i, role) : null,
      h("button", { type: "button", class: "link", onclick: () => { chosen.splice(i, 1); redraw(); onChange(); } },
        "Remove", h("span", { class: "visually-hidden" }, ` ${item.name || ""}`)))));
    input.disabled = chosen.length >= high;
  };
  const add = (item) => { chosen.push(item); redraw(); onChange(); };

  input.addEventListener("change", async () => {
    error.hidden = true;
    const files = [...input.files].slice(0, Math.max(0, high - chosen.length));
    input.value = "";
    for (const file of files) {
      uploading += 1;
      progress.textContent = `Uploading ${file.name}…`;
      try {
        add(await upload(model, kind, file, role));
      } catch (err) {
        const detail = (err.details || [])[0];
        error.textContent = `${file.name}: ${detail ? `${detail.field}: ${detail.issue}` : err.message}`;
        error.hidden = false;
        input.setAttribute("aria-invalid", "true");
      } finally {
        uploading -= 1;
        if (!uploading) progress.textContent = "";
      }
    }
  });
  return {
    role, input, add,
    element: h("div", { class: "ref-group" }, row, progress, list),
    items: () => chosen.map(({ preview, ...item }) => item),
    busy: () => uploading > 0,
  };
}

function timestamp(item, index, role) {
  const input = h("input", { type: "number", min: "0", step: "0.1", value: item.timestampSeconds ?? "", inputmode: "decimal",
    oninput: () => { item.timestampSeconds = input.value === "" ? undefined : Number(input.value); } });
  input.id = `${role}-${index}-at`;
  input.dataset.stamp = "";
  input.dataset.field = input.id;
  input.setAttribute("aria-describedby", `${input.id}-error`);
  return h("div", {}, h("label", { class: "inline", for: input.id }, `Keyframe ${index + 1} at (s) `, input),
    h("p", { class: "field-error", id: `${input.id}-error`, hidden: true }));
}

/** Uploads one file (kind and model before the file, so the model's limits apply from the first byte). */
async function upload(model, kind, file, role) {
  const form = new FormData();
  form.append("kind", kind);
  // The seed models' own policy lists only images; other kinds go by the gateway's default limits.
  if (model.reference_media && model.reference_media.kinds.includes(kind)) form.append("model", model.id);
  form.append("file", file, file.name);
  const stored = await api("/api/v1/files", { method: "POST", body: form });
  const item = { url: stored.url, kind, name: stored.name, mimeType: stored.mime_type, role };
  if (stored.duration_seconds != null) item.durationSeconds = stored.duration_seconds;
  if (stored.duration_token) item.durationToken = stored.duration_token;
  item.preview = kind === "image" ? URL.createObjectURL(file) : null;
  return item;
}
