// The counter page for staff: login with PIN, the payment in progress (cash with change, or
// card), the day's journal with reprints, the exceptions to resolve and the daily cash closing.
// As on the kiosk, the agent owns the flow; this page renders `FlowView`s and posts actions.
// The only figure computed here is the change shown while the clerk types what was handed over
// (integer cents, from the total the agent quoted); once paid, the agent's `change_cents` rules.

import { Actions, errorMessage, followState, get, post } from "./api.js";
import {
  has,
  language,
  loadLanguages,
  onLanguageChange,
  renderLanguageButtons,
  setLanguage,
  t,
} from "./i18n.js";
import { formatCents, parseEuros } from "./money.js";
import {
  Countdown,
  followLanguages,
  moreTimeAllowed,
  announce,
  el,
  formatDate,
  groupDigits,
  renderReceipt,
  showAmounts,
  showScreen,
} from "./ui.js";

const $ = (id) => document.getElementById(id);
const sections = [...document.querySelectorAll("#tab-pay > section[data-screen]")];
const live = $("announce");

let view = null;
/** The languages offered (the agent's list; a managed setting may change it). */
let languages = ["it"];
/** The tender picked on the confirm screen (the fee, hence the total, depends on it). */
let method = "cash";
let tab = "pay";
/** A staff call answered 401: the agent has no session for this browser. */
let needLogin = false;
let receiptShown = null;
let limits = null;

const timer = new Countdown({
  box: $("timer"),
  seconds: $("timer-seconds"),
  warning: $("timer-warning"),
  button: $("more-time"),
});

/** Posting the user's actions (see `Actions`). */
const actions = new Actions(() => view, (next) => render(next), (res) => loginCheck(res));
const act = (path, body) => actions.act(path, body);

/** A 401 means this browser has no session (another clerk's login, a restart): log in again. */
function loginCheck(res) {
  if (res && res.status === 401 && view) {
    needLogin = true;
    render(view);
  }
}

/** GET for staff data, noticing a lost session. */
async function staffGet(path) {
  const res = await get(path);
  loginCheck(res);
  return res;
}

/** A list out of a body that is either the list itself or an object holding it under `key`. */
function listOf(body, key) {
  if (Array.isArray(body)) {
    return body;
  }
  if (body && Array.isArray(body[key])) {
    return body[key];
  }
  return [];
}

/** Text for a code with an optional translation under `prefix.code`. */
function label(prefix, code) {
  const key = `${prefix}.${code}`;
  return has(key) ? t(key) : String(code ?? "");
}

/** The local time (`09:41`) of an instant the agent sends in UTC (`…T08:41:12.000Z`). */
function timeOf(value) {
  if (!value) {
    return "";
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) {
    return "";
  }
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

// --- the flow ------------------------------------------------------------------------------

const BUSY = {
  verifying: "verifying.title",
  activating: "activating.title",
  completing: "completing.title",
  printing: "printing.title",
};

function screenFor(screen) {
  return screen in BUSY ? "busy" : screen;
}

/** The tenders the clerk may pick now (the agent's list, or both while it sends none). */
function methodsOf(v) {
  return Array.isArray(v.methods) && v.methods.length ? v.methods : ["cash", "card"];
}

/** Amount, fee and total for `tender`: the agent's quote for it, else the notice's figures. */
function quote(v, tender) {
  const n = v.notice || {};
  const q = (v.fees || []).find((f) => f.tender === tender);
  return {
    amount: n.amount_cents,
    fee: q ? q.fee_cents : n.fee_cents,
    total: q ? q.total_cents : n.total_cents,
  };
}

function loggedIn() {
  return Boolean(view && view.operator) && !needLogin;
}

function render(next) {
  if (view && typeof next.seq === "number" && typeof view.seq === "number" && next.seq < view.seq) {
    return;
  }
  const previous = view;
  view = next;
  const wasIn = Boolean(previous && previous.operator) && $("login").hidden;
  const isIn = loggedIn();
  $("login").hidden = isIn;
  $("desk").hidden = !isIn;
  $("operator").hidden = !isIn;
  $("logout").hidden = !isIn;
  $("operator-name").textContent = isIn ? view.operator.name || view.operator.id : "";
  renderOffline();
  if (!isIn) {
    timer.stop();
    if (wasIn || !previous) {
      $("login-operator").focus();
    }
    return;
  }
  if (!previous || previous.screen !== view.screen) {
    if (view.screen === "confirm") {
      const allowed = methodsOf(view);
      method = allowed.includes(view.tender) ? view.tender : allowed[0];
    }
    if (view.screen === "tender") {
      $("tendered").value = "";
    }
  }
  if (view.screen === "idle") {
    followLanguages($("languages"), languages, view.languages).then((l) => {
      languages = l;
    });
  }
  if (view.tender && view.screen !== "confirm") {
    method = view.tender;
  }
  fill(view);
  if (tab === "pay") {
    showScreen(sections, screenFor(view.screen), live);
  } else {
    for (const s of sections) {
      s.hidden = s.dataset.screen !== screenFor(view.screen);
    }
  }
  timer.set(view.deadline_ms_left, moreTimeAllowed(view));
  if (!wasIn) {
    refreshSideData();
  }
}

function showError(id, v) {
  const node = $(id);
  node.textContent = errorMessage(v.error, language());
  node.hidden = !v.error;
}

function fill(v) {
  const n = v.notice;
  if (n) {
    const q = quote(v, method);
    $("c-creditor").textContent = n.creditor_name || "";
    $("c-description").textContent = n.description || "";
    $("c-notice").textContent = groupDigits(n.notice_number);
    $("c-due").textContent = formatDate(n.due_date) || "—";
    showAmounts(v, q);
    $("t-total").textContent = formatCents(q.total);
  }
  $("tender-title").textContent = t(method === "card" ? "card.title" : "cash.title");
  $("busy-title").textContent = t(BUSY[v.screen] || "common.wait");
  $("busy-cancel").hidden = v.screen !== "activating";
  $("terminal-text").textContent = (v.progress && v.progress.text) || t("card.waiting");
  $("error-message").textContent = errorMessage(v.error, language());
  $("error-code").textContent = v.error ? t("error.code", { code: v.error.code }) : "";
  for (const id of ["confirm-error", "tender-error", "card-error", "done-error"]) {
    showError(id, v);
  }
  $("drawer-error").hidden = !v.drawer_error;
  $("done-offline").hidden = !v.offline_payment;
  renderMethods();
  renderChange();
  if (v.screen === "done" && v.receipt_id && receiptShown !== v.receipt_id) {
    receiptShown = v.receipt_id;
    $("reprint-result").textContent = "";
    showPreview($("receipt"), v.receipt_id);
  }
}

async function showPreview(container, receiptId) {
  const res = await get(`/api/receipt/${encodeURIComponent(receiptId)}/preview`);
  renderReceipt(container, res.ok ? res.body : null);
}

/** The tender buttons of the confirm screen, each with its own total; only allowed ones show. */
function renderMethods() {
  const allowed = view ? methodsOf(view) : [];
  for (const b of document.querySelectorAll("[data-method]")) {
    const m = b.dataset.method;
    b.hidden = !allowed.includes(m);
    b.setAttribute("aria-pressed", String(m === method));
    const total = view ? quote(view, m).total : null;
    b.querySelector(".method-total").textContent = Number.isSafeInteger(total) ? formatCents(total) : "";
  }
  $("cash-form").hidden = method !== "cash";
  $("card-choice").hidden = method !== "card";
}

/** The change: while typing, from what was typed; once paid, what the agent computed. */
function renderChange() {
  const total = view && view.notice ? quote(view, method).total : null;
  const typing = view && view.screen === "tender";
  const given = typing ? parseEuros($("tendered").value) : null;
  const short = given !== null && Number.isSafeInteger(total) && given < total;
  const typedChange = given !== null && Number.isSafeInteger(total) && !short ? given - total : null;
  $("change").textContent = typedChange === null ? "—" : formatCents(typedChange);
  $("cash-short").hidden = !short;
  $("cash-submit").disabled = given === null || short;
  const paidChange = view && Number.isSafeInteger(view.change_cents) ? view.change_cents : null;
  for (const node of document.querySelectorAll("[data-change]")) {
    node.textContent = paidChange === null ? "—" : formatCents(paidChange);
  }
  $("done-change-row").hidden = paidChange === null;
  renderQuick(Number.isSafeInteger(total) ? total : null);
}

/** Buttons for the exact total and the next round sums above it (5, 10, 20, 50, 100 € …). */
function renderQuick(total) {
  const box = $("quick");
  const key = `${total}`;
  if (box.dataset.total === key) {
    return;
  }
  box.dataset.total = key;
  box.replaceChildren();
  if (total === null) {
    return;
  }
  const amounts = [total];
  for (const step of [500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]) {
    const up = Math.ceil(total / step) * step;
    if (up > total && !amounts.includes(up) && amounts.length < 4) {
      amounts.push(up);
    }
  }
  for (const cents of amounts) {
    box.append(
      el("button", {
        type: "button",
        class: "money",
        text: formatCents(cents),
        onclick: () => {
          $("tendered").value = formatCents(cents).replace(" €", "");
          renderChange();
        },
      }),
    );
  }
}

function renderOffline() {
  const offline = Boolean(view && view.offline);
  $("offline").hidden = !offline;
  $("offline-limits").textContent =
    offline && limits
      ? t("offline.limits", {
          per: formatCents(limits.max_payment_cents),
          total: formatCents(limits.max_outstanding_cents),
          hours: limits.max_age_hours,
        })
      : "";
  $("out-of-service").hidden = !(view && view.out_of_service);
}

// --- side data: journal, exceptions, offline queue, closing ---------------------------------

async function refreshSideData() {
  await Promise.all([loadOffline(), loadExceptions()]);
  if (tab === "journal") {
    loadJournal();
  } else if (tab === "closing") {
    loadClosing();
  }
}

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function loadJournal() {
  const day = $("journal-day").value || today();
  $("journal-day").value = day;
  const res = await staffGet(`/api/payments?day=${encodeURIComponent(day)}`);
  const rows = listOf(res.body, "payments");
  const body = $("journal-rows");
  body.replaceChildren();
  for (const p of rows) {
    const paid = Boolean(p.paid_at);
    const reprint = el("button", {
      type: "button",
      text: t("counter.reprint"),
      "aria-label": t("journal.reprint_of", { notice: groupDigits(p.notice_number) }),
      disabled: !paid,
      onclick: () => reprintPayment(p.id, $("journal-result"), $("journal-receipt")),
    });
    body.append(
      el(
        "tr",
        {},
        el("td", { text: timeOf(p.paid_at) }),
        el("td", { class: "money", text: groupDigits(p.notice_number) }),
        el("td", { text: p.creditor_name || "" }),
        el("td", { text: label("method", p.paid_with || p.tender) }),
        el("td", { class: "num money", text: formatCents(p.total_cents) }),
        el("td", { text: label("pstatus", p.state) }),
        el("td", {}, reprint),
      ),
    );
  }
  $("journal-empty").hidden = rows.length > 0;
}

/** Reprint a payment's receipt (a copy) and show what was printed. */
async function reprintPayment(id, result, container) {
  const res = await post(`/api/payments/${encodeURIComponent(id)}/reprint`);
  loginCheck(res);
  if (!res.ok) {
    result.textContent = errorMessage(res.body, language()) || t("counter.reprint_failed");
    return;
  }
  result.textContent = t("counter.reprinted");
  showPreview(container, id);
}

async function loadOffline() {
  const res = await staffGet("/api/offline");
  if (!res.ok || !res.body) {
    limits = null;
    $("offline-queue").hidden = true;
    return;
  }
  limits = res.body.limits || null;
  const queue = listOf(res.body, "queue");
  const list = $("offline-queue-list");
  list.replaceChildren();
  for (const q of queue) {
    list.append(
      el(
        "li",
        {},
        el("span", { class: "money", text: groupDigits(q.notice_number) }),
        " — ",
        el("strong", { class: "money", text: formatCents(q.total_cents) }),
        " — ",
        timeOf(q.paid_at),
      ),
    );
  }
  $("offline-queue").hidden = queue.length === 0;
  renderOffline();
}

/** What staff may record for an exception: give the money back, or checked with the adapter. */
function resolutionsOf(exception) {
  if (exception && exception.action === "check") {
    return ["checked"];
  }
  return ["refunded"];
}

async function loadExceptions() {
  const res = await staffGet("/api/exceptions");
  const items = listOf(res.body, "exceptions").filter((x) => !(x.exception && x.exception.resolution));
  const list = $("exceptions-list");
  list.replaceChildren();
  for (const x of items) {
    const exception = x.exception || {};
    const buttons = resolutionsOf(exception).map((action) =>
      el("button", {
        type: "button",
        text: label("exceptions.action", action),
        onclick: async () => {
          const r = await post(`/api/exceptions/${encodeURIComponent(x.id)}/resolve`, { action });
          loginCheck(r);
          if (r.ok) {
            announce(live, t("exceptions.resolved"));
            loadExceptions();
          }
        },
      }),
    );
    list.append(
      el(
        "li",
        { class: "exception" },
        el(
          "p",
          {},
          el("strong", { class: "money", text: groupDigits(x.notice_number) }),
          " — ",
          el("span", { class: "money", text: formatCents(x.total_cents) }),
          " — ",
          label("method", x.paid_with || x.tender),
          " ",
          timeOf(x.paid_at),
        ),
        el("p", { class: "reason", text: label("exc", exception.code) }),
        exception.detail ? el("p", { class: "detail", text: exception.detail }) : null,
        el("div", { class: "actions" }, buttons),
      ),
    );
  }
  $("exceptions-empty").hidden = items.length > 0;
  const count = $("exceptions-count");
  count.hidden = items.length === 0;
  count.textContent = String(items.length);
}

let expectedCash = null;

async function loadClosing() {
  const res = await staffGet("/api/closing");
  const body = res.body || {};
  const totals = body.totals || {};
  $("closing-day").textContent = formatDate(body.day || today());
  const rows = [
    ["method.cash", totals.cash_count, totals.cash_cents],
    ["method.card", totals.card_count, totals.card_cents],
  ];
  if (totals.offline_cash_cents) {
    rows.push(["closing.offline_cash", null, totals.offline_cash_cents]);
  }
  if (totals.refunded_cents) {
    rows.push(["closing.refunded", null, -totals.refunded_cents]);
  }
  $("closing-rows").replaceChildren(
    ...rows.map(([key, count, cents]) =>
      el(
        "tr",
        {},
        el("td", { text: t(key) }),
        el("td", { class: "num", text: count === null || count === undefined ? "" : String(count) }),
        el("td", { class: "num money", text: formatCents(cents) }),
      ),
    ),
  );
  expectedCash = Number.isSafeInteger(body.expected_cash_cents) ? body.expected_cash_cents : null;
  $("closing-expected").textContent = formatCents(expectedCash);
  const closings = Array.isArray(body.closings) ? body.closings : [];
  $("closing-previous").hidden = closings.length === 0;
  $("closing-previous").textContent = closings.length ? t("closing.already", { n: closings.length }) : "";
  renderClosingDiff();
}

function renderClosingDiff() {
  const counted = parseEuros($("counted").value);
  const out = $("closing-diff");
  if (counted === null || expectedCash === null) {
    out.textContent = "";
    return;
  }
  const diff = counted - expectedCash;
  out.textContent =
    diff === 0 ? t("closing.balanced") : t("closing.difference", { diff: formatCents(diff) });
  out.className = diff === 0 ? "" : "field-error";
}

/** What the adapter said about the day's totals: `agree`, `mismatch` or `unavailable`. */
function adapterVerdict(body) {
  const closing = body.closing || {};
  return closing.adapter || body.adapter || "unavailable";
}

async function submitClosing(event) {
  event.preventDefault();
  const counted = parseEuros($("counted").value);
  const result = $("closing-result");
  if (counted === null) {
    $("counted").setAttribute("aria-invalid", "true");
    result.textContent = t("closing.invalid");
    $("counted").focus();
    return;
  }
  $("counted").removeAttribute("aria-invalid");
  const res = await post("/api/closing", { counted_cents: counted });
  loginCheck(res);
  if (!res.ok) {
    result.textContent = errorMessage(res.body, language()) || t("closing.failed");
    return;
  }
  const body = res.body || {};
  const closing = body.closing || {};
  const verdict = adapterVerdict(body);
  const lines = [
    el("p", {
      class: verdict === "agree" ? "ok-text" : "field-error",
      text: label("closing.adapter", verdict),
    }),
  ];
  if (verdict === "mismatch") {
    lines.push(
      el("p", {
        text: t("closing.adapter_totals", {
          cash: formatCents(closing.adapter_cash_cents),
          card: formatCents(closing.adapter_card_cents),
        }),
      }),
    );
  }
  if (Number.isSafeInteger(body.difference_cents) && body.difference_cents !== 0) {
    lines.push(el("p", { class: "field-error", text: t("closing.difference", { diff: formatCents(body.difference_cents) }) }));
  }
  lines.push(
    el("p", {
      class: body.printed === false ? "field-error" : "",
      text: body.printed === false ? t("closing.not_printed", { code: body.print_error || "" }) : t("closing.printed"),
    }),
  );
  result.replaceChildren(...lines);
  const report = body.report_preview || body.report;
  if (report && Array.isArray(report.lines)) {
    renderReceipt($("closing-report"), report);
  }
  announce(live, result.textContent);
  loadClosing();
}

// --- wiring ---------------------------------------------------------------------------------

function showTab(name) {
  tab = name;
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.setAttribute("aria-pressed", String(b.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll("#desk > .tab")) {
    panel.hidden = panel.id !== `tab-${name}`;
  }
  const heading = $(`tab-${name}`).querySelector("section:not([hidden]) h1, :scope > h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
    announce(live, heading.textContent);
  }
  if (name === "journal") {
    loadJournal();
  } else if (name === "exceptions") {
    loadExceptions();
    loadOffline();
  } else if (name === "closing") {
    loadClosing();
  }
}

async function login(event) {
  event.preventDefault();
  const operator = $("login-operator").value.trim();
  const pin = $("login-pin").value;
  const error = $("login-error");
  error.hidden = true;
  if (!operator || !pin) {
    error.textContent = t("login.missing");
    error.hidden = false;
    return;
  }
  const res = await post("/api/login", { operator, pin });
  $("login-pin").value = "";
  if (!res.ok) {
    // The agent's words when it has them (a lockout after too many attempts says so).
    error.textContent = errorMessage(res.body, language()) || t("login.failed");
    error.hidden = false;
    $("login-pin").focus();
    return;
  }
  needLogin = false;
  await refreshState();
}

/**
 * Show the state again after login or logout (whose answers are not a `FlowView`): the stream
 * brings the operator's change by itself; without it, ask.
 */
async function refreshState() {
  if (actions.live()) {
    if (view) {
      render(view);
    }
    return;
  }
  const res = await get("/api/state");
  if (res.ok && res.body) {
    render(res.body);
  }
}

async function submitManual(event) {
  event.preventDefault();
  const notice = $("manual-notice").value.replace(/\D/g, "");
  const fc = $("manual-fc").value.replace(/\D/g, "");
  const error = $("manual-error");
  if (notice.length !== 18 || fc.length !== 11) {
    error.textContent = notice.length !== 18 ? t("manual.invalid_notice") : t("manual.invalid_fiscal_code");
    error.hidden = false;
    return;
  }
  error.hidden = true;
  const res = await act("/api/manual", { notice_number: notice, fiscal_code: fc });
  if (res && res.ok) {
    $("manual-notice").value = "";
    $("manual-fc").value = "";
  } else if (res) {
    error.textContent = errorMessage(res.body, language()) || t("common.refused");
    error.hidden = false;
  }
}

async function loadDemo() {
  const res = await get("/api/sim/samples");
  const samples = res.ok && Array.isArray(res.body) ? res.body : [];
  $("demo-list").replaceChildren(
    ...samples.map((s) =>
      el(
        "li",
        {},
        el("button", {
          type: "button",
          class: "demo-sample",
          text: `${t("demo.simulate")}: ${s.label}`,
          onclick: () => act("/sim/scan", { payload: s.payload }),
        }),
      ),
    ),
  );
  $("demo").hidden = samples.length === 0;
}

function wire() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", async () => {
    await post("/api/logout");
    needLogin = true;
    await refreshState();
  });
  $("manual-form").addEventListener("submit", submitManual);
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.addEventListener("click", () => showTab(b.dataset.tab));
  }
  for (const b of document.querySelectorAll("[data-method]")) {
    b.addEventListener("click", () => {
      method = b.dataset.method;
      if (view) {
        fill(view);
      }
    });
  }
  $("tendered").addEventListener("input", renderChange);
  $("cash-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const given = parseEuros($("tendered").value);
    const total = view && view.notice ? quote(view, "cash").total : null;
    if (given === null || !Number.isSafeInteger(total) || given < total) {
      return;
    }
    act("/api/pay", { method: "cash", tendered_cents: given });
  });
  $("card-submit").addEventListener("click", () => act("/api/pay", { method: "card", tendered_cents: null }));
  $("confirm").addEventListener("click", () => act("/api/confirm", { method }));
  for (const [action, path] of [
    ["cancel", "/api/cancel"],
    ["void", "/api/void"],
    ["done", "/api/done"],
  ]) {
    for (const b of document.querySelectorAll(`[data-action=${action}]`)) {
      b.addEventListener("click", () => act(path));
    }
  }
  $("reprint").addEventListener("click", () => {
    if (view && view.flow_id) {
      reprintPayment(view.flow_id, $("reprint-result"), $("receipt"));
    }
  });
  $("more-time").addEventListener("click", () => act("/api/more-time"));
  $("journal-day").addEventListener("change", loadJournal);
  $("counted").addEventListener("input", renderClosingDiff);
  $("closing-form").addEventListener("submit", submitClosing);
  onLanguageChange(() => {
    if (view) {
      fill(view);
    }
    timer.refresh();
    renderOffline();
    loadDemo();
    if (view && view.operator) {
      refreshSideData();
    }
  });
}

async function start() {
  let first = await get("/api/state");
  while (!(first.ok && first.body)) {
    $("conn-lost").hidden = false;
    await new Promise((r) => setTimeout(r, 2000));
    first = await get("/api/state");
  }
  $("conn-lost").hidden = true;
  languages = await loadLanguages(first.body.languages);
  if (!languages.length) {
    languages = ["it"];
  }
  renderLanguageButtons($("languages"), languages);
  wire();
  setLanguage(languages[0]);
  render(first.body);
  actions.stream = followState(render, (up) => {
    $("conn-lost").hidden = up;
  });
  // The exceptions badge and the offline queue change without a flow event.
  setInterval(() => {
    if (view && view.operator) {
      loadExceptions();
      loadOffline();
    }
  }, 30000);
}

start();
