// The signed-in account's API keys: listed, created (the secret shown once), revoked.

import { api } from "./api.js";
import { h, field, notice } from "./dom.js";
import { models, meta } from "./shared.js";
import { apiForm, secretBox, keysTable, checkboxes } from "./forms.js";

export async function render(root) {
  const [catalog, info] = await Promise.all([models(), meta()]);
  const list = h("section", { class: "card", "aria-labelledby": "keys-title" });
  const name = h("input", { type: "text", autocomplete: "off" });
  const scopes = checkboxes("Scopes (none ticked: the default scopes)", "scopes", info.scopes.filter((s) => s !== "admin"));
  const limits = ["total", "daily", "monthly"].map((period) =>
    field(`${period[0].toUpperCase()}${period.slice(1)} spend cap (credits)`, h("input", { type: "number", min: "0", step: "1", inputmode: "numeric", dataset: { period } }),
      { name: `limits.${period}`, hint: "Empty: no cap" }));
  const allowed = h("select", { multiple: true, size: String(Math.min(catalog.length, 6)) }, catalog.map((m) => h("option", { value: m.id }, m.id)));
  const shown = h("div", {});
  const form = h("form", { class: "card" }, h("h3", {}, "Create a key"),
    field("Name", name, { name: "name" }), scopes, h("div", { class: "params" }, limits),
    field("Models allowed", allowed, { name: "models", hint: "None selected: every model" }),
    h("button", { type: "submit", class: "primary" }, "Create key"), shown);
  root.append(h("div", { class: "view-head" }, h("h2", { tabindex: "-1" }, "API keys")), list, form);

  const reload = async () => {
    try {
      const page = await api("/api/v1/keys");
      list.replaceChildren(h("h3", { id: "keys-title" }, "Keys of this account"),
        keysTable(page.data, (key) => `/api/v1/keys/${encodeURIComponent(key.id)}/revoke`, reload));
    } catch (error) {
      list.replaceChildren(h("h3", { id: "keys-title" }, "Keys of this account"), notice(error.message, "error"));
    }
  };
  apiForm(form, () => {
    const body = { name: name.value.trim() };
    if (scopes.checked().length) body.scopes = scopes.checked();
    const caps = {};
    for (const input of form.querySelectorAll("[data-period]")) if (input.value !== "") caps[input.dataset.period] = Number(input.value);
    if (Object.keys(caps).length) body.limits = caps;
    const picked = [...allowed.selectedOptions].map((o) => o.value);
    if (picked.length) body.models = picked;
    return api("/api/v1/keys", { method: "POST", body });
  }, async (created) => {
    shown.replaceChildren(secretBox(`Key “${created.name}”`, created.secret));
    form.reset();
    await reload();
    shown.querySelector("#new-secret").focus();
  });
  await reload();
}
