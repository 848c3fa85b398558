// Pieces the management views share: a form that posts to the API and shows its errors beside the
// fields, a "shown once" secret box, and a keys table.

import { api } from "./api.js";
import { h, notice, when, showFieldError, clearFieldErrors } from "./dom.js";

/**
 * Wires `form` to call `send()` on submit; API errors land beside the field they name (data-field),
 * others in the form's status line. `done(result)` runs after success.
 */
export function apiForm(form, send, done) {
  const status = h("div", { class: "form-status" });
  form.append(status);
  form.noValidate = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    try {
      await done(await send());
    } catch (error) {
      let first = null;
      const loose = [];
      for (const d of error.details || []) {
        const target = showFieldError(form, d.field, d.issue);
        if (target) first ??= target; else loose.push(`${d.field}: ${d.issue}`);
      }
      if (!first || loose.length) status.append(notice(`${error.code || "error"}: ${loose.join("; ") || error.message}`, "error"));
      (first || button).focus();
    } finally {
      button.disabled = false;
    }
  });
  return status;
}

/** A secret the API shows once (a new key, a webhook signing secret), with a copy button. */
export function secretBox(label, secret) {
  const value = h("code", { class: "secret", id: "new-secret", tabindex: "0" }, secret);
  const copy = h("button", { type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    await navigator.clipboard?.writeText(secret).catch(() => {});
    copy.textContent = "Copied";
  });
  return h("div", { class: "notice", role: "status" },
    h("p", {}, h("strong", {}, label), " — shown only this once: store it now."), value, copy);
}

/** An API key's limits or spend as "total 100 · daily — · monthly —". */
export function caps(values) {
  if (!values) return "—";
  return ["total", "daily", "monthly"].map((k) => `${k} ${values[k] ?? "—"}`).join(" · ");
}

/** A table of key objects; `revokePath(key)` is the POST that revokes one. */
export function keysTable(keys, revokePath, reload) {
  if (!keys.length) return h("p", { class: "muted" }, "No keys yet.");
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Name", "Prefix", "Scopes", "Limits", "Spent", "Created", "Last used", ""].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, keys.map((key) => h("tr", { dataset: { keyId: key.id } },
      h("td", {}, key.name || "—"), h("td", {}, h("code", {}, key.prefix || "")),
      h("td", {}, (key.scopes || []).join(", ")), h("td", {}, caps(key.limits)), h("td", {}, caps(key.spent)),
      h("td", {}, when(key.created_at)), h("td", {}, when(key.last_used_at)),
      h("td", {}, key.revoked_at ? `revoked ${when(key.revoked_at)}` : revokeButton(key, revokePath, reload)))))));
}

function revokeButton(key, revokePath, reload) {
  const button = h("button", { type: "button", class: "danger" }, "Revoke", h("span", { class: "visually-hidden" }, ` ${key.name || key.prefix}`));
  button.addEventListener("click", async () => {
    if (!window.confirm(`Revoke the key “${key.name || key.prefix}”? Requests with it stop working at once.`)) return;
    button.disabled = true;
    try {
      await api(revokePath(key), { method: "POST" });
      await reload();
    } catch (error) {
      button.replaceWith(notice(error.message, "error"));
    }
  });
  return button;
}

/** Checkboxes named `name` for each option; checked() lists the ticked ones. */
export function checkboxes(legend, name, options, ticked = []) {
  const boxes = options.map((option) => h("input", { type: "checkbox", value: option, checked: ticked.includes(option), name }));
  const set = h("fieldset", { "data-field": name, id: `f-${name}`, tabindex: "-1" }, h("legend", {}, legend),
    boxes.map((box) => h("label", { class: "check" }, box, box.value)),
    h("p", { class: "field-error", id: `f-${name}-error`, hidden: true }));
  set.checked = () => boxes.filter((b) => b.checked).map((b) => b.value);
  return set;
}

/** A random Idempotency-Key (works without a secure context, unlike crypto.randomUUID). */
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
