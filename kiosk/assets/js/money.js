// Money on screen: integer euro cents in, Italian text out (`1.234,56 €`), and the other way for
// what a clerk types. Only integer arithmetic: a float never holds an amount, so 0,10 + 0,20 is
// 30 cents and not 0.30000000000000004 euro.

/** The largest amount pagoPA allows, in cents (999.999.999,99 €); also below 2^53. */
export const MAX_CENTS = 99999999999;

/**
 * `cents` (an integer) as Italian text: `1.234,56 €`, `0,05 €`, `-12,50 €`; the same text as the
 * agent's `Amount::italian()` prints on receipts (a plain space before the euro sign; the `money`
 * CSS class keeps it on one line).
 * Anything that is not a safe integer gives an empty string rather than a wrong amount.
 */
export function formatCents(cents) {
  if (!Number.isSafeInteger(cents)) {
    return "";
  }
  const negative = cents < 0;
  const abs = negative ? -cents : cents;
  const euros = String(Math.trunc(abs / 100));
  const rest = abs % 100;
  let grouped = "";
  for (let i = 0; i < euros.length; i++) {
    if (i > 0 && (euros.length - i) % 3 === 0) {
      grouped += ".";
    }
    grouped += euros[i];
  }
  return (negative ? "-" : "") + grouped + "," + (rest < 10 ? "0" : "") + rest + " €";
}

/**
 * What a clerk typed (`50`, `50,5`, `1.234,56`, `12.50`) as cents, or `null` if it is not an
 * amount. A dot followed by exactly three digits is a thousands separator; a dot or comma
 * followed by one or two digits is the decimal mark.
 */
export function parseEuros(text) {
  const s = String(text).trim().replace(/\s|€/g, "");
  let m = /^(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?$/.exec(s);
  if (!m) {
    m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  }
  if (!m) {
    return null;
  }
  const intDigits = m[1].replace(/\./g, "");
  if (intDigits.length > 9) {
    return null;
  }
  const frac = m[2] === undefined ? "00" : m[2].padEnd(2, "0");
  const cents = Number(intDigits) * 100 + Number(frac);
  return cents <= MAX_CENTS ? cents : null;
}
