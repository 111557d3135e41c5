// The technicians' status page: `GET /api/status` every few seconds, shown as a summary
// (station, version, adapter, last sync, journal and queue depth), the devices with their state
// and the recent errors, plus the raw JSON for whatever the summary does not show.

import { get } from "./api.js";
import {
  has,
  loadLanguages,
  onLanguageChange,
  renderLanguageButtons,
  setLanguage,
  t,
} from "./i18n.js";
import { el } from "./ui.js";

const REFRESH_MS = 5000;
const GOOD = new Set(["ok", "ready", "connected", "online", "reachable"]);
const BAD = new Set(["error", "offline", "disconnected", "unavailable", "failed", "unreachable"]);

const $ = (id) => document.getElementById(id);
let last = null;

function label(prefix, code) {
  const key = `${prefix}.${code}`;
  return has(key) ? t(key) : String(code ?? "—");
}

/** An instant (`2024-05-31T08:20:30.000Z`, UTC) as local `31/05/2024 10:20:30`. */
function formatDateTime(value) {
  if (value === null || value === undefined || value === "") {
    return t("status.never");
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    return String(value);
  }
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getDate())}/${p(d.getMonth() + 1)}/${d.getFullYear()} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function first(...values) {
  return values.find((v) => v !== undefined && v !== null);
}

function stateBadge(state) {
  const code = String(state ?? "unknown").toLowerCase();
  const kind = GOOD.has(code) ? "good" : BAD.has(code) ? "bad" : "warn";
  return el("span", { class: `state ${kind}`, text: label("dstate", code) });
}

/** Devices as a list whether the agent sends `[{name,state}]` or `{printer:{state}}`. */
function devicesOf(body) {
  const d = body.devices;
  if (Array.isArray(d)) {
    return d;
  }
  if (d && typeof d === "object") {
    return Object.entries(d).map(([name, v]) => (typeof v === "object" ? { name, ...v } : { name, state: v }));
  }
  return [];
}

function render(body) {
  last = body;
  const journal = body.journal || {};
  const adapter = body.adapter || {};
  const online = first(body.online, adapter.reachable);
  $("s-station").textContent = first(body.name, body.station, "—");
  $("s-mode").textContent = label("mode", body.mode);
  $("s-version").textContent = first(body.version, "—");
  $("s-adapter").replaceChildren(
    online === undefined ? "—" : stateBadge(online ? "reachable" : "unreachable"),
    body.last_contact ? ` ${t("status.last_contact")} ${formatDateTime(body.last_contact)}` : "",
  );
  $("s-last-sync").textContent = formatDateTime(body.last_sync);
  $("s-journal").textContent = String(first(journal.entries, "—"));
  $("s-journal-check").replaceChildren(
    journal.intact_at_start === undefined ? "—" : stateBadge(journal.intact_at_start ? "ok" : "error"),
    journal.error ? ` ${journal.error}` : "",
  );
  $("s-active").textContent = String(first(body.flows_active, "—"));
  $("s-queue").textContent = String(first(body.queue_depth, "—"));
  $("s-journal-head").textContent = first(body.journal_head, "—");
  const settings = body.settings || {};
  $("s-settings").replaceChildren(
    String(first(settings.version, "—")),
    settings.rejected ? el("div", { class: "err", text: `${t("status.settings_rejected")}: ${settings.rejected}` }) : "",
  );
  $("s-credential").replaceChildren(
    body.credential_refused
      ? el("span", { class: "err", text: `${t("status.credential_refused")}: ${body.credential_refused}` })
      : stateBadge("ok"),
  );
  $("out-of-service").hidden = !body.out_of_service;
  $("out-of-service").textContent = body.out_of_service ? `${t("out.title")}: ${body.out_of_service}` : "";

  $("devices").replaceChildren(
    ...devicesOf(body).map((d) =>
      el(
        "tr",
        {},
        el("td", { text: label("device", first(d.kind, d.name, "")) }),
        el("td", {}, stateBadge(d.state)),
        el(
          "td",
          {},
          first(d.endpoint, ""),
          d.last_error ? el("div", { class: "err", text: d.last_error }) : null,
          d.detail ? el("div", { text: d.detail }) : null,
          d.since ? el("div", { class: "since", text: `${t("status.since")} ${formatDateTime(d.since)}` }) : null,
        ),
      ),
    ),
  );

  const errors = Array.isArray(body.recent_errors) ? body.recent_errors : [];
  $("errors").replaceChildren(
    ...errors
      .slice()
      .reverse()
      .map((e) =>
        el("tr", {}, el("td", { text: formatDateTime(e.at) }), el("td", { text: first(e.text, e.message, e.code, "") })),
      ),
  );
  $("errors-empty").hidden = errors.length > 0;
  $("raw").textContent = JSON.stringify(body, null, 2);
  $("updated").textContent = formatDateTime(new Date().toISOString());
}

async function refresh() {
  const res = await get("/api/status");
  $("conn-lost").hidden = res.ok;
  if (res.ok && res.body) {
    render(res.body);
  }
}

async function start() {
  const state = await get("/api/state");
  const wanted = state.ok && state.body && Array.isArray(state.body.languages) ? state.body.languages : ["it"];
  let languages = await loadLanguages(wanted);
  if (!languages.length) {
    languages = ["it"];
  }
  renderLanguageButtons($("languages"), languages);
  onLanguageChange(() => {
    if (last) {
      render(last);
    }
  });
  setLanguage(languages[0]);
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
