//! The outbox worker against a scripted Nodo, for the answers nodo-sim does not produce on
//! demand: `PPT_SYSTEM_ERROR` (a new attempt with a new key), our misconfiguration (kept and
//! retried), `PPT_PAGAMENTO_IN_CORSO` on an offline payment's activation, and the graceful
//! stop that waits for the attempt in flight.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channel_adapter::ambient::{Clock, OsRandom, SystemClock};
use channel_adapter::api::AppState;
use channel_adapter::config::Config;
use channel_adapter::nodo::{HttpReply, NodoClient, NodoError, NodoFuture};
use channel_adapter::store::{ActivatedInfo, NewOfflinePayment, NewPayment, Store};
use channel_adapter::{devices, outbox};
use channel_api::{
    ClientKey, DeviceKind, OutcomeRequest, PaidWith, PaymentId, PaymentState, ReportedOutcome,
    Tender, Timestamp,
};
use common::{TempDir, config_toml};
use pagopa::fault::{Fault, FaultCode, Primitive};
use pagopa::soap::{
    ActivatePaymentNoticeV2Response, ActivatedPaymentV2, BoundedVec, Iban, IdempotencyKey, Message,
    NodoRequest, PaymentToken, SendPaymentOutcomeV2Response, Text140, TransferDestination,
    TransferId, TransferV2,
};
use pagopa::{Amount, CheckMode, CreditorFiscalCode, Iuv, NoticeNumber};
use tokio::sync::watch;

/// Answers in order, whatever the primitive; every request is kept.
#[derive(Debug, Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<HttpReply, NodoError>>>,
    seen: Mutex<Vec<NodoRequest>>,
    delay: Mutex<Duration>,
}

impl NodoClient for Scripted {
    fn post<'a>(&'a self, primitive: Primitive, envelope: &'a str) -> NodoFuture<'a, HttpReply> {
        let request = pagopa::soap::decode_request(envelope).expect("valid SOAP");
        assert_eq!(request.primitive(), primitive);
        self.seen.lock().expect("lock").push(request);
        let next = self.answers.lock().expect("lock").pop_front();
        let delay = *self.delay.lock().expect("lock");
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            next.unwrap_or_else(|| Err(NodoError::NoAnswer("no script".into())))
        })
    }
}

fn soap(message: impl Message) -> Result<HttpReply, NodoError> {
    Ok(HttpReply {
        status: 200,
        body: message.encode().into(),
    })
}

fn ko(code: &str) -> Result<HttpReply, NodoError> {
    soap(SendPaymentOutcomeV2Response::ko(Fault::new(
        FaultCode::parse(code),
        "KO",
        "NodoDeiPagamentiSPC",
    )))
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(ms)
}

fn cents(n: u64) -> Amount {
    Amount::from_cents(n).expect("amount")
}

fn cf(s: &str) -> CreditorFiscalCode {
    CreditorFiscalCode::parse(s, CheckMode::Lenient).expect("cf")
}

const TOKEN: &str = "c110729d258c4ab1b765fe902aae41d6";

fn activation() -> ActivatePaymentNoticeV2Response {
    ActivatePaymentNoticeV2Response::ok(ActivatedPaymentV2 {
        total_amount: cents(10_000),
        payment_description: Some(Text140::new("TARI").expect("text")),
        fiscal_code_pa: Some(cf("77777777777")),
        company_name: Some(Text140::new("Ente di prova").expect("text")),
        office_name: None,
        payment_token: PaymentToken::new(TOKEN).expect("token"),
        transfers: BoundedVec::one(TransferV2 {
            id_transfer: TransferId::new(1).expect("id"),
            amount: cents(10_000),
            fiscal_code_pa: cf("77777777777"),
            company_name: None,
            destination: Some(TransferDestination::Iban(
                Iban::new("IT60X0542811101000000123456").expect("iban"),
            )),
            remittance_information: Text140::new("TARI").expect("text"),
            transfer_category: None,
            metadata: None,
        }),
        metadata: None,
        creditor_reference_id: Iuv::parse("02010000000000001").expect("iuv"),
        suggested_user_fee: None,
        suggested_pa_fee: None,
        suggested_id_bundle: None,
        suggested_id_ci_bundle: None,
        all_ccp: None,
        standin: None,
    })
}

fn report() -> ReportedOutcome {
    ReportedOutcome {
        report: OutcomeRequest::Ok {
            paid_with: PaidWith::Cash,
            fee: cents(100),
            paid_at: t(1_740_821_400_000),
            terminal: None,
            receipt_number: Some("R-1".into()),
        },
        reported_at: t(1_740_821_400_000),
    }
}

struct Rig {
    state: AppState,
    store: Arc<Store>,
    nodo: Arc<Scripted>,
    device: u64,
    _dir: TempDir,
}

fn rig(name: &str) -> Rig {
    let dir = TempDir::new(name);
    let path = dir.join("adapter.db");
    let text = format!(
        "{}\n[outbox]\nslot_ms = 20\nretry_interval_ms = 100\n",
        config_toml("127.0.0.1:0", &path)
    );
    let config = Config::from_toml(&text, Vec::new()).expect("config");
    let store = Arc::new(Store::open(&path).expect("store"));
    let nodo = Arc::new(Scripted::default());
    let state = channel_adapter::app_state(
        Arc::new(config),
        Arc::clone(&store),
        Arc::new(SystemClock),
        Arc::new(OsRandom),
        Some(nodo.clone() as Arc<dyn NodoClient>),
    );
    let device = devices::add(
        &store,
        "counter-1",
        "02438750586",
        DeviceKind::Counter,
        &OsRandom,
        SystemClock.now(),
    )
    .expect("device")
    .device
    .id;
    Rig {
        state,
        store,
        nodo,
        device,
        _dir: dir,
    }
}

fn key(suffix: &str) -> IdempotencyKey {
    IdempotencyKey::new("97735020584", suffix).expect("key")
}

/// An online payment whose OK outcome is queued.
fn queued_outcome(r: &Rig) -> PaymentId {
    let id = PaymentId::parse("pay00000000000001").expect("id");
    r.store
        .insert_payment(
            &NewPayment {
                id: id.clone(),
                device_id: r.device,
                comune: cf("02438750586"),
                client_key: ClientKey::parse("counter-1-op-0001").expect("ck"),
                notice_number: NoticeNumber::parse("302010000000000001", CheckMode::Lenient)
                    .expect("notice"),
                creditor_fiscal_code: cf("77777777777"),
                amount: cents(10_000),
                fee: cents(100),
                tender: Tender::Cash,
                activate_key: key("ACTIVATE01"),
            },
            SystemClock.now(),
        )
        .expect("insert");
    r.store
        .mark_active(
            id.as_str(),
            &ActivatedInfo {
                payment_token: PaymentToken::new(TOKEN).expect("token"),
                token_expires_at: SystemClock.now().add_millis(600_000),
                amount: cents(10_000),
                iuv: "02010000000000001".into(),
                creditor_name: None,
                description: None,
            },
            SystemClock.now(),
        )
        .expect("active");
    r.store
        .record_outcome(
            id.as_str(),
            &report(),
            cents(100),
            &key("OUTCOME001"),
            SystemClock.now(),
        )
        .expect("record");
    id
}

async fn run_until<F: Fn() -> bool>(r: &Rig, done: F) {
    let (stop, stopping) = watch::channel(false);
    let worker = tokio::spawn(outbox::run(r.state.clone(), async move {
        let mut rx = stopping;
        let _ = rx.wait_for(|s| *s).await;
    }));
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < until,
            "the worker did not get there"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    worker.await.expect("worker");
}

fn outcome_keys(nodo: &Scripted) -> Vec<String> {
    nodo.seen
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|r| match r {
            NodoRequest::SendPaymentOutcomeV2(o) => {
                o.idempotency_key.as_ref().map(|k| k.as_str().to_owned())
            }
            _ => None,
        })
        .collect()
}

fn state_of(r: &Rig, id: &PaymentId) -> PaymentState {
    r.store
        .payment(id.as_str())
        .expect("read")
        .expect("payment")
        .state
}

#[tokio::test]
async fn system_errors_and_misconfiguration_keep_the_outcome_queued() {
    let r = rig("outbox-retry-later");
    let id = queued_outcome(&r);
    r.nodo.answers.lock().expect("lock").extend([
        ko("PPT_SYSTEM_ERROR"),
        ko("PPT_AUTENTICAZIONE"),
        Ok(HttpReply {
            status: 401,
            body: "{\"statusCode\": 401}".into(),
        }),
        soap(SendPaymentOutcomeV2Response::ok(())),
    ]);
    run_until(&r, || state_of(&r, &id) == PaymentState::Confirmed).await;
    let keys = outcome_keys(&r.nodo);
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(keys[0], "97735020584_OUTCOME001");
    assert_ne!(keys[1], keys[0], "after PPT_SYSTEM_ERROR: a new key");
    assert_ne!(keys[2], keys[1], "after an application KO: a new key");
    assert_eq!(
        keys[3], keys[2],
        "after a bare 401 nothing was processed: the same key"
    );
    let actions: Vec<Option<String>> = r
        .store
        .calls_for_payment(id.as_str())
        .expect("journal")
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(
        actions,
        [
            Some("RETRY_LATER".to_owned()),
            Some("MISCONFIGURED".to_owned()),
            Some("MISCONFIGURED".to_owned()),
            Some("DONE".to_owned())
        ]
    );
    assert!(r.store.outbox_list().expect("list").is_empty());
}

#[tokio::test]
async fn an_offline_activation_held_elsewhere_is_retried_with_a_new_key() {
    let r = rig("outbox-offline-in-progress");
    let id = PaymentId::parse("off00000000000001").expect("id");
    r.store
        .insert_offline_payment(
            &NewOfflinePayment {
                id: id.clone(),
                device_id: r.device,
                comune: cf("02438750586"),
                client_key: ClientKey::parse("offline-0001").expect("ck"),
                notice_number: NoticeNumber::parse("302010000000000002", CheckMode::Lenient)
                    .expect("notice"),
                creditor_fiscal_code: cf("77777777777"),
                amount: cents(10_000),
                fee: cents(100),
                tender: Tender::Cash,
                outcome: report(),
            },
            &key("OUTCOME002"),
            SystemClock.now(),
        )
        .expect("insert");
    r.nodo.answers.lock().expect("lock").extend([
        soap(ActivatePaymentNoticeV2Response::ko(Fault::new(
            FaultCode::PptPagamentoInCorso,
            "in corso",
            "NodoDeiPagamentiSPC",
        ))),
        soap(activation()),
        soap(SendPaymentOutcomeV2Response::ok(())),
    ]);
    run_until(&r, || state_of(&r, &id) == PaymentState::Confirmed).await;
    let seen = r.nodo.seen.lock().expect("lock").clone();
    let activation_keys: Vec<String> = seen
        .iter()
        .filter_map(|q| match q {
            NodoRequest::ActivatePaymentNoticeV2(a) => a
                .base
                .idempotency_key
                .as_ref()
                .map(|k| k.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(activation_keys.len(), 2);
    assert_ne!(activation_keys[0], activation_keys[1]);
    assert_eq!(outcome_keys(&r.nodo), ["97735020584_OUTCOME002"]);
    let rec = r
        .store
        .payment(id.as_str())
        .expect("read")
        .expect("payment");
    assert_eq!(
        rec.payment_token.map(|t| t.as_str().to_owned()).as_deref(),
        Some(TOKEN)
    );
}

#[tokio::test]
async fn stopping_waits_for_the_attempt_in_flight() {
    let r = rig("outbox-graceful");
    let id = queued_outcome(&r);
    *r.nodo.delay.lock().expect("lock") = Duration::from_millis(400);
    r.nodo
        .answers
        .lock()
        .expect("lock")
        .push_back(soap(SendPaymentOutcomeV2Response::ok(())));
    let (stop, stopping) = watch::channel(false);
    let worker = tokio::spawn(outbox::run(r.state.clone(), async move {
        let mut rx = stopping;
        let _ = rx.wait_for(|s| *s).await;
    }));
    while r.store.open_calls().expect("open").is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(true);
    worker.await.expect("worker");
    assert!(
        r.store.open_calls().expect("open").is_empty(),
        "the attempt was finished"
    );
    assert_eq!(state_of(&r, &id), PaymentState::Confirmed);
}
