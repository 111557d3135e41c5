// Words on screen come from one JSON file per language (`/assets/i18n/<code>.json`), keyed by
// stable codes, so adding a language is adding one file and naming it in the agent's config.
// Markup says which key it shows (`data-i18n`, `data-i18n-aria-label`, `data-i18n-placeholder`,
// `data-i18n-title`); switching language re-applies every key and the `lang` attribute, so a
// screen reader changes voice with the text.

const ATTRIBUTES = ["aria-label", "placeholder", "title"];

const tables = new Map();
let current = "it";
let fallback = "it";
const listeners = [];

/** Where the language files are, relative to this module (they share the asset tree). */
function fileUrl(code) {
  return new URL(`../i18n/${encodeURIComponent(code)}.json`, import.meta.url);
}

/**
 * Fetch the tables of `codes` (the agent's configured languages, first = default). A language
 * whose file is missing or broken is left out rather than breaking the page; the returned list
 * holds the languages that can be shown.
 */
export async function loadLanguages(codes) {
  const wanted = codes && codes.length ? codes : ["it"];
  await Promise.all(
    wanted.map(async (code) => {
      if (tables.has(code)) {
        return;
      }
      try {
        const res = await fetch(fileUrl(code));
        if (res.ok) {
          tables.set(code, await res.json());
        }
      } catch (_) {
        // Left out: the language buttons show only what loaded.
      }
    }),
  );
  const usable = wanted.filter((c) => tables.has(c));
  if (usable.length) {
    fallback = usable[0];
  }
  return usable;
}

/** The code of the language on screen. */
export function language() {
  return current;
}

/** The language's own name (`Italiano`, `English`, `Deutsch`), from its file. */
export function nativeName(code) {
  const table = tables.get(code);
  return (table && table["lang.name"]) || code;
}

/**
 * The text of `key` in the current language, with `{name}` placeholders replaced from `vars`.
 * A key missing in the current language falls back to the default language, then to the key
 * itself (visible, so a missing translation is noticed instead of showing an empty button).
 */
export function t(key, vars) {
  const table = tables.get(current);
  const base = tables.get(fallback);
  let text = (table && table[key]) ?? (base && base[key]) ?? key;
  if (vars) {
    text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
  }
  return text;
}

/** Whether `key` exists in the current or default language. */
export function has(key) {
  const table = tables.get(current);
  const base = tables.get(fallback);
  return Boolean((table && key in table) || (base && key in base));
}

/** Apply the current language to every marked element under `root`. */
export function apply(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const attr of ATTRIBUTES) {
    const data = "data-i18n-" + attr;
    for (const el of root.querySelectorAll(`[${data}]`)) {
      el.setAttribute(attr, t(el.getAttribute(data)));
    }
  }
}

/** Switch to `code` (ignored if its table did not load), re-apply, tell the listeners. */
export function setLanguage(code) {
  if (!tables.has(code)) {
    return;
  }
  current = code;
  document.documentElement.lang = code;
  apply();
  const title = document.querySelector("title[data-i18n]");
  if (title) {
    document.title = title.textContent;
  }
  for (const fn of listeners) {
    fn(code);
  }
}

/** Call `fn(code)` after every language switch (to re-render texts built in code). */
export function onLanguageChange(fn) {
  listeners.push(fn);
}

/**
 * Buttons for the usable languages, each named in its own language and marked with its own
 * `lang` (so a screen reader says "Deutsch" in German), the current one `aria-pressed`.
 */
export function renderLanguageButtons(container, codes) {
  container.replaceChildren();
  if (codes.length < 2) {
    container.hidden = true;
    return;
  }
  container.hidden = false;
  for (const code of codes) {
    const button = document.createElement("button");
    button.type = "button";
    button.lang = code;
    button.dataset.lang = code;
    button.textContent = nativeName(code);
    button.addEventListener("click", () => setLanguage(code));
    container.append(button);
  }
  const mark = () => {
    for (const b of container.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === current));
    }
  };
  onLanguageChange(mark);
  mark();
}
