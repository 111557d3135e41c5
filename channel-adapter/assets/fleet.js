// The fleet page: log in with a user token (kept in sessionStorage only), list the devices
// of the user's comuni with their status, refresh every 15 s. Administrators also revoke
// devices and create enrollment codes. Every check is the API's: this page only shows.
"use strict";

const T = {
  it: {
    title: "Flotta postazioni", login: "Accesso", token: "Codice di accesso (token)", enter: "Entra",
    comune: "Comune", all: "Tutti", refresh: "Aggiorna", newcode: "Nuovo codice di attivazione",
    logout: "Esci", location: "Ubicazione", kind: "Tipo", kiosk: "Chiosco", counter: "Sportello",
    create: "Crea", caption: "Postazioni e stato", status: "Stato", device: "Postazione",
    printer: "Stampante", terminal: "Terminale", scanner: "Lettore", queue: "Coda",
    version: "Versione", config: "Configurazione", contact: "Ultimo contatto", actions: "Azioni",
    revoke: "Revoca", confirmRevoke: "Revocare la postazione {0}? Non potrà più operare.",
    ok: "In funzione", warning: "Attenzione", error: "Guasto", silent: "Silenziosa", revoked: "Revocata",
    paper_out: "carta esaurita", paper_low: "carta in esaurimento", printer_offline: "stampante spenta",
    cover_open: "coperchio aperto", terminal_unreachable: "terminale non raggiungibile",
    scanner_missing: "lettore assente", queue_growing: "coda in crescita",
    config_not_applied: "configurazione non applicata", no_heartbeat: "nessun segnale",
    never_seen: "mai collegata",
    yes: "sì", no: "no", none: "—", paper: "carta", online: "accesa", offline: "spenta",
    never: "mai", now: "adesso", minAgo: "{0} min fa", hAgo: "{0} h fa", dAgo: "{0} g fa",
    updated: "Aggiornato alle {0}", who: "{0} ({1}) – comuni: {2}", everyComune: "tutti",
    admin: "amministratore", operator: "operatore", badToken: "Codice di accesso non valido.",
    codeOut: "Codice: {0} – scade {1}", fingerprint: "impronta certificato: {0}",
    lvl_ok: "ok", lvl_low: "scarsa", lvl_out: "esaurita", applied: "applicata {0} di {1}",
  },
  en: {
    title: "Station fleet", login: "Sign in", token: "Access token", enter: "Sign in",
    comune: "Comune", all: "All", refresh: "Refresh", newcode: "New enrollment code",
    logout: "Sign out", location: "Location", kind: "Kind", kiosk: "Kiosk", counter: "Counter",
    create: "Create", caption: "Stations and status", status: "Status", device: "Station",
    printer: "Printer", terminal: "Terminal", scanner: "Scanner", queue: "Queue",
    version: "Version", config: "Configuration", contact: "Last contact", actions: "Actions",
    revoke: "Revoke", confirmRevoke: "Revoke station {0}? It will stop working.",
    ok: "Working", warning: "Warning", error: "Fault", silent: "Silent", revoked: "Revoked",
    paper_out: "paper out", paper_low: "paper low", printer_offline: "printer offline",
    cover_open: "cover open", terminal_unreachable: "terminal unreachable",
    scanner_missing: "scanner missing", queue_growing: "queue growing",
    config_not_applied: "configuration not applied", no_heartbeat: "no heartbeat",
    never_seen: "never connected",
    yes: "yes", no: "no", none: "—", paper: "paper", online: "on", offline: "off",
    never: "never", now: "now", minAgo: "{0} min ago", hAgo: "{0} h ago", dAgo: "{0} d ago",
    updated: "Updated at {0}", who: "{0} ({1}) – comuni: {2}", everyComune: "all",
    admin: "administrator", operator: "operator", badToken: "Invalid access token.",
    codeOut: "Code: {0} – expires {1}", fingerprint: "certificate fingerprint: {0}",
    lvl_ok: "ok", lvl_low: "low", lvl_out: "out", applied: "applied {0} of {1}",
  },
};

let lang = sessionStorage.getItem("fleet-lang") || "it";
let me = null;
let timer = null;
let last = null;

const $ = (id) => document.getElementById(id);
const t = (key, ...args) =>
  (T[lang][key] ?? key).replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)]));

function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  const other = lang === "it" ? "en" : "it";
  $("lang").textContent = other.toUpperCase();
  $("lang").setAttribute("aria-label", other === "en" ? "English" : "Italiano");
  document.title = t("title");
  if (me) { showMe(); }
  if (last) { render(last); }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem("fleet-token") };
  if (body !== undefined) { headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error((lang === "it" ? data.message_it : data.message_en) || r.status);
    err.status = r.status;
    throw err;
  }
  return data;
}

function ago(ts) {
  if (!ts) { return t("never"); }
  const min = Math.floor((Date.now() - Date.parse(ts)) / 60000);
  if (min < 1) { return t("now"); }
  if (min < 60) { return t("minAgo", min); }
  if (min < 1440) { return t("hAgo", Math.floor(min / 60)); }
  return t("dAgo", Math.floor(min / 1440));
}

function cell(tr, text) {
  const td = document.createElement("td");
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function yn(v) { return v === null || v === undefined ? t("none") : v ? t("yes") : t("no"); }

function render(view) {
  last = view;
  const rows = $("rows");
  rows.replaceChildren();
  for (const d of view.devices) {
    const tr = document.createElement("tr");
    tr.dataset.device = d.id;
    const st = cell(tr, "");
    const badge = document.createElement("span");
    badge.className = "badge s-" + d.status;
    badge.textContent = t(d.status);
    st.appendChild(badge);
    if (d.reasons.length) {
      const why = document.createElement("span");
      why.className = "reasons";
      why.textContent = d.reasons.map((r) => t(r)).join(", ");
      st.appendChild(why);
    }
    const name = cell(tr, d.name);
    name.title = [d.location, d.hostname].filter(Boolean).join(" – ");
    const place = document.createElement("span");
    place.className = "reasons";
    place.textContent = d.location;
    name.appendChild(place);
    cell(tr, d.comune_name ? d.comune_name + " (" + d.comune + ")" : d.comune);
    const h = d.health || {};
    const p = h.printer;
    cell(tr, p ? (p.online ? t("online") : t("offline")) + ", " + t("paper") + " " + t("lvl_" + p.paper) : t("none"));
    cell(tr, yn(h.terminal_reachable));
    cell(tr, yn(h.scanner_present));
    cell(tr, h.queue_depth ?? t("none"));
    cell(tr, d.agent_version || t("none"));
    cell(tr, t("applied", d.config_version_applied ?? 0, d.config_version_current));
    const contact = cell(tr, ago(d.last_contact));
    if (d.last_contact) { contact.title = new Date(d.last_contact).toLocaleString(lang); }
    if (me && me.role === "admin") {
      const actions = cell(tr, "");
      if (d.status !== "revoked") {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = t("revoke");
        b.setAttribute("aria-label", t("revoke") + " " + d.name);
        b.addEventListener("click", () => revoke(d));
        actions.appendChild(b);
      }
    }
    rows.appendChild(tr);
  }
  $("updated").textContent = t("updated", new Date(view.at).toLocaleTimeString(lang));
}

async function load() {
  const comune = $("comune").value;
  try {
    render(await api("GET", "/admin/v1/fleet" + (comune ? "?comune=" + encodeURIComponent(comune) : "")));
  } catch (e) {
    if (e.status === 401) { logout(); } else { $("updated").textContent = e.message; }
  }
}

async function revoke(d) {
  if (!window.confirm(t("confirmRevoke", d.name))) { return; }
  try { await api("POST", "/admin/v1/devices/" + d.id + "/revoke"); } catch (e) { window.alert(e.message); }
  load();
}

function showMe() {
  const comuni = me.comuni === null ? t("everyComune") : me.comuni.join(", ");
  $("who").textContent = t("who", me.name, t(me.role), comuni);
  document.querySelectorAll(".admin").forEach((el) => { el.hidden = me.role !== "admin"; });
}

async function start() {
  try {
    me = await api("GET", "/admin/v1/me");
  } catch (e) {
    sessionStorage.removeItem("fleet-token");
    $("login-error").textContent = t("badToken");
    return;
  }
  $("login").hidden = true;
  $("fleet").hidden = false;
  showMe();
  const sel = $("comune");
  sel.querySelectorAll("option:not([value=''])").forEach((o) => o.remove());
  for (const c of me.comuni || []) {
    const o = document.createElement("option");
    o.value = c;
    o.textContent = c;
    sel.appendChild(o);
  }
  await load();
  clearInterval(timer);
  timer = setInterval(load, 15000);
}

function logout() {
  clearInterval(timer);
  sessionStorage.removeItem("fleet-token");
  me = null;
  last = null;
  $("fleet").hidden = true;
  $("login").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  $("lang").addEventListener("click", () => {
    lang = lang === "it" ? "en" : "it";
    sessionStorage.setItem("fleet-lang", lang);
    translate();
  });
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("fleet-token", $("token").value.trim());
    $("token").value = "";
    start();
  });
  $("refresh").addEventListener("click", load);
  $("comune").addEventListener("change", load);
  $("logout").addEventListener("click", logout);
  $("new-code").addEventListener("click", () => { $("code-form").hidden = !$("code-form").hidden; });
  $("code-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const c = await api("POST", "/admin/v1/enrollment-codes", {
        comune: $("code-comune").value.trim(), location: $("code-location").value.trim(), kind: $("code-kind").value,
      });
      let text = t("codeOut", c.code, new Date(c.expires_at).toLocaleString(lang));
      if (c.certificate_fingerprint) { text += " – " + t("fingerprint", c.certificate_fingerprint); }
      $("code-out").textContent = text;
    } catch (e) {
      $("code-out").textContent = e.message;
    }
  });
  if (sessionStorage.getItem("fleet-token")) { start(); }
});
