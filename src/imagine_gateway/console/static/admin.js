// Admin (a key with the admin scope): accounts, top-ups and adjustments, an account's keys, and the
// margin report. #/admin lists; #/admin/ACCOUNT_ID shows one account.

import { api, withQuery } from "./api.js";
import { h, field, notice, when } from "./dom.js";
import { isAdmin } from "./shared.js";
import { apiForm, secretBox, keysTable, idempotencyKey, checkboxes } from "./forms.js";
import { table } from "./credits.js";

const A = "/api/v1/admin";
const COLUMN_NAMES = {
  day: "Day", model: "Model", provider: "Provider", account_id: "Account", tasks: "Tasks", revenue_credits: "Revenue (credits)",
  revenue_usd: "Revenue (USD)", upstream_cost_usd: "Upstream cost (USD)", margin_usd: "Margin (USD)",
};

export async function render(root, { arg }) {
  if (!(await isAdmin())) {
    root.append(h("h2", { tabindex: "-1" }, "Admin"), notice("This key has no admin scope.", "error"));
    return;
  }
  if (arg) await account(root, arg); else await overview(root);
}

async function overview(root) {
  const list = h("section", { class: "card", "aria-labelledby": "accounts-title" });
  const name = h("input", { type: "text", autocomplete: "off" });
  const form = h("form", { class: "card" }, h("h3", {}, "New account"), field("Name", name, { name: "name" }),
    h("button", { type: "submit", class: "primary" }, "Create account"));
  const report = h("section", { class: "card", "aria-labelledby": "margin-title" });
  root.append(h("div", { class: "view-head" }, h("h2", { tabindex: "-1" }, "Admin")), list, form, report);
  let cursor = null;
  const rows = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, "More accounts");
  list.append(h("h3", { id: "accounts-title" }, "Accounts"), h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ["Account", "Name", "Balance", "Reserved", "Status", "Created"].map((c) => h("th", { scope: "col" }, c)))), rows)), more);
  const load = async () => {
    try {
      const page = await api(withQuery(`${A}/accounts`, { limit: 50, cursor }));
      rows.append(...page.data.map((a) => h("tr", {},
        h("td", {}, h("a", { href: `#/admin/${encodeURIComponent(a.id)}` }, a.id)), h("td", {}, a.name || "—"),
        h("td", {}, String(a.balance ?? "—")), h("td", {}, String(a.reserved ?? "—")),
        h("td", {}, a.disabled_at ? "disabled" : a.status || "active"), h("td", {}, when(a.created_at)))));
      cursor = page.next_cursor;
      more.hidden = !page.has_more;
    } catch (error) {
      list.append(notice(error.message, "error"));
    }
  };
  more.addEventListener("click", load);
  apiForm(form, () => api(`${A}/accounts`, { method: "POST", body: name.value.trim() ? { name: name.value.trim() } : {} }),
    (created) => { location.hash = `#/admin/${encodeURIComponent(created.id)}`; });
  await Promise.all([load(), margin(report)]);
}

async function margin(box) {
  const today = new Date().toISOString().slice(0, 10);
  const from = h("input", { type: "date", value: `${today.slice(0, 8)}01` });
  const to = h("input", { type: "date", value: today });
  const groups = checkboxes("Group by", "group_by", ["day", "model", "provider", "account"], ["model"]);
  const out = h("div", {});
  const form = h("form", {}, h("div", { class: "filters" }, field("From", from, { name: "from" }), field("To", to, { name: "to" })), groups,
    h("button", { type: "submit" }, "Show report"));
  box.append(h("h3", { id: "margin-title" }, "Margin report"), form, out);
  const cols = ["day", "model", "provider", "account_id", "tasks", "revenue_credits", "revenue_usd", "upstream_cost_usd", "margin_usd"];
  apiForm(form, () => api(withQuery(`${A}/reports/margin`, { from: from.value, to: to.value, group_by: groups.checked().join(",") })),
    (report) => {
      const shown = cols.filter((c) => report.data.some((r) => r[c] !== undefined && r[c] !== null) || !["day", "model", "provider", "account_id"].includes(c));
      const total = report.total || {};
      out.replaceChildren(table(shown.map((c) => COLUMN_NAMES[c] || c), [...report.data.map((r) => shown.map((c) => r[c])), shown.map((c, i) => (i === 0 ? "Total" : total[c] ?? ""))]));
    });
  form.requestSubmit();
}

async function account(root, id) {
  const path = `${A}/accounts/${encodeURIComponent(id)}`;
  const facts = h("section", { class: "card" });
  const keys = h("section", { class: "card", "aria-labelledby": "account-keys" });
  root.append(h("p", {}, h("a", { href: "#/admin" }, "← Accounts")), h("h2", { tabindex: "-1" }, "Account ", h("code", {}, id)), facts);
  const reload = async () => {
    try {
      const a = await api(path);
      const toggle = h("button", { type: "button", class: a.disabled_at ? "" : "danger" }, a.disabled_at ? "Enable" : "Disable");
      toggle.addEventListener("click", async () => { await api(`${path}/${a.disabled_at ? "enable" : "disable"}`, { method: "POST" }); await reload(); });
      facts.replaceChildren(h("dl", { class: "facts" }, Object.entries(a).filter(([k, v]) => k !== "object" && (typeof v !== "object" || v === null))
        .map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { fact: k } }, String(v ?? "—"))])), toggle);
      const page = await api(`${path}/keys`);
      keys.replaceChildren(h("h3", { id: "account-keys" }, "Keys"), keysTable(page.data, (k) => `${A}/keys/${encodeURIComponent(k.id)}/revoke`, reload));
    } catch (error) {
      facts.replaceChildren(notice(error.message, "error"));
    }
  };
  root.append(money(path, "topups", "Top up", reload), money(path, "adjustments", "Adjust", reload), keys, newKey(path, reload));
  await reload();
}

/** The top-up or adjustment form; each submission carries its own Idempotency-Key. */
function money(path, kind, title, reload) {
  const credits = h("input", { type: "number", step: "1", inputmode: "numeric", min: kind === "topups" ? "1" : null });
  const reason = h("input", { type: "text" });
  const note = h("input", { type: "text" });
  const done = h("div", {});
  const form = h("form", { class: "card" }, h("h3", {}, title),
    field("Credits", credits, { name: "credits", hint: kind === "topups" ? "Added to the balance" : "Positive adds, negative removes" }),
    kind === "topups" ? [field("Reference", reason, { name: "reference", hint: "Your invoice or payment id" }), field("Note", note, { name: "note" })]
      : field("Reason", reason, { name: "reason" }),
    h("button", { type: "submit", class: "primary" }, title), done);
  apiForm(form, () => {
    const body = kind === "topups" ? { credits: Number(credits.value), reference: reason.value, note: note.value || null }
      : { credits: Number(credits.value), reason: reason.value };
    return api(`${path}/${kind}`, { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
  }, async () => {
    done.replaceChildren(notice(`${title}: ${credits.value} credits recorded.`));
    form.reset();
    await reload();
  });
  return form;
}

function newKey(path, reload) {
  const name = h("input", { type: "text", autocomplete: "off" });
  const shown = h("div", {});
  const form = h("form", { class: "card" }, h("h3", {}, "New key for this account"), field("Name", name, { name: "name" }),
    h("button", { type: "submit", class: "primary" }, "Create key"), shown);
  apiForm(form, () => api(`${path}/keys`, { method: "POST", body: { name: name.value.trim() } }), async (created) => {
    shown.replaceChildren(secretBox(`Key “${created.name}”`, created.secret));
    await reload();
  });
  return form;
}
