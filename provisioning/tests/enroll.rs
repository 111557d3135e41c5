//! `provision enroll`, `status`, `rotate-credential` and `unenroll`, run as the real binary
//! against the real channel adapter, started in this process over TLS on loopback with the
//! adapter's test certificate; enrollment codes are made with the adapter's own library
//! function (what `channel-adapter device enroll-code` calls).

mod common;

use common::TempDir;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use channel_adapter::ambient::{OsRandom, SystemClock};
use channel_adapter::store::Store;
use channel_api::{DeviceKind, Timestamp};
use kiosk::adapter::AdapterClient;
use kiosk::config::{Config, DeviceCredential};
use kiosk::device_key::DeviceKey;
use kiosk::flow::Failure;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

const COMUNE: &str = "02438750586";

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../channel-adapter/tests/fixtures"
    ))
}

/// The files under `dir`, recursively (what a refused enrollment must not leave).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let path = e.expect("entry").path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The real adapter, serving HTTPS on loopback until dropped.
struct Adapter {
    runtime: tokio::runtime::Runtime,
    store: Arc<Store>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
}

impl Adapter {
    /// `whole_chain`: the adapter presents its certificate and the CA (else the leaf only).
    fn start(whole_chain: bool) -> Adapter {
        let dir = TempDir::new("enroll-adapter");
        let store_path = dir.join("adapter.db");
        let toml = format!(
            r#"
listen = "127.0.0.1:0"
store_path = "{}"
check_digits = "lenient"

[psp]
id_psp = "AGID_01"
id_broker_psp = "97735020584"
id_channel = "97735020584_03"
password = "pwdpwdpwd"
subscription_key = "0123456789abcdef"
fiscal_code = "97735020584"

[nodo]
url = "http://127.0.0.1:9/nodo"

[fees.kiosk]
card = 120

[fees.counter]
card = 100
cash = [{{ up_to_cents = 5000, fee_cents = 100 }}, {{ fee_cents = 150 }}]
"#,
            store_path.display()
        );
        let config = channel_adapter::config::Config::from_toml(&toml, Vec::new()).expect("config");
        let store = Arc::new(Store::open(&store_path).expect("store"));
        let state = channel_adapter::app_state(
            Arc::new(config),
            Arc::clone(&store),
            Arc::new(SystemClock),
            Arc::new(OsRandom),
            None,
        );
        let cert = if whole_chain {
            let chain = dir.join("chain.pem");
            let mut pem = std::fs::read_to_string(fixtures().join("server.pem")).expect("leaf");
            pem.push_str(&std::fs::read_to_string(fixtures().join("ca.pem")).expect("ca"));
            std::fs::write(&chain, pem).expect("chain");
            chain
        } else {
            fixtures().join("server.pem")
        };
        let tls = channel_adapter::server::load_tls(&cert, &fixtures().join("server.key"))
            .expect("test certificate");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let bound = runtime
            .block_on(channel_adapter::server::Bound::bind(
                "127.0.0.1:0".parse().expect("addr"),
                Some(tls),
            ))
            .expect("bind");
        let port = bound.local_addr().expect("addr").port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(bound.serve(channel_adapter::api::router(state), async {
            let _ = stopped.await;
        }));
        Adapter {
            runtime,
            store,
            url: format!("https://127.0.0.1:{port}"),
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// A one-time code issued `age` ago, working for `ttl`.
    fn code_issued(&self, kind: DeviceKind, ttl: Duration, age: Duration) -> String {
        let now = SystemClock::now_ms() - i64::try_from(age.as_millis()).expect("age");
        channel_adapter::enroll::create_code(
            &self.store,
            &OsRandom,
            &channel_adapter::enroll::CodeRequest {
                comune: COMUNE,
                location: "Ufficio anagrafe, piano terra",
                kind,
                ttl,
                created_by: "test",
            },
            Timestamp::from_unix_millis(now),
        )
        .expect("code")
        .code
        .display()
    }

    fn code(&self, kind: DeviceKind) -> String {
        self.code_issued(kind, Duration::from_secs(3600), Duration::ZERO)
    }

    /// `GET /v1/device` signed with `key` as `device_id`, through the agent's own client.
    fn device_status_with(
        &self,
        ca_file: &Path,
        device_id: u64,
        key: DeviceKey,
    ) -> Result<channel_api::fleet::DeviceStatus, Failure> {
        let client = AdapterClient::for_enrollment(&self.url, Some(ca_file))
            .expect("client")
            .signed_by(device_id, key);
        self.runtime.block_on(client.device_status())
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

trait NowMs {
    fn now_ms() -> i64;
}

impl NowMs for SystemClock {
    fn now_ms() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_millis(),
        )
        .expect("ms")
    }
}

/// Where a station's files go in a test.
struct Station {
    dir: TempDir,
}

impl Station {
    fn new(name: &str) -> Station {
        Station {
            dir: TempDir::new(&format!("enroll-{name}")),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.join("etc/kiosk.toml")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("etc/device.key")
    }

    fn pin(&self) -> PathBuf {
        self.dir.join("etc/adapter-ca.pem")
    }

    fn enroll(&self, adapter: &Adapter, code: &str, extra: &[&str]) -> Output {
        let config = self.config();
        let data = self.dir.join("var");
        let mut args = vec![
            "enroll",
            "--adapter",
            &adapter.url,
            "--code",
            code,
            "--config",
            config.to_str().expect("utf-8"),
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--sim-devices",
            "--psp-name",
            "Roma Capitale (intermediario)",
            "--psp-fiscal-code",
            COMUNE,
        ];
        args.extend_from_slice(extra);
        // The PIN of `--operator`, when given.
        provision_with_input(&args, "2468\n")
    }

    fn run(&self, command: &str, extra: &[&str]) -> Output {
        let config = self.config();
        let mut args = vec![command, "--config", config.to_str().expect("utf-8")];
        args.extend_from_slice(extra);
        provision(&args)
    }
}

fn provision(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .output()
        .expect("run provision")
}

fn provision_with_input(args: &[&str], input: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_provision"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run provision");
    // It may not read it all (no --operator): a closed pipe is fine.
    let _ = child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes());
    child.wait_with_output().expect("provision's output")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn der_of(pem: &Path) -> Vec<Vec<u8>> {
    CertificateDer::pem_file_iter(pem)
        .expect("pem")
        .map(|c| c.expect("certificate").as_ref().to_vec())
        .collect()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn enroll_status_rotate_and_unenroll_end_to_end() {
    let adapter = Adapter::start(true);
    let station = Station::new("e2e");
    // The administrator reads out the first 16 hex digits of what `enroll-code` printed.
    let fingerprint =
        channel_adapter::enroll::certificate_fingerprint(&fixtures().join("server.pem"))
            .expect("fingerprint");
    let prefix: String = fingerprint.chars().filter(|c| *c != ':').take(16).collect();
    let code = adapter.code(DeviceKind::Kiosk);
    let out = station.enroll(&adapter, &code, &["--fingerprint", &prefix]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for line in [
        "✓ certificate: SHA-256",
        "✓ key: Ed25519 key pair generated on this device",
        "✓ enrolled: device",
        "✓ configuration:",
        "✓ printer: simulated, online, paper ok",
        "POSTAZIONE ATTIVATA",
        "Autodiagnosi:",
    ] {
        assert!(all.contains(line), "{line:?} missing from:\n{all}");
    }

    // The files: the key readable by its owner only, the CA pinned, a configuration the agent
    // accepts.
    assert_eq!(mode_of(&station.key()), 0o600);
    assert_eq!(
        der_of(&station.pin()),
        der_of(&fixtures().join("ca.pem")),
        "the top of the presented chain (the CA) is pinned"
    );
    let config = Config::load(&station.config()).expect("the agent accepts the configuration");
    assert_eq!(config.mode, DeviceKind::Kiosk);
    assert_eq!(config.location, "Ufficio anagrafe, piano terra");
    assert_eq!(config.comune.fiscal_code.as_str(), COMUNE);
    assert_eq!(
        config.adapter.ca_file.as_deref(),
        Some(station.pin().as_path())
    );
    let DeviceCredential::Key {
        device_id,
        key_file,
    } = config.adapter.credential.clone()
    else {
        panic!(
            "an enrolled credential, got {:?}",
            config.adapter.credential
        );
    };
    assert_eq!(key_file, station.key());
    assert!(all.contains(&format!("n. {device_id}")), "{all}");
    let no_leftovers: Vec<_> = files_under(&station.dir.0)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".enrolling"))
        .collect();
    assert!(no_leftovers.is_empty(), "{no_leftovers:?}");

    // Status: both views.
    let out = station.run("status", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(&format!("✓ device: id {device_id}")), "{all}");
    assert!(all.contains("(mode 600"), "{all}");
    assert!(all.contains("✓ adapter view: enrolled"), "{all}");

    // Rotation: the old key stops working, the new one works.
    let old = DeviceKey::load(&station.key()).expect("old key");
    let old_pem = old.to_pem();
    let out = station.run("rotate-credential", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("✓ rotated"), "{all}");
    assert_eq!(mode_of(&station.key()), 0o600);
    let new = DeviceKey::load(&station.key()).expect("new key");
    assert_ne!(new.to_pem(), old_pem);
    // The adapter answers a refusal for `key`, not silence.
    let refused = |key: DeviceKey, why: &str| {
        let refused = adapter
            .device_status_with(&station.pin(), device_id, key)
            .expect_err(why);
        assert!(
            matches!(&refused, Failure::Refused { .. }),
            "a refusal, not silence: {refused:?}"
        );
    };
    refused(old, "the old key is refused");
    let new_pem = new.to_pem();
    adapter
        .device_status_with(&station.pin(), device_id, new)
        .expect("the new key is accepted");

    // Unenroll: the adapter refuses the device, the key is gone, the agent will not start.
    let out = station.run("unenroll", &["--yes"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!station.key().exists());
    let key = DeviceKey::from_pem(&new_pem).expect("key");
    refused(key, "refused after unenrollment");
    assert!(Config::load(&station.config()).is_err());
    let out = station.run("status", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("NOT_ENROLLED"), "{all}");
}

/// The enrolled station's device id, from its configuration.
fn device_id_of(station: &Station) -> u64 {
    match Config::load(&station.config())
        .expect("config")
        .adapter
        .credential
    {
        DeviceCredential::Key { device_id, .. } => device_id,
        other => panic!("not enrolled: {other:?}"),
    }
}

fn enrolled(adapter: &Adapter, name: &str) -> Station {
    let station = Station::new(name);
    let out = station.enroll(
        adapter,
        &adapter.code(DeviceKind::Counter),
        &["--no-print", "--operator", "mrossi:Mario Rossi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    station
}

#[test]
fn a_used_code_is_refused_and_nothing_is_written() {
    // The adapter presents its certificate alone; the technician brought the CA.
    let adapter = Adapter::start(false);
    let ca = fixtures().join("ca.pem");
    let ca_arg = ca.to_str().expect("utf-8");
    let first = Station::new("first");
    let code = adapter.code(DeviceKind::Counter);
    let out = first.enroll(
        &adapter,
        &code,
        &[
            "--ca",
            ca_arg,
            "--no-print",
            "--operator",
            "mrossi:Mario Rossi",
        ],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("verified with"), "{all}");
    assert_eq!(der_of(&first.pin()), der_of(&ca), "the CA given is pinned");
    assert!(!all.contains("POSTAZIONE ATTIVATA"), "--no-print: {all}");

    let second = Station::new("second");
    let out = second.enroll(&adapter, &code, &["--ca", ca_arg]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("✗ ENROLLMENT_CODE_USED"), "{all}");
    assert!(
        all.contains("ask the administrator for a new code"),
        "{all}"
    );
    assert_eq!(files_under(&second.dir.0), Vec::<PathBuf>::new());
}

#[test]
fn an_expired_code_is_refused_and_nothing_is_written() {
    let adapter = Adapter::start(true);
    let station = Station::new("expired");
    let code = adapter.code_issued(
        DeviceKind::Kiosk,
        Duration::from_secs(60),
        Duration::from_secs(120),
    );
    let out = station.enroll(&adapter, &code, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("✗ ENROLLMENT_CODE_EXPIRED"), "{all}");
    assert_eq!(files_under(&station.dir.0), Vec::<PathBuf>::new());
}

#[test]
fn a_wrong_fingerprint_stops_before_the_code_is_spent() {
    let adapter = Adapter::start(true);
    let station = Station::new("mismatch");
    let code = adapter.code(DeviceKind::Kiosk);
    let out = station.enroll(
        &adapter,
        &code,
        &["--fingerprint", "00:11:22:33:44:55:66:77"],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(6), "{all}");
    assert!(
        all.contains("✗ CERTIFICATE_MISMATCH: certificate mismatch"),
        "{all}"
    );
    assert!(
        all.contains("00:11:22:33:44:55:66:77"),
        "expected shown: {all}"
    );
    let presented =
        channel_adapter::enroll::certificate_fingerprint(&fixtures().join("server.pem"))
            .expect("fingerprint");
    assert!(
        all.to_uppercase().contains(&presented.to_uppercase()),
        "presented shown: {all}"
    );
    assert_eq!(files_under(&station.dir.0), Vec::<PathBuf>::new());
    // The code was not spent: the right certificate enrolls with it.
    let out = station.enroll(&adapter, &code, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_enrolled_configuration_is_not_replaced_without_force() {
    let adapter = Adapter::start(true);
    let station = enrolled(&adapter, "exists");
    let before = std::fs::read(station.config()).expect("config");
    let code = adapter.code(DeviceKind::Counter);
    let out = station.enroll(&adapter, &code, &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("✗ CONFIG_EXISTS"), "{all}");
    assert_eq!(std::fs::read(station.config()).expect("config"), before);
    // The code is still good: --force replaces the device.
    let old_id = device_id_of(&station);
    let out = station.enroll(
        &adapter,
        &code,
        &["--force", "--no-print", "--operator", "mrossi:Mario Rossi"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_ne!(device_id_of(&station), old_id);
}

#[test]
fn an_interrupted_rotation_is_finished_or_rolled_back() {
    let adapter = Adapter::start(true);
    let station = enrolled(&adapter, "interrupted");
    let device_id = device_id_of(&station);
    let pending = station.dir.join("etc/device.key.new");

    // Cut after the adapter took the new key, before it replaced the old one.
    let new = DeviceKey::generate().expect("key");
    new.save(&pending).expect("save");
    let config = Config::load(&station.config()).expect("config");
    let client = AdapterClient::new(&config.adapter).expect("client");
    adapter
        .runtime
        .block_on(
            client.rotate_credential(&channel_api::fleet::RotateCredentialRequest {
                public_key: new.public_key(),
            }),
        )
        .expect("rotated on the adapter");
    let out = station.run("rotate-credential", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("had reached the adapter: finished"), "{all}");
    assert!(!pending.exists());
    assert_eq!(
        DeviceKey::load(&station.key()).expect("key").public_key(),
        new.public_key()
    );

    // Cut before the adapter heard of it: rolled back, then rotated for real.
    DeviceKey::generate()
        .expect("key")
        .save(&pending)
        .expect("save");
    let out = station.run("rotate-credential", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("had not reached the adapter: rolled back"),
        "{all}"
    );
    assert!(all.contains("✓ rotated"), "{all}");
    assert!(!pending.exists());
    let current = DeviceKey::load(&station.key()).expect("key");
    assert_ne!(current.public_key(), new.public_key());
    adapter
        .device_status_with(&station.pin(), device_id, current)
        .expect("the device still has a working key");
}

#[test]
fn unenroll_asks_for_confirmation() {
    let adapter = Adapter::start(true);
    let station = enrolled(&adapter, "confirm");
    let out = station.run("unenroll", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("NOT_CONFIRMED"), "{all}");
    assert!(station.key().exists());
    let out = station.run("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn an_unreachable_adapter_is_said_so() {
    let station = Station::new("unreachable");
    let out = provision(&[
        "enroll",
        "--adapter",
        "https://127.0.0.1:1",
        "--code",
        "AAAA-BBBB-CCCC",
        "--config",
        station.config().to_str().expect("utf-8"),
        "--data-dir",
        station.dir.join("var").to_str().expect("utf-8"),
        "--psp-name",
        "x",
        "--psp-fiscal-code",
        COMUNE,
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("✗ ADAPTER_UNREACHABLE"), "{all}");
    assert!(all.contains("check the network"), "{all}");
    assert_eq!(files_under(&station.dir.0), Vec::<PathBuf>::new());
}

#[test]
fn a_revoked_device_is_told_so_by_status() {
    let adapter = Adapter::start(true);
    let station = enrolled(&adapter, "revoked");
    let id = device_id_of(&station).to_string();
    channel_adapter::devices::revoke(
        &adapter.store,
        &id,
        Timestamp::from_unix_millis(SystemClock::now_ms()),
    )
    .expect("revoke");
    let out = station.run("status", &[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(8), "{all}");
    assert!(all.contains("this device is REVOKED"), "{all}");
}

/// Writes to `journal` an offline cash payment the adapter has not received yet, as the agent
/// would have while the adapter was unreachable.
fn queue_offline_payment(journal: &Path) {
    use kiosk::flow::{Event, FlowId, NoticeRef, OfflineDecision};
    use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};
    let mut journal = kiosk::journal::Journal::open(journal).expect("journal");
    let flow = FlowId::parse("261127-AAAAAAAAAAAA").expect("flow id");
    let cents = |c| Amount::from_cents(c).expect("amount");
    let notice = NoticeRef {
        notice_number: NoticeNumber::parse("301000000000012373", CheckMode::Lenient)
            .expect("notice"),
        fiscal_code: CreditorFiscalCode::parse(COMUNE, CheckMode::Lenient).expect("cf"),
        printed_amount: Some(cents(1000)),
        format: "qr".into(),
    };
    let events = [
        Event::Started {
            flow: flow.clone(),
            mode: DeviceKind::Counter,
            notice,
            operator: Some("mrossi".into()),
        },
        Event::Verified {
            result: Err(Failure::Unreachable {
                detail: "down".into(),
            }),
            offline: Some(OfflineDecision::Allowed { fee: cents(100) }),
        },
        Event::Confirmed {
            tender: Some(channel_api::Tender::Cash),
        },
        Event::Pay {
            tender: channel_api::Tender::Cash,
            tendered: Some(cents(1100)),
            operator: Some("mrossi".into()),
        },
        Event::Drawer { error: None },
    ];
    let now = SystemClock::now_ms();
    for (i, event) in events.into_iter().enumerate() {
        let record = kiosk::record::Record::event(flow.clone(), event);
        journal
            .append(
                Timestamp::from_unix_millis(now + i64::try_from(i).expect("i")),
                &record.kind(),
                &record.body().expect("body"),
            )
            .expect("append");
    }
}

#[test]
fn unenroll_refuses_while_offline_payments_are_queued() {
    let adapter = Adapter::start(true);
    let station = enrolled(&adapter, "queued");
    let config = Config::load(&station.config()).expect("config");
    queue_offline_payment(&config.journal_path);
    let out = station.run("unenroll", &["--yes"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(all.contains("✗ QUEUE_NOT_EMPTY"), "{all}");
    assert!(all.contains("1 offline payment(s)"), "{all}");
    assert!(station.key().exists(), "nothing removed");
    // The device is still enrolled on the adapter.
    let out = station.run("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // --force goes ahead, and says what is lost.
    let out = station.run("unenroll", &["--yes", "--force"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("unenrolling anyway (--force)"), "{all}");
    assert!(!station.key().exists());
}

#[test]
fn an_adapter_presenting_only_its_certificate_gets_that_certificate_pinned() {
    let adapter = Adapter::start(false);
    let station = Station::new("leaf");
    let out = station.enroll(&adapter, &adapter.code(DeviceKind::Kiosk), &["--no-print"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("trusted on first use"), "{all}");
    assert_eq!(
        der_of(&station.pin()),
        der_of(&fixtures().join("server.pem"))
    );
    // The agent's client trusts exactly that certificate.
    let out = station.run("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
