//! Streaming reader: one pass over the events, a stack of known element kinds (bounded by
//! [`MAX_DEPTH`]), one reused text buffer. Nothing grows with the number of payments.

use std::fmt;
use std::io::BufRead;

use quick_xml::errors::{Error as QxError, IllFormedError};
use quick_xml::events::Event;

use super::{
    FdrError, FieldError, FlowHeader, IdentifierType, OutcomeCode, Payment, Receiver, Sender, Text,
    Text35, Text140,
};
use crate::amount::Amount;
use crate::date::{Date, DateTime};
use crate::notice::Iuv;
use crate::remittance::FlowId;
use crate::xml::{self, MAX_DEPTH, XmlError};

/// The text-only elements the reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Version,
    FlowId,
    FlowDateTime,
    SettlementRef,
    SettlementDate,
    Bic,
    Count,
    Total,
    SenderType,
    SenderCode,
    SenderName,
    ReceiverType,
    ReceiverCode,
    ReceiverName,
    Iuv,
    Iur,
    Index,
    Amount,
    Outcome,
    OutcomeDate,
}

impl Field {
    /// The element name used in errors (qualified by its parent where the name is ambiguous).
    fn element(self) -> &'static str {
        match self {
            Field::Version => "versioneOggetto",
            Field::FlowId => "identificativoFlusso",
            Field::FlowDateTime => "dataOraFlusso",
            Field::SettlementRef => "identificativoUnivocoRegolamento",
            Field::SettlementDate => "dataRegolamento",
            Field::Bic => "codiceBicBancaDiRiversamento",
            Field::Count => "numeroTotalePagamenti",
            Field::Total => "importoTotalePagamenti",
            Field::SenderType => "identificativoUnivocoMittente/tipoIdentificativoUnivoco",
            Field::SenderCode => "identificativoUnivocoMittente/codiceIdentificativoUnivoco",
            Field::SenderName => "denominazioneMittente",
            Field::ReceiverType => "identificativoUnivocoRicevente/tipoIdentificativoUnivoco",
            Field::ReceiverCode => "identificativoUnivocoRicevente/codiceIdentificativoUnivoco",
            Field::ReceiverName => "denominazioneRicevente",
            Field::Iuv => "identificativoUnivocoVersamento",
            Field::Iur => "identificativoUnivocoRiscossione",
            Field::Index => "indiceDatiSingoloPagamento",
            Field::Amount => "singoloImportoPagato",
            Field::Outcome => "codiceEsitoSingoloPagamento",
            Field::OutcomeDate => "dataEsitoSingoloPagamento",
        }
    }

    fn in_payment(self) -> bool {
        matches!(
            self,
            Field::Iuv
                | Field::Iur
                | Field::Index
                | Field::Amount
                | Field::Outcome
                | Field::OutcomeDate
        )
    }
}

/// What an open element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Root,
    Sender,
    SenderId,
    Receiver,
    ReceiverId,
    Payment,
    Leaf(Field),
    Unknown,
}

/// The kind of element `name` is inside `parent`. Elements the XSD does not put there are
/// `Unknown` and skipped with everything inside them.
fn child(parent: Node, name: &[u8]) -> Node {
    use Field as F;
    let leaf = Node::Leaf;
    match parent {
        Node::Payment => match name {
            b"identificativoUnivocoVersamento" => leaf(F::Iuv),
            b"identificativoUnivocoRiscossione" => leaf(F::Iur),
            b"indiceDatiSingoloPagamento" => leaf(F::Index),
            b"singoloImportoPagato" => leaf(F::Amount),
            b"codiceEsitoSingoloPagamento" => leaf(F::Outcome),
            b"dataEsitoSingoloPagamento" => leaf(F::OutcomeDate),
            _ => Node::Unknown,
        },
        Node::Root => match name {
            b"datiSingoliPagamenti" => Node::Payment,
            b"versioneOggetto" => leaf(F::Version),
            b"identificativoFlusso" => leaf(F::FlowId),
            b"dataOraFlusso" => leaf(F::FlowDateTime),
            b"identificativoUnivocoRegolamento" => leaf(F::SettlementRef),
            b"dataRegolamento" => leaf(F::SettlementDate),
            b"istitutoMittente" => Node::Sender,
            b"codiceBicBancaDiRiversamento" => leaf(F::Bic),
            b"istitutoRicevente" => Node::Receiver,
            b"numeroTotalePagamenti" => leaf(F::Count),
            b"importoTotalePagamenti" => leaf(F::Total),
            _ => Node::Unknown,
        },
        Node::Sender => match name {
            b"identificativoUnivocoMittente" => Node::SenderId,
            b"denominazioneMittente" => leaf(F::SenderName),
            _ => Node::Unknown,
        },
        Node::SenderId => match name {
            b"tipoIdentificativoUnivoco" => leaf(F::SenderType),
            b"codiceIdentificativoUnivoco" => leaf(F::SenderCode),
            _ => Node::Unknown,
        },
        Node::Receiver => match name {
            b"identificativoUnivocoRicevente" => Node::ReceiverId,
            b"denominazioneRicevente" => leaf(F::ReceiverName),
            _ => Node::Unknown,
        },
        Node::ReceiverId => match name {
            b"tipoIdentificativoUnivoco" => leaf(F::ReceiverType),
            b"codiceIdentificativoUnivoco" => leaf(F::ReceiverCode),
            _ => Node::Unknown,
        },
        Node::Leaf(_) | Node::Unknown => Node::Unknown,
    }
}

/// Header values seen so far.
#[derive(Debug, Default)]
struct HeadParts {
    version: Option<()>,
    flow_id: Option<FlowId>,
    flow_date_time: Option<DateTime>,
    settlement_ref: Option<Text35>,
    settlement_date: Option<Date>,
    sender_type: Option<IdentifierType>,
    sender_code: Option<Text35>,
    sender_name: Option<Text<3, 70>>,
    bic: Option<Text35>,
    receiver_type: Option<()>,
    receiver_code: Option<Text35>,
    receiver_name: Option<Text140>,
    count: Option<u64>,
    total: Option<Amount>,
}

/// Values of the payment being read.
#[derive(Debug, Default)]
struct PayParts {
    iuv: Option<Iuv>,
    iur: Option<Text35>,
    index: Option<u8>,
    amount: Option<Amount>,
    outcome: Option<OutcomeCode>,
    outcome_date: Option<Date>,
}

enum Step {
    Continue,
    Payment(Payment),
    RootEnd,
    Eof,
}

/// Parsing state, kept apart from the XML reader so that events borrowing its buffer can be
/// handled with `&mut self`.
#[derive(Debug)]
struct State {
    stack: Vec<Node>,
    text: String,
    head: HeadParts,
    header: Option<FlowHeader>,
    pay: PayParts,
    count: u64,
    sum_cents: u64,
    root_seen: bool,
    root_closed: bool,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn outside_root() -> FdrError {
    FdrError::Xml(XmlError::Malformed(
        "contenuto fuori dall'elemento radice".into(),
    ))
}

fn is_xml_ws(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn text<const MIN: usize, const MAX: usize>(s: &str) -> Result<Text<MIN, MAX>, FieldError> {
    Text::new(s).map_err(FieldError::Text)
}

fn required<T>(v: Option<T>, f: Field, payment: Option<u64>) -> Result<T, FdrError> {
    v.ok_or(FdrError::Missing {
        element: f.element(),
        payment,
    })
}

fn put<T>(
    slot: &mut Option<T>,
    value: T,
    element: &'static str,
    payment: Option<u64>,
) -> Result<(), FdrError> {
    if slot.is_some() {
        return Err(FdrError::Duplicate { element, payment });
    }
    *slot = Some(value);
    Ok(())
}

/// `xsd:date`, tolerating the time-zone suffix (`Z`, `±hh:mm`) some Java stacks add: a
/// settlement day does not depend on it, so it is dropped.
fn parse_date(s: &str) -> Result<Date, FieldError> {
    let b = s.as_bytes();
    let day = match b.len() {
        11 if b[10] == b'Z' => &s[..10],
        16 if matches!(b[10], b'+' | b'-')
            && b[11].is_ascii_digit()
            && b[12].is_ascii_digit()
            && b[13] == b':'
            && b[14].is_ascii_digit()
            && b[15].is_ascii_digit() =>
        {
            &s[..10]
        }
        _ => s,
    };
    Date::parse(day).map_err(FieldError::Date)
}

/// An `xsd:integer`/`xsd:decimal` without fraction: optional `+`, digits, optionally `.0…`.
/// Returns `None` if it is not one or has more than `max_digits` significant digits.
fn parse_whole(s: &str, max_digits: usize) -> Option<u64> {
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b == b'0')
    {
        return None;
    }
    let significant = int.trim_start_matches('0');
    if significant.len() > max_digits {
        return None;
    }
    Some(
        significant
            .bytes()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')),
    )
}

impl State {
    fn new() -> State {
        State {
            stack: Vec::with_capacity(8),
            text: String::with_capacity(64),
            head: HeadParts::default(),
            header: None,
            pay: PayParts::default(),
            count: 0,
            sum_cents: 0,
            root_seen: false,
            root_closed: false,
        }
    }

    fn capturing(&self) -> bool {
        matches!(self.stack.last(), Some(Node::Leaf(_)))
    }

    fn start(&mut self, name: &[u8]) -> Result<(), FdrError> {
        let node = match self.stack.last() {
            Some(&Node::Leaf(f)) => {
                return Err(FdrError::UnexpectedElement {
                    element: lossy(name),
                    inside: f.element(),
                });
            }
            Some(&parent) => child(parent, name),
            None if self.root_seen => return Err(outside_root()),
            None if name == b"FlussoRiversamento" => {
                self.root_seen = true;
                Node::Root
            }
            None => return Err(FdrError::NotAFlow { root: lossy(name) }),
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(FdrError::Xml(XmlError::TooDeep));
        }
        match node {
            Node::Payment if self.header.is_none() => self.finish_header()?,
            Node::Leaf(f) => {
                if self.header.is_some() && !f.in_payment() {
                    return Err(FdrError::OutOfOrder {
                        element: f.element(),
                    });
                }
                self.text.clear();
            }
            Node::Sender | Node::Receiver if self.header.is_some() => {
                return Err(FdrError::OutOfOrder {
                    element: if node == Node::Sender {
                        "istitutoMittente"
                    } else {
                        "istitutoRicevente"
                    },
                });
            }
            _ => {}
        }
        self.stack.push(node);
        Ok(())
    }

    fn end(&mut self) -> Result<Step, FdrError> {
        match self.stack.pop() {
            Some(Node::Leaf(f)) => {
                self.set(f)?;
                Ok(Step::Continue)
            }
            Some(Node::Payment) => {
                let p = self.take_payment()?;
                self.count += 1;
                self.sum_cents = self.sum_cents.saturating_add(p.amount.cents());
                Ok(Step::Payment(p))
            }
            Some(Node::Root) => {
                if self.header.is_none() {
                    self.finish_header()?;
                }
                self.root_closed = true;
                Ok(Step::RootEnd)
            }
            Some(_) => Ok(Step::Continue),
            // check_end_names makes quick-xml reject an unmatched end tag first.
            None => Err(outside_root()),
        }
    }

    /// Store the text just closed into its slot.
    fn set(&mut self, f: Field) -> Result<(), FdrError> {
        let element = f.element();
        let payment = f.in_payment().then_some(self.count + 1);
        let invalid = |reason| FdrError::InvalidField {
            element,
            payment,
            reason,
        };
        let s = self
            .text
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        let h = &mut self.head;
        let p = &mut self.pay;
        match f {
            Field::Iuv => {
                let v = Iuv::parse(s).map_err(|e| invalid(FieldError::Iuv(e)))?;
                put(&mut p.iuv, v, element, payment)
            }
            Field::Iur => put(&mut p.iur, text(s).map_err(invalid)?, element, payment),
            Field::Index => {
                let v = parse_whole(s, 1)
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| invalid(FieldError::Index))?;
                // 1..=5 fits in a u8.
                put(&mut p.index, v as u8, element, payment)
            }
            Field::Amount => {
                let v = Amount::parse_nodo(s).map_err(|e| invalid(FieldError::Amount(e)))?;
                if v.is_zero() {
                    return Err(invalid(FieldError::ZeroAmount));
                }
                put(&mut p.amount, v, element, payment)
            }
            Field::Outcome => {
                let v = match s.as_bytes() {
                    &[d] if d.is_ascii_digit() => OutcomeCode::from_digit(d - b'0'),
                    _ => None,
                }
                .ok_or_else(|| invalid(FieldError::UnknownOutcome))?;
                put(&mut p.outcome, v, element, payment)
            }
            Field::OutcomeDate => put(
                &mut p.outcome_date,
                parse_date(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::Version => {
                if s != "1.0" && s != "1.1" {
                    return Err(invalid(FieldError::Version));
                }
                put(&mut h.version, (), element, payment)
            }
            Field::FlowId => {
                let v = FlowId::parse(s).map_err(|e| invalid(FieldError::FlowId(e)))?;
                put(&mut h.flow_id, v, element, payment)
            }
            Field::FlowDateTime => {
                let v = DateTime::parse(s).map_err(|e| invalid(FieldError::Date(e)))?;
                put(&mut h.flow_date_time, v, element, payment)
            }
            Field::SettlementRef => put(
                &mut h.settlement_ref,
                text(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::SettlementDate => put(
                &mut h.settlement_date,
                parse_date(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::Bic => put(&mut h.bic, text(s).map_err(invalid)?, element, payment),
            Field::Count => {
                let v = parse_whole(s, 15)
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| invalid(FieldError::Count))?;
                put(&mut h.count, v, element, payment)
            }
            Field::Total => {
                let v = Amount::parse_nodo(s).map_err(|e| invalid(FieldError::Amount(e)))?;
                put(&mut h.total, v, element, payment)
            }
            Field::SenderType => {
                let v = IdentifierType::from_letter(s)
                    .ok_or_else(|| invalid(FieldError::IdentifierType))?;
                put(&mut h.sender_type, v, element, payment)
            }
            Field::SenderCode => put(
                &mut h.sender_code,
                text(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::SenderName => put(
                &mut h.sender_name,
                text(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::ReceiverType => {
                if s != "G" {
                    return Err(invalid(FieldError::IdentifierType));
                }
                put(&mut h.receiver_type, (), element, payment)
            }
            Field::ReceiverCode => put(
                &mut h.receiver_code,
                text(s).map_err(invalid)?,
                element,
                payment,
            ),
            Field::ReceiverName => put(
                &mut h.receiver_name,
                text(s).map_err(invalid)?,
                element,
                payment,
            ),
        }
    }

    fn finish_header(&mut self) -> Result<(), FdrError> {
        let h = std::mem::take(&mut self.head);
        required(h.version, Field::Version, None)?;
        self.header = Some(FlowHeader {
            flow_id: required(h.flow_id, Field::FlowId, None)?,
            flow_date_time: required(h.flow_date_time, Field::FlowDateTime, None)?,
            settlement_ref: required(h.settlement_ref, Field::SettlementRef, None)?,
            settlement_date: required(h.settlement_date, Field::SettlementDate, None)?,
            sender: Sender {
                id_type: required(h.sender_type, Field::SenderType, None)?,
                code: required(h.sender_code, Field::SenderCode, None)?,
                name: h.sender_name,
            },
            settlement_bank_bic: h.bic,
            receiver: Receiver {
                code: {
                    required(h.receiver_type, Field::ReceiverType, None)?;
                    required(h.receiver_code, Field::ReceiverCode, None)?
                },
                name: h.receiver_name,
            },
            payment_count: required(h.count, Field::Count, None)?,
            total: required(h.total, Field::Total, None)?,
        });
        Ok(())
    }

    fn take_payment(&mut self) -> Result<Payment, FdrError> {
        let n = Some(self.count + 1);
        let p = std::mem::take(&mut self.pay);
        Ok(Payment {
            iuv: required(p.iuv, Field::Iuv, n)?,
            iur: required(p.iur, Field::Iur, n)?,
            transfer_index: p.index,
            amount: required(p.amount, Field::Amount, n)?,
            outcome: required(p.outcome, Field::Outcome, n)?,
            outcome_date: required(p.outcome_date, Field::OutcomeDate, n)?,
        })
    }

    fn check_totals(&self) -> Result<(), FdrError> {
        let Some(h) = &self.header else {
            return Err(FdrError::Truncated);
        };
        if self.count != h.payment_count {
            return Err(FdrError::CountMismatch {
                declared: h.payment_count,
                found: self.count,
            });
        }
        if self.sum_cents != h.total.cents() {
            return Err(FdrError::TotalMismatch {
                declared: h.total,
                found_cents: self.sum_cents,
            });
        }
        Ok(())
    }
}

fn map_xml_error(e: QxError) -> FdrError {
    match e {
        QxError::Io(io) => FdrError::Io(io),
        // Every syntax error means the input ended inside markup.
        QxError::Syntax(_)
        | QxError::IllFormed(
            IllFormedError::UnclosedReference | IllFormedError::MissingEndTag(_),
        ) => FdrError::Truncated,
        other => FdrError::Xml(XmlError::from(other)),
    }
}

/// The XML reader, its reused event buffer and the parsing state.
struct Stream<R> {
    xml: quick_xml::Reader<R>,
    buf: Vec<u8>,
    st: State,
}

impl<R: BufRead> Stream<R> {
    fn advance(&mut self) -> Result<Step, FdrError> {
        self.buf.clear();
        let ev = self
            .xml
            .read_event_into(&mut self.buf)
            .map_err(map_xml_error)?;
        let st = &mut self.st;
        match &ev {
            Event::Start(e) => st.start(e.local_name().as_ref())?,
            Event::End(_) => return st.end(),
            Event::Empty(e) => {
                st.start(e.local_name().as_ref())?;
                return st.end();
            }
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                if st.capturing() {
                    xml::push_text(&mut st.text, &ev).map_err(FdrError::Xml)?;
                } else if st.stack.is_empty()
                    && !matches!(&ev, Event::Text(t) if t.iter().all(is_xml_ws))
                {
                    return Err(outside_root());
                }
            }
            Event::DocType(_) => {
                return Err(FdrError::Xml(XmlError::Malformed(
                    "DOCTYPE non ammesso".into(),
                )));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                return if st.root_closed {
                    Ok(Step::Eof)
                } else if st.root_seen {
                    Err(FdrError::Truncated)
                } else {
                    Err(FdrError::Xml(XmlError::NoRoot))
                };
            }
        }
        Ok(Step::Continue)
    }
}

#[derive(Debug)]
enum Phase {
    Reading,
    Done,
    Failed(FdrError),
}

/// Streaming reader of a `FlussoRiversamento`.
///
/// [`Reader::new`] reads up to the first payment and validates the header; then
/// [`Reader::next_payment`] (or the [`Iterator`] impl) yields the payments in document order.
/// After the last one it checks `numeroTotalePagamenti` and `importoTotalePagamenti` against
/// what it read ([`FdrError::CountMismatch`], [`FdrError::TotalMismatch`]), so a flow is only
/// known to be consistent once `next_payment` has returned `Ok(None)`. Memory stays constant
/// whatever the number of payments. Duplicate payments (same IUV, IUR and index) are not
/// detected: that needs memory proportional to the flow, so it is the caller's job.
///
/// Give it a buffered source (`&[u8]`, `BufReader<File>`…). Input must be UTF-8.
///
/// ```
/// # use pagopa::fdr::Reader;
/// # fn run(xml: &[u8]) -> Result<(), pagopa::fdr::FdrError> {
/// let mut reader = Reader::new(xml)?;
/// println!("flow {}", reader.header().flow_id);
/// while let Some(payment) = reader.next_payment()? {
///     println!("{} {}", payment.iuv, payment.amount);
/// }
/// # Ok(()) }
/// ```
pub struct Reader<R> {
    stream: Stream<R>,
    header: FlowHeader,
    phase: Phase,
    iter_fused: bool,
}

impl<R: BufRead> Reader<R> {
    /// Start reading: consume and validate everything up to the first payment.
    pub fn new(input: R) -> Result<Reader<R>, FdrError> {
        let mut xml = quick_xml::Reader::from_reader(input);
        xml.config_mut().check_end_names = true;
        let mut stream = Stream {
            xml,
            buf: Vec::with_capacity(256),
            st: State::new(),
        };
        let header = loop {
            if let Some(h) = stream.st.header.take() {
                break h;
            }
            match stream.advance()? {
                Step::Continue | Step::RootEnd => {}
                // A payment starts only after the header is complete, so the loop has ended.
                Step::Payment(_) | Step::Eof => return Err(FdrError::Truncated),
            }
        };
        // The state keeps the declared totals for the final check.
        stream.st.header = Some(header.clone());
        Ok(Reader {
            stream,
            header,
            phase: Phase::Reading,
            iter_fused: false,
        })
    }

    /// The flow's header.
    pub fn header(&self) -> &FlowHeader {
        &self.header
    }

    /// Give up the reader, keeping the header.
    pub fn into_header(self) -> FlowHeader {
        self.header
    }

    /// Payments read so far.
    pub fn payments_read(&self) -> u64 {
        self.stream.st.count
    }

    /// The next payment, or `Ok(None)` once the flow is complete and its totals check out.
    /// After an error, every call returns the same error.
    pub fn next_payment(&mut self) -> Result<Option<Payment>, FdrError> {
        match &self.phase {
            Phase::Reading => {}
            Phase::Done => return Ok(None),
            Phase::Failed(e) => return Err(e.clone()),
        }
        let r = self.read_next();
        match &r {
            Ok(Some(_)) => {}
            Ok(None) => self.phase = Phase::Done,
            Err(e) => self.phase = Phase::Failed(e.clone()),
        }
        r
    }

    fn read_next(&mut self) -> Result<Option<Payment>, FdrError> {
        while !self.stream.st.root_closed {
            match self.stream.advance()? {
                Step::Continue | Step::RootEnd => {}
                Step::Payment(p) => return Ok(Some(p)),
                Step::Eof => return Err(FdrError::Truncated),
            }
        }
        self.stream.st.check_totals()?;
        // Only whitespace, comments and processing instructions may follow the root.
        while !matches!(self.stream.advance()?, Step::Eof) {}
        Ok(None)
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Payment, FdrError>;

    /// Payments, then `None`; an error is yielded once and ends the iteration.
    fn next(&mut self) -> Option<Self::Item> {
        if self.iter_fused {
            return None;
        }
        match self.next_payment() {
            Ok(Some(p)) => Some(Ok(p)),
            Ok(None) => {
                self.iter_fused = true;
                None
            }
            Err(e) => {
                self.iter_fused = true;
                Some(Err(e))
            }
        }
    }
}

impl<R> fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("flow_id", &self.header.flow_id)
            .field("payments_read", &self.stream.st.count)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}
