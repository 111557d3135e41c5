//! `channel-adapter collaudo --against-simulator`: the certification scenarios all pass, and
//! every saved request and response is one XML file that validates against the schema.

mod common;

use std::process::Command;

use common::TempDir;
use common::stack::{StackOptions, stack_config_toml};
use common::xsd::assert_files_valid;

const BIN: &str = env!("CARGO_BIN_EXE_channel-adapter");

fn run(dir: &TempDir, extra: &[&str]) -> String {
    let out_dir = dir.join("out");
    let out = Command::new(BIN)
        .args(["collaudo", "--against-simulator", "--out"])
        .arg(&out_dir)
        .args(extra)
        .env_remove("CHANNEL_ADAPTER_CONFIG")
        .env("CHANNEL_ADAPTER_LOG", "warn")
        .output()
        .expect("run collaudo");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "collaudo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn xml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

fn names(files: &[std::path::PathBuf]) -> Vec<String> {
    files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

#[test]
fn every_scenario_passes_and_every_message_validates() {
    let dir = TempDir::new("collaudo");
    let stdout = run(&dir, &[]);
    assert!(stdout.contains("6 of 6 scenarios passed"), "{stdout}");
    let out = dir.join("out");
    let summary = std::fs::read_to_string(out.join("summary.txt")).expect("summary");
    assert_eq!(summary, stdout);
    for scenario in [
        "verify",
        "outcome-ok",
        "outcome-ko",
        "activate-same-key",
        "outcome-lost-answer",
        "late-outcome",
    ] {
        assert!(summary.contains(&format!("PASS {scenario}")), "{summary}");
    }
    let files = xml_files(&out);
    let names = names(&files);
    // 18 requests; every one answered except the outcome whose answer was lost.
    assert_eq!(
        names.iter().filter(|n| n.ends_with("-request.xml")).count(),
        18
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.ends_with("-response.xml"))
            .count(),
        17
    );
    assert!(names.contains(&"01-verify-verifyPaymentNotice-request.xml".to_owned()));
    assert!(names.contains(&"03-outcome-ok-activatePaymentNoticeV2-response.xml".to_owned()));
    assert!(names.contains(&"14-outcome-lost-answer-sendPaymentOutcomeV2-request.xml".to_owned()));
    assert!(
        !names.contains(&"14-outcome-lost-answer-sendPaymentOutcomeV2-response.xml".to_owned())
    );
    assert!(names.contains(&"18-late-outcome-sendPaymentOutcomeV2-response.xml".to_owned()));
    let late =
        std::fs::read_to_string(out.join("18-late-outcome-sendPaymentOutcomeV2-response.xml"))
            .expect("late answer");
    assert!(late.contains("PPT_TOKEN_SCADUTO"), "{late}");
    let lost_first = std::fs::read_to_string(
        out.join("14-outcome-lost-answer-sendPaymentOutcomeV2-request.xml"),
    )
    .expect("request");
    let lost_again = std::fs::read_to_string(
        out.join("15-outcome-lost-answer-sendPaymentOutcomeV2-request.xml"),
    )
    .expect("request");
    assert_eq!(lost_first, lost_again, "resent byte for byte");
    for f in &files {
        let text = std::fs::read_to_string(f).expect("file");
        assert!(
            !text.contains("pwdpwdpwd"),
            "{} holds the password",
            f.display()
        );
    }
    assert_files_valid(&files);
}

#[test]
fn with_a_configuration_its_channel_and_primitives_are_used() {
    let dir = TempDir::new("collaudo-config");
    let config = dir.join("adapter.toml");
    let o = StackOptions {
        primitives: "v1",
        ..StackOptions::default()
    };
    // The simulator is told to accept this channel; the URL is replaced by the simulator's.
    std::fs::write(
        &config,
        stack_config_toml(
            "127.0.0.1:0",
            &dir.join("adapter.db"),
            "http://127.0.0.1:9/",
            &o,
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let stdout = run(&dir, &["--config", &config]);
    assert!(stdout.contains("6 of 6 scenarios passed"), "{stdout}");
    let files = xml_files(&dir.join("out"));
    let names = names(&files);
    assert!(names.contains(&"03-outcome-ok-activatePaymentNotice-request.xml".to_owned()));
    assert!(names.contains(&"04-outcome-ok-sendPaymentOutcome-request.xml".to_owned()));
    assert_files_valid(&files);
}
