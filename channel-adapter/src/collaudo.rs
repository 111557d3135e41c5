//! `channel-adapter collaudo`: the PSP certification scenarios ("collaudo") pagoPA asks a
//! channel to run in its test environment, with every raw SOAP request and response saved as
//! one XML file, as the certification asks for.
//!
//! The scenarios, each on a notice of its own (a notice can be paid once):
//! 1. `verify`: verifyPaymentNotice of a payable notice;
//! 2. `outcome-ok`: verify, activate, sendPaymentOutcome OK;
//! 3. `outcome-ko`: verify, activate, sendPaymentOutcome KO;
//! 4. `activate-same-key`: the same activation sent twice with the same idempotency key: the
//!    Nodo must answer with the same token (then a KO releases the notice);
//! 5. `outcome-lost-answer`: an outcome whose answer is lost, resent with the same body and
//!    key: the Nodo replays its answer. Against the simulator the answer really is lost
//!    (fault injection); against pagoPA the first answer is discarded by us;
//! 6. `late-outcome`: an OK outcome after the token expired: `PPT_TOKEN_SCADUTO`, accepted
//!    late. Against the simulator its clock is moved past the expiry; against pagoPA the
//!    activation asks for a short token lifetime and the scenario waits it out.
//!
//! Files are named `NN-<scenario>-<primitive>-request.xml` / `-response.xml` (NN = order of
//! sending), so the primitive is visible in the name. The channel password is masked with
//! eight `*` (still valid for the schema). A `summary.txt` lists each scenario's result, and
//! the calls are journaled like any other in `journal.sqlite`.
//!
//! Notices: by default the test creditor `77777777777` with notice numbers `30201` + 13 random
//! digits, the "payable, 100.00 EUR" scenario of pagoPA's mock creditor (which nodo-sim
//! reproduces); both can be changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pagopa::fault::{Action, FaultCode};
use pagopa::soap::{
    ActivatePaymentNoticeRequest, ActivatePaymentNoticeV2Request, BoundedVec, ExpirationTime,
    FeePaymentMethod, IdempotencyKey, Outcome, OutcomeDetails, OutcomeDetailsV2, PaymentChannel,
    PaymentMethod, PaymentToken, QrCode, SendPaymentOutcomeRequest, SendPaymentOutcomeV2Request,
    TouchPoint, VerifyPaymentNoticeRequest,
};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, NoticeNumber};

use crate::ambient::{Clock, Random};
use crate::calls::{new_idempotency_key, rome_date};
use crate::config::{Config, Primitives};
use crate::metrics::Metrics;
use crate::nodo::record::RecordingClient;
use crate::nodo::{
    ActivateCall, Activated, Deadlines, Gateway, NodoClient, OutcomeCall, Reply, redact_password,
};
use crate::store::{Store, StoreError};

/// Why `collaudo` could not run (a failed scenario is not an error: it is in the report).
/// The codes are stable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollaudoError {
    /// A file or directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The journal failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A notice number could not be made from the prefix.
    #[error("notice prefix {0:?}: expected 1 to 17 digits")]
    NoticePrefix(String),
    /// No idempotency key could be made.
    #[error("cannot make an idempotency key: {0}")]
    Key(String),
}

impl CollaudoError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CollaudoError::Io { .. } => "COLLAUDO_IO",
            CollaudoError::Store(e) => e.code(),
            CollaudoError::NoticePrefix(_) => "COLLAUDO_NOTICE_PREFIX",
            CollaudoError::Key(_) => "COLLAUDO_KEY",
        }
    }
}

/// What the run may do to the other side.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// pagoPA's test environment (or any real Nodo): nothing can be injected.
    Nodo,
    /// An in-process simulator: answers can be lost and its clock moved.
    Simulator(&'a nodo_sim::Simulator),
}

/// What to run against.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the files go (created if missing).
    pub out: PathBuf,
    /// The creditor of the test notices.
    pub creditor: CreditorFiscalCode,
    /// The first digits of the test notice numbers; the rest is random.
    pub notice_prefix: String,
    /// The token lifetime asked for in the late-outcome scenario against a real Nodo.
    pub short_lifetime: Duration,
}

impl Options {
    /// Notices of `creditor` numbered `30201…` (its "payable, 100.00 EUR" scenario), 3-second
    /// tokens for the late outcome against a real Nodo.
    pub fn new(out: PathBuf, creditor: CreditorFiscalCode) -> Options {
        Options {
            out,
            creditor,
            notice_prefix: "30201".to_owned(),
            short_lifetime: Duration::from_secs(3),
        }
    }
}

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioResult {
    /// Its name (as in the file names).
    pub name: &'static str,
    /// Whether the Nodo behaved as the SANP says.
    pub passed: bool,
    /// What happened.
    pub detail: String,
    /// The files written for it.
    pub files: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The scenarios, in order.
    pub scenarios: Vec<ScenarioResult>,
}

impl Report {
    /// Whether every scenario passed.
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(|s| s.passed)
    }

    /// The report as text (also written to `summary.txt`).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in &self.scenarios {
            let _ = writeln!(
                s,
                "{} {:<22} {}",
                if r.passed { "PASS" } else { "FAIL" },
                r.name,
                r.detail
            );
            for f in &r.files {
                let _ = writeln!(s, "       {f}");
            }
        }
        let _ = writeln!(
            s,
            "{} of {} scenarios passed",
            self.scenarios.iter().filter(|r| r.passed).count(),
            self.scenarios.len()
        );
        s
    }
}

/// Runs the scenarios and writes the files.
struct Runner<'a> {
    config: &'a Config,
    gateway: Gateway,
    recorder: RecordingClient,
    random: &'a dyn Random,
    clock: &'a dyn Clock,
    options: &'a Options,
    target: Target<'a>,
    sent: u32,
}

type Step<T> = Result<T, String>;

impl Runner<'_> {
    fn key(&self) -> Result<IdempotencyKey, String> {
        new_idempotency_key(self.config, self.random).map_err(|e| e.to_string())
    }

    fn notice(&self) -> Result<NoticeNumber, String> {
        let prefix = &self.options.notice_prefix;
        let mut digits = prefix.clone();
        let mut buf = [0u8; 32];
        self.random.fill(&mut buf).map_err(|e| e.to_string())?;
        for b in buf {
            if digits.len() == 18 {
                break;
            }
            // 250 = 25 × 10: values above are skipped so every digit is equally likely.
            if b < 250 {
                digits.push(char::from(b'0' + b % 10));
            }
        }
        NoticeNumber::parse(&digits, CheckMode::Lenient).map_err(|e| e.to_string())
    }

    async fn verify(&self, notice: NoticeNumber) -> Step<Amount> {
        let request = VerifyPaymentNoticeRequest {
            psp: self.config.psp.identity.clone(),
            qr_code: QrCode {
                fiscal_code: self.options.creditor,
                notice_number: notice,
            },
        };
        match self
            .gateway
            .verify(&request)
            .await
            .map_err(|e| e.to_string())?
        {
            Reply::Ok(v) => v
                .payment_options
                .first()
                .map(|o| o.amount.get())
                .ok_or_else(|| "verify OK without paymentList".to_owned()),
            other => Err(format!("verify: {}", other.summary())),
        }
    }

    fn activate_call(
        &self,
        notice: NoticeNumber,
        amount: Amount,
        key: IdempotencyKey,
        lifetime: Option<ExpirationTime>,
    ) -> ActivateCall {
        let base = ActivatePaymentNoticeRequest {
            psp: self.config.psp.identity.clone(),
            idempotency_key: Some(key),
            qr_code: QrCode {
                fiscal_code: self.options.creditor,
                notice_number: notice,
            },
            expiration_time: Some(lifetime.unwrap_or(self.config.nodo.token_lifetime)),
            amount,
            due_date: None,
            payment_note: None,
        };
        match self.config.nodo.primitives {
            Primitives::V1 => ActivateCall::V1(base),
            Primitives::V2 => ActivateCall::V2(ActivatePaymentNoticeV2Request {
                base,
                payment_method: Some(FeePaymentMethod::Po),
                touch_point: Some(TouchPoint::Psp),
            }),
        }
    }

    async fn activate(&self, call: &ActivateCall) -> Step<Activated> {
        match self
            .gateway
            .activate(None, call)
            .await
            .map_err(|e| e.to_string())?
        {
            Reply::Ok(a) => Ok(a),
            other => Err(format!("activate: {}", other.summary())),
        }
    }

    fn outcome_call(
        &self,
        token: PaymentToken,
        ok: bool,
        key: IdempotencyKey,
    ) -> Step<OutcomeCall> {
        let today = rome_date(self.clock.now()).ok_or("the clock is out of range")?;
        let tomorrow = today.add_days(1).map_err(|e| e.to_string())?;
        let fee = Amount::from_cents(100).map_err(|e| e.to_string())?;
        let outcome = if ok { Outcome::Ok } else { Outcome::Ko };
        Ok(match self.config.nodo.primitives {
            Primitives::V1 => OutcomeCall::V1(SendPaymentOutcomeRequest {
                psp: self.config.psp.identity.clone(),
                idempotency_key: Some(key),
                payment_token: token,
                outcome,
                details: ok.then_some(OutcomeDetails {
                    payment_method: PaymentMethod::Cash,
                    payment_channel: Some(PaymentChannel::FrontOffice),
                    fee,
                    payer: None,
                    application_date: today,
                    transfer_date: tomorrow,
                }),
            }),
            Primitives::V2 => OutcomeCall::V2(SendPaymentOutcomeV2Request {
                psp: self.config.psp.identity.clone(),
                idempotency_key: Some(key),
                payment_tokens: BoundedVec::one(token),
                outcome,
                details: ok.then_some(OutcomeDetailsV2 {
                    payment_method: PaymentMethod::Cash,
                    payment_channel: Some(PaymentChannel::FrontOffice),
                    fee,
                    primary_ci_incurred_fee: None,
                    id_bundle: None,
                    id_ci_bundle: None,
                    payer: None,
                    application_date: today,
                    transfer_date: tomorrow,
                    digital_stamps: None,
                }),
            }),
        })
    }

    async fn outcome(&self, call: &OutcomeCall) -> Step<Reply<()>> {
        self.gateway
            .send_outcome(None, call)
            .await
            .map_err(|e| e.to_string())
    }

    /// A payable notice, verified, and activated: (notice, token).
    async fn open(&self, lifetime: Option<ExpirationTime>) -> Step<(NoticeNumber, Activated)> {
        let notice = self.notice()?;
        let amount = self.verify(notice).await?;
        let call = self.activate_call(notice, amount, self.key()?, lifetime);
        Ok((notice, self.activate(&call).await?))
    }

    /// Write the exchanges recorded since the last call as files of `scenario`.
    fn save(&mut self, scenario: &str) -> Result<Vec<String>, CollaudoError> {
        let mut files = Vec::new();
        for x in self.recorder.take() {
            self.sent += 1;
            let stem = format!("{:02}-{scenario}-{}", self.sent, x.primitive.soap_action());
            let request = format!("{stem}-request.xml");
            write(
                &self.options.out.join(&request),
                &redact_password(&x.request),
            )?;
            files.push(request);
            match x.reply {
                Ok(reply) => {
                    let body = String::from_utf8_lossy(&reply.body);
                    let ext = if body.trim_start().starts_with('<') {
                        "xml"
                    } else {
                        "txt"
                    };
                    let response = format!("{stem}-response.{ext}");
                    write(&self.options.out.join(&response), &body)?;
                    files.push(response);
                }
                Err(why) => files.push(format!("(no response: {why})")),
            }
        }
        Ok(files)
    }

    async fn scenario_verify(&self) -> Step<String> {
        let amount = self.verify(self.notice()?).await?;
        Ok(format!("OK, amount {amount}"))
    }

    async fn scenario_outcome(&self, ok: bool) -> Step<String> {
        let (_, a) = self.open(None).await?;
        let call = self.outcome_call(a.payment_token().clone(), ok, self.key()?)?;
        match self.outcome(&call).await? {
            Reply::Ok(()) => Ok(format!(
                "activated {} (token {}), outcome {} accepted",
                a.total_amount(),
                a.payment_token().as_str(),
                if ok { "OK" } else { "KO" }
            )),
            other => Err(format!("outcome: {}", other.summary())),
        }
    }

    async fn scenario_same_key(&self) -> Step<String> {
        let notice = self.notice()?;
        let amount = self.verify(notice).await?;
        let call = self.activate_call(notice, amount, self.key()?, None);
        let first = self.activate(&call).await?;
        let second = self.activate(&call).await?;
        if first.payment_token() != second.payment_token() {
            return Err(format!(
                "the resend got another token: {} then {}",
                first.payment_token().as_str(),
                second.payment_token().as_str()
            ));
        }
        let release = self.outcome_call(first.payment_token().clone(), false, self.key()?)?;
        match self.outcome(&release).await? {
            Reply::Ok(()) => Ok(format!(
                "same token {} twice; released with KO",
                first.payment_token().as_str()
            )),
            other => Err(format!("release: {}", other.summary())),
        }
    }

    async fn scenario_lost_answer(&self) -> Step<String> {
        let (_, a) = self.open(None).await?;
        let call = self.outcome_call(a.payment_token().clone(), true, self.key()?)?;
        if let Target::Simulator(sim) = self.target {
            let mut plan = nodo_sim::FaultPlan::none();
            let lose_one = nodo_sim::PrimitiveFaults {
                drop_after_commit: nodo_sim::Trigger {
                    count: 1,
                    percent: 0,
                },
                ..nodo_sim::PrimitiveFaults::default()
            };
            plan.set(call.primitive(), lose_one)
                .map_err(|e| e.to_string())?;
            sim.set_faults(plan);
        }
        let first = self.outcome(&call).await?;
        if let Target::Simulator(sim) = self.target {
            sim.set_faults(nodo_sim::FaultPlan::none());
            if !matches!(
                first,
                Reply::Failed {
                    action: Action::ResendSame,
                    ..
                }
            ) {
                return Err(format!("expected a lost answer, got {}", first.summary()));
            }
        }
        match self.outcome(&call).await? {
            Reply::Ok(()) => Ok(format!(
                "first answer: {}; resent with the same key: OK (replayed)",
                first.summary()
            )),
            other => Err(format!("resend: {}", other.summary())),
        }
    }

    async fn scenario_late(&self) -> Step<String> {
        let lifetime = match self.target {
            Target::Simulator(_) => None,
            Target::Nodo => Some(
                ExpirationTime::from_millis(
                    u32::try_from(self.options.short_lifetime.as_millis()).unwrap_or(u32::MAX),
                )
                .map_err(|e| e.to_string())?,
            ),
        };
        let (_, a) = self.open(lifetime).await?;
        match self.target {
            Target::Simulator(sim) => {
                sim.advance_clock(u64::from(self.config.nodo.token_lifetime.as_millis()) + 60_000);
            }
            Target::Nodo => {
                tokio::time::sleep(self.options.short_lifetime + Duration::from_secs(2)).await;
            }
        }
        let call = self.outcome_call(a.payment_token().clone(), true, self.key()?)?;
        match self.outcome(&call).await? {
            Reply::Ko { fault, action } if fault.fault_code == FaultCode::PptTokenScaduto => {
                Ok(format!(
                    "{} after expiry: {} ({})",
                    call.primitive().soap_action(),
                    fault.fault_code,
                    action.code()
                ))
            }
            other => Err(format!(
                "expected PPT_TOKEN_SCADUTO, got {}",
                other.summary()
            )),
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), CollaudoError> {
    std::fs::write(path, text).map_err(|source| CollaudoError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Run the scenarios against `client` (the configured Nodo, or a simulator's endpoint) and
/// write the files into `options.out`.
pub async fn run(
    config: &Config,
    client: Arc<dyn NodoClient>,
    target: Target<'_>,
    options: &Options,
    clock: Arc<dyn Clock>,
    random: &dyn Random,
) -> Result<Report, CollaudoError> {
    if options.notice_prefix.is_empty()
        || options.notice_prefix.len() > 17
        || !options.notice_prefix.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(CollaudoError::NoticePrefix(options.notice_prefix.clone()));
    }
    std::fs::create_dir_all(&options.out).map_err(|source| CollaudoError::Io {
        path: options.out.clone(),
        source,
    })?;
    let store = Arc::new(Store::open(&options.out.join("journal.sqlite"))?);
    let recorder = RecordingClient::new(client);
    let gateway = Gateway::new(
        Arc::new(recorder.clone()),
        store,
        Arc::clone(&clock),
        Arc::new(Metrics::default()),
        Deadlines {
            verify: config.nodo.verify_timeout,
            activate: config.nodo.activate_timeout,
            outcome: config.nodo.outcome_timeout,
        },
    );
    let mut runner = Runner {
        config,
        gateway,
        recorder,
        random,
        clock: clock.as_ref(),
        options,
        target,
        sent: 0,
    };
    let mut scenarios = Vec::new();
    for name in [
        "verify",
        "outcome-ok",
        "outcome-ko",
        "activate-same-key",
        "outcome-lost-answer",
        "late-outcome",
    ] {
        let result = match name {
            "verify" => runner.scenario_verify().await,
            "outcome-ok" => runner.scenario_outcome(true).await,
            "outcome-ko" => runner.scenario_outcome(false).await,
            "activate-same-key" => runner.scenario_same_key().await,
            "outcome-lost-answer" => runner.scenario_lost_answer().await,
            _ => runner.scenario_late().await,
        };
        let files = runner.save(name)?;
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        tracing::info!(scenario = name, passed, detail = %detail, "collaudo scenario");
        scenarios.push(ScenarioResult {
            name,
            passed,
            detail,
            files,
        });
    }
    let report = Report { scenarios };
    write(&options.out.join("summary.txt"), &report.text())?;
    Ok(report)
}

/// The PSP channel the simulator is told to accept: ours.
pub fn simulator_config(config: &Config) -> nodo_sim::Config {
    let id = &config.psp.identity;
    nodo_sim::Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        subscription_keys: vec![config.psp.subscription_key.expose().to_owned()],
        channels: vec![nodo_sim::ChannelConfig {
            id_psp: id.id_psp.as_str().to_owned(),
            id_broker_psp: id.id_broker_psp.as_str().to_owned(),
            id_channel: id.id_channel.as_str().to_owned(),
            password: id.password.expose().to_owned(),
            ..nodo_sim::ChannelConfig::default()
        }],
        ..nodo_sim::Config::default()
    }
}

/// The configuration `collaudo --against-simulator` uses without `--config`: nodo-sim's demo
/// channel, V2 primitives, the simulator at `endpoint`.
pub fn demo_config(endpoint: &str, store: &Path) -> Result<Config, crate::config::ConfigError> {
    Config::from_toml(
        &format!(
            r#"
listen = "127.0.0.1:0"
store_path = "{}"
check_digits = "lenient"

[psp]
id_psp = "70000000001"
id_broker_psp = "70000000001"
id_channel = "70000000001_01"
password = "pwdpwdpwd"
subscription_key = "nodo-sim-key"
fiscal_code = "70000000001"

[nodo]
url = "{endpoint}"
primitives = "v2"

[fees.counter]
cash = 100
"#,
            store.display()
        ),
        Vec::new(),
    )
}
