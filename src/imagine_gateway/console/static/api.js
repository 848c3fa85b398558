// The native API as the console uses it: the key from sessionStorage as a Bearer token, errors as
// ApiError (the envelope's code, message and per-field details), and task event streams.

const KEY = "imagine.key";

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
  },
};

/** An error answer of the API: `code`, `message`, `status` and `details` [{field, issue, allowed}]. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The gateway answered HTTP ${status}.`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.details = error.details || [];
    this.requestId = error.requestId || null;
  }
}

/** Calls the API; a plain object body is sent as JSON. Resolves to the parsed JSON answer. */
export async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const sent = { ...headers };
  if (session.key) sent.Authorization = `Bearer ${session.key}`;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    sent["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(path, { method, headers: sent, body: payload, signal });
  const parsed = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** `path` with the query parameters that are set (empty values left out). */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

// A browser keeps about six HTTP/1.1 connections per host, and each open event stream holds one:
// at most this many streams run at once, so API calls always have a connection left.
const MAX_STREAMS = 3;
let open = 0;
const waiting = [];

function acquire() {
  if (open < MAX_STREAMS) { open += 1; return Promise.resolve(); }
  return new Promise((resolve) => waiting.push(resolve));
}

function release() {
  const next = waiting.shift();
  if (next) next(); else open -= 1;
}

/**
 * Follows one task's server-sent events (`fetch` with the Bearer header: EventSource cannot send it).
 * Calls onTask(task) for each `generation` event until the task ends or `signal` aborts. A `reconnect`
 * event (the server is stopping) or a dropped connection opens the stream again after a second.
 */
export async function follow(taskId, onTask, signal) {
  await acquire();
  try {
    while (!signal.aborted) {
      const ended = await readStream(taskId, onTask, signal).catch((error) => {
        if (signal.aborted || (error instanceof ApiError)) return true;
        return false;
      });
      if (ended || signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    release();
  }
}

async function readStream(taskId, onTask, signal) {
  const response = await fetch(`/api/v1/generations/${encodeURIComponent(taskId)}/events`, {
    headers: { Authorization: `Bearer ${session.key}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event.type === "generation") {
        const task = JSON.parse(event.data);
        onTask(task);
        if (!["queued", "processing"].includes(task.status)) return true;
      } else if (event.type === "reconnect") {
        return false;
      }
    }
  }
}

function parseEvent(block) {
  const event = { type: "message", data: "" };
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a keep-alive comment
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event.type = value;
    else if (name === "data") event.data += (event.data ? "\n" : "") + value;
  }
  return event;
}
