//! A fake agent for the browser tests: the real UI router (`kiosk::ui::routes`) plus canned
//! `/api/*` answers that follow `kiosk/UI_API.md`, with a small scripted flow (scan → confirm →
//! tender → card or cash → done) and a way for the test to push any `FlowView` over SSE.
//!
//! It tests the pages in isolation: every value shown on screen comes from here, so a test can
//! assert exactly what a citizen or clerk must see for a given state.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use channel_api::DeviceKind;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The notice every scan finds: amounts chosen to need thousands separators.
pub fn notice() -> Value {
    json!({
        "notice_number": "302000100000012345",
        "fiscal_code": "02438750586",
        "creditor_name": "Roma Capitale",
        "description": "TARI 2024 - rata unica",
        "amount_cents": 123456,
        "fee_cents": 150,
        "total_cents": 123606,
        "due_date": "2024-12-31",
    })
}

fn idle(mode: DeviceKind) -> Value {
    json!({
        "mode": mode.as_str(),
        "screen": "idle",
        "flow_id": null,
        "notice": null,
        "deadline_ms_left": null,
        "progress": null,
        "error": null,
        "receipt_id": null,
        "offline": false,
        "operator": null,
        "languages": ["it", "en", "de"],
        "tender": null,
        "methods": [],
        "fees": [],
        "tendered_cents": null,
        "change_cents": null,
        "offline_payment": false,
        "drawer_error": null,
        "out_of_service": null,
    })
}

/// The fee quotes per tender: cash is cheaper than card, so the total depends on the choice.
fn fees(mode: DeviceKind) -> Value {
    let card = json!({ "tender": "card", "fee_cents": 150, "total_cents": 123606 });
    match mode {
        DeviceKind::Kiosk => json!([card]),
        DeviceKind::Counter => {
            json!([{ "tender": "cash", "fee_cents": 100, "total_cents": 123556 }, card])
        }
    }
}

/// A payment as the agent's staff routes describe it (`payment_json`), paid at 07:41 UTC.
fn payment(id: &str, notice: &str, total: u64, paid_with: &str, state: &str) -> Value {
    json!({
        "id": id,
        "receipt_number": id,
        "notice_number": notice,
        "fiscal_code": "02438750586",
        "creditor_name": "Roma Capitale",
        "amount_cents": total - 100,
        "fee_cents": 100,
        "total_cents": total,
        "tender": if paid_with == "cash" { "cash" } else { "card" },
        "paid_with": paid_with,
        "paid_at": "2024-05-31T07:41:12.000Z",
        "state": state,
        "printed": 1,
        "exception": null,
    })
}

/// Lines of the receipt preview, as the agent decodes them from the printed bytes.
pub fn receipt_lines() -> Value {
    json!([
        { "text": "      ROMA CAPITALE", "bold": true, "double": false },
        { "text": "RICEVUTA DI PAGAMENTO", "bold": true, "double": true },
        { "text": "Avviso 302000100000012345", "bold": false, "double": false },
        { "text": "Importo          1.234,56 €", "bold": false, "double": false },
        { "text": "Commissione          1,50 €", "bold": false, "double": false },
        { "text": "TOTALE           1.236,06 €", "bold": true, "double": false },
    ])
}

#[derive(Debug)]
struct Inner {
    mode: DeviceKind,
    view: Value,
    posts: Vec<(String, Value)>,
    state_gets: u32,
    exceptions: Vec<Value>,
}

#[derive(Debug, Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    events: Arc<watch::Sender<Value>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Change the view as an action does and, like the agent, push it to the pages following
    /// `/api/events` unless only the countdown changed (pages count down by themselves; a new
    /// deadline reaches them in the action's answer).
    fn update(&self, change: impl FnOnce(&mut Value)) -> Value {
        let (before, view) = {
            let mut inner = self.lock();
            let before = inner.view.clone();
            change(&mut inner.view);
            (before, inner.view.clone())
        };
        let without_deadline = |v: &Value| {
            let mut v = v.clone();
            v["deadline_ms_left"] = Value::Null;
            v
        };
        if without_deadline(&before) != without_deadline(&view) {
            self.events.send_replace(view.clone());
        }
        view
    }

    /// Change the view and push it, whatever changed (the test plays the agent's clock).
    fn push(&self, change: impl FnOnce(&mut Value)) {
        let view = {
            let mut inner = self.lock();
            change(&mut inner.view);
            inner.view.clone()
        };
        self.events.send_replace(view);
    }
}

/// The fake agent, serving on a loopback port from its own runtime.
#[derive(Debug)]
pub struct FakeAgent {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Shared,
    /// Serves the fake for as long as it lives.
    _runtime: tokio::runtime::Runtime,
}

impl FakeAgent {
    /// Start a fake agent in `mode`.
    pub fn start(mode: DeviceKind) -> FakeAgent {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let view = idle(mode);
        let (events, _) = watch::channel(view.clone());
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner {
                mode,
                view,
                posts: Vec::new(),
                state_gets: 0,
                exceptions: vec![{
                    let mut p = payment(
                        "240531-EXC0000001",
                        "302000100000099999",
                        4250,
                        "cash",
                        "refund_due",
                    );
                    p["exception"] = json!({
                        "code": "OUTCOME_REFUSED",
                        "action": "refund",
                        "detail": "PPT_TOKEN_SCADUTO",
                        "since": "2024-05-31T07:45:00.000Z",
                        "resolution": null,
                    });
                    p
                }],
            })),
            events: Arc::new(events),
        };
        let router = api(shared.clone(), mode);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                0,
            ))))
            .expect("bind the fake agent");
        let addr = listener.local_addr().expect("local address");
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeAgent {
            url: format!("http://{addr}"),
            shared,
            _runtime: runtime,
        }
    }

    /// Change the current `FlowView` and push it as an SSE `state` event.
    pub fn set(&self, change: impl FnOnce(&mut Value)) {
        self.shared.push(change);
    }

    /// Every action the pages posted, in order: `(path, body)`.
    pub fn posts(&self) -> Vec<(String, Value)> {
        self.shared.lock().posts.clone()
    }

    /// How many times the pages asked `GET /api/state` (the rest came as events).
    pub fn state_gets(&self) -> u32 {
        self.shared.lock().state_gets
    }
}

fn api(shared: Shared, mode: DeviceKind) -> Router {
    let actions = [
        "/api/scan",
        "/api/manual",
        "/api/confirm",
        "/api/pay",
        "/api/cancel",
        "/api/more-time",
        "/api/done",
        "/api/void",
        "/api/login",
        "/api/logout",
        "/sim/scan",
    ];
    let mut router = Router::new()
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/receipt/{id}/preview", get(preview))
        .route("/api/sim/samples", get(samples))
        .route("/api/payments", get(payments))
        .route("/api/payments/{id}/reprint", post(reprint))
        .route("/api/offline", get(offline))
        .route("/api/exceptions", get(exceptions))
        .route("/api/exceptions/{id}/resolve", post(resolve))
        .route("/api/closing", get(closing).post(close))
        .route("/api/status", get(status));
    for path in actions {
        router = router.route(path, post(action));
    }
    router.merge(kiosk::ui::routes(mode)).with_state(shared)
}

async fn state(State(shared): State<Shared>) -> Response {
    let mut inner = shared.lock();
    inner.state_gets += 1;
    axum::Json(inner.view.clone()).into_response()
}

async fn events(State(shared): State<Shared>) -> impl IntoResponse {
    let rx = shared.events.subscribe();
    // Like the agent: the current state first, then every change.
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first {
            rx.changed().await.ok()?;
        }
        let view = rx.borrow_and_update().clone();
        let event = Event::default().event("state").data(view.to_string());
        Some((Ok::<_, Infallible>(event), (rx, false)))
    });
    Sse::new(stream)
}

fn refused(code: &str, it: &str, en: &str, status: StatusCode) -> Response {
    let body = json!({ "code": code, "message_it": it, "message_en": en, "retryable": false });
    (status, axum::Json(body)).into_response()
}

/// The scripted flow: what each action does to the view.
async fn action(State(shared): State<Shared>, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mode = {
        let mut inner = shared.lock();
        inner.posts.push((path.clone(), body.clone()));
        inner.mode
    };
    let view = match path.as_str() {
        "/api/scan" | "/api/manual" | "/sim/scan" => shared.update(|v| {
            v["screen"] = json!("confirm");
            v["flow_id"] = json!("240531-FLOW000001");
            v["notice"] = notice();
            v["fees"] = fees(mode);
            v["methods"] = match mode {
                DeviceKind::Kiosk => json!(["card"]),
                DeviceKind::Counter => json!(["cash", "card"]),
            };
            v["deadline_ms_left"] = json!(90_000);
        }),
        "/api/confirm" => shared.update(|v| {
            v["screen"] = json!("tender");
            v["tender"] = body["method"].clone();
            v["deadline_ms_left"] = json!(120_000);
        }),
        "/api/pay" if body["method"] == json!("card") => shared.update(|v| {
            v["screen"] = json!("card");
            v["error"] = Value::Null;
            v["deadline_ms_left"] = Value::Null;
            v["progress"] = json!({ "code": "TERMINAL", "text": "INSERIRE LA CARTA" });
        }),
        "/api/pay" if body["method"] == json!("cash") && mode == DeviceKind::Counter => {
            let tendered = body["tendered_cents"].as_u64().unwrap_or(0);
            shared.update(|v| {
                v["screen"] = json!("cash");
                v["tendered_cents"] = json!(tendered);
                v["change_cents"] = json!(tendered.saturating_sub(123556));
                v["deadline_ms_left"] = Value::Null;
            })
        }
        "/api/pay" => {
            return refused(
                "TENDER_NOT_ACCEPTED",
                "Metodo non disponibile",
                "Not available",
                StatusCode::CONFLICT,
            );
        }
        "/api/more-time" => shared.update(|v| v["deadline_ms_left"] = json!(90_000)),
        "/api/cancel" | "/api/void" => shared.update(|v| {
            v["screen"] = json!("cancelled");
            v["deadline_ms_left"] = Value::Null;
        }),
        "/api/done" => shared.update(|v| {
            let operator = v["operator"].take();
            let offline = v["offline"].take();
            *v = idle(mode);
            v["operator"] = operator;
            v["offline"] = offline;
        }),
        "/api/login" if body == json!({ "operator": "mario", "pin": "1234" }) => {
            let operator = json!({ "id": "mario", "name": "Mario Rossi" });
            shared.update(|v| v["operator"] = operator.clone());
            return axum::Json(json!({ "token": "t0k3n", "operator": operator })).into_response();
        }
        "/api/login" => {
            return refused(
                "PIN_WRONG",
                "Operatore o PIN errati.",
                "Wrong operator or PIN.",
                StatusCode::UNAUTHORIZED,
            );
        }
        "/api/logout" => {
            shared.update(|v| v["operator"] = Value::Null);
            return axum::Json(json!({ "ok": true })).into_response();
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    if path == "/sim/scan" {
        return (StatusCode::ACCEPTED, axum::Json(json!({ "ok": true }))).into_response();
    }
    axum::Json(view).into_response()
}

async fn preview(Path(id): Path<String>) -> Response {
    if !id.starts_with("240531-") {
        return StatusCode::NOT_FOUND.into_response();
    }
    axum::Json(json!({ "lines": receipt_lines(), "qr": [], "png_base64": null, "copy": false }))
        .into_response()
}

async fn samples() -> Response {
    axum::Json(json!([
        { "label": "TARI Roma Capitale", "payload": "PAGOPA|002|302000100000012345|02438750586|123456" },
        { "label": "Multa Polizia Locale", "payload": "PAGOPA|002|302000100000067890|02438750586|4200" },
    ]))
    .into_response()
}

async fn payments() -> Response {
    axum::Json(json!({
        "day": "2024-05-31",
        "payments": [payment("240531-PAY0000007", "302000100000054321", 5150, "cash", "confirmed")],
    }))
    .into_response()
}

async fn reprint(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut inner = shared.lock();
    inner
        .posts
        .push((format!("/api/payments/{id}/reprint"), Value::Null));
    axum::Json(inner.view.clone()).into_response()
}

async fn offline() -> Response {
    axum::Json(json!({
        "enabled": true,
        "online": false,
        "limits": { "max_payment_cents": 50000, "max_outstanding_cents": 200000, "max_age_hours": 48 },
        "outstanding_cents": 2500,
        "queue": [payment("240531-OFF0000001", "302000100000011111", 2500, "cash", "queued")],
        "last_sync": "2024-05-31T07:45:00.000Z",
    }))
    .into_response()
}

async fn exceptions(State(shared): State<Shared>) -> Response {
    axum::Json(json!({ "exceptions": shared.lock().exceptions.clone() })).into_response()
}

async fn resolve(State(shared): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = shared.lock();
    inner
        .posts
        .push((format!("/api/exceptions/{id}/resolve"), body.clone()));
    // The agent keeps resolved exceptions in the list, with their resolution.
    for x in inner.exceptions.iter_mut().filter(|x| x["id"] == json!(id)) {
        x["exception"]["resolution"] = json!({ "action": body["action"], "operator": "mario", "at": "2024-05-31T08:00:00.000Z" });
    }
    axum::Json(inner.view.clone()).into_response()
}

fn totals() -> Value {
    json!({
        "card_count": 2, "card_cents": 8000, "cash_count": 3, "cash_cents": 125000,
        "offline_cash_cents": 2500, "fee_cents": 500, "refunded_cents": 0,
    })
}

async fn closing() -> Response {
    axum::Json(json!({
        "day": "2024-05-31",
        "totals": totals(),
        "expected_cash_cents": 125000,
        "queued_offline": 1,
        "closings": [],
    }))
    .into_response()
}

async fn close(State(shared): State<Shared>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared
        .lock()
        .posts
        .push(("/api/closing".to_owned(), body.clone()));
    let counted = body["counted_cents"].as_i64().unwrap_or(-1);
    axum::Json(json!({
        "closing": {
            "day": "2024-05-31", "operator": "mario", "counted_cents": counted,
            "expected_cents": 125000, "card_cents": 8000, "payments": 5,
            "adapter": "agree", "adapter_cash_cents": 125000, "adapter_card_cents": 8000,
        },
        "totals": totals(),
        "difference_cents": counted - 125000,
        "printed": true,
        "print_error": null,
    }))
    .into_response()
}

async fn status() -> Response {
    axum::Json(json!({
        "version": "0.1.0",
        "name": "Municipio I - sportello 2",
        "mode": "counter",
        "online": false,
        "last_contact": "2024-05-31T07:44:00.000Z",
        "devices": [
            { "kind": "printer", "endpoint": "usb:/dev/usb/lp0", "state": "connected", "last_error": null, "detail": null, "since": "2024-05-31T06:00:00.000Z" },
            { "kind": "scanner", "endpoint": "serial:/dev/ttyACM0", "state": "connected", "last_error": null, "detail": null, "since": null },
            { "kind": "terminal", "endpoint": "tcp:terminal:1234", "state": "disconnected", "last_error": "TERMINAL_UNREACHABLE", "detail": null, "since": "2024-05-31T07:44:10.000Z" },
        ],
        "journal": { "entries": 1342, "intact_at_start": true, "head_at_start": "ab12", "error": null },
        "flows": 12,
        "flows_active": 0,
        "queue_depth": 3,
        "last_sync": "2024-05-31T07:45:00.000Z",
        "recent_errors": [
            { "at": "2024-05-31T07:44:10.000Z", "text": "terminal: TERMINAL_UNREACHABLE connection refused" },
        ],
        "out_of_service": null,
    }))
    .into_response()
}
