// Credits: balance and reserved, usage by day and by model (GET /api/v1/usage), and the ledger
// (GET /api/v1/credits/ledger), paged by cursor.

import { api, withQuery } from "./api.js";
import { h, field, notice, when } from "./dom.js";
import { barChart } from "./chart.js";

const isoDay = (d) => d.toISOString().slice(0, 10);

export async function render(root) {
  const credits = await api("/api/v1/credits").catch((error) => ({ error }));
  const head = h("div", { class: "view-head" }, h("h2", { tabindex: "-1" }, "Credits and usage"));
  root.append(head, credits.error ? notice(credits.error.message, "error") : h("div", { class: "card stats" },
    h("div", {}, h("strong", { id: "credits-balance" }, String(credits.balance)), "credits to spend"),
    h("div", {}, h("strong", { id: "credits-reserved" }, String(credits.reserved)), "reserved by running tasks")));
  const usage = h("section", { class: "card", "aria-labelledby": "usage-title" });
  const ledger = h("section", { class: "card", "aria-labelledby": "ledger-title" });
  root.append(usage, ledger);
  await Promise.all([renderUsage(usage), renderLedger(ledger)]);
}

async function renderUsage(box) {
  const today = new Date();
  const from = h("input", { type: "date", value: isoDay(new Date(today - 29 * 86400000)) });
  const to = h("input", { type: "date", value: isoDay(today) });
  const body = h("div", {});
  const form = h("form", { class: "filters" }, field("From", from, { name: "usage-from" }), field("To", to, { name: "usage-to" }));
  box.append(h("h3", { id: "usage-title" }, "Usage"), form, body);
  const draw = async () => {
    const read = (group) => api(withQuery("/api/v1/usage", { from: from.value, to: to.value, group_by: group }));
    try {
      const [byDay, byModel] = await Promise.all([read("day"), read("model")]);
      const days = fillDays(byDay, from.value, to.value);
      body.replaceChildren(
        h("p", {}, `${byDay.total.credits} credits spent on ${byDay.total.tasks} tasks from ${byDay.from} to ${byDay.to}.`),
        h("div", { class: "two" },
          h("figure", {}, barChart(days, { title: "Credits spent per day" }), h("figcaption", { class: "muted" }, "Per day")),
          h("figure", {}, barChart(byModel.data.map((r) => ({ label: r.group, value: r.credits })), { title: "Credits spent per model", horizontal: true }),
            h("figcaption", { class: "muted" }, "Per model"))),
        h("details", {}, h("summary", {}, "The numbers as a table"), table(["Group", "Tasks", "Credits"],
          [...byDay.data, ...byModel.data].map((r) => [r.group, r.tasks, r.credits]))));
    } catch (error) {
      body.replaceChildren(notice(error.message, "error"));
    }
  };
  form.addEventListener("change", draw);
  form.addEventListener("submit", (e) => { e.preventDefault(); draw(); });
  await draw();
}

/** Every day of the range, zero where nothing was spent, so the bars keep their calendar places. */
function fillDays(usage, from, to) {
  const spent = new Map(usage.data.map((r) => [r.group, r.credits]));
  const days = [];
  for (let d = new Date(`${from}T00:00:00Z`); isoDay(d) <= to && days.length < 400; d = new Date(d.getTime() + 86400000)) {
    days.push({ label: isoDay(d), value: spent.get(isoDay(d)) || 0 });
  }
  return days;
}

async function renderLedger(box) {
  const rows = h("tbody", {});
  const more = h("button", { type: "button", hidden: true }, "Older entries");
  box.append(h("h3", { id: "ledger-title" }, "Ledger"),
    h("div", { class: "table-wrap" }, h("table", {},
      h("caption", { class: "visually-hidden" }, "Every change of balance, newest first"),
      h("thead", {}, h("tr", {}, ["When", "Kind", "Amount", "Reserved", "Balance after", "Task", "Note"].map((c, i) =>
        h("th", { scope: "col", class: i >= 2 && i <= 4 ? "num" : null }, c)))),
      rows)), more);
  let cursor = null;
  const load = async () => {
    try {
      const page = await api(withQuery("/api/v1/credits/ledger", { limit: 25, cursor }));
      rows.append(...page.data.map((e) => h("tr", {},
        h("td", {}, when(e.created_at)), h("td", {}, e.kind),
        h("td", { class: "num" }, signed(e.amount)), h("td", { class: "num" }, signed(e.reserved_delta)),
        h("td", { class: "num" }, String(e.balance_after)),
        h("td", {}, e.task_id ? h("a", { href: `#/task/${encodeURIComponent(e.task_id)}` }, e.model || e.task_id) : "—"),
        h("td", {}, e.note || ""))));
      cursor = page.next_cursor;
      more.hidden = !page.has_more;
    } catch (error) {
      box.append(notice(error.message, "error"));
      more.hidden = true;
    }
  };
  more.addEventListener("click", load);
  await load();
}

const signed = (n) => (n > 0 ? `+${n}` : String(n));

/** A plain table with a header row. */
export function table(columns, rows) {
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((v) => h("td", {}, String(v ?? "—"))))))));
}
