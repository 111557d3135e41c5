// The citizen's kiosk page. It renders the agent's `FlowView` (one screen per `screen` value)
// and posts the citizen's choices; the agent owns the flow, the deadlines and the money. The
// only state kept here is what never leaves the screen: the half-typed manual entry.

import { Actions, errorMessage, followState, get, post } from "./api.js";
import {
  language,
  loadLanguages,
  onLanguageChange,
  renderLanguageButtons,
  setLanguage,
  t,
} from "./i18n.js";
import { formatCents } from "./money.js";
import {
  Countdown,
  followLanguages,
  moreTimeAllowed,
  formatDate,
  groupDigits,
  renderReceipt,
  showAmounts,
  showScreen,
} from "./ui.js";

/** How long the manual-entry screen waits for a key before going back (the agent has no say). */
const MANUAL_IDLE_MS = 120000;

const $ = (id) => document.getElementById(id);
const sections = [...document.querySelectorAll("main > section[data-screen]")];
const live = $("announce");

let view = null;
let languages = ["it"];
let manual = false;
let paidFlow = null;
let receiptShown = null;

const timer = new Countdown({
  box: $("timer"),
  seconds: $("timer-seconds"),
  warning: $("timer-warning"),
  button: $("more-time"),
  onExpire: () => {
    if (manual) {
      closeManual();
    }
  },
});

/** Posting the user's actions (see `Actions`). */
const actions = new Actions(() => view, (next) => render(next));
const act = (path, body) => actions.act(path, body);

function screenFor(v) {
  if (v.out_of_service && v.screen === "idle") {
    return "out";
  }
  switch (v.screen) {
    case "idle":
      return manual ? "manual" : "idle";
    case "verifying":
    case "confirm":
    case "activating":
    case "card":
    case "completing":
    case "printing":
    case "done":
    case "error":
    case "cancelled":
      return v.screen;
    // A kiosk takes cards only: the agent's tender step needs no choice from the citizen,
    // unless a card was just declined (the agent is back at tender with the error).
    case "tender":
      return v.error ? "tender" : "activating";
    default:
      return "activating";
  }
}

function render(next) {
  if (view && typeof next.seq === "number" && typeof view.seq === "number" && next.seq < view.seq) {
    return;
  }
  const previous = view;
  view = next;
  if (view.screen !== "idle") {
    manual = false;
  } else if (previous && previous.screen !== "idle") {
    // The next citizen starts in the default language.
    setLanguage(languages[0]);
  }
  if (view.screen === "idle") {
    // Between citizens only: a language list changed by the adapter never switches a screen
    // someone is reading.
    followLanguages($("languages"), languages, view.languages).then((l) => {
      languages = l;
    });
  }
  fill(view);
  showScreen(sections, screenFor(view), live);
  if (!manual) {
    timer.set(view.deadline_ms_left, moreTimeAllowed(view));
  }
  $("offline").hidden = !(view.offline && view.screen === "idle");

  if (view.screen === "tender" && !view.error && view.flow_id && paidFlow !== view.flow_id) {
    // Not through `act`: this is no tap, and the confirm tap that led here may still be waiting
    // for its answer.
    paidFlow = view.flow_id;
    post("/api/pay", { method: "card", tendered_cents: null }).then((res) => actions.apply(res));
  }
}

/**
 * Fee and total for card, the kiosk's only tender: from the agent's per-tender quotes when it
 * sent them, else from the notice (whose fee is for the default tender, card on a kiosk).
 */
function cardQuote(v) {
  const n = v.notice || {};
  const quote = (v.fees || []).find((f) => f.tender === "card");
  return {
    amount: n.amount_cents,
    fee: quote ? quote.fee_cents : n.fee_cents,
    total: quote ? quote.total_cents : n.total_cents,
  };
}

/** Put the view's values into the screens (texts that depend on the language included). */
function fill(v) {
  const n = v.notice;
  if (n) {
    const q = cardQuote(v);
    $("c-creditor").textContent = n.creditor_name || "";
    $("c-description").textContent = n.description || "";
    $("c-notice").textContent = groupDigits(n.notice_number);
    $("c-due").textContent = formatDate(n.due_date);
    $("c-due-row").hidden = !n.due_date;
    showAmounts(v, q);
    $("card-total").textContent = formatCents(q.total);
    $("tender-total").textContent = formatCents(q.total);
    $("confirm-pay").textContent = t("confirm.pay", { total: formatCents(q.total) });
    // Nothing to pay before the agent knows the amount and the fee.
    $("confirm-pay").disabled = !Number.isSafeInteger(q.total);
  }
  const message = errorMessage(v.error, language());
  $("terminal-text").textContent = (v.progress && v.progress.text) || t("card.waiting");
  $("error-message").textContent = message;
  $("error-code").textContent = v.error ? t("error.code", { code: v.error.code }) : "";
  $("tender-error").textContent = message;
  // Errors that do not end the flow (a card result in doubt, a receipt not printed) are shown
  // on the screen they happen on.
  for (const id of ["card-error", "done-error"]) {
    $(id).textContent = message;
    $(id).hidden = !v.error;
  }
  if (v.screen === "done" && v.receipt_id && receiptShown !== v.receipt_id) {
    receiptShown = v.receipt_id;
    loadReceipt(v.receipt_id);
  }
}

async function loadReceipt(id) {
  const res = await get(`/api/receipt/${encodeURIComponent(id)}/preview`);
  if (receiptShown === id) {
    renderReceipt($("receipt"), res.ok ? res.body : null);
  }
}

// --- manual entry -------------------------------------------------------------------------

const noticeInput = $("manual-notice");
const fcInput = $("manual-fc");
let target = noticeInput;

function openManual() {
  manual = true;
  noticeInput.value = "";
  fcInput.value = "";
  clearErrors();
  target = noticeInput;
  showScreen(sections, "manual", live);
  timer.set(MANUAL_IDLE_MS);
}

function closeManual() {
  manual = false;
  timer.stop();
  if (view) {
    render(view);
  }
}

/** An error under a field goes away as soon as the field is edited. */
function clearError(input) {
  input.removeAttribute("aria-invalid");
  $(input.getAttribute("aria-describedby")).hidden = true;
}

function clearErrors() {
  clearError(noticeInput);
  clearError(fcInput);
}

const digits = (s) => s.replace(/\D/g, "");

function keypad(key) {
  timer.set(MANUAL_IDLE_MS);
  const max = target === noticeInput ? 18 : 11;
  let value = digits(target.value);
  if (key === "back") {
    value = value.slice(0, -1);
  } else if (key === "clear") {
    value = "";
  } else if (value.length < max) {
    value += key;
  }
  target.value = target === noticeInput ? groupDigits(value) : value;
  clearError(target);
  if (target === noticeInput && value.length === 18 && digits(fcInput.value).length < 11) {
    target = fcInput;
    fcInput.focus();
  }
}

async function submitManual(event) {
  event.preventDefault();
  clearErrors();
  const notice = digits(noticeInput.value);
  const fc = digits(fcInput.value);
  let firstBad = null;
  if (notice.length !== 18) {
    noticeInput.setAttribute("aria-invalid", "true");
    $("manual-notice-error").hidden = false;
    firstBad = noticeInput;
  }
  if (fc.length !== 11) {
    fcInput.setAttribute("aria-invalid", "true");
    $("manual-fc-error").hidden = false;
    firstBad = firstBad || fcInput;
  }
  if (firstBad) {
    firstBad.focus();
    return;
  }
  // On success the manual screen stays until the agent's next screen (verifying) arrives.
  await act("/api/manual", { notice_number: notice, fiscal_code: fc });
}

// --- demo ---------------------------------------------------------------------------------

/** In demo mode the agent lists the demo catalogue's notices; elsewhere the call is refused. */
async function loadDemo() {
  const res = await get("/api/sim/samples");
  const samples = res.ok && Array.isArray(res.body) ? res.body : [];
  const list = $("demo-list");
  list.replaceChildren();
  for (const sample of samples) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "demo-sample";
    const label = document.createElement("span");
    label.textContent = t("demo.simulate") + ": ";
    const name = document.createElement("strong");
    name.textContent = sample.label;
    button.append(label, name);
    button.addEventListener("click", () => act("/sim/scan", { payload: sample.payload }));
    list.append(button);
  }
  $("demo").hidden = samples.length === 0;
}

// --- wiring -------------------------------------------------------------------------------

function wire() {
  $("manual-open").addEventListener("click", openManual);
  $("manual-back").addEventListener("click", closeManual);
  $("manual-form").addEventListener("submit", submitManual);
  for (const input of [noticeInput, fcInput]) {
    input.addEventListener("focus", () => {
      target = input;
    });
    input.addEventListener("input", () => {
      timer.set(MANUAL_IDLE_MS);
      clearError(input);
    });
  }
  for (const button of $("keypad").querySelectorAll("button[data-key]")) {
    button.addEventListener("click", () => keypad(button.dataset.key));
  }
  $("confirm-pay").addEventListener("click", () => act("/api/confirm", { method: "card" }));
  $("retry-card").addEventListener("click", () => act("/api/pay", { method: "card", tendered_cents: null }));
  for (const button of document.querySelectorAll("[data-action=cancel]")) {
    button.addEventListener("click", () => act("/api/cancel"));
  }
  for (const button of document.querySelectorAll("[data-action=done]")) {
    button.addEventListener("click", () => act("/api/done"));
  }
  $("more-time").addEventListener("click", () => {
    if (manual) {
      timer.set(MANUAL_IDLE_MS);
    } else {
      act("/api/more-time");
    }
  });
  onLanguageChange(() => {
    if (view) {
      fill(view);
    }
    timer.refresh();
    loadDemo();
  });
}

async function start() {
  let first = await get("/api/state");
  while (!(first.ok && first.body)) {
    $("conn-lost").hidden = false;
    await new Promise((r) => setTimeout(r, 2000));
    first = await get("/api/state");
  }
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
}

start();
