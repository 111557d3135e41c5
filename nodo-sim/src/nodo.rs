//! The Nodo's state machine for the PSP primitives, without I/O: requests in, responses out,
//! time and token generation injected.
//!
//! It follows the SANP rules summarised in `shared/reference/pagopa.md` §2–3:
//! - verifyPaymentNotice has no side effect;
//! - `activatePaymentNotice[V2]` locks the notice for the token's lifetime (`expirationTime`,
//!   default and maximum 30 minutes); another activation meanwhile gets
//!   `PPT_PAGAMENTO_IN_CORSO`, one after payment `PPT_PAGAMENTO_DUPLICATO`; the amount must be
//!   the one due, or the creditor refuses (`PPT_ERRORE_EMESSO_DA_PAA` /
//!   `PAA_ATTIVA_RPT_IMPORTO_NON_VALIDO`);
//! - `sendPaymentOutcome[V2]` closes the session: an unknown token gets `PPT_TOKEN_SCONOSCIUTO`, a
//!   second outcome `PPT_ESITO_GIA_ACQUISITO`; after expiry an OK is still accepted
//!   (`PPT_TOKEN_SCADUTO`, receipt produced, FdR code 9) unless someone else paid meanwhile
//!   (`PPT_PAGAMENTO_DUPLICATO`), and a KO gets `PPT_TOKEN_SCADUTO_KO`;
//! - the idempotency key replays the original answer for the same request and refuses a
//!   different one (`PPT_ERRORE_IDEMPOTENZA`). Only answers that changed the state are
//!   remembered: a refused request changed nothing, so evaluating its retry again is equivalent.
//!   An activation's key lives as long as its token and is dropped when the outcome arrives.
//!
//! Faults travel as the Nodo sends them: `outcome` KO plus a fault bean inside the primitive's
//! own response element, `id` = `NodoDeiPagamentiSPC`.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use pagopa::fault::{Fault, FaultCode, Primitive};
use pagopa::soap::pa::{ReceiptDestination, ReceiptTransferV2, ReceiptV2, StationIdentity};
use pagopa::soap::{
    self, ActivatePaymentNoticeRequest, ActivatePaymentNoticeResponse,
    ActivatePaymentNoticeV2Response, ActivatedPayment, ActivatedPaymentV2, AmountOption,
    BoundedVec, Iban, IdempotencyKey, NodoRequest, NodoResponse, NonZeroAmount, Outcome,
    OutcomeDetails, OutcomeDetailsV2, Password, PaymentMethod, PaymentOption, PaymentToken,
    PspIdentity, QrCode, SendPaymentOutcomeResponse, SendPaymentOutcomeV2Response, Subject, Text35,
    Text70, Text140, Text210, TransferDestination, TransferId, TransferV2, VerifiedNotice,
    VerifyPaymentNoticeResponse,
};
use pagopa::{Amount, CreditorFiscalCode, Date, NoticeNumber};

use crate::catalogue::{Catalogue, Creditor, Notice, NoticeEntry, NoticeStatus, StationBehaviour};
use crate::clock::{Millis, rome_datetime};
use crate::ids::{TokenSource, format_token, parse_token};
use crate::scenario::{Scenario, Scenarios};
use crate::shards::{SHARDS, ShardedMap};

/// The `id` of every fault the Nodo raises.
pub const NODO_ID: &str = "NodoDeiPagamentiSPC";

/// The token lifetime when the activation does not give one: 30 minutes, also the maximum.
pub const DEFAULT_EXPIRATION_MS: u64 = 1_800_000;

/// A PSP channel the simulated Nodo accepts, with what receipts say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// `idPSP`
    pub id_psp: Text35,
    /// `idBrokerPSP`
    pub id_broker_psp: Text35,
    /// `idChannel`
    pub id_channel: Text35,
    /// The channel password.
    pub password: Password,
    /// `PSPCompanyName` in receipts.
    pub psp_company_name: Text70,
    /// `pspFiscalCode` in receipts.
    pub psp_fiscal_code: Option<Text70>,
    /// `channelDescription` in receipts.
    pub channel_description: Text35,
}

/// How the simulated Nodo behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The channels accepted.
    pub channels: Vec<Channel>,
    /// The creditor whose notice numbers select scenarios (see [`crate::scenario`]).
    pub scenario_creditor: CreditorFiscalCode,
    /// How long a timing-out station makes the caller wait before `PPT_STAZIONE_INT_PA_TIMEOUT`
    /// (the real Nodo waits 7 s for paVerifyPaymentNotice and paGetPayment).
    pub station_timeout_ms: u64,
    /// Lifetime of an outcome's idempotency key (an activation's key lives as its token).
    pub idempotency_ttl_ms: u64,
    /// How long a closed or expired payment session is remembered: a late outcome within this
    /// window gets `PPT_TOKEN_SCADUTO`, a second outcome `PPT_ESITO_GIA_ACQUISITO`; after it,
    /// `PPT_TOKEN_SCONOSCIUTO`.
    pub retention_ms: u64,
    /// How many receipts are kept: beyond it the oldest is dropped, so that a long load test
    /// runs in bounded memory (a receipt takes a kilobyte or two). At least 1.
    pub max_receipts: usize,
}

/// An answer, and how long to wait before sending it (a timing-out creditor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response.
    pub response: NodoResponse,
    /// Milliseconds to wait before answering.
    pub delay_ms: u64,
}

/// Why the Nodo cannot be built from a catalogue and settings. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodoError {
    /// The catalogue defines the scenario creditor, whose notices are generated.
    #[error("l'ente degli scenari {0} non puo' comparire nel catalogo")]
    ScenarioCreditorInCatalogue(String),
    /// Two channels with the same `idChannel`.
    #[error("canale {0} definito due volte")]
    DuplicateChannel(String),
    /// The scenarios could not be built.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
}

impl NodoError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            NodoError::ScenarioCreditorInCatalogue(_) => "NODO_SCENARIO_CREDITOR_IN_CATALOGUE",
            NodoError::DuplicateChannel(_) => "NODO_DUPLICATE_CHANNEL",
            NodoError::Scenario(e) => e.code(),
        }
    }
}

/// The Nodo's short text for a fault code (`faultString`), from the SANP "Gestione degli
/// errori" tables.
pub fn fault_string(code: &FaultCode) -> &'static str {
    match code {
        FaultCode::PptSintassiExtraxsd => "Errore di sintassi extra XSD",
        FaultCode::PptSintassiXsd => "Errore di sintassi XSD",
        FaultCode::PptSemantica => "Errore semantico",
        FaultCode::PptPspSconosciuto => "PSP sconosciuto",
        FaultCode::PptIntermediarioPspSconosciuto => "Identificativo intermediario psp sconosciuto",
        FaultCode::PptCanaleSconosciuto => "Canale sconosciuto",
        FaultCode::PptAutenticazione => "Errore di autenticazione",
        FaultCode::PptAutorizzazione => "Il richiedente non ha i diritti per l'operazione",
        FaultCode::PptSoapactionErrata => "SOAPAction errata",
        FaultCode::PptDominioSconosciuto => "IdentificativoDominio sconosciuto",
        FaultCode::PptStazioneIntPaIrraggiungibile => "Errore di connessione verso la Stazione",
        FaultCode::PptStazioneIntPaTimeout => "Timeout risposta dalla Stazione",
        FaultCode::PptErroreEmessoDaPaa => "Errore restituito dall'Ente Creditore",
        FaultCode::PptPagamentoInCorso => "Pagamento in attesa risulta in corso al sistema pagoPA",
        FaultCode::PptPagamentoDuplicato => {
            "Pagamento in attesa risulta concluso al sistema pagoPA"
        }
        FaultCode::PptErroreIdempotenza => "Errore di idempotenza",
        FaultCode::PptTokenScaduto | FaultCode::PptTokenScadutoKo => "paymentToken is expired",
        FaultCode::PptTokenSconosciuto => "unknown token",
        FaultCode::PptEsitoGiaAcquisito => {
            "L'esito del pagamento risulta gia' acquisito dal sistema pagoPA"
        }
        FaultCode::PptSystemError => "Errore generico",
        FaultCode::PaaPagamentoSconosciuto => {
            "Pagamento in attesa risulta sconosciuto all'Ente Creditore"
        }
        FaultCode::PaaPagamentoScaduto => "Pagamento in attesa risulta scaduto all'Ente Creditore",
        FaultCode::PaaPagamentoAnnullato => {
            "Pagamento in attesa risulta annullato all'Ente Creditore"
        }
        FaultCode::PaaPagamentoDuplicato => {
            "Pagamento in attesa risulta concluso all'Ente Creditore"
        }
        FaultCode::PaaAttivaRptImportoNonValido => {
            "L'importo del pagamento in attesa non e' congruente con il dato indicato dal PSP"
        }
        _ => "Errore",
    }
}

/// A fault raised by the Nodo itself.
pub fn nodo_fault(code: FaultCode, description: impl Into<String>) -> Fault {
    let mut f = Fault::new(code.clone(), fault_string(&code), NODO_ID);
    f.description = Some(description.into());
    f
}

/// A creditor's refusal as the Nodo relays it: `PPT_ERRORE_EMESSO_DA_PAA`, the creditor's code
/// in `originalFaultCode`.
pub fn creditor_fault(original: FaultCode, creditor: &CreditorFiscalCode) -> Fault {
    let mut f = nodo_fault(
        FaultCode::PptErroreEmessoDaPaa,
        format!(
            "L'ente creditore {creditor} ha risposto {}",
            original.as_str()
        ),
    );
    f.original_fault_string = Some(fault_string(&original).to_owned());
    f.original_description = Some(format!("Risposta della stazione dell'ente {creditor}"));
    f.original_fault_code = Some(original);
    f
}

/// The KO answer to `primitive` carrying `fault`.
pub fn ko(primitive: Primitive, fault: Fault) -> NodoResponse {
    match primitive {
        Primitive::VerifyPaymentNotice => {
            NodoResponse::VerifyPaymentNotice(VerifyPaymentNoticeResponse::ko(fault))
        }
        Primitive::ActivatePaymentNotice => {
            NodoResponse::ActivatePaymentNotice(ActivatePaymentNoticeResponse::ko(fault))
        }
        Primitive::ActivatePaymentNoticeV2 => NodoResponse::ActivatePaymentNoticeV2(Box::new(
            ActivatePaymentNoticeV2Response::ko(fault),
        )),
        Primitive::SendPaymentOutcome => {
            NodoResponse::SendPaymentOutcome(SendPaymentOutcomeResponse::ko(fault))
        }
        Primitive::SendPaymentOutcomeV2 => {
            NodoResponse::SendPaymentOutcomeV2(SendPaymentOutcomeV2Response::ko(fault))
        }
    }
}

/// A refusal, with the wait before it (a timing-out station).
#[derive(Debug)]
struct Fail {
    fault: Box<Fault>,
    delay_ms: u64,
}

impl From<Fault> for Fail {
    fn from(fault: Fault) -> Self {
        Fail {
            fault: Box::new(fault),
            delay_ms: 0,
        }
    }
}

fn fail(code: FaultCode, description: impl Into<String>) -> Fail {
    nodo_fault(code, description).into()
}

/// A receipt the Nodo produced for a creditor (it would deliver it with paSendRTV2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptRecord {
    /// Position in production order, from 1.
    pub seq: u64,
    /// When it was produced (simulated time).
    pub at: Millis,
    /// The outcome arrived after the token expired (`PPT_TOKEN_SCADUTO`): the PSP reports it
    /// with FdR code 9.
    pub late: bool,
    /// The station it goes to.
    pub station: StationIdentity,
    /// The receipt.
    pub receipt: ReceiptV2,
}

impl ReceiptRecord {
    /// The `codiceEsitoSingoloPagamento` the PSP reports in its FdR: 0, or 9 for a late outcome.
    pub fn fdr_code(&self) -> u8 {
        if self.late { 9 } else { 0 }
    }
}

/// A notice of the catalogue and its current state, for the admin listing.
#[derive(Debug, Clone, Copy)]
pub struct NoticeView<'a> {
    /// The notice.
    pub entry: &'a NoticeEntry,
    /// Its creditor.
    pub creditor: &'a Creditor,
    /// Its state now.
    pub state: NoticeState,
}

/// The state of a notice as a PSP would find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeState {
    /// Payable.
    Open,
    /// A payment session holds it.
    InProgress,
    /// Paid through the Nodo.
    Paid,
    /// Paid at the creditor (not payable).
    PaidAtCreditor,
    /// Expired at the creditor.
    Expired,
    /// Annulled by the creditor.
    Annulled,
}

impl NoticeState {
    /// Stable name (`open`, `in_progress`, `paid`, `paid_at_creditor`, `expired`, `annulled`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Open => "open",
            NoticeState::InProgress => "in_progress",
            NoticeState::Paid => "paid",
            NoticeState::PaidAtCreditor => "paid_at_creditor",
            NoticeState::Expired => "expired",
            NoticeState::Annulled => "annulled",
        }
    }
}

type PositionKey = (CreditorFiscalCode, NoticeNumber);

#[derive(Debug, Clone)]
struct Position {
    notice: Arc<Notice>,
    /// The session that locked it last (live only while open and unexpired).
    live: Option<u128>,
    /// The session that paid it.
    paid: Option<u128>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Family {
    Activate,
    Outcome,
}

/// Idempotency keys are per PSP (the key's prefix is the PSP's fiscal code): `psp` is the index
/// of the PSP's first channel, so every channel of one PSP shares the keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct IdemKey {
    family: Family,
    psp: usize,
    key: IdempotencyKey,
}

#[derive(Debug, Clone)]
struct IdemEntry {
    request_hash: u64,
    response: NodoResponse,
    expires_at: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    Ok,
    Ko,
    LateOk,
    LateKo,
    Duplicate,
}

#[derive(Debug, Clone)]
struct Session {
    position: PositionKey,
    channel: usize,
    expires_at: Millis,
    closed: Option<(Closed, Millis)>,
    activate_key: Option<IdemKey>,
}

/// What the idempotency cache says about a request.
enum Idem {
    /// Not seen: process it, then store the answer under this key and request hash.
    Fresh(Option<(IdemKey, u64)>),
    /// Seen with the same request: the original answer.
    Replay(Box<NodoResponse>),
    /// Seen with another request.
    Conflict(Fail),
}

/// What closing one token produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TokenResult {
    Ok,
    Late,
    LateKo,
    Duplicate,
}

/// How a payment went, from either version of the outcome.
struct PaymentInfo {
    method: PaymentMethod,
    fee: Amount,
    primary_ci_incurred_fee: Option<Amount>,
    id_bundle: Option<Text70>,
    id_ci_bundle: Option<Text70>,
    payer: Option<Subject>,
    application_date: Date,
    transfer_date: Date,
}

impl From<&OutcomeDetails> for PaymentInfo {
    fn from(d: &OutcomeDetails) -> Self {
        PaymentInfo {
            method: d.payment_method,
            fee: d.fee,
            primary_ci_incurred_fee: None,
            id_bundle: None,
            id_ci_bundle: None,
            payer: d.payer.clone(),
            application_date: d.application_date,
            transfer_date: d.transfer_date,
        }
    }
}

impl From<&OutcomeDetailsV2> for PaymentInfo {
    fn from(d: &OutcomeDetailsV2) -> Self {
        PaymentInfo {
            method: d.payment_method,
            fee: d.fee,
            primary_ci_incurred_fee: d.primary_ci_incurred_fee,
            id_bundle: d.id_bundle.clone(),
            id_ci_bundle: d.id_ci_bundle.clone(),
            payer: d.payer.clone(),
            application_date: d.application_date,
            transfer_date: d.transfer_date,
        }
    }
}

/// Every entry is looked at once per this period, one shard per [`PURGE_STEP_MS`].
const PURGE_EVERY_MS: Millis = 10_000;
const PURGE_STEP_MS: Millis = PURGE_EVERY_MS / SHARDS as Millis;

/// The simulated Nodo: catalogue, payment sessions, idempotency cache, receipts.
#[derive(Debug)]
pub struct Nodo {
    settings: Settings,
    catalogue: Catalogue,
    creditors: HashMap<CreditorFiscalCode, usize>,
    scenarios: Scenarios,
    scenario_creditor: Creditor,
    positions: ShardedMap<PositionKey, Position>,
    sessions: ShardedMap<u128, Session>,
    idempotency: ShardedMap<IdemKey, IdemEntry>,
    /// The most recent receipts, at most `settings.max_receipts`, oldest first.
    receipts: VecDeque<ReceiptRecord>,
    /// Receipts produced since the start or the last reset: the last one's `seq`.
    receipts_produced: u64,
    tokens: Box<dyn TokenSource>,
    next_purge: Millis,
    /// The shard the next purge step looks at.
    next_purge_shard: usize,
}

impl Nodo {
    /// A Nodo serving `catalogue` plus the scenario creditor, issuing tokens from `tokens`.
    pub fn new(
        settings: Settings,
        catalogue: Catalogue,
        tokens: Box<dyn TokenSource>,
    ) -> Result<Nodo, NodoError> {
        let mut ids = std::collections::HashSet::new();
        for c in &settings.channels {
            if !ids.insert(c.id_channel.clone()) {
                return Err(NodoError::DuplicateChannel(c.id_channel.to_string()));
            }
        }
        let creditors: HashMap<_, _> = catalogue
            .creditors()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.fiscal_code, i))
            .collect();
        if creditors.contains_key(&settings.scenario_creditor) {
            return Err(NodoError::ScenarioCreditorInCatalogue(
                settings.scenario_creditor.to_string(),
            ));
        }
        let scenarios = Scenarios::new(settings.scenario_creditor)?;
        let text = |s: &str| Text140::new(s).map_err(crate::scenario::ScenarioError::new);
        let scenario_creditor = Creditor {
            fiscal_code: settings.scenario_creditor,
            company_name: text("EC di test nodo-sim")?,
            office_name: Some(text("Ufficio scenari")?),
            id_broker_pa: Text35::new(settings.scenario_creditor.as_str())
                .map_err(crate::scenario::ScenarioError::new)?,
            id_station: Text35::new(&format!("{}_01", settings.scenario_creditor))
                .map_err(crate::scenario::ScenarioError::new)?,
            station: StationBehaviour::Online,
        };
        let mut nodo = Nodo {
            settings,
            catalogue,
            creditors,
            scenarios,
            scenario_creditor,
            positions: ShardedMap::default(),
            sessions: ShardedMap::default(),
            idempotency: ShardedMap::default(),
            receipts: VecDeque::new(),
            receipts_produced: 0,
            tokens,
            next_purge: 0,
            next_purge_shard: 0,
        };
        nodo.reset();
        Ok(nodo)
    }

    /// Back to the catalogue's initial state: no sessions, no payments, no receipts, an empty
    /// idempotency cache. Tokens keep coming from the same sequence, so none is ever reused.
    pub fn reset(&mut self) {
        self.positions = self
            .catalogue
            .notices()
            .iter()
            .map(|e| {
                (
                    (e.creditor, e.notice_number),
                    Position {
                        notice: Arc::new(e.notice.clone()),
                        live: None,
                        paid: None,
                    },
                )
            })
            .collect();
        self.sessions.clear();
        self.idempotency.clear();
        self.receipts.clear();
        self.receipts_produced = 0;
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The scenarios.
    pub fn scenarios(&self) -> &Scenarios {
        &self.scenarios
    }

    /// The receipts produced so far, oldest first: the most recent
    /// [`Settings::max_receipts`] of them.
    pub fn receipts(&self) -> &VecDeque<ReceiptRecord> {
        &self.receipts
    }

    /// How many receipts were produced since the start or the last reset, dropped ones
    /// included.
    pub fn receipts_produced(&self) -> u64 {
        self.receipts_produced
    }

    /// The catalogue's notices with their state at `now`, in catalogue order.
    pub fn notices(&self, now: Millis) -> impl Iterator<Item = NoticeView<'_>> {
        self.catalogue.notices().iter().filter_map(move |entry| {
            let creditor = self
                .catalogue
                .creditors()
                .get(*self.creditors.get(&entry.creditor)?)?;
            let position = self.positions.get(&(entry.creditor, entry.notice_number));
            let state = match entry.notice.status {
                NoticeStatus::PaidAtCreditor => NoticeState::PaidAtCreditor,
                NoticeStatus::Expired => NoticeState::Expired,
                NoticeStatus::Annulled => NoticeState::Annulled,
                NoticeStatus::Open => match position {
                    Some(p) if p.paid.is_some() => NoticeState::Paid,
                    Some(p) if self.live(p, now).is_some() => NoticeState::InProgress,
                    _ => NoticeState::Open,
                },
            };
            Some(NoticeView {
                entry,
                creditor,
                state,
            })
        })
    }

    /// Answer one request at time `now`.
    pub fn handle(&mut self, request: &NodoRequest, now: Millis) -> Reply {
        if now >= self.next_purge {
            self.purge(now);
        }
        let primitive = request.primitive();
        let result = match request {
            NodoRequest::VerifyPaymentNotice(r) => self
                .authenticate(&r.psp)
                .and_then(|_| self.verify(&r.qr_code, now)),
            NodoRequest::ActivatePaymentNotice(r) => self.activate(request, r, false, now),
            NodoRequest::ActivatePaymentNoticeV2(r) => self.activate(request, &r.base, true, now),
            NodoRequest::SendPaymentOutcome(r) => {
                let info = r.details.as_ref().map(PaymentInfo::from);
                self.outcome(
                    request,
                    &r.psp,
                    std::slice::from_ref(&r.payment_token),
                    r.outcome,
                    info,
                    now,
                )
            }
            NodoRequest::SendPaymentOutcomeV2(r) => {
                let info = r.details.as_ref().map(PaymentInfo::from);
                self.outcome(request, &r.psp, &r.payment_tokens, r.outcome, info, now)
            }
        };
        match result {
            Ok(response) => Reply {
                response,
                delay_ms: 0,
            },
            Err(Fail { fault, delay_ms }) => Reply {
                response: ko(primitive, *fault),
                delay_ms,
            },
        }
    }

    /// Drop what nobody can ask about any more, a shard at a time: a long load test holds
    /// millions of sessions and cached answers, and a scan of them all would hold up the
    /// request that runs it for tens of milliseconds. A step looks at one shard, and at one
    /// more for each step missed (time jumped forward, or no request came), up to all of them.
    fn purge(&mut self, now: Millis) {
        let missed = now.saturating_sub(self.next_purge) / PURGE_STEP_MS;
        let shards = usize::try_from(missed)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(SHARDS);
        let retention = self.settings.retention_ms;
        for _ in 0..shards {
            let i = self.next_purge_shard;
            self.sessions.retain_shard(i, |_, s| {
                let since = s.closed.map_or(s.expires_at, |(_, at)| at);
                since.saturating_add(retention) > now
            });
            self.idempotency.retain_shard(i, |_, e| e.expires_at > now);
            self.next_purge_shard = (i + 1) % SHARDS;
        }
        self.next_purge = now.saturating_add(PURGE_STEP_MS);
    }

    fn authenticate(&self, psp: &PspIdentity) -> Result<usize, Fail> {
        let channels = &self.settings.channels;
        if !channels.iter().any(|c| c.id_psp == psp.id_psp) {
            return Err(fail(
                FaultCode::PptPspSconosciuto,
                format!("idPSP {} sconosciuto", psp.id_psp),
            ));
        }
        if !channels
            .iter()
            .any(|c| c.id_broker_psp == psp.id_broker_psp)
        {
            return Err(fail(
                FaultCode::PptIntermediarioPspSconosciuto,
                format!("idBrokerPSP {} sconosciuto", psp.id_broker_psp),
            ));
        }
        let Some(i) = channels.iter().position(|c| c.id_channel == psp.id_channel) else {
            return Err(fail(
                FaultCode::PptCanaleSconosciuto,
                format!("idChannel {} sconosciuto", psp.id_channel),
            ));
        };
        let c = &channels[i];
        if c.id_psp != psp.id_psp || c.id_broker_psp != psp.id_broker_psp {
            return Err(fail(
                FaultCode::PptAutorizzazione,
                format!(
                    "il canale {} non opera per idPSP {} / idBrokerPSP {}",
                    psp.id_channel, psp.id_psp, psp.id_broker_psp
                ),
            ));
        }
        if c.password != psp.password {
            return Err(fail(
                FaultCode::PptAutenticazione,
                format!("password errata per il canale {}", psp.id_channel),
            ));
        }
        Ok(i)
    }

    fn creditor(&self, fc: &CreditorFiscalCode) -> Option<&Creditor> {
        if *fc == self.settings.scenario_creditor {
            return Some(&self.scenario_creditor);
        }
        self.creditors
            .get(fc)
            .and_then(|&i| self.catalogue.creditors().get(i))
    }

    /// The Nodo's answer when `creditor`'s station behaves as `behaviour`; `None` if online.
    fn station_down(&self, behaviour: StationBehaviour, creditor: &Creditor) -> Option<Fail> {
        match behaviour {
            StationBehaviour::Online => None,
            StationBehaviour::Unreachable => Some(fail(
                FaultCode::PptStazioneIntPaIrraggiungibile,
                format!("stazione {} irraggiungibile", creditor.id_station),
            )),
            StationBehaviour::Timeout => Some(Fail {
                fault: Box::new(nodo_fault(
                    FaultCode::PptStazioneIntPaTimeout,
                    format!("nessuna risposta dalla stazione {}", creditor.id_station),
                )),
                delay_ms: self.settings.station_timeout_ms,
            }),
        }
    }

    /// The notice behind a QR code, as its creditor describes it, or the refusal.
    fn locate(&self, qr: &QrCode) -> Result<Arc<Notice>, Fail> {
        let fc = &qr.fiscal_code;
        let Some(creditor) = self.creditor(fc) else {
            return Err(fail(
                FaultCode::PptDominioSconosciuto,
                format!("ente creditore {fc} sconosciuto"),
            ));
        };
        if let Some(down) = self.station_down(creditor.station, creditor) {
            return Err(down);
        }
        let key = (qr.fiscal_code, qr.notice_number);
        let notice = match self.positions.get(&key) {
            Some(p) => Arc::clone(&p.notice),
            None if *fc == self.settings.scenario_creditor => {
                let scenario = self.scenarios.lookup(&qr.notice_number);
                match scenario {
                    Scenario::Payable(n) => n,
                    Scenario::Refused(status) => return Err(refusal(status, fc)),
                    Scenario::Unreachable | Scenario::Timeout => {
                        let behaviour = if matches!(scenario, Scenario::Timeout) {
                            StationBehaviour::Timeout
                        } else {
                            StationBehaviour::Unreachable
                        };
                        // Always `Some` for a station that is not online.
                        return Err(self
                            .station_down(behaviour, creditor)
                            .unwrap_or_else(|| fail(FaultCode::PptSystemError, "scenario")));
                    }
                    Scenario::Unknown => {
                        return Err(creditor_fault(FaultCode::PaaPagamentoSconosciuto, fc).into());
                    }
                }
            }
            None => return Err(creditor_fault(FaultCode::PaaPagamentoSconosciuto, fc).into()),
        };
        if notice.status != NoticeStatus::Open {
            return Err(refusal(notice.status, fc));
        }
        Ok(notice)
    }

    /// The session holding `p` at `now`, if any.
    fn live(&self, p: &Position, now: Millis) -> Option<u128> {
        p.live.filter(|t| {
            self.sessions
                .get(t)
                .is_some_and(|s| s.closed.is_none() && now < s.expires_at)
        })
    }

    /// Paid or locked: the answer for verify and activate.
    fn check_free(&self, key: &PositionKey, now: Millis) -> Result<(), Fail> {
        let Some(p) = self.positions.get(key) else {
            return Ok(());
        };
        if p.paid.is_some() {
            return Err(fail(
                FaultCode::PptPagamentoDuplicato,
                format!("l'avviso {} risulta gia' pagato", key.1),
            ));
        }
        if self.live(p, now).is_some() {
            return Err(fail(
                FaultCode::PptPagamentoInCorso,
                format!("l'avviso {} ha un pagamento in corso", key.1),
            ));
        }
        Ok(())
    }

    fn verify(&self, qr: &QrCode, now: Millis) -> Result<NodoResponse, Fail> {
        let notice = self.locate(qr)?;
        self.check_free(&(qr.fiscal_code, qr.notice_number), now)?;
        let creditor = self.creditor(&qr.fiscal_code);
        let amount = NonZeroAmount::new(notice.amount())
            .map_err(|e| fail(FaultCode::PptSystemError, e.to_string()))?;
        Ok(NodoResponse::VerifyPaymentNotice(
            VerifyPaymentNoticeResponse::ok(VerifiedNotice {
                payment_options: BoundedVec::one(PaymentOption {
                    amount,
                    options: AmountOption::Equal,
                    due_date: Some(notice.due_date),
                    payment_note: None,
                }),
                payment_description: Text210::new(notice.description.as_str()).ok(),
                fiscal_code_pa: Some(qr.fiscal_code),
                company_name: creditor.map(|c| c.company_name.clone()),
                office_name: office(&notice, creditor),
                standin: None,
            }),
        ))
    }

    /// What the idempotency key says about a request: replay the original answer (known key,
    /// same request), refuse (`PPT_ERRORE_IDEMPOTENZA`: known key, different request), or go
    /// ahead, remembering where to store the answer.
    fn idempotency(
        &self,
        family: Family,
        channel: usize,
        key: Option<&IdempotencyKey>,
        request: &NodoRequest,
        now: Millis,
    ) -> Idem {
        let Some(key) = key else {
            return Idem::Fresh(None);
        };
        let psp = self.settings.channels.get(channel).map_or(channel, |c| {
            self.settings
                .channels
                .iter()
                .position(|d| d.id_psp == c.id_psp)
                .unwrap_or(channel)
        });
        let ik = IdemKey {
            family,
            psp,
            key: key.clone(),
        };
        let mut h = std::hash::DefaultHasher::new();
        request.encode().hash(&mut h);
        let hash = h.finish();
        match self.idempotency.get(&ik) {
            Some(e) if e.expires_at > now => {
                if e.request_hash == hash {
                    Idem::Replay(Box::new(e.response.clone()))
                } else {
                    Idem::Conflict(fail(
                        FaultCode::PptErroreIdempotenza,
                        format!("idempotencyKey {key} gia' usata con parametri diversi"),
                    ))
                }
            }
            _ => Idem::Fresh(Some((ik, hash))),
        }
    }

    fn activate(
        &mut self,
        request: &NodoRequest,
        r: &ActivatePaymentNoticeRequest,
        v2: bool,
        now: Millis,
    ) -> Result<NodoResponse, Fail> {
        let channel = self.authenticate(&r.psp)?;
        let idem = match self.idempotency(
            Family::Activate,
            channel,
            r.idempotency_key.as_ref(),
            request,
            now,
        ) {
            Idem::Fresh(idem) => idem,
            Idem::Replay(response) => return Ok(*response),
            Idem::Conflict(refusal) => return Err(refusal),
        };
        let notice = self.locate(&r.qr_code)?;
        let key = (r.qr_code.fiscal_code, r.qr_code.notice_number);
        self.check_free(&key, now)?;
        if r.amount != notice.amount() {
            let mut f = creditor_fault(FaultCode::PaaAttivaRptImportoNonValido, &key.0);
            f.original_description = Some(format!(
                "importo richiesto {}, importo dovuto {}",
                r.amount,
                notice.amount()
            ));
            return Err(f.into());
        }
        let token = self.tokens.next_token();
        let payment_token = PaymentToken::new(&format_token(token))
            .map_err(|e| fail(FaultCode::PptSystemError, e.to_string()))?;
        let lifetime = r
            .expiration_time
            .map_or(DEFAULT_EXPIRATION_MS, |e| u64::from(e.as_millis()));
        let expires_at = now.saturating_add(lifetime);
        let response = self.activation_response(&key, &notice, payment_token, v2)?;
        self.positions
            .entry(key)
            .or_insert_with(|| Position {
                notice: Arc::clone(&notice),
                live: None,
                paid: None,
            })
            .live = Some(token);
        let activate_key = idem.map(|(ik, request_hash)| {
            self.idempotency.insert(
                ik.clone(),
                IdemEntry {
                    request_hash,
                    response: response.clone(),
                    expires_at: expires_at
                        .min(now.saturating_add(self.settings.idempotency_ttl_ms)),
                },
            );
            ik
        });
        self.sessions.insert(
            token,
            Session {
                position: key,
                channel,
                expires_at,
                closed: None,
                activate_key,
            },
        );
        Ok(response)
    }

    fn activation_response(
        &self,
        key: &PositionKey,
        notice: &Notice,
        payment_token: PaymentToken,
        v2: bool,
    ) -> Result<NodoResponse, Fail> {
        let creditor = self.creditor(&key.0);
        let company_name = creditor.map(|c| c.company_name.clone());
        let office_name = office(notice, creditor);
        let iuv = key.1.iuv();
        let system = |e: soap::ValueError| fail(FaultCode::PptSystemError, e.to_string());
        let id = |i: usize| {
            u8::try_from(i + 1)
                .map_err(|_| fail(FaultCode::PptSystemError, "troppi trasferimenti"))
                .and_then(|n| TransferId::new(n).map_err(system))
        };
        if v2 {
            let mut transfers = Vec::with_capacity(notice.transfers.len());
            for (i, t) in notice.transfers.iter().enumerate() {
                transfers.push(TransferV2 {
                    id_transfer: id(i)?,
                    amount: t.amount.get(),
                    fiscal_code_pa: t.fiscal_code,
                    company_name: self
                        .creditor(&t.fiscal_code)
                        .map(|c| c.company_name.clone()),
                    destination: Some(TransferDestination::Iban(t.iban.clone())),
                    remittance_information: t.remittance.clone(),
                    transfer_category: Some(t.category.clone()),
                    metadata: None,
                });
            }
            let all_ccp = notice.transfers.iter().all(|t| is_postal(&t.iban));
            Ok(NodoResponse::ActivatePaymentNoticeV2(Box::new(
                ActivatePaymentNoticeV2Response::ok(ActivatedPaymentV2 {
                    total_amount: notice.amount(),
                    payment_description: Some(notice.description.clone()),
                    fiscal_code_pa: Some(key.0),
                    company_name,
                    office_name,
                    payment_token,
                    transfers: BoundedVec::new(transfers).map_err(system)?,
                    metadata: None,
                    creditor_reference_id: iuv,
                    suggested_user_fee: None,
                    suggested_pa_fee: None,
                    suggested_id_bundle: None,
                    suggested_id_ci_bundle: None,
                    all_ccp: Some(all_ccp),
                    standin: Some(false),
                }),
            )))
        } else {
            let mut transfers = Vec::with_capacity(notice.transfers.len());
            for (i, t) in notice.transfers.iter().enumerate() {
                transfers.push(soap::Transfer {
                    id_transfer: id(i)?,
                    amount: t.amount.get(),
                    fiscal_code_pa: t.fiscal_code,
                    iban: t.iban.clone(),
                    remittance_information: t.remittance.clone(),
                    metadata: None,
                });
            }
            Ok(NodoResponse::ActivatePaymentNotice(
                ActivatePaymentNoticeResponse::ok(ActivatedPayment {
                    total_amount: notice.amount(),
                    payment_description: Some(notice.description.clone()),
                    fiscal_code_pa: Some(key.0),
                    company_name,
                    office_name,
                    payment_token,
                    transfers: BoundedVec::new(transfers).map_err(system)?,
                    creditor_reference_id: iuv,
                    standin: Some(false),
                }),
            ))
        }
    }

    fn outcome(
        &mut self,
        request: &NodoRequest,
        psp: &PspIdentity,
        tokens: &[PaymentToken],
        outcome: Outcome,
        info: Option<PaymentInfo>,
        now: Millis,
    ) -> Result<NodoResponse, Fail> {
        let channel = self.authenticate(psp)?;
        let idem = match self.idempotency(
            Family::Outcome,
            channel,
            request.idempotency_key(),
            request,
            now,
        ) {
            Idem::Fresh(idem) => idem,
            Idem::Replay(response) => return Ok(*response),
            Idem::Conflict(refusal) => return Err(refusal),
        };
        if outcome == Outcome::Ok && info.is_none() {
            return Err(fail(
                FaultCode::PptSemantica,
                "details obbligatorio con outcome OK",
            ));
        }
        let mut ids = Vec::with_capacity(tokens.len());
        for t in tokens {
            let id = parse_token(t.as_str()).filter(|id| {
                self.sessions
                    .get(id)
                    .is_some_and(|s| s.channel_psp_matches(channel, &self.settings))
            });
            let Some(id) = id else {
                return Err(fail(
                    FaultCode::PptTokenSconosciuto,
                    format!("paymentToken {} sconosciuto", t.as_str()),
                ));
            };
            if ids.contains(&id) {
                return Err(fail(
                    FaultCode::PptSemantica,
                    format!("paymentToken {} ripetuto", t.as_str()),
                ));
            }
            ids.push(id);
        }
        for (id, t) in ids.iter().zip(tokens) {
            if self.sessions.get(id).is_some_and(|s| s.closed.is_some()) {
                return Err(fail(
                    FaultCode::PptEsitoGiaAcquisito,
                    format!("esito gia' acquisito per paymentToken {}", t.as_str()),
                ));
            }
        }
        let mut worst = TokenResult::Ok;
        for (i, id) in ids.iter().enumerate() {
            // A cart's fee is charged once: it goes on the first receipt.
            let info = info.as_ref().map(|p| (p, i == 0));
            worst = worst.max(self.close(*id, outcome, info, now));
        }
        let primitive = request.primitive();
        let response = match worst {
            TokenResult::Ok => match primitive {
                Primitive::SendPaymentOutcomeV2 => {
                    NodoResponse::SendPaymentOutcomeV2(SendPaymentOutcomeV2Response::ok(()))
                }
                _ => NodoResponse::SendPaymentOutcome(SendPaymentOutcomeResponse::ok(())),
            },
            TokenResult::Late => ko(
                primitive,
                nodo_fault(
                    FaultCode::PptTokenScaduto,
                    "esito OK ricevuto dopo la scadenza del paymentToken: pagamento accettato",
                ),
            ),
            TokenResult::LateKo => ko(
                primitive,
                nodo_fault(
                    FaultCode::PptTokenScadutoKo,
                    "esito KO ricevuto dopo la scadenza del paymentToken",
                ),
            ),
            TokenResult::Duplicate => ko(
                primitive,
                nodo_fault(
                    FaultCode::PptPagamentoDuplicato,
                    "paymentToken scaduto e avviso pagato nel frattempo: rimborsare il pagatore",
                ),
            ),
        };
        if let Some((ik, request_hash)) = idem {
            self.idempotency.insert(
                ik,
                IdemEntry {
                    request_hash,
                    response: response.clone(),
                    expires_at: now.saturating_add(self.settings.idempotency_ttl_ms),
                },
            );
        }
        Ok(response)
    }

    /// Close one session with `outcome`; `info` carries the payment details and whether this
    /// receipt carries the fee.
    fn close(
        &mut self,
        token: u128,
        outcome: Outcome,
        info: Option<(&PaymentInfo, bool)>,
        now: Millis,
    ) -> TokenResult {
        let Some(session) = self.sessions.get(&token) else {
            return TokenResult::Duplicate;
        };
        let expired = now >= session.expires_at;
        let key = session.position;
        let channel = session.channel;
        let activate_key = session.activate_key.clone();
        let other_live = self
            .positions
            .get(&key)
            .and_then(|p| self.live(p, now))
            .is_some_and(|t| t != token);
        let paid_by_other = self
            .positions
            .get(&key)
            .is_some_and(|p| p.paid.is_some_and(|t| t != token));
        let (closed, result) = match (outcome, expired) {
            (Outcome::Ko, false) => (Closed::Ko, TokenResult::Ok),
            (Outcome::Ko, true) => (Closed::LateKo, TokenResult::LateKo),
            (Outcome::Ok, _) if paid_by_other || (expired && other_live) => {
                (Closed::Duplicate, TokenResult::Duplicate)
            }
            (Outcome::Ok, false) => (Closed::Ok, TokenResult::Ok),
            (Outcome::Ok, true) => (Closed::LateOk, TokenResult::Late),
        };
        if let Some(s) = self.sessions.get_mut(&token) {
            s.closed = Some((closed, now));
            s.activate_key = None;
        }
        if let Some(ik) = activate_key {
            self.idempotency.remove(&ik);
        }
        if let Some(p) = self.positions.get_mut(&key) {
            if p.live == Some(token) {
                p.live = None;
            }
            if matches!(closed, Closed::Ok | Closed::LateOk) {
                p.paid = Some(token);
            }
        }
        if let (Closed::Ok | Closed::LateOk, Some((info, with_fee))) = (closed, info) {
            {
                self.produce_receipt(
                    token,
                    key,
                    channel,
                    info,
                    with_fee,
                    closed == Closed::LateOk,
                    now,
                );
            }
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn produce_receipt(
        &mut self,
        token: u128,
        key: PositionKey,
        channel: usize,
        info: &PaymentInfo,
        with_fee: bool,
        late: bool,
        now: Millis,
    ) {
        let Some(record) = self.build_receipt(token, key, channel, info, with_fee, late, now)
        else {
            return;
        };
        if self.receipts.len() >= self.settings.max_receipts.max(1) {
            self.receipts.pop_front();
        }
        self.receipts_produced = record.seq;
        self.receipts.push_back(record);
    }

    #[allow(clippy::too_many_arguments)]
    fn build_receipt(
        &self,
        token: u128,
        key: PositionKey,
        channel: usize,
        info: &PaymentInfo,
        with_fee: bool,
        late: bool,
        now: Millis,
    ) -> Option<ReceiptRecord> {
        let position = self.positions.get(&key)?;
        let notice = &position.notice;
        let creditor = self.creditor(&key.0)?;
        let ch = self.settings.channels.get(channel)?;
        let mut transfers = Vec::with_capacity(notice.transfers.len());
        for (i, t) in notice.transfers.iter().enumerate() {
            transfers.push(ReceiptTransferV2 {
                id_transfer: TransferId::new(u8::try_from(i + 1).ok()?).ok()?,
                amount: t.amount,
                fiscal_code_pa: t.fiscal_code,
                company_name: self
                    .creditor(&t.fiscal_code)
                    .map(|c| c.company_name.clone()),
                destination: ReceiptDestination::Iban(t.iban.clone()),
                remittance_information: t.remittance.clone(),
                transfer_category: t.category.clone(),
                metadata: None,
            });
        }
        let d = &notice.debtor;
        let receipt = ReceiptV2 {
            receipt_id: PaymentToken::new(&format_token(token)).ok()?,
            notice_number: key.1,
            fiscal_code: key.0,
            outcome: Outcome::Ok,
            creditor_reference_id: key.1.iuv(),
            payment_amount: notice.amount(),
            description: notice.description.clone(),
            company_name: creditor.company_name.clone(),
            office_name: office(notice, Some(creditor)),
            debtor: Subject::new(d.kind, d.id.clone(), d.name.clone()),
            transfers: BoundedVec::new(transfers).ok()?,
            id_psp: ch.id_psp.clone(),
            psp_fiscal_code: ch.psp_fiscal_code.clone(),
            psp_vat_number: None,
            psp_company_name: ch.psp_company_name.clone(),
            id_channel: ch.id_channel.clone(),
            channel_description: ch.channel_description.clone(),
            payer: info.payer.clone(),
            payment_method: Text35::new(info.method.as_str()).ok(),
            payment_note: None,
            fee: Some(if with_fee { info.fee } else { Amount::ZERO }),
            primary_ci_incurred_fee: if with_fee {
                info.primary_ci_incurred_fee
            } else {
                None
            },
            id_bundle: info.id_bundle.clone(),
            id_ci_bundle: info.id_ci_bundle.clone(),
            payment_date_time: rome_datetime(now),
            application_date: Some(info.application_date),
            transfer_date: Some(info.transfer_date),
            metadata: None,
            stand_in: Some(false),
        };
        Some(ReceiptRecord {
            seq: self.receipts_produced + 1,
            at: now,
            late,
            station: StationIdentity {
                id_pa: Text35::new(key.0.as_str()).ok()?,
                id_broker_pa: creditor.id_broker_pa.clone(),
                id_station: creditor.id_station.clone(),
            },
            receipt,
        })
    }
}

impl Session {
    /// Whether the PSP calling through `channel` is the one that activated this session.
    fn channel_psp_matches(&self, channel: usize, settings: &Settings) -> bool {
        let psp = |i: usize| settings.channels.get(i).map(|c| &c.id_psp);
        psp(self.channel) == psp(channel)
    }
}

/// The creditor's refusal for a notice that is not payable.
fn refusal(status: NoticeStatus, fc: &CreditorFiscalCode) -> Fail {
    let code = match status {
        NoticeStatus::PaidAtCreditor => FaultCode::PaaPagamentoDuplicato,
        NoticeStatus::Expired => FaultCode::PaaPagamentoScaduto,
        NoticeStatus::Annulled => FaultCode::PaaPagamentoAnnullato,
        NoticeStatus::Open => FaultCode::PaaSystemError,
    };
    creditor_fault(code, fc).into()
}

fn office(notice: &Notice, creditor: Option<&Creditor>) -> Option<Text140> {
    notice
        .office_name
        .clone()
        .or_else(|| creditor.and_then(|c| c.office_name.clone()))
}

/// A postal account (Poste Italiane, ABI 07601).
fn is_postal(iban: &Iban) -> bool {
    iban.as_str().get(5..10) == Some("07601")
}

#[cfg(test)]
#[path = "nodo_tests.rs"]
mod tests;
