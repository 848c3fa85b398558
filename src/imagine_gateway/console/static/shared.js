// What several views need, loaded once per sign-in: the catalog, the console's metadata (statuses,
// roles, scopes, event types: all from the server, none hard-coded here) and whether the key is admin.

import { api } from "./api.js";

let cache = {};

export function forget() { cache = {}; }

/** The public catalog (GET /api/v1/models), in the catalog's order. */
export async function models() {
  cache.models ??= api("/api/v1/models").then((page) => page.data);
  return cache.models;
}

export async function model(id) {
  return (await models()).find((m) => m.id === id || (m.aliases || []).includes(id)) || null;
}

/** GET /console/meta.json: statuses, roles and their kinds, scopes, webhook event types. */
export async function meta() {
  cache.meta ??= fetch("/console/meta.json").then((r) => r.json());
  return cache.meta;
}

/** True when the key may use the admin API (an admin key); false for customer keys. */
export async function isAdmin() {
  cache.admin ??= api("/api/v1/admin/accounts?limit=1").then(() => true, () => false);
  return cache.admin;
}

/** Tells the header (and any view that shows a balance) that credits may have changed. */
export function creditsChanged() {
  document.dispatchEvent(new CustomEvent("credits-changed"));
}
