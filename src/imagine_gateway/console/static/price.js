// The price line of the create form: what the request will reserve, from POST
// /api/v1/generations/price (the same validation and the same number as create; nothing is made).

import { api } from "./api.js";
import { h } from "./dom.js";

/** The line element and `update(body)`, debounced so typing does not flood the API. */
export function priceLine() {
  const line = h("p", { class: "price", id: "price", role: "status", "aria-live": "polite" });
  let timer = null;
  let generation = 0;
  const update = (body) => {
    clearTimeout(timer);
    const mine = (generation += 1); // any answer still on its way is for an older form
    // Until the new answer is in, the line has no number (so nothing reads a stale one).
    line.dataset.credits = "";
    line.setAttribute("aria-busy", "true");
    timer = setTimeout(async () => {
      const shown = await quote(body);
      if (mine !== generation) return; // a newer change is on its way
      line.dataset.credits = shown.credits ?? "";
      line.removeAttribute("aria-busy");
      line.replaceChildren(...shown.parts);
    }, 250);
  };
  return { element: line, update };
}

async function quote(body) {
  try {
    const price = await api("/api/v1/generations/price", { method: "POST", body });
    const items = (price.breakdown || []).map((b) => `${b.item.replace(/_/g, " ")} ${b.quantity} × ${b.unit_credits}`).join(" + ");
    return {
      credits: price.credits,
      parts: ["This request will reserve ", h("strong", {}, `${price.credits} credits`), items ? ` (${items})` : ""],
    };
  } catch (error) {
    // Not priced yet (a required file or value is missing): say what the API says, as create would.
    return { credits: null, parts: [h("span", { class: "muted" }, `No price yet: ${error.message}`)] };
  }
}
