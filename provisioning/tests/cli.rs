//! The technicians' commands, run as the real binary: JSON shape, text output, exit status.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn provision(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .output()
        .expect("run provision")
}

fn json_of(args: &[&str]) -> Value {
    let out = provision(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "one JSON object on one line");
    serde_json::from_str(&stdout).expect("valid JSON")
}

/// Decoding must fail with a non-zero status and exactly one line on stderr, nothing on stdout.
fn assert_refused(args: &[&str], needle: &str) {
    let out = provision(args);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(out.stdout.is_empty(), "no output on failure");
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    assert_eq!(stderr.lines().count(), 1, "one-line reason, got {stderr:?}");
    assert!(
        stderr.to_lowercase().contains(needle),
        "{stderr:?} should mention {needle:?}"
    );
}

#[test]
fn qr_code_with_aim_prefix_and_crlf() {
    let v = json_of(&[
        "decode-scan",
        "--json",
        "]Q1PAGOPA|002|300715700000000032|00085240950|1500\r\n",
    ]);
    assert_eq!(
        v,
        json!({
            "format": "qr",
            "notice_number": "300715700000000032",
            "fiscal_code": "00085240950",
            "amount_cents": 1500,
            "aux_digit": 3,
            "segregation_code": "00",
            "application_code": null,
            "iuv": "00715700000000032",
            "check_digit_valid": true,
            "fiscal_code_valid": true
        })
    );
}

#[test]
fn qr_code_from_the_sanp_docs_reports_bad_check_digits_without_refusing() {
    // The SANP example notice and the test creditor 77777777777 both fail their check digits.
    let v = json_of(&[
        "decode-scan",
        "--json",
        "PAGOPA|002|311111111112222222|77777777777|3000",
    ]);
    assert_eq!(v["check_digit_valid"], json!(false));
    assert_eq!(v["fiscal_code_valid"], json!(false));
    assert_eq!(v["segregation_code"], json!("11"));
    assert_eq!(v["iuv"], json!("11111111112222222"));
    assert_eq!(v["amount_cents"], json!(3000));
}

#[test]
fn qr_amounts_of_one_and_ten_digits() {
    let one = json_of(&[
        "decode-scan",
        "--json",
        "PAGOPA|002|300715700000000032|00085240950|1",
    ]);
    assert_eq!(one["amount_cents"], json!(1));
    let ten = json_of(&[
        "decode-scan",
        "--json",
        "PAGOPA|002|300715700000000032|00085240950|1234567801",
    ]);
    assert_eq!(ten["amount_cents"], json!(1_234_567_801_u64));
}

#[test]
fn poste_data_matrix_from_io_app() {
    let payload = "codfase=NBPA;183007157000000000321200001630209310000000000138961P100085240950BSCMTT83A12L719RName Surname                                                                                                                                                                        A";
    let v = json_of(&["decode-scan", "--json", payload]);
    assert_eq!(v["format"], json!("datamatrix"));
    assert_eq!(v["notice_number"], json!("300715700000000032"));
    assert_eq!(v["postal_account"], json!("000016302093"));
    assert_eq!(v["amount_cents"], json!(1));
    assert_eq!(v["fiscal_code"], json!("00085240950"));
    assert_eq!(v["check_digit_valid"], json!(true));
}

#[test]
fn manual_entry_with_spaces_and_every_aux_digit() {
    let v = json_of(&[
        "check-notice",
        "--json",
        "3007 1570 0000 0000 32",
        "00085240950",
    ]);
    assert_eq!(v["format"], json!("manual"));
    assert_eq!(v["amount_cents"], json!(null));
    assert_eq!(v["notice_number"], json!("300715700000000032"));
    assert!(v.get("postal_account").is_none());

    let aux0 = json_of(&[
        "check-notice",
        "--json",
        "002000000000012317",
        "02438750586",
    ]);
    assert_eq!(aux0["aux_digit"], json!(0));
    assert_eq!(aux0["application_code"], json!("02"));
    assert_eq!(aux0["segregation_code"], json!(null));
    assert_eq!(aux0["iuv"], json!("000000000012317"));
    assert_eq!(aux0["check_digit_valid"], json!(true));

    let aux1 = json_of(&[
        "check-notice",
        "--json",
        "100000000000012345",
        "02438750586",
    ]);
    assert_eq!(aux1["aux_digit"], json!(1));
    assert_eq!(aux1["check_digit_valid"], json!(null));
    assert_eq!(aux1["iuv"], json!("00000000000012345"));

    let aux2 = json_of(&[
        "check-notice",
        "--json",
        "200000000000012332",
        "02438750586",
    ]);
    assert_eq!(aux2["aux_digit"], json!(2));
    assert_eq!(aux2["iuv"], json!("00000000000012332"));
    assert_eq!(aux2["check_digit_valid"], json!(true));
}

#[test]
fn text_output_is_readable() {
    let out = provision(&["check-notice", "301000000000012373", "02438750586"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("3010 0000 0000 0123 73"), "{text}");
    assert!(text.contains("02438750586"), "{text}");
    assert!(text.contains("valid"), "{text}");
}

#[test]
fn undecodable_input_fails_with_one_line() {
    assert_refused(&["decode-scan", "hello"], "pagopa");
    assert_refused(&["decode-scan", "--json", ""], "");
    assert_refused(
        &[
            "decode-scan",
            "PAGOPA|002|30071570000000003|00085240950|1500",
        ],
        "18",
    );
    assert_refused(&["check-notice", "--json", "12345", "00085240950"], "18");
    assert_refused(&["check-notice", "300715700000000032", "0008524095X"], "");
    assert_refused(&["check-notice", "900715700000000032", "00085240950"], "");
}
