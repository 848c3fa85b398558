// The console's shell: sign-in, the navigation, the balance in the header, and the hash router.
// Routes live in the fragment (#/gallery, #/task/ID...), which browsers never send to a server.

import { api, session, ApiError } from "./api.js";
import { h, $, field, notice, showFieldError, clearFieldErrors } from "./dom.js";
import { forget, isAdmin } from "./shared.js";

const VIEWS = {
  gallery: () => import("./gallery.js"),
  task: () => import("./detail.js"),
  create: () => import("./create.js"),
  credits: () => import("./credits.js"),
  keys: () => import("./keys.js"),
  webhooks: () => import("./webhooks.js"),
  admin: () => import("./admin.js"),
};

let cleanup = null;

// A link like /console#key=igw_sk_... signs in; the fragment never reaches a server, and is removed.
if (location.hash.startsWith("#key=")) {
  session.key = decodeURIComponent(location.hash.slice(5));
  history.replaceState(null, "", `${location.pathname}#/gallery`);
}

/** The route in the fragment: "#/task/gen_1?x=1" -> {name: "task", arg: "gen_1", query}. */
function route() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  return { name: VIEWS[name] ? name : "gallery", arg: rest.map(decodeURIComponent).join("/"), query: new URLSearchParams(search || "") };
}

let shown = 0; // which render is current: an older one still loading must not take the page

async function render() {
  const mine = (shown += 1);
  if (cleanup) { cleanup(); cleanup = null; }
  const main = $("#view");
  // Each view draws into its own box: a slower earlier view then fills a box no longer on the page.
  const box = h("div", { class: "view" });
  main.replaceChildren(box);
  updateNav();
  if (!session.key) { box.append(signIn()); document.title = "Sign in · Imagine Gateway"; return; }
  const current = route();
  let stop = null;
  try {
    const module = await VIEWS[current.name]();
    if (mine !== shown) return;
    stop = await module.render(box, current);
  } catch (error) {
    // A view that could not load says why (an expired key, a gateway that went away) instead of going blank.
    box.append(h("h2", { tabindex: "-1" }, "This view could not load"), notice(error.message || String(error), "error"));
  }
  if (mine !== shown) { if (typeof stop === "function") stop(); return; }
  cleanup = typeof stop === "function" ? stop : null;
  const heading = $("h1, h2", box);
  document.title = `${heading ? heading.textContent : "Console"} · Imagine Gateway`;
  // After a move to another view, focus goes to its heading (where a screen reader then starts).
  const away = !document.activeElement || document.activeElement === document.body || document.activeElement === main
    || !document.contains(document.activeElement) || $("#nav").contains(document.activeElement);
  if (heading && away) heading.focus({ preventScroll: true });
}

/** Shows the view at `hash` (rendering again when it is already the current one). */
function go(hash) {
  if (location.hash === hash) render(); else location.hash = hash;
}

function updateNav() {
  const signedIn = Boolean(session.key);
  $("#nav").hidden = !signedIn;
  $("#account").hidden = !signedIn;
  const name = route().name === "task" ? "gallery" : route().name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (signedIn) isAdmin().then((admin) => { $("#nav-admin").hidden = !admin; });
}

function signIn() {
  const input = h("input", { type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const form = h("form", { class: "card narrow", novalidate: true },
    h("h2", { tabindex: "-1" }, "Sign in"),
    h("p", {}, "Paste an API key of this gateway. It stays in this tab's session storage and is sent only as an Authorization header."),
    field("API key", input, { name: "key", hint: "Starts with igw_sk_" }),
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    session.key = input.value.trim();
    try {
      await api("/api/v1/credits");
    } catch (error) {
      // A key without credits:read still signs in; any other refusal is shown beside the field.
      if (!(error instanceof ApiError && error.code === "api_scope_denied")) {
        session.key = "";
        showFieldError(form, "key", error.message).focus();
        return;
      }
    }
    input.value = "";
    forget();
    go("#/gallery");
    refreshBalance();
  });
  return form;
}

async function refreshBalance() {
  const box = $("#balance");
  if (!session.key) { box.textContent = ""; return; }
  try {
    const credits = await api("/api/v1/credits");
    box.replaceChildren(h("strong", { id: "balance-value" }, String(credits.balance)), " credits",
      h("span", { class: "muted" }, ` · ${credits.reserved} reserved`));
    box.dataset.balance = String(credits.balance);
  } catch (error) {
    box.textContent = error.code === "api_scope_denied" ? "" : error.message;
  }
}

$("#sign-out").addEventListener("click", () => {
  session.key = "";
  forget();
  go("#/gallery");
  refreshBalance();
});
document.addEventListener("credits-changed", refreshBalance);
window.addEventListener("hashchange", render);
render().then(refreshBalance);
