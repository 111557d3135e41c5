//! Schema validation with xmllint against the official pagoPA schemas.

use std::process::Command;

use super::TempDir;

/// The wrapper schema that validates whole SOAP envelopes.
pub const SOAP_XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/specs/pagopa/soap.xsd"
);

/// Validate every file in `files` with one xmllint call; panic naming the failures.
pub fn assert_files_valid(files: &[std::path::PathBuf]) {
    assert!(!files.is_empty(), "nothing to validate");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(SOAP_XSD)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is needed for this test ({e}): apt-get install libxml2-utils")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    let failures: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.ends_with(" validates"))
        .collect();
    assert!(
        out.status.success() && failures.is_empty(),
        "schema validation failed:\n{}",
        failures.join("\n")
    );
    let validated = stderr.lines().filter(|l| l.ends_with(" validates")).count();
    assert_eq!(validated, files.len(), "every file was validated");
}

/// Validate `(name, xml)` documents.
pub fn assert_valid(docs: &[(String, String)]) {
    let dir = TempDir::new("xsd");
    let files: Vec<_> = docs
        .iter()
        .map(|(name, xml)| {
            let path = dir.join(&format!("{name}.xml"));
            std::fs::write(&path, xml).expect("write document");
            path
        })
        .collect();
    assert_files_valid(&files);
}
