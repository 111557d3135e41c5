//! `decode-scan` and `check-notice`: what a scanner delivered, and whether a notice number typed
//! by a citizen is plausible, answered from the pure `pagopa` library alone (no network, no
//! running agent).

use std::io::Write as _;
use std::process::ExitCode;

use pagopa::CheckMode;
use pagopa::scan::{self, ScanFormat, ScannedNotice};
use serde::Serialize;

/// The JSON shape documented in the README; field names are a stable interface for scripts.
#[derive(Debug, Serialize)]
struct Report<'a> {
    format: &'static str,
    notice_number: &'a str,
    fiscal_code: &'a str,
    amount_cents: Option<u64>,
    aux_digit: u8,
    segregation_code: Option<&'a str>,
    application_code: Option<&'a str>,
    iuv: String,
    check_digit_valid: Option<bool>,
    fiscal_code_valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_account: Option<&'a str>,
}

impl<'a> Report<'a> {
    fn new(n: &'a ScannedNotice) -> Self {
        Report {
            format: match n.format {
                ScanFormat::Qr => "qr",
                ScanFormat::DataMatrix => "datamatrix",
                ScanFormat::Manual => "manual",
            },
            notice_number: n.notice_number.as_str(),
            fiscal_code: n.fiscal_code.as_str(),
            amount_cents: n.amount.map(|a| a.cents()),
            aux_digit: n.notice_number.aux_digit().as_u8(),
            segregation_code: n.notice_number.segregation_code(),
            application_code: n.notice_number.application_code(),
            iuv: n.notice_number.iuv().as_str().to_owned(),
            check_digit_valid: n.notice_number.check_digit_valid(),
            fiscal_code_valid: n.fiscal_code.check_digit_valid(),
            postal_account: n.postal_account(),
        }
    }

    fn text(&self, n: &ScannedNotice) -> String {
        let yes_no = |b: bool| if b { "valid" } else { "NOT valid" };
        let mut s = String::new();
        let format = match n.format {
            ScanFormat::Qr => "pagoPA QR code",
            ScanFormat::DataMatrix => "Poste Data Matrix",
            ScanFormat::Manual => "manual entry",
        };
        s.push_str(&format!("format:           {format}\n"));
        if let Some(sym) = &n.symbology {
            s.push_str(&format!("symbology:        {sym}\n"));
        }
        s.push_str(&format!(
            "notice number:    {}\n",
            n.notice_number.grouped()
        ));
        s.push_str(&format!("aux digit:        {}\n", self.aux_digit));
        if let Some(seg) = self.segregation_code {
            s.push_str(&format!("segregation code: {seg}\n"));
        }
        if let Some(app) = self.application_code {
            s.push_str(&format!("application code: {app}\n"));
        }
        s.push_str(&format!("IUV:              {}\n", self.iuv));
        s.push_str(&format!(
            "check digits:     {}\n",
            match self.check_digit_valid {
                Some(v) => yes_no(v),
                None => "none for this aux digit",
            }
        ));
        s.push_str(&format!(
            "creditor:         {} (check digit {})\n",
            self.fiscal_code,
            yes_no(self.fiscal_code_valid)
        ));
        match n.amount {
            Some(a) => s.push_str(&format!(
                "amount:           {} (as printed; the Nodo's verify is authoritative)\n",
                a.italian()
            )),
            None => s.push_str("amount:           not in the input\n"),
        }
        if let Some(acc) = self.postal_account {
            s.push_str(&format!("postal account:   {acc}\n"));
        }
        s
    }
}

/// `provision decode-scan`.
pub fn decode_scan(payload: &str, json: bool) -> ExitCode {
    // Lenient: a technician must see a wrong check digit reported, not a refusal, and pagoPA's
    // test environment uses notices and fiscal codes that fail the check.
    report(scan::decode(payload, CheckMode::Lenient), json)
}

/// `provision check-notice`.
pub fn check_notice(notice_number: &str, fiscal_code: &str, json: bool) -> ExitCode {
    report(
        scan::manual(notice_number, fiscal_code, CheckMode::Lenient),
        json,
    )
}

fn report(result: Result<ScannedNotice, scan::ScanError>, json: bool) -> ExitCode {
    match result {
        Ok(notice) => {
            let report = Report::new(&notice);
            let out = if json {
                match serde_json::to_string(&report) {
                    Ok(s) => s + "\n",
                    Err(e) => {
                        eprintln!("provision: cannot encode JSON: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                report.text(&notice)
            };
            // A closed pipe (e.g. `| head`) is not an error worth a panic.
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("provision: cannot decode: {e}");
            ExitCode::FAILURE
        }
    }
}
