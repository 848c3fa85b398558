// Webhook endpoints of the account: registered (the signing secret shown once), their delivery log,
// "send test", and delete.

import { api, withQuery } from "./api.js";
import { h, field, notice, when } from "./dom.js";
import { meta } from "./shared.js";
import { apiForm, secretBox, checkboxes } from "./forms.js";

export async function render(root) {
  const info = await meta();
  const list = h("section", { class: "card", "aria-labelledby": "hooks-title" });
  const log = h("section", { class: "card", "aria-labelledby": "log-title", hidden: true });
  const name = h("input", { type: "text", autocomplete: "off" });
  const url = h("input", { type: "url", inputmode: "url", placeholder: "https://example.com/hooks/imagine" });
  const events = checkboxes("Events", "event_types", info.webhook_event_types, info.webhook_event_types);
  const shown = h("div", {});
  const form = h("form", { class: "card" }, h("h3", {}, "Add an endpoint"),
    field("URL", url, { name: "url" }), field("Name", name, { name: "name", hint: "Empty: the URL" }), events,
    h("button", { type: "submit", class: "primary" }, "Add endpoint"), shown);
  root.append(h("div", { class: "view-head" }, h("h2", { tabindex: "-1" }, "Webhooks")), list, log, form);

  const showLog = async (endpoint) => {
    log.hidden = false;
    const rows = h("tbody", {});
    const more = h("button", { type: "button", hidden: true }, "Older deliveries");
    log.replaceChildren(h("h3", { id: "log-title", tabindex: "-1" }, `Deliveries to ${endpoint.name}`),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Created", "Event", "Status", "Attempts", "HTTP", "Last error", "Delivered"].map((c) => h("th", { scope: "col" }, c)))),
        rows)), more);
    let cursor = null;
    const load = async () => {
      try {
        const page = await api(withQuery(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}/deliveries`, { limit: 20, cursor }));
        rows.append(...page.data.map((d) => h("tr", { dataset: { deliveryId: d.id } },
          h("td", {}, when(d.created_at)), h("td", {}, d.event_type), h("td", {}, d.status), h("td", {}, String(d.attempts)),
          h("td", {}, d.last_status_code ?? "—"), h("td", {}, d.last_error || ""), h("td", {}, when(d.delivered_at)))));
        if (!page.data.length && !cursor) rows.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No deliveries yet.")));
        cursor = page.next_cursor;
        more.hidden = !page.has_more;
      } catch (error) {
        log.append(notice(error.message, "error"));
      }
    };
    more.addEventListener("click", load);
    await load();
    log.querySelector("h3").focus();
  };

  const reload = async () => {
    try {
      const page = await api("/api/v1/webhooks");
      list.replaceChildren(h("h3", { id: "hooks-title" }, "Endpoints"), page.data.length ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Name", "URL", "Events", "Status", "Failures", "Last success", ""].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, page.data.map((e) => h("tr", { dataset: { endpointId: e.id } },
          h("td", {}, e.name), h("td", {}, h("code", {}, e.url)), h("td", {}, e.event_types.join(", ")), h("td", {}, e.status),
          h("td", {}, String(e.failure_count)), h("td", {}, when(e.last_success_at)),
          h("td", { class: "actions" }, endpointActions(e, showLog, reload))))))) : h("p", { class: "muted" }, "No endpoints yet."));
    } catch (error) {
      list.replaceChildren(h("h3", { id: "hooks-title" }, "Endpoints"), notice(error.message, "error"));
    }
  };
  apiForm(form, () => {
    const body = { url: url.value.trim(), event_types: events.checked() };
    if (name.value.trim()) body.name = name.value.trim();
    return api("/api/v1/webhooks", { method: "POST", body });
  }, async (created) => {
    shown.replaceChildren(secretBox(`Signing secret of “${created.name}”`, created.signing_secret));
    form.reset();
    await reload();
  });
  await reload();
}

function endpointActions(endpoint, showLog, reload) {
  const label = (text) => [text, h("span", { class: "visually-hidden" }, ` ${endpoint.name}`)];
  const deliveries = h("button", { type: "button", onclick: () => showLog(endpoint) }, label("Deliveries"));
  const test = h("button", { type: "button" }, label("Send test"));
  test.addEventListener("click", async () => {
    test.disabled = true;
    try {
      await api(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}/test`, { method: "POST" });
      await showLog(endpoint);
    } catch (error) {
      test.after(notice(error.message, "error"));
    } finally {
      test.disabled = false;
    }
  });
  const remove = h("button", { type: "button", class: "danger" }, label("Delete"));
  remove.addEventListener("click", async () => {
    if (!window.confirm(`Delete the endpoint “${endpoint.name}”? No more events go to it.`)) return;
    await api(`/api/v1/webhooks/${encodeURIComponent(endpoint.id)}`, { method: "DELETE" }).catch((e) => remove.after(notice(e.message, "error")));
    await reload();
  });
  return [deliveries, test, remove];
}
