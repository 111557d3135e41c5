//! Payments turned into printable documents: the citizen's receipt and the daily closing.
//!
//! The printer driver prints generic [`drivers::escpos::Receipt`]s and knows nothing of
//! payments; this is where a flow becomes one. What a pagoPA receipt must show follows the
//! attestation rules (reference notes §2.7): date and time of the operation and the accounting
//! day, the creditor's name and fiscal code, the IUV, the PSP's identification, the PSP's
//! identifier of the payment, amount, reason, and the Nodo's payment token. A receipt printed
//! offline is *provisional* (no token yet); any print after one that may have reached the
//! paper says *COPIA*. Card data is limited to the masked tail, the authorization code and the
//! terminal's references.

use drivers::escpos::{Align, CutKind, Receipt, Size, Style};
use pagopa::Amount;

use crate::clock::{local_day, local_display};
use crate::config::Config;
use crate::flow::Flow;
use crate::ledger::DayTotals;
use crate::record::ClosingRecord;

fn euro(a: Amount) -> String {
    a.italian()
}

fn euro_cents(c: u64) -> String {
    Amount::from_cents(c).map_or_else(|_| format!("{c} c"), |a| a.italian())
}

fn header(config: &Config) -> Receipt {
    let mut r = Receipt::new();
    for line in &config.receipt.header {
        r = r.styled(line.clone(), Align::Center, Style::NORMAL);
    }
    r.styled(config.receipt.psp_name.clone(), Align::Center, Style::BOLD)
        .styled(
            format!("C.F. {}", config.receipt.psp_fiscal_code),
            Align::Center,
            Style::NORMAL,
        )
}

/// The receipt of a flow where money was taken; `None` if none was.
pub fn payment_receipt(flow: &Flow, config: &Config, copy: bool) -> Option<Receipt> {
    let money = flow.money.as_ref()?;
    let charge = flow.charge.as_ref()?;
    let mut r = header(config);
    if let Some(abi) = &config.receipt.psp_abi {
        r = r.styled(format!("ABI {abi}"), Align::Center, Style::NORMAL);
    }
    r = r.separator();
    let title = if flow.offline {
        "RICEVUTA PROVVISORIA"
    } else {
        "RICEVUTA DI PAGAMENTO"
    };
    r = r.header(title).styled("pagoPA", Align::Center, Style::BOLD);
    if copy {
        r = r.styled(
            "*** COPIA ***",
            Align::Center,
            Style {
                bold: true,
                underline: false,
                size: Size::DoubleHeight,
            },
        );
    }
    r = r
        .blank()
        .key_value("Data e ora", local_display(money.paid_at))
        .key_value(
            "Data applicativa",
            local_day(money.paid_at).map_or_else(String::new, |d| d.to_string()),
        )
        .key_value("N. ricevuta", flow.id.as_str())
        .separator();
    let verified = flow.verified.as_ref();
    let payment = flow.payment.as_ref();
    let creditor = payment
        .and_then(|p| p.creditor_name.clone())
        .or_else(|| verified.and_then(|v| v.creditor_name.clone()))
        .unwrap_or_default();
    if !creditor.is_empty() {
        r = r.text(format!("Ente creditore: {creditor}"));
    }
    r = r
        .key_value("C.F. ente", flow.notice.fiscal_code.as_str())
        .key_value("Codice avviso", flow.notice.notice_number.grouped());
    let iuv = payment
        .and_then(|p| p.iuv.clone())
        .unwrap_or_else(|| flow.notice.notice_number.iuv().as_str().to_owned());
    r = r.key_value("IUV", iuv);
    let description = payment
        .and_then(|p| p.description.clone())
        .or_else(|| verified.and_then(|v| v.description.clone()));
    if let Some(d) = description {
        r = r.text(format!("Causale: {d}"));
    }
    r = r
        .separator()
        .key_value("Importo", euro(charge.amount))
        .key_value("Commissione", euro(charge.fee))
        .total("TOTALE", euro(charge.total))
        .separator();
    match &money.card {
        Some(card) => {
            r = r
                .key_value("Pagato con", "carta")
                .key_value("Carta", card.masked_pan.clone());
            if let Some(c) = &card.circuit {
                r = r.key_value("Circuito", c.clone());
            }
            if let Some(a) = &card.auth_code {
                r = r.key_value("Cod. autorizzazione", a.clone());
            }
            r = r
                .key_value("Terminale", card.terminal_id.clone())
                .key_value("STAN", card.stan.clone());
        }
        None => {
            r = r.key_value("Pagato con", "contanti");
            if let Some(t) = money.tendered {
                r = r.key_value("Consegnato", euro(t));
            }
            if let Some(c) = money.change {
                r = r.key_value("Resto", euro(c));
            }
        }
    }
    match payment.and_then(|p| p.payment_token.as_ref()) {
        Some(token) => r = r.key_value("Token pagoPA", token.as_str()),
        None => {
            r = r.text("Pagamento registrato senza collegamento: sarà trasmesso a pagoPA appena possibile. Conservare questa ricevuta provvisoria.");
        }
    }
    if let Some(p) = payment.filter(|_| !flow.offline) {
        r = r.key_value("ID pagamento PSP", p.id.as_str());
    }
    r = r
        .separator()
        .key_value("Postazione", config.name.clone())
        .text(config.comune.name.clone());
    if !config.location.is_empty() {
        r = r.text(config.location.clone());
    }
    if let Some(op) = &money.operator {
        r = r.key_value("Operatore", op.clone());
    }
    for line in &config.receipt.footer {
        r = r.styled(line.clone(), Align::Center, Style::NORMAL);
    }
    let amount_cents = charge.amount.cents();
    let qr = format!(
        "PAGOPA|002|{}|{}|{amount_cents}",
        flow.notice.notice_number, flow.notice.fiscal_code
    );
    Some(r.blank().qr(qr.into_bytes()).cut(CutKind::Partial))
}

/// The printed report of a daily cash closing.
pub fn closing_report(
    config: &Config,
    closing: &ClosingRecord,
    totals: &DayTotals,
    printed_at: channel_api::Timestamp,
) -> Receipt {
    let difference = i128::from(closing.counted_cents) - i128::from(closing.expected_cents);
    let diff_text = if difference == 0 {
        "0,00 €".to_owned()
    } else {
        let abs = u64::try_from(difference.unsigned_abs()).unwrap_or(u64::MAX);
        format!(
            "{}{}",
            if difference < 0 { "-" } else { "+" },
            euro_cents(abs)
        )
    };
    let adapter = match closing.adapter.as_str() {
        "agree" => "concorde",
        "mismatch" => "NON CONCORDE",
        _ => "non disponibile",
    };
    let mut r = header(config)
        .separator()
        .header("CHIUSURA DI CASSA")
        .key_value("Giorno", closing.day.clone())
        .key_value("Stampata il", local_display(printed_at))
        .key_value("Postazione", config.name.clone())
        .key_value("Operatore", closing.operator.clone())
        .separator()
        .key_value(
            format!("Carte ({})", totals.card_count),
            euro_cents(totals.card_cents),
        )
        .key_value(
            format!("Contanti ({})", totals.cash_count),
            euro_cents(totals.cash_cents),
        )
        .key_value(
            "di cui senza collegamento",
            euro_cents(totals.offline_cash_cents),
        )
        .key_value("Rimborsi in contanti", euro_cents(totals.refunded_cents))
        .key_value("Commissioni", euro_cents(totals.fee_cents))
        .separator()
        .key_value("Contanti attesi", euro_cents(closing.expected_cents))
        .key_value("Contanti contati", euro_cents(closing.counted_cents))
        .total("DIFFERENZA", diff_text)
        .separator()
        .key_value("Servizio di pagamento", adapter);
    if let Some(c) = closing.adapter_cash_cents {
        r = r.key_value("Contanti secondo il servizio", euro_cents(c));
    }
    if let Some(c) = closing.adapter_card_cents {
        r = r.key_value("Carte secondo il servizio", euro_cents(c));
    }
    r.blank().cut(CutKind::Partial)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::config::tests::COUNTER;
    use crate::flow::tests::{card, cents, flow_id, notice, payment, policy, t, verified};
    use crate::flow::{CardResult, Event, Flow, PrintResult};
    use channel_api::{PaymentState, Tender};

    fn paid_flow() -> Flow {
        let p = policy(Mode::Kiosk);
        let (mut f, _) = Flow::start(
            &Event::Started {
                flow: flow_id(),
                mode: Mode::Kiosk,
                notice: notice(Some(1500)),
                operator: None,
            },
            t(0),
            &p,
        )
        .expect("start");
        for (i, e) in [
            Event::Verified {
                result: Ok(verified(1500)),
                offline: None,
            },
            Event::Confirmed { tender: None },
            Event::Activated {
                result: Ok(payment(1500, Tender::Card, PaymentState::Active)),
            },
            Event::Pay {
                tender: Tender::Card,
                tendered: None,
                operator: None,
            },
            Event::Card {
                result: CardResult::Approved { card: card() },
            },
            Event::Outcome {
                result: Ok(payment(1500, Tender::Card, PaymentState::OutcomePending)),
            },
            Event::Printed {
                result: PrintResult::Printed,
            },
        ]
        .iter()
        .enumerate()
        {
            f.handle(e, t(i as i64 + 1), &p).expect("accepted");
        }
        f
    }

    fn printed_lines(r: &Receipt) -> (Vec<String>, Vec<Vec<u8>>) {
        let bytes = r.encode(&Default::default()).expect("encodes");
        let view = drivers::escpos_view::render(&bytes).expect("renders");
        (
            view.text_lines().iter().map(|s| s.to_string()).collect(),
            view.qr_payloads().iter().map(|q| q.to_vec()).collect(),
        )
    }

    #[test]
    fn the_receipt_shows_what_pagopa_requires_and_no_card_number() {
        let config = Config::from_toml(COUNTER).expect("config");
        let r = payment_receipt(&paid_flow(), &config, false).expect("receipt");
        let (lines, qrs) = printed_lines(&r);
        let text = lines.join("\n");
        for needle in [
            "RICEVUTA DI",
            "Roma Capitale (intermediario)",
            "C.F. 02438750586",
            "Comune di Test",
            "00085240950",
            "3007 1570 0000 0000 32",
            "00715700000000032",
            "TARI 2025",
            "15,00 €",
            "1,20 €",
            "16,20 €",
            "tok123",
            "A1B2C3",
            "************1111",
            "pay0000000000001",
            flow_id().as_str(),
            "Data applicativa",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert!(!text.contains("4111111111111111"), "a card number on paper");
        assert!(!text.contains("COPIA"));
        assert_eq!(
            qrs,
            vec![b"PAGOPA|002|300715700000000032|00085240950|1500".to_vec()]
        );
        let (copy, _) = printed_lines(&payment_receipt(&paid_flow(), &config, true).expect("copy"));
        assert!(copy.iter().any(|l| l.contains("COPIA")));
    }

    #[test]
    fn no_receipt_without_money() {
        let config = Config::from_toml(COUNTER).expect("config");
        let p = policy(Mode::Kiosk);
        let (f, _) = Flow::start(
            &Event::Started {
                flow: flow_id(),
                mode: Mode::Kiosk,
                notice: notice(None),
                operator: None,
            },
            t(0),
            &p,
        )
        .expect("start");
        assert!(payment_receipt(&f, &config, false).is_none());
        let _ = cents(1);
    }
}
