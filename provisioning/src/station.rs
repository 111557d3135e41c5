//! The kiosk agent's configuration file, as `provision` writes and amends it.
//!
//! An installer may have put a configuration in place before enrollment (receipt wording, staff,
//! offline cash limits): enrollment then fills in only what it learnt (who the device is, where
//! the adapter is, which devices answered) and keeps the rest. Without one, a complete file is
//! written from scratch. Either way the text is checked with the agent's own parser
//! ([`kiosk::config::Config::from_toml`]) so the technician learns at once, not at the agent's
//! next start, if something is missing; and it is written atomically, so a power cut leaves the
//! old file or the new one.

use std::path::{Path, PathBuf};

use channel_api::DeviceKind;
use pagopa::CreditorFiscalCode;
use toml::{Table, Value};

use crate::error::ProvisionError;

/// The devices chosen for the station (`None`: not installed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chosen {
    /// The scanner: a serial path, or `sim`.
    pub scanner: Option<String>,
    /// The receipt printer: a serial path, `usblp:/dev/usb/lp0`, `tcp://…`, or `sim`.
    pub printer: Option<String>,
    /// The card terminal: a serial path, `tcp://…`, or `sim`.
    pub terminal: Option<String>,
    /// The terminal's ID, when it told.
    pub terminal_id: Option<String>,
}

/// The PSP's details printed on receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psp {
    /// Its name.
    pub name: String,
    /// Its 11-digit fiscal code.
    pub fiscal_code: String,
}

/// A member of staff, as the agent reads it.
pub use kiosk::config::Operator;

/// What enrollment established.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The adapter's base URL.
    pub url: String,
    /// The id the adapter gave the device.
    pub device_id: u64,
    /// The device key.
    pub key_file: PathBuf,
    /// The pinned certificate (`None` for plain HTTP on loopback).
    pub ca_file: Option<PathBuf>,
    /// The device's name, as registered.
    pub name: String,
    /// Kiosk or counter.
    pub mode: DeviceKind,
    /// The comune.
    pub comune: CreditorFiscalCode,
    /// Its name.
    pub comune_name: String,
    /// Where the station stands.
    pub location: String,
    /// The journal.
    pub journal_path: PathBuf,
    /// The devices.
    pub devices: Chosen,
    /// Receipt details given on the command line (they win over the installer's).
    pub psp: Option<Psp>,
    /// Staff given on the command line (replacing the installer's with the same id).
    pub operators: Vec<Operator>,
}

/// The configuration at `path` as a TOML table, or `None` if there is no file.
pub fn read(path: &Path) -> Result<Option<Table>, ProvisionError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ProvisionError::File {
                action: "reading",
                path: path.to_owned(),
                source,
            });
        }
    };
    text.parse::<Table>()
        .map(Some)
        .map_err(|e| kiosk::config::ConfigError::Syntax(e.to_string()).into())
}

/// Who the configuration says this device is, if anyone: `Some("id 12")`.
pub fn enrolled_as(table: &Table) -> Option<String> {
    let adapter = table.get("adapter")?.as_table()?;
    if let Some(id) = adapter.get("device_id").and_then(Value::as_integer) {
        return Some(format!("id {id}"));
    }
    adapter
        .get("credential")
        .map(|_| "a device registered by hand".to_owned())
}

/// Takes a section out of the table to amend it (a fresh one if absent or not a table); put it
/// back with `insert`.
fn take(table: &mut Table, name: &str) -> Table {
    match table.remove(name) {
        Some(Value::Table(t)) => t,
        _ => Table::new(),
    }
}

fn text(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn path_text(p: &Path) -> Value {
    text(p.display().to_string())
}

/// The configuration for an enrolled device, on top of the installer's `template` if any.
pub fn render(template: Option<Table>, e: &Enrolled) -> Result<String, ProvisionError> {
    let mut t = template.unwrap_or_default();
    t.insert("mode".into(), text(e.mode.as_str()));
    let name: String = e
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect();
    t.insert("name".into(), text(name));
    t.insert("journal_path".into(), path_text(&e.journal_path));
    t.insert("location".into(), text(e.location.clone()));

    let mut adapter = take(&mut t, "adapter");
    adapter.remove("credential");
    adapter.insert("url".into(), text(e.url.clone()));
    adapter.insert("key_file".into(), path_text(&e.key_file));
    adapter.insert(
        "device_id".into(),
        Value::Integer(i64::try_from(e.device_id).unwrap_or(i64::MAX)),
    );
    match &e.ca_file {
        Some(ca) => adapter.insert("ca_file".into(), path_text(ca)),
        None => adapter.remove("ca_file"),
    };
    t.insert("adapter".into(), Value::Table(adapter));

    let mut comune = take(&mut t, "comune");
    comune.insert("fiscal_code".into(), text(e.comune.as_str()));
    comune.insert("name".into(), text(e.comune_name.clone()));
    t.insert("comune".into(), Value::Table(comune));

    let mut receipt = take(&mut t, "receipt");
    if let Some(psp) = &e.psp {
        receipt.insert("psp_name".into(), text(psp.name.clone()));
        receipt.insert("psp_fiscal_code".into(), text(psp.fiscal_code.clone()));
    }
    if !(receipt.contains_key("psp_name") && receipt.contains_key("psp_fiscal_code")) {
        return Err(ProvisionError::Missing(
            "the receipt needs the PSP's name and fiscal code: pass --psp-name and --psp-fiscal-code, or install a configuration with a [receipt] section first".into(),
        ));
    }
    t.insert("receipt".into(), Value::Table(receipt));

    // A counter takes cash offline by default, which needs the cash fee schedule; only the
    // installer knows it, so without one offline cash stays off until it is configured.
    let mut offline = take(&mut t, "offline");
    if !offline.contains_key("cash_fee") && !offline.contains_key("enabled") {
        offline.insert("enabled".into(), Value::Boolean(false));
    }
    t.insert("offline".into(), Value::Table(offline));

    if !e.operators.is_empty() {
        let mut list = match t.remove("operators") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        for o in &e.operators {
            list.retain(|v| v.get("id").and_then(Value::as_str) != Some(o.id.as_str()));
            let mut entry = Table::new();
            entry.insert("id".into(), text(o.id.clone()));
            entry.insert("name".into(), text(o.name.clone()));
            entry.insert("pin_hash".into(), text(o.pin_hash.clone()));
            list.push(Value::Table(entry));
        }
        t.insert("operators".into(), Value::Array(list));
    }

    let sim = [&e.devices.scanner, &e.devices.printer, &e.devices.terminal]
        .iter()
        .any(|d| d.as_deref() == Some("sim"));
    let mut devices = take(&mut t, "devices");
    for (key, value) in [
        ("scanner", &e.devices.scanner),
        ("printer", &e.devices.printer),
        ("terminal", &e.devices.terminal),
    ] {
        devices.insert(key.into(), text(value.as_deref().unwrap_or("none")));
    }
    if let Some(id) = &e.devices.terminal_id {
        devices.insert("terminal_id".into(), text(id.clone()));
    }
    if e.devices.printer.is_none() {
        // The drawer opens through the printer.
        devices.insert("drawer".into(), Value::Boolean(false));
    }
    t.insert("devices".into(), Value::Table(devices));
    if sim && !t.contains_key("demo") {
        t.insert("demo".into(), Value::Table(Table::new()));
    }
    let out = toml::to_string(&t).map_err(|e| ProvisionError::Missing(e.to_string()))?;
    Ok(format!(
        "# Written by `provision enroll` for device {} ({}). Settings the adapter manages are\n# pulled by the agent; the rest may be edited by hand (`kiosk check-config` checks it).\n{out}",
        e.device_id,
        e.mode.as_str()
    ))
}

/// The configuration without the device's credential: the agent will refuse to start until the
/// device is enrolled again.
pub fn without_credential(mut table: Table) -> Result<String, ProvisionError> {
    if let Some(adapter) = table.get_mut("adapter").and_then(Value::as_table_mut) {
        adapter.remove("credential");
        adapter.remove("key_file");
        adapter.remove("device_id");
    }
    let out = toml::to_string(&table).map_err(|e| ProvisionError::Missing(e.to_string()))?;
    Ok(format!(
        "# Unenrolled by `provision unenroll`: enroll again with `provision enroll`.\n{out}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolled(mode: DeviceKind, devices: Chosen) -> Enrolled {
        Enrolled {
            url: "https://adapter.example".into(),
            device_id: 7,
            key_file: "/etc/pagopa-kiosk/device.key".into(),
            ca_file: Some("/etc/pagopa-kiosk/adapter-ca.pem".into()),
            name: "tivoli-anagrafe".into(),
            mode,
            comune: CreditorFiscalCode::parse("02438750586", pagopa::CheckMode::Strict)
                .expect("cf"),
            comune_name: "Roma Capitale".into(),
            location: "Ufficio anagrafe, piano terra".into(),
            journal_path: "/var/lib/pagopa-kiosk/journal.db".into(),
            devices,
            psp: Some(Psp {
                name: "Roma Capitale (intermediario)".into(),
                fiscal_code: "02438750586".into(),
            }),
            operators: vec![Operator {
                id: "mrossi".into(),
                name: "Mario Rossi".into(),
                pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
            }],
        }
    }

    #[test]
    fn a_fresh_counter_configuration_is_what_the_agent_accepts() {
        let devices = Chosen {
            scanner: Some("/dev/serial/by-id/usb-scanner".into()),
            printer: Some("tcp://192.168.1.20:9100".into()),
            terminal: Some("tcp://192.168.1.21:10000".into()),
            terminal_id: Some("12345678".into()),
        };
        let text = render(None, &enrolled(DeviceKind::Counter, devices)).expect("render");
        let c = kiosk::config::Config::from_toml(&text).expect("valid");
        assert_eq!(c.mode, DeviceKind::Counter);
        assert_eq!(c.location, "Ufficio anagrafe, piano terra");
        assert_eq!(c.devices.terminal_id, "12345678");
        assert!(!c.offline.enabled, "no cash fee schedule: offline cash off");
        assert_eq!(
            c.adapter.credential,
            kiosk::config::DeviceCredential::Key {
                device_id: 7,
                key_file: "/etc/pagopa-kiosk/device.key".into()
            }
        );
    }

    #[test]
    fn a_template_keeps_its_settings_and_loses_its_old_credential() {
        let template: Table = r#"
mode = "kiosk"
name = "x"
journal_path = "/tmp/j.db"
[adapter]
url = "https://old"
credential = "old-secret"
timeout_ms = 20000
[comune]
fiscal_code = "00000000000"
name = "x"
[receipt]
psp_name = "Installer PSP"
psp_fiscal_code = "02438750586"
footer = ["Conservare la ricevuta"]
"#
        .parse()
        .expect("toml");
        assert_eq!(
            enrolled_as(&template).as_deref(),
            Some("a device registered by hand")
        );
        let mut e = enrolled(
            DeviceKind::Kiosk,
            Chosen {
                terminal: Some("sim".into()),
                ..Chosen::default()
            },
        );
        e.psp = None;
        let text = render(Some(template), &e).expect("render");
        let c = kiosk::config::Config::from_toml(&text).expect("valid");
        assert_eq!(c.receipt.psp_name, "Installer PSP");
        assert_eq!(c.receipt.footer, ["Conservare la ricevuta"]);
        assert_eq!(c.adapter.timeout.as_millis(), 20_000);
        assert!(c.demo.is_some(), "simulated devices need the demo section");
        let table: Table = text.parse().expect("toml");
        assert_eq!(enrolled_as(&table).as_deref(), Some("id 7"));
        let gone: Table = without_credential(table)
            .expect("unenroll")
            .parse()
            .expect("toml");
        assert_eq!(enrolled_as(&gone), None);
    }

    #[test]
    fn without_receipt_details_the_technician_is_told_what_to_pass() {
        let mut e = enrolled(DeviceKind::Counter, Chosen::default());
        e.psp = None;
        let err = render(None, &e).expect_err("missing");
        assert!(err.to_string().contains("--psp-name"), "{err}");
    }
}
