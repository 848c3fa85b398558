// The price line of the create form: what the request will reserve, from POST
// /api/v1/generations/price (the same validation as create, nothing made). On a gateway without that
// route the catalog's rule gives an estimate, labelled as such.

import { api, ApiError } from "./api.js";
import { h } from "./dom.js";

/** The line element and `update(body, model)`, debounced so typing does not flood the API. */
export function priceLine() {
  const line = h("p", { class: "price", id: "price", role: "status", "aria-live": "polite" });
  let timer = null;
  let generation = 0;
  const update = (body, model) => {
    clearTimeout(timer);
    const mine = (generation += 1); // any answer still on its way is for an older form
    // Until the new answer is in, the line has no number (so nothing reads a stale one).
    line.dataset.credits = "";
    line.setAttribute("aria-busy", "true");
    timer = setTimeout(async () => {
      const shown = await quote(body, model);
      if (mine !== generation) return; // a newer change is on its way
      line.dataset.credits = shown.credits ?? "";
      line.removeAttribute("aria-busy");
      line.replaceChildren(...shown.parts);
    }, 250);
  };
  return { element: line, update };
}

async function quote(body, model) {
  try {
    const price = await api("/api/v1/generations/price", { method: "POST", body });
    const items = (price.breakdown || []).map((b) => `${b.item.replace(/_/g, " ")} ${b.quantity} × ${b.unit_credits}`).join(" + ");
    return {
      credits: price.credits,
      parts: ["This request will reserve ", h("strong", {}, `${price.credits} credits`), items ? ` (${items})` : ""],
    };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      const credits = estimate(model, body.params || {});
      return { credits, parts: ["Estimated reserve: ", h("strong", {}, `${credits} credits`), " (from the catalog's price)"] };
    }
    return { credits: null, parts: [h("span", { class: "muted" }, `No price yet: ${error.message}`)] };
  }
}

/** The catalog's rule: base, plus ceil(duration × per second), or base × n images. */
export function estimate(model, params) {
  if (model.billing_type === "PER_IMAGE") return model.base_credits * Number(params.n || 1);
  if (model.billing_type === "PER_SECOND") {
    return model.base_credits + Math.ceil(Number(params.duration || 0) * (model.credits_per_second || 0));
  }
  return model.base_credits;
}
