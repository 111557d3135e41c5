// Pieces shared by the kiosk and counter pages: screens that announce themselves, the visible
// countdown with its "more time" warning, and the receipt preview.

import { loadLanguages, renderLanguageButtons, setLanguage, t } from "./i18n.js";
import { formatCents } from "./money.js";

/** Create an element with properties/attributes and children (strings become text, never HTML). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = value;
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key in node && typeof value !== "string") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child);
    }
  }
  return node;
}

/**
 * Show the `<section data-screen=name>` among `sections` and hide the others. When the screen
 * changes, the new screen's heading takes the focus (keyboard and switch users start at its top)
 * and its text goes to the polite live region, so a screen reader says where the person is.
 */
export function showScreen(sections, name, liveRegion) {
  let shown = null;
  let changed = false;
  for (const section of sections) {
    const on = section.dataset.screen === name;
    if (on) {
      shown = section;
      if (section.hidden) {
        changed = true;
      }
    }
    section.hidden = !on;
  }
  if (changed && shown) {
    const heading = shown.querySelector("h1, h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
      if (liveRegion) {
        announce(liveRegion, heading.textContent);
      }
    }
  }
  return changed;
}

/**
 * Put `text` in a live region. Clearing first and writing on the next frame makes screen
 * readers speak the same sentence again when it repeats.
 */
export function announce(region, text) {
  region.textContent = "";
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

/** Whether the agent gives more time on this screen (its `more_time`, else by screen). */
export function moreTimeAllowed(view) {
  if (typeof view.more_time === "boolean") {
    return view.more_time;
  }
  return view.screen === "confirm" || view.screen === "tender";
}

/**
 * A visible countdown to the agent's deadline. The agent sends `deadline_ms_left` with every
 * state; between states the page counts down by itself. The seconds shown each tick are
 * `aria-hidden` (a reader would otherwise talk every second); the warning under `warnAtSeconds`
 * is `role=alert` and names the "more time" button, so nobody runs out of time unwarned.
 */
export class Countdown {
  constructor({ box, seconds, warning, button, warnAtSeconds = 20, onExpire }) {
    this.box = box;
    this.seconds = seconds;
    this.warning = warning;
    this.button = button;
    this.extendable = true;
    this.warnAt = warnAtSeconds * 1000;
    this.onExpire = onExpire;
    this.deadline = null;
    this.warned = false;
    this.timer = null;
  }

  /**
   * Follow a new `deadline_ms_left` (`null` hides the countdown). `extendable` says whether
   * "more time" can be asked here: if not (a finished payment going back to the start), the
   * countdown says so and neither warns nor offers the button.
   */
  set(msLeft, extendable = true) {
    if (msLeft === null || msLeft === undefined || !Number.isFinite(msLeft)) {
      this.stop();
      return;
    }
    this.extendable = extendable;
    if (this.button) {
      this.button.hidden = !extendable;
    }
    this.deadline = performance.now() + Math.max(0, msLeft);
    if (msLeft > this.warnAt) {
      this.warned = false;
    }
    this.box.hidden = false;
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), 250);
    }
    this.tick();
  }

  /** Hide and stop. */
  stop() {
    this.deadline = null;
    this.warned = false;
    this.box.hidden = true;
    this.warning.hidden = true;
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Re-render the texts (after a language switch). */
  refresh() {
    if (this.deadline !== null) {
      this.tick(true);
    }
  }

  tick(force = false) {
    if (this.deadline === null) {
      return;
    }
    const left = Math.max(0, this.deadline - performance.now());
    const s = Math.ceil(left / 1000);
    this.seconds.textContent = t(this.extendable ? "timer.left" : "timer.return", { s });
    const low = this.extendable && left <= this.warnAt;
    this.box.classList.toggle("low", low);
    if (low && (!this.warned || force)) {
      this.warned = true;
      this.warning.hidden = false;
      const text = this.warning.querySelector("[data-warning-text]");
      if (text) {
        text.textContent = t("timer.warning");
      }
    } else if (!low) {
      this.warning.hidden = true;
    }
    if (left === 0) {
      const expire = this.onExpire;
      this.stop();
      if (expire) {
        expire();
      }
    }
  }
}

/**
 * The receipt preview (`GET /api/receipt/{id}/preview`) as paper: the lines exactly as the agent
 * decoded them from the bytes sent to the printer (so what the person sees is what was printed),
 * with bold and double-size runs; a PNG of the whole print if the agent rendered one.
 */
export function renderReceipt(container, preview) {
  container.replaceChildren();
  if (!preview) {
    container.hidden = true;
    return;
  }
  container.hidden = false;
  if (preview.copy) {
    container.append(el("div", { class: "copy-mark", text: t("receipt.copy") }));
  }
  if (preview.png_base64) {
    container.append(
      el("img", {
        src: "data:image/png;base64," + preview.png_base64,
        alt: (preview.lines || []).map((l) => l.text).join("\n"),
      }),
    );
    return;
  }
  for (const line of preview.lines || []) {
    const classes = ["line"];
    if (line.bold) {
      classes.push("bold");
    }
    if (line.double) {
      classes.push("double");
    }
    const node = el("div", { class: classes.join(" "), text: line.text });
    if (line.align === "center" || line.align === "right") {
      node.style.textAlign = line.align;
    }
    container.append(node);
  }
  for (const payload of preview.qr || []) {
    container.append(el("div", { class: "qr", text: "▣ QR: " + payload }));
  }
}

/** Digits of a notice number in groups of four, as printed on the paper notice. */
export function groupDigits(digits, size = 4) {
  const s = String(digits || "");
  const groups = [];
  for (let i = 0; i < s.length; i += size) {
    groups.push(s.slice(i, i + size));
  }
  return groups.join(" ");
}

/** `2024-05-31` as `31/05/2024` (dates on notices are Italian style in every language). */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(iso || ""));
  return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
}

/**
 * The amounts of the confirmation screen, as the station's fee display says (`fee_display` of
 * the view, a setting the adapter may manage): `itemized`, amount, fee and total on three rows;
 * `total_first`, the total first and large with the fee it includes, the rows hidden.
 */
export function showAmounts(view, q) {
  const byId = (id) => document.getElementById(id);
  byId("c-amount").textContent = formatCents(q.amount);
  byId("c-fee").textContent = formatCents(q.fee);
  byId("c-total").textContent = formatCents(q.total);
  const totalFirst = view.fee_display === "total_first";
  const line = byId("c-total-first");
  line.textContent = totalFirst
    ? t("confirm.total_first", { total: formatCents(q.total), fee: formatCents(q.fee) })
    : "";
  line.hidden = !totalFirst;
  byId("c-amounts").hidden = totalFirst;
}

/**
 * Follow the languages the agent offers (a managed setting may change them while the page is
 * open): when `wanted` differs from `current`, load the new tables and redraw the buttons.
 * Resolves to the languages now usable.
 */
let followed = null;

export async function followLanguages(container, current, wanted) {
  if (!Array.isArray(wanted)) {
    return current;
  }
  const key = wanted.join(",");
  // The first list seen is the one the page started with.
  if (followed === null || followed === key) {
    followed = key;
    return current;
  }
  followed = key;
  let usable = await loadLanguages(wanted);
  if (!usable.length) {
    usable = ["it"];
  }
  renderLanguageButtons(container, usable);
  setLanguage(usable[0]);
  return usable;
}
