//! The local web API the UIs use (contract: `kiosk/UI_API.md`): JSON actions that return the
//! new screen, Server-Sent Events with every change, and the staff and technician routes.
//!
//! Handlers hold no state of the flow: every action goes to the executor ([`crate::core`]) as an
//! [`Input`] and the answer is the [`FlowView`] it produced, so the API cannot show a state the
//! journal does not have. Refused actions answer 409 with the error object; staff routes answer
//! 401 `LOGIN_REQUIRED` without a session (cookie `kiosk_session`, or `Authorization: Bearer`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use channel_api::{Tender, Timestamp};
use pagopa::{Amount, Date};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use crate::adapter::AdapterClient;
use crate::auth::Sessions;
use crate::clock::{Clock, local_day};
use crate::config::{Config, Mode};
use crate::core::{Action, Core, FlowView, Input, OperatorView};
use crate::devices::{SharedPrinter, Sims, StatusBoard};
use crate::flow::{Flow, FlowError, FlowId, OutcomeState};
use crate::record::{ClosingRecord, Record};

/// The session cookie.
pub const COOKIE: &str = "kiosk_session";

/// What the handlers share.
pub struct Api {
    pub(crate) config: Arc<Config>,
    pub(crate) tx: mpsc::Sender<Input>,
    pub(crate) view: watch::Receiver<FlowView>,
    pub(crate) sessions: Sessions,
    pub(crate) adapter: AdapterClient,
    pub(crate) printer: Option<SharedPrinter>,
    pub(crate) sims: Arc<Sims>,
    pub(crate) status: StatusBoard,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Arc<crate::settings::Settings>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("mode", &self.config.mode)
            .finish()
    }
}

type Shared = Arc<Api>;

/// An error answer: a status and the error object.
#[derive(Debug)]
pub struct ApiError(StatusCode, FlowError);

impl ApiError {
    fn conflict(e: FlowError) -> ApiError {
        let status = match e.code.as_str() {
            "LOGIN_REQUIRED" => StatusCode::UNAUTHORIZED,
            "JOURNAL_FAILED" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::CONFLICT,
        };
        ApiError(status, e)
    }

    fn status(status: StatusCode, code: &str, it: &str, en: &str) -> ApiError {
        ApiError(
            status,
            FlowError {
                code: code.to_owned(),
                message_it: it.to_owned(),
                message_en: en.to_owned(),
                retryable: false,
            },
        )
    }

    fn login() -> ApiError {
        ApiError::conflict(FlowError::local("LOGIN_REQUIRED"))
    }

    fn stopped() -> ApiError {
        ApiError::status(
            StatusCode::SERVICE_UNAVAILABLE,
            "AGENT_STOPPING",
            "Postazione in arresto.",
            "The station is stopping.",
        )
    }

    fn bad(detail: impl std::fmt::Display) -> ApiError {
        ApiError::status(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            &format!("Richiesta non valida: {detail}"),
            &format!("Invalid request: {detail}"),
        )
    }

    fn not_found(what: &str) -> ApiError {
        ApiError::status(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Non trovato: {what}"),
            &format!("Not found: {what}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

impl Api {
    /// Run `f` on the executor and wait for its answer.
    async fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        crate::core::ask(&self.tx, f)
            .await
            .ok_or_else(ApiError::stopped)
    }

    /// Send the executor a flow input made with `input` around the reply channel, and answer
    /// with the flow as it then stands.
    async fn request(
        &self,
        input: impl FnOnce(oneshot::Sender<Result<FlowView, FlowError>>) -> Input,
    ) -> ApiResult<FlowView> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(input(reply))
            .map_err(|_| ApiError::stopped())?;
        answer
            .await
            .map_err(|_| ApiError::stopped())?
            .map(Json)
            .map_err(ApiError::conflict)
    }

    async fn act(&self, action: Action, operator: Option<String>) -> ApiResult<FlowView> {
        self.request(|reply| Input::Action {
            action,
            operator,
            reply,
        })
        .await
    }

    fn operator(&self, headers: &HeaderMap) -> Option<OperatorView> {
        session_token(headers).and_then(|t| self.sessions.check(&t))
    }

    /// The clerk for a citizen action: required at a counter.
    fn clerk(&self, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        let op = self.operator(headers).map(|o| o.id);
        if self.config.mode == Mode::Counter && op.is_none() {
            return Err(ApiError::login());
        }
        Ok(op)
    }

    fn staff(&self, headers: &HeaderMap) -> Result<OperatorView, ApiError> {
        self.operator(headers).ok_or_else(ApiError::login)
    }
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| ApiError::bad(e.body_text()))
}

fn optional_body<T: Default>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match b {
        Ok(Json(v)) => Ok(v),
        Err(JsonRejection::MissingJsonContentType(_)) => Ok(T::default()),
        Err(e) if e.body_text().contains("EOF while parsing") => Ok(T::default()),
        Err(e) => Err(ApiError::bad(e.body_text())),
    }
}

fn cents(field: &str, c: u64) -> Result<Amount, ApiError> {
    Amount::from_cents(c).map_err(|e| ApiError::bad(format!("{field}: {e}")))
}

async fn state(State(api): State<Shared>) -> Json<FlowView> {
    let mut v = api.view.borrow().clone();
    // The published view's countdown is from when it changed; recompute it now.
    if let Some(left) = v.deadline_ms_left.as_mut() {
        let fresh = api
            .ask(|core| core.view().deadline_ms_left)
            .await
            .ok()
            .flatten();
        *left = fresh.unwrap_or(*left);
    }
    Json(v)
}

async fn events(
    State(api): State<Shared>,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = api.view.clone();
    let stream = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let v = rx.borrow_and_update().clone();
        let data = serde_json::to_string(&v).unwrap_or_else(|_| "{}".into());
        Some((
            Ok(SseEvent::default().event("state").data(data)),
            (rx, false),
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Debug, Deserialize)]
struct ScanBody {
    payload: String,
}

async fn scan(
    State(api): State<Shared>,
    headers: HeaderMap,
    b: Result<Json<ScanBody>, JsonRejection>,
) -> ApiResult<FlowView> {
    let b = body(b)?;
    let operator = api.clerk(&headers)?;
    api.request(|reply| Input::Scan {
        payload: b.payload,
        operator,
        reply: Some(reply),
    })
    .await
}

#[derive(Debug, Deserialize)]
struct ManualBody {
    notice_number: String,
    fiscal_code: String,
}

async fn manual(
    State(api): State<Shared>,
    headers: HeaderMap,
    b: Result<Json<ManualBody>, JsonRejection>,
) -> ApiResult<FlowView> {
    let b = body(b)?;
    let operator = api.clerk(&headers)?;
    api.request(|reply| Input::Manual {
        notice: b.notice_number,
        fiscal_code: b.fiscal_code,
        operator,
        reply,
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
struct ConfirmBody {
    #[serde(default)]
    method: Option<Tender>,
}

async fn confirm(
    State(api): State<Shared>,
    headers: HeaderMap,
    b: Result<Json<ConfirmBody>, JsonRejection>,
) -> ApiResult<FlowView> {
    let b = optional_body(b)?;
    let op = api.clerk(&headers)?;
    api.act(Action::Confirm { tender: b.method }, op).await
}

#[derive(Debug, Deserialize)]
struct PayBody {
    method: Tender,
    #[serde(default)]
    tendered_cents: Option<u64>,
}

async fn pay(
    State(api): State<Shared>,
    headers: HeaderMap,
    b: Result<Json<PayBody>, JsonRejection>,
) -> ApiResult<FlowView> {
    let b = body(b)?;
    let op = api.clerk(&headers)?;
    let tendered = b
        .tendered_cents
        .map(|c| cents("tendered_cents", c))
        .transpose()?;
    api.act(
        Action::Pay {
            tender: b.method,
            tendered,
        },
        op,
    )
    .await
}

async fn cancel(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<FlowView> {
    let op = api.operator(&headers).map(|o| o.id);
    api.act(Action::Cancel, op).await
}

async fn more_time(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<FlowView> {
    let op = api.operator(&headers).map(|o| o.id);
    api.act(Action::MoreTime, op).await
}

async fn done(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<FlowView> {
    let op = api.operator(&headers).map(|o| o.id);
    api.act(Action::Done, op).await
}

async fn void(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<FlowView> {
    let op = api.staff(&headers)?;
    api.act(Action::Void, Some(op.id)).await
}

/// One printed line of a preview.
#[derive(Debug, Serialize)]
struct PreviewLine {
    text: String,
    bold: bool,
    double: bool,
}

/// What a printer made of `bytes`: lines with their style, QR payloads, a PNG, whether it is a
/// copy. Rendered from the bytes actually sent, so the preview cannot differ from the paper.
fn preview_json(bytes: &[u8], paper: drivers::escpos::PaperWidth) -> Result<Value, ApiError> {
    let printout = drivers::escpos_view::render(bytes).map_err(|e| ApiError::bad(e.code()))?;
    let mut lines = Vec::new();
    let mut copy = false;
    for e in &printout.elements {
        if let drivers::escpos_view::Element::Line(l) = e {
            let bold = l.runs.iter().any(|r| r.style.bold);
            let double = l
                .runs
                .iter()
                .any(|r| r.style.height > 1 || r.style.width > 1);
            copy |= l.text.contains("COPIA");
            lines.push(PreviewLine {
                text: l.text.clone(),
                bold,
                double,
            });
        }
    }
    let qr: Vec<String> = printout
        .qr_payloads()
        .iter()
        .map(|q| String::from_utf8_lossy(q).into_owned())
        .collect();
    let png = drivers::sim::raster::render_png(&printout, paper)
        .ok()
        .map(|p| base64::engine::general_purpose::STANDARD.encode(p));
    Ok(json!({ "lines": lines, "qr": qr, "png_base64": png, "copy": copy }))
}

async fn preview(
    State(api): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let flow = FlowId::parse(&id).ok_or_else(|| ApiError::not_found("receipt"))?;
    let (bytes, paper) = api
        .ask(move |core| {
            let paper = core.config().receipt.width;
            core.ledger().document(&flow).map(|d| (d.to_vec(), paper))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("receipt"))?;
    Ok(Json(preview_json(&bytes, paper)?))
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    operator: String,
    pin: String,
}

async fn login(State(api): State<Shared>, b: Result<Json<LoginBody>, JsonRejection>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let api2 = Arc::clone(&api);
    let id = b.operator.clone();
    let result = tokio::task::spawn_blocking(move || {
        api2.sessions
            .login(&api2.config.operators, &b.operator, &b.pin)
    })
    .await;
    let record_id = id.clone();
    match result {
        Ok(Ok((token, view))) => {
            let v = view.clone();
            let _ = api
                .ask(move |core| {
                    let _ = core.write(&Record::Login {
                        operator: v.id.clone(),
                    });
                    core.operator = Some(v);
                })
                .await;
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            let mut res = Json(json!({ "token": token, "operator": view })).into_response();
            if let Ok(h) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, h);
            }
            res
        }
        Ok(Err(e)) => {
            let _ = api
                .ask(move |core| {
                    let _ = core.write(&Record::LoginFailed {
                        operator: record_id,
                    });
                })
                .await;
            let (it, en) = match &e {
                crate::auth::AuthError::Locked(_) => (
                    "Troppi tentativi: riprovare tra un minuto.",
                    "Too many attempts: try again in a minute.",
                ),
                _ => ("Operatore o PIN errati.", "Wrong operator or PIN."),
            };
            ApiError::status(StatusCode::UNAUTHORIZED, e.code(), it, en).into_response()
        }
        Err(_) => ApiError::stopped().into_response(),
    }
}

async fn logout(State(api): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(view) = session_token(&headers).and_then(|t| api.sessions.logout(&t)) {
        let _ = api
            .ask(move |core| {
                let _ = core.write(&Record::Logout {
                    operator: view.id.clone(),
                });
                if core.operator.as_ref().is_some_and(|o| o.id == view.id) {
                    core.operator = None;
                }
            })
            .await;
    }
    let mut res = Json(json!({ "ok": true })).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("kiosk_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

#[derive(Debug, Default, Deserialize)]
struct DayQuery {
    day: Option<String>,
}

fn day_of(q: &DayQuery, now: Timestamp) -> Result<Date, ApiError> {
    match &q.day {
        Some(d) => Date::parse(d).map_err(|e| ApiError::bad(format!("day: {e}"))),
        None => local_day(now).ok_or_else(|| ApiError::bad("day")),
    }
}

/// A payment as staff see it.
pub fn payment_json(f: &Flow) -> Value {
    let c = f.charge.as_ref();
    let m = f.money.as_ref();
    let state = if f.awaiting_forward() {
        "queued".to_owned()
    } else {
        f.payment
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.state.as_str().to_owned())
    };
    let outcome = match &f.outcome_state {
        None => Value::Null,
        Some(OutcomeState::Pending { attempts }) => {
            json!({ "state": "pending", "attempts": attempts })
        }
        Some(OutcomeState::Accepted) => json!({ "state": "accepted" }),
        Some(OutcomeState::Refused { error }) => {
            json!({ "state": "refused", "code": error.code.as_str() })
        }
    };
    json!({
        "id": f.id.as_str(),
        "receipt_number": f.id.as_str(),
        "notice_number": f.notice.notice_number.as_str(),
        "fiscal_code": f.notice.fiscal_code.as_str(),
        "creditor_name": f.payment.as_ref().and_then(|p| p.creditor_name.clone())
            .or_else(|| f.verified.as_ref().and_then(|v| v.creditor_name.clone())),
        "description": f.payment.as_ref().and_then(|p| p.description.clone())
            .or_else(|| f.verified.as_ref().and_then(|v| v.description.clone())),
        "amount_cents": c.map(|c| c.amount.cents()),
        "fee_cents": c.map(|c| c.fee.cents()),
        "total_cents": c.map(|c| c.total.cents()),
        "tender": c.map(|c| c.tender),
        "paid_with": m.map(|m| m.paid_with.as_str()),
        "paid_at": m.map(|m| m.paid_at.to_string()),
        "tendered_cents": m.and_then(|m| m.tendered).map(Amount::cents),
        "change_cents": m.and_then(|m| m.change).map(Amount::cents),
        "card": m.and_then(|m| m.card.as_ref()).map(|card| json!({
            "masked_pan": card.masked_pan, "auth_code": card.auth_code, "terminal_id": card.terminal_id, "stan": card.stan,
        })),
        "operator": m.and_then(|m| m.operator.clone()),
        "offline": f.offline,
        "state": state,
        "payment_id": f.payment.as_ref().map(|p| p.id.as_str().to_owned()),
        "payment_token": f.payment.as_ref().and_then(|p| p.payment_token.as_ref()).map(|t| t.as_str().to_owned()),
        "outcome": outcome,
        "printed": f.receipt.printed,
        "print_error": f.receipt.last_error,
        "exception": f.exception,
        "voided_by": f.voided_by,
        "stage": f.stage,
    })
}

async fn payments(
    State(api): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<DayQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Value> {
    api.staff(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    let day = day_of(&q, api.clock.now())?;
    let list = api
        .ask(move |core| {
            core.ledger()
                .payments_on(day)
                .into_iter()
                .map(payment_json)
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "day": day.to_string(), "payments": list })))
}

async fn reprint(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<FlowView> {
    let op = api.staff(&headers)?;
    let flow = FlowId::parse(&id).ok_or_else(|| ApiError::not_found("payment"))?;
    api.act(Action::Reprint(flow), Some(op.id)).await
}

async fn offline(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<Value> {
    api.staff(&headers)?;
    let v = api
        .ask(|core| {
            let o = &core.config().offline;
            let (outstanding, oldest) = core.ledger().outstanding();
            json!({
                "enabled": o.enabled,
                "online": core.online,
                "last_contact": core.last_contact.map(|t| t.to_string()),
                "limits": {
                    "max_payment_cents": o.max_payment.cents(),
                    "max_outstanding_cents": o.max_outstanding.cents(),
                    "max_age_hours": o.max_age.as_secs() / 3600,
                },
                "outstanding_cents": outstanding.cents(),
                "oldest_paid_at": oldest.map(|t| t.to_string()),
                "queue": core.ledger().offline_queue().into_iter().map(payment_json).collect::<Vec<_>>(),
                "last_sync": core.ledger().last_sync().map(|t| t.to_string()),
            })
        })
        .await?;
    Ok(Json(v))
}

async fn exceptions(State(api): State<Shared>, headers: HeaderMap) -> ApiResult<Value> {
    api.staff(&headers)?;
    let v = api
        .ask(|core| {
            core.ledger()
                .exceptions()
                .into_iter()
                .map(payment_json)
                .collect::<Vec<_>>()
        })
        .await?;
    Ok(Json(json!({ "exceptions": v })))
}

#[derive(Debug, Deserialize)]
struct ResolveBody {
    action: String,
}

async fn resolve(
    State(api): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    b: Result<Json<ResolveBody>, JsonRejection>,
) -> ApiResult<FlowView> {
    let op = api.staff(&headers)?;
    let b = body(b)?;
    let action = b.action.trim().to_owned();
    if action.is_empty()
        || action.len() > 32
        || !action.bytes().all(|c| c.is_ascii_lowercase() || c == b'_')
    {
        return Err(ApiError::bad("action: a lowercase word such as refunded"));
    }
    let flow = FlowId::parse(&id).ok_or_else(|| ApiError::not_found("exception"))?;
    let view = api.act(Action::Resolve(flow, action), Some(op.id)).await?;
    // Journaled: now tell the adapter, without keeping staff waiting; if it does not answer,
    // the sync worker tells it later.
    let (adapter, tx) = (api.adapter.clone(), api.tx.clone());
    tokio::spawn(async move { crate::sync::report_resolutions(&adapter, &tx).await });
    Ok(view)
}

async fn closing_summary(
    State(api): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<DayQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Value> {
    api.staff(&headers)?;
    let Query(q) = q.map_err(|e| ApiError::bad(e.body_text()))?;
    let day = day_of(&q, api.clock.now())?;
    let v = api
        .ask(move |core| {
            let t = core.ledger().totals(day);
            let d = day.to_string();
            let closings: Vec<&ClosingRecord> = core
                .ledger()
                .closings()
                .iter()
                .filter(|c| c.day == d)
                .collect();
            json!({
                "day": d,
                "totals": t,
                "expected_cash_cents": t.expected_cash_cents(),
                "queued_offline": core.ledger().offline_queue().len(),
                "closings": closings,
            })
        })
        .await?;
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct ClosingBody {
    counted_cents: u64,
    #[serde(default)]
    day: Option<String>,
}

/// The closing as journaled: the station's figures and the adapter's verdict on them, or
/// `unavailable` when the adapter did not answer (the sync worker sends it again).
pub(crate) fn closing_record(
    day: Date,
    operator: &str,
    counted: Amount,
    totals: &crate::ledger::DayTotals,
    answer: Result<channel_api::Closing, crate::flow::Failure>,
) -> ClosingRecord {
    let mut record = ClosingRecord {
        day: day.to_string(),
        operator: operator.to_owned(),
        counted_cents: counted.cents(),
        expected_cents: totals.expected_cash_cents(),
        card_cents: totals.card_cents,
        payments: totals.card_count + totals.cash_count,
        adapter: "unavailable".to_owned(),
        adapter_cash_cents: None,
        adapter_card_cents: None,
        adapter_revision: None,
        adapter_differences: Vec::new(),
    };
    match answer {
        Ok(c) => {
            record.adapter = c.verdict.as_str().to_owned();
            record.adapter_cash_cents = Some(c.adapter_totals.cash.cents.cents());
            record.adapter_card_cents = Some(c.adapter_totals.card.cents.cents());
            record.adapter_revision = Some(c.revision);
            let keys = |what: &str, v: &[channel_api::ClientKey]| {
                v.iter().map(|k| format!("{what} {k}")).collect::<Vec<_>>()
            };
            record.adapter_differences = keys("missing_at_adapter", &c.missing_at_adapter);
            record
                .adapter_differences
                .extend(keys("missing_at_device", &c.missing_at_device));
            record
                .adapter_differences
                .extend(c.amount_differences.iter().map(|d| {
                    format!(
                        "amount {} {} {}",
                        d.client_key,
                        d.device_total.cents(),
                        d.adapter_total.cents()
                    )
                }));
        }
        Err(e) => tracing::warn!(error = ?e, "closing not checked by the adapter: will resend"),
    }
    record
}

async fn closing(
    State(api): State<Shared>,
    headers: HeaderMap,
    b: Result<Json<ClosingBody>, JsonRejection>,
) -> ApiResult<Value> {
    let op = api.staff(&headers)?;
    let b = body(b)?;
    let day = day_of(&DayQuery { day: b.day.clone() }, api.clock.now())?;
    let counted = cents("counted_cents", b.counted_cents)?;
    let (totals, request) = api
        .ask(move |core| {
            let ledger = core.ledger();
            (ledger.totals(day), ledger.closing_request(day, counted))
        })
        .await?;
    let answer = api.adapter.closing(&request).await;
    let record = closing_record(day, &op.id, counted, &totals, answer);
    let r = record.clone();
    let report = api
        .ask(move |core| {
            core.write(&Record::Closing(r.clone()))?;
            core.ledger
                .apply(&Record::Closing(r.clone()), core.now(), &core.policy);
            Ok::<_, FlowError>((
                crate::receipt::closing_report(core.config(), &r, &totals, core.now()),
                core.config().receipt.width,
            ))
        })
        .await?
        .map_err(ApiError::conflict)?;
    let (report, paper) = report;
    let bytes = report
        .encode(&drivers::escpos::PrinterProfile {
            paper,
            ..Default::default()
        })
        .ok();
    let print_error = match &api.printer {
        None => Some("PRINTER_ABSENT".to_owned()),
        Some(p) => match p.lock().await.print(report).await {
            crate::flow::PrintResult::Printed => None,
            crate::flow::PrintResult::Failed { code, .. } => Some(code),
        },
    };
    let day_s = day.to_string();
    let pe = print_error.clone();
    let doc = bytes
        .as_ref()
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    api.ask(move |core| {
        let _ = core.write(&Record::ClosingPrinted {
            day: day_s,
            error: pe,
            document: doc,
        });
    })
    .await?;
    let difference = i128::from(record.counted_cents) - i128::from(record.expected_cents);
    let report_preview = bytes
        .as_deref()
        .map(|b| preview_json(b, paper))
        .transpose()?;
    Ok(Json(json!({
        "report_preview": report_preview,
        "closing": record,
        "totals": totals,
        "difference_cents": i64::try_from(difference).unwrap_or(i64::MAX),
        "printed": print_error.is_none(),
        "print_error": print_error,
    })))
}

async fn status(State(api): State<Shared>) -> ApiResult<Value> {
    let devices = api.status.snapshot();
    let settings = api.settings.view();
    let v = api
        .ask(move |core| {
            let c = core.config();
            let (journal_ok, head, error) = match &core.journal_check {
                Ok(v) => (true, Some(v.head.clone()), None),
                Err(e) => (false, None, Some(e.clone())),
            };
            json!({
                "version": env!("CARGO_PKG_VERSION"),
                "name": core.config().name,
                "mode": core.config().mode,
                "online": core.online,
                "last_contact": core.last_contact.map(|t| t.to_string()),
                "devices": devices,
                "journal": {
                    "entries": core.journal.len(),
                    "intact_at_start": journal_ok,
                    "head_at_start": head,
                    "error": error,
                },
                "flows": core.ledger().len(),
                "flows_active": core.ledger().active_count(),
                "queue_depth": core.ledger().offline_queue().len(),
                "last_sync": core.ledger().last_sync().map(|t| t.to_string()),
                "recent_errors": core.errors.iter().map(|(at, text)| json!({"at": at.to_string(), "text": text})).collect::<Vec<_>>(),
                "out_of_service": core.view().out_of_service,
                "journal_head": core.journal.head(),
                "settings": {
                    "version": settings.version,
                    "managed": settings.managed,
                    "rejected": settings.rejected,
                    "languages": c.languages,
                    "fee_display": c.fee_display,
                    "receipt_width": c.receipt.width.columns(),
                    "screen_timeout_s": c.timeouts.screen.as_secs(),
                    "done_timeout_s": c.timeouts.done.as_secs(),
                },
                "credential_refused": settings.credential_refused,
            })
        })
        .await?;
    Ok(Json(v))
}

async fn samples(State(api): State<Shared>) -> Result<Response, ApiError> {
    match &api.config.demo {
        Some(d) => Ok(Json(&d.samples).into_response()),
        None => Err(ApiError::not_found("demo")),
    }
}

async fn sim_scan(
    State(api): State<Shared>,
    b: Result<Json<ScanBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    if api.config.demo.is_none() {
        return Err(ApiError::not_found("demo"));
    }
    let b = body(b)?;
    if let Some(s) = &api.sims.scanner {
        s.lock()
            .await
            .scan(b.payload.as_bytes())
            .await
            .map_err(|e| {
                ApiError::status(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "SCANNER_SIM",
                    &e.to_string(),
                    &e.to_string(),
                )
            })?;
    } else {
        api.tx
            .send(Input::Scan {
                payload: b.payload,
                operator: None,
                reply: None,
            })
            .map_err(|_| ApiError::stopped())?;
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "ok": true }))).into_response())
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("route")
}

/// The whole local application: API, SSE, demo routes and the UI pages.
pub fn router(api: Arc<Api>) -> Router {
    let mode = api.config.mode;
    let api_routes = Router::new()
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/scan", post(scan))
        .route("/api/manual", post(manual))
        .route("/api/confirm", post(confirm))
        .route("/api/pay", post(pay))
        .route("/api/cancel", post(cancel))
        .route("/api/more-time", post(more_time))
        .route("/api/done", post(done))
        .route("/api/receipt/{id}/preview", get(preview))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/payments", get(payments))
        .route("/api/payments/{id}/reprint", post(reprint))
        .route("/api/void", post(void))
        .route("/api/offline", get(offline))
        .route("/api/exceptions", get(exceptions))
        .route("/api/exceptions/{id}/resolve", post(resolve))
        .route("/api/closing", get(closing_summary).post(closing))
        .route("/api/status", get(status))
        .route("/api/sim/samples", get(samples))
        .route("/sim/scan", post(sim_scan))
        .route("/api/{*rest}", get(api_not_found).post(api_not_found))
        .with_state(api);
    api_routes.merge(crate::ui::routes(mode))
}
