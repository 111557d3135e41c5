//! Nodo dei Pagamenti SOAP messages: the PSP side (verify, activate, outcome, V1 and V2) and,
//! in [`pa`], the creditor (EC) side, which a simulator of the Nodo needs to play both ends.
//!
//! Why hand-written types instead of generated ones: the Nodo's messages must be *read*
//! tolerantly (any namespace prefix, whitespace, comments, unknown elements from newer schema
//! versions) and *written* exactly in the XSD's sequence order with every facet respected, and
//! the values must be domain types ([`crate::Amount`], [`crate::NoticeNumber`]...), not strings.
//! Every type here enforces its XSD facets when built, so whatever can be built or parsed
//! re-serializes schema-valid; `tests/conformance_soap.rs` checks that with xmllint.
//!
//! ```
//! use pagopa::soap::{self, Message, VerifyPaymentNoticeResponse};
//! let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
//!   <n:verifyPaymentNoticeRes xmlns:n="http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd">
//!     <outcome>KO</outcome>
//!     <fault><faultCode>PPT_PAGAMENTO_DUPLICATO</faultCode><faultString>pagato</faultString>
//!       <id>NodoDeiPagamentiSPC</id></fault>
//!   </n:verifyPaymentNoticeRes></s:Body></s:Envelope>"#;
//! let res: VerifyPaymentNoticeResponse = soap::decode(xml)?;
//! let fault = res.result.expect_err("KO");
//! assert_eq!(
//!     pagopa::fault::classify(pagopa::fault::Primitive::VerifyPaymentNotice, &fault),
//!     pagopa::fault::Action::AlreadyPaid,
//! );
//! assert!(VerifyPaymentNoticeResponse { result: Err(fault) }.encode().contains("<outcome>KO</outcome>"));
//! # Ok::<(), soap::SoapError>(())
//! ```

pub(crate) mod codec;
pub mod pa;
mod psp;
mod types;

pub use psp::*;
pub use types::*;

pub use crate::fault::{Fault, FaultCode, Primitive};
use crate::xml::{Doc, XmlError};

use codec::Composite;

/// The XML namespace of a body element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// `http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd`: what PSPs send to the Nodo.
    NodeForPsp,
    /// `http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd`: what the Nodo sends to a creditor.
    PaForNode,
}

impl Namespace {
    /// The namespace URI.
    pub fn uri(self) -> &'static str {
        match self {
            Namespace::NodeForPsp => "http://pagopa-api.pagopa.gov.it/node/nodeForPsp.xsd",
            Namespace::PaForNode => "http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd",
        }
    }

    /// The prefix this crate writes (readers accept any).
    pub fn prefix(self) -> &'static str {
        match self {
            Namespace::NodeForPsp => "nfp",
            Namespace::PaForNode => "pafn",
        }
    }
}

/// A message that travels as the body of a SOAP 1.1 envelope.
pub trait Message: Sized {
    /// Local name of the body element, e.g. `activatePaymentNoticeV2Request`.
    const ELEMENT: &'static str;
    /// Namespace of the body element.
    const NAMESPACE: Namespace;
    /// The whole SOAP envelope, children unqualified, in the XSD's sequence order.
    fn encode(&self) -> String;
    /// Read an envelope whose body holds this message. A SOAP Fault in the body gives
    /// [`SoapError::Fault`]; another body element gives [`SoapError::UnexpectedBody`].
    fn decode(xml: &str) -> Result<Self, SoapError>;
}

/// A request a PSP sends to the Nodo, with its answer type and SOAPAction.
pub trait Request: Message {
    /// The answer's type.
    type Response: Message;
    /// The primitive, which gives the SOAPAction.
    const PRIMITIVE: Primitive;
}

/// [`Message::encode`] as a function.
pub fn encode<M: Message>(msg: &M) -> String {
    msg.encode()
}

/// [`Message::decode`] as a function: `soap::decode::<ActivatePaymentNoticeResponse>(xml)`.
pub fn decode<M: Message>(xml: &str) -> Result<M, SoapError> {
    M::decode(xml)
}

/// Decode the body element of `xml` with `read`, after checking its name is `expected`.
pub(crate) fn decode_body<T>(
    xml: &str,
    expected: &'static str,
    read: impl FnOnce(crate::xml::El<'_, '_>) -> Result<T, SoapError>,
) -> Result<T, SoapError> {
    let doc = Doc::parse(xml)?;
    let el = codec::body(&doc)?;
    if el.name() != expected {
        return Err(SoapError::UnexpectedBody {
            expected,
            found: el.name().to_owned(),
        });
    }
    read(el)
}

/// Implements [`Message`] for a [`Composite`] type.
macro_rules! message {
    ($t:ty, $element:literal, $ns:ident) => {
        impl $crate::soap::Message for $t {
            const ELEMENT: &'static str = $element;
            const NAMESPACE: $crate::soap::Namespace = $crate::soap::Namespace::$ns;
            fn encode(&self) -> String {
                $crate::soap::codec::envelope(Self::NAMESPACE, Self::ELEMENT, |w| {
                    $crate::soap::codec::Composite::write_children(self, w)
                })
            }
            fn decode(xml: &str) -> Result<Self, $crate::soap::SoapError> {
                $crate::soap::decode_body(
                    xml,
                    Self::ELEMENT,
                    <Self as $crate::soap::codec::Composite>::read_children,
                )
            }
        }
    };
}
pub(crate) use message;

/// Declares a response: `outcome` plus, on OK, the content `$ok`; on KO, the fault.
/// With `(T, "data")`, the OK content is wrapped in that element (paGetPayment).
macro_rules! reply {
    (
        $(#[$meta:meta])*
        $name:ident($ok:ty $(, $wrap:literal)?) = $element:literal, $ns:ident
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The content on `OK`, the application fault on `KO`.
            pub result: Result<$ok, $crate::fault::Fault>,
        }

        impl $name {
            /// An `OK` answer.
            pub fn ok(content: $ok) -> Self {
                $name { result: Ok(content) }
            }
            /// A `KO` answer.
            pub fn ko(fault: $crate::fault::Fault) -> Self {
                $name { result: Err(fault) }
            }
        }

        impl From<Result<$ok, $crate::fault::Fault>> for $name {
            fn from(result: Result<$ok, $crate::fault::Fault>) -> Self {
                $name { result }
            }
        }

        impl $crate::soap::codec::Composite for $name {
            fn read_children(
                el: $crate::xml::El<'_, '_>,
            ) -> Result<Self, $crate::soap::SoapError> {
                $crate::soap::codec::read_reply(el, $crate::soap::reply!(@read $ok $(, $wrap)?))
                    .map(|result| $name { result })
            }
            fn write_children(&self, w: &mut $crate::xml::Writer) {
                $crate::soap::codec::write_reply(w, &self.result, $crate::soap::reply!(@write $ok $(, $wrap)?))
            }
        }

        $crate::soap::message!($name, $element, $ns);
    };
    (@read $ok:ty) => { <$ok as $crate::soap::codec::Composite>::read_children };
    (@read $ok:ty, $wrap:literal) => {
        |el: $crate::xml::El<'_, '_>| {
            let data = el
                .child($wrap)
                .ok_or($crate::soap::SoapError::Missing { element: $wrap })?;
            <$ok as $crate::soap::codec::Composite>::read_children(data)
        }
    };
    (@write $ok:ty) => {
        |v: &$ok, w: &mut $crate::xml::Writer| $crate::soap::codec::Composite::write_children(v, w)
    };
    (@write $ok:ty, $wrap:literal) => {
        |v: &$ok, w: &mut $crate::xml::Writer| {
            $crate::soap::codec::Field::write(v, w, $wrap)
        }
    };
}
pub(crate) use reply;

/// The `faultcode` of a SOAP 1.1 Fault (its local part; the prefix is `soapenv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoapFaultCode {
    /// The envelope's namespace was not SOAP 1.1.
    VersionMismatch,
    /// A mandatory header was not understood.
    MustUnderstand,
    /// The request was wrong: sending it again will not help.
    Client,
    /// The server failed: the request may succeed later.
    Server,
}

impl SoapFaultCode {
    /// The local name (`Server`).
    pub fn as_str(self) -> &'static str {
        match self {
            SoapFaultCode::VersionMismatch => "VersionMismatch",
            SoapFaultCode::MustUnderstand => "MustUnderstand",
            SoapFaultCode::Client => "Client",
            SoapFaultCode::Server => "Server",
        }
    }

    /// Read a `faultcode` QName (`soap:Client.Authentication` → `Client`). Anything
    /// unrecognised counts as `Server`, the cautious reading.
    pub fn parse(qname: &str) -> Self {
        let local = qname.rsplit(':').next().unwrap_or(qname);
        let head = local.split('.').next().unwrap_or(local);
        match head {
            "VersionMismatch" => SoapFaultCode::VersionMismatch,
            "MustUnderstand" => SoapFaultCode::MustUnderstand,
            "Client" => SoapFaultCode::Client,
            _ => SoapFaultCode::Server,
        }
    }
}

/// A SOAP 1.1 `<soapenv:Fault>` (as opposed to the Nodo's usual `outcome` KO with a fault bean,
/// which is an ordinary response). Gateways and the Nodo's front end send these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapFault {
    /// `faultcode`
    pub code: SoapFaultCode,
    /// `faultstring`
    pub string: String,
    /// `faultactor`
    pub actor: Option<String>,
    /// An application fault bean found inside `detail`, if any.
    pub detail: Option<Fault>,
}

impl SoapFault {
    /// A fault without actor or detail.
    pub fn new(code: SoapFaultCode, string: impl Into<String>) -> Self {
        SoapFault {
            code,
            string: string.into(),
            actor: None,
            detail: None,
        }
    }

    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        codec::fault_envelope(self)
    }

    /// Read an envelope that holds a SOAP Fault. Another body gives
    /// [`SoapError::UnexpectedBody`].
    pub fn decode(xml: &str) -> Result<Self, SoapError> {
        let doc = Doc::parse(xml)?;
        match codec::body(&doc) {
            Err(SoapError::Fault(f)) => Ok(*f),
            Err(e) => Err(e),
            Ok(el) => Err(SoapError::UnexpectedBody {
                expected: "Fault",
                found: el.name().to_owned(),
            }),
        }
    }
}

/// Why a SOAP message could not be read. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SoapError {
    /// Not well-formed XML (for instance an HTML error page from a proxy).
    #[error("risposta non XML: {0}")]
    NotXml(#[from] XmlError),
    /// XML, but not a SOAP envelope.
    #[error("documento XML non SOAP (radice {root:?})")]
    NotEnvelope {
        /// Local name of the root element.
        root: String,
    },
    /// An envelope without a body element.
    #[error("busta SOAP senza Body")]
    NoBody,
    /// The body holds another message than the one expected.
    #[error("messaggio inatteso: atteso {expected}, ricevuto {found}")]
    UnexpectedBody {
        /// The element expected.
        expected: &'static str,
        /// The element found.
        found: String,
    },
    /// The body is a SOAP Fault.
    #[error("SOAP Fault {}: {}", .0.code.as_str(), .0.string)]
    Fault(Box<SoapFault>),
    /// A mandatory element is missing.
    #[error("elemento obbligatorio mancante: {element}")]
    Missing {
        /// Its name.
        element: &'static str,
    },
    /// An element's value breaks its XSD type.
    #[error("valore non valido in {element}: {error}")]
    Invalid {
        /// The element's name.
        element: &'static str,
        /// What is wrong.
        #[source]
        error: ValueError,
    },
}

impl SoapError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SoapError::NotXml(_) => "SOAP_NOT_XML",
            SoapError::NotEnvelope { .. } => "SOAP_NOT_ENVELOPE",
            SoapError::NoBody => "SOAP_NO_BODY",
            SoapError::UnexpectedBody { .. } => "SOAP_UNEXPECTED_BODY",
            SoapError::Fault(_) => "SOAP_FAULT",
            SoapError::Missing { .. } => "SOAP_MISSING_ELEMENT",
            SoapError::Invalid { .. } => "SOAP_INVALID_VALUE",
        }
    }
}

/// Any request a PSP sends to the Nodo (what a Nodo simulator receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodoRequest {
    /// `verifyPaymentNoticeReq`
    VerifyPaymentNotice(VerifyPaymentNoticeRequest),
    /// `activatePaymentNoticeReq`
    ActivatePaymentNotice(ActivatePaymentNoticeRequest),
    /// `activatePaymentNoticeV2Request`
    ActivatePaymentNoticeV2(ActivatePaymentNoticeV2Request),
    /// `sendPaymentOutcomeReq`
    SendPaymentOutcome(SendPaymentOutcomeRequest),
    /// `sendPaymentOutcomeV2Request`
    SendPaymentOutcomeV2(SendPaymentOutcomeV2Request),
}

/// Any answer of the Nodo to a PSP request (what the channel adapter receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodoResponse {
    /// `verifyPaymentNoticeRes`
    VerifyPaymentNotice(VerifyPaymentNoticeResponse),
    /// `activatePaymentNoticeRes`
    ActivatePaymentNotice(ActivatePaymentNoticeResponse),
    /// `activatePaymentNoticeV2Response`
    ActivatePaymentNoticeV2(Box<ActivatePaymentNoticeV2Response>),
    /// `sendPaymentOutcomeRes`
    SendPaymentOutcome(SendPaymentOutcomeResponse),
    /// `sendPaymentOutcomeV2Response`
    SendPaymentOutcomeV2(SendPaymentOutcomeV2Response),
}

impl NodoRequest {
    /// Which primitive this is.
    pub fn primitive(&self) -> Primitive {
        match self {
            NodoRequest::VerifyPaymentNotice(_) => Primitive::VerifyPaymentNotice,
            NodoRequest::ActivatePaymentNotice(_) => Primitive::ActivatePaymentNotice,
            NodoRequest::ActivatePaymentNoticeV2(_) => Primitive::ActivatePaymentNoticeV2,
            NodoRequest::SendPaymentOutcome(_) => Primitive::SendPaymentOutcome,
            NodoRequest::SendPaymentOutcomeV2(_) => Primitive::SendPaymentOutcomeV2,
        }
    }

    /// The caller's identity and password.
    pub fn psp(&self) -> &PspIdentity {
        match self {
            NodoRequest::VerifyPaymentNotice(r) => &r.psp,
            NodoRequest::ActivatePaymentNotice(r) => &r.psp,
            NodoRequest::ActivatePaymentNoticeV2(r) => &r.base.psp,
            NodoRequest::SendPaymentOutcome(r) => &r.psp,
            NodoRequest::SendPaymentOutcomeV2(r) => &r.psp,
        }
    }

    /// The idempotency key, for the primitives that have one.
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        match self {
            NodoRequest::VerifyPaymentNotice(_) => None,
            NodoRequest::ActivatePaymentNotice(r) => r.idempotency_key.as_ref(),
            NodoRequest::ActivatePaymentNoticeV2(r) => r.base.idempotency_key.as_ref(),
            NodoRequest::SendPaymentOutcome(r) => r.idempotency_key.as_ref(),
            NodoRequest::SendPaymentOutcomeV2(r) => r.idempotency_key.as_ref(),
        }
    }

    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        match self {
            NodoRequest::VerifyPaymentNotice(r) => r.encode(),
            NodoRequest::ActivatePaymentNotice(r) => r.encode(),
            NodoRequest::ActivatePaymentNoticeV2(r) => r.encode(),
            NodoRequest::SendPaymentOutcome(r) => r.encode(),
            NodoRequest::SendPaymentOutcomeV2(r) => r.encode(),
        }
    }

    /// Read any of the five PSP requests (see [`decode_request`]).
    pub fn decode(xml: &str) -> Result<Self, SoapError> {
        let doc = Doc::parse(xml)?;
        let el = codec::body(&doc)?;
        let p = Primitive::ALL
            .iter()
            .copied()
            .find(|p| p.request_element() == el.name())
            .ok_or_else(|| SoapError::UnexpectedBody {
                expected: "una richiesta nodeForPsp",
                found: el.name().to_owned(),
            })?;
        Ok(match p {
            Primitive::VerifyPaymentNotice => {
                NodoRequest::VerifyPaymentNotice(Composite::read_children(el)?)
            }
            Primitive::ActivatePaymentNotice => {
                NodoRequest::ActivatePaymentNotice(Composite::read_children(el)?)
            }
            Primitive::ActivatePaymentNoticeV2 => {
                NodoRequest::ActivatePaymentNoticeV2(Composite::read_children(el)?)
            }
            Primitive::SendPaymentOutcome => {
                NodoRequest::SendPaymentOutcome(Composite::read_children(el)?)
            }
            Primitive::SendPaymentOutcomeV2 => {
                NodoRequest::SendPaymentOutcomeV2(Composite::read_children(el)?)
            }
        })
    }
}

impl NodoResponse {
    /// Which primitive this answers.
    pub fn primitive(&self) -> Primitive {
        match self {
            NodoResponse::VerifyPaymentNotice(_) => Primitive::VerifyPaymentNotice,
            NodoResponse::ActivatePaymentNotice(_) => Primitive::ActivatePaymentNotice,
            NodoResponse::ActivatePaymentNoticeV2(_) => Primitive::ActivatePaymentNoticeV2,
            NodoResponse::SendPaymentOutcome(_) => Primitive::SendPaymentOutcome,
            NodoResponse::SendPaymentOutcomeV2(_) => Primitive::SendPaymentOutcomeV2,
        }
    }

    /// The application fault, when the outcome is KO.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            NodoResponse::VerifyPaymentNotice(r) => r.result.as_ref().err(),
            NodoResponse::ActivatePaymentNotice(r) => r.result.as_ref().err(),
            NodoResponse::ActivatePaymentNoticeV2(r) => r.result.as_ref().err(),
            NodoResponse::SendPaymentOutcome(r) => r.result.as_ref().err(),
            NodoResponse::SendPaymentOutcomeV2(r) => r.result.as_ref().err(),
        }
    }

    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        match self {
            NodoResponse::VerifyPaymentNotice(r) => r.encode(),
            NodoResponse::ActivatePaymentNotice(r) => r.encode(),
            NodoResponse::ActivatePaymentNoticeV2(r) => r.encode(),
            NodoResponse::SendPaymentOutcome(r) => r.encode(),
            NodoResponse::SendPaymentOutcomeV2(r) => r.encode(),
        }
    }

    /// Read the answer to `expected` (see [`decode_response`]).
    pub fn decode(xml: &str, expected: Primitive) -> Result<Self, SoapError> {
        Ok(match expected {
            Primitive::VerifyPaymentNotice => NodoResponse::VerifyPaymentNotice(decode(xml)?),
            Primitive::ActivatePaymentNotice => NodoResponse::ActivatePaymentNotice(decode(xml)?),
            Primitive::ActivatePaymentNoticeV2 => {
                NodoResponse::ActivatePaymentNoticeV2(Box::new(decode(xml)?))
            }
            Primitive::SendPaymentOutcome => NodoResponse::SendPaymentOutcome(decode(xml)?),
            Primitive::SendPaymentOutcomeV2 => NodoResponse::SendPaymentOutcomeV2(decode(xml)?),
        })
    }
}

/// Read any of the five PSP-side requests; the Nodo simulator's entry point.
pub fn decode_request(xml: &str) -> Result<NodoRequest, SoapError> {
    NodoRequest::decode(xml)
}

/// Read the Nodo's answer to a request of primitive `expected`.
pub fn decode_response(xml: &str, expected: Primitive) -> Result<NodoResponse, SoapError> {
    NodoResponse::decode(xml, expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_fault_codes_read_leniently() {
        for (qname, code) in [
            ("soapenv:Server", SoapFaultCode::Server),
            ("Client", SoapFaultCode::Client),
            ("s:Client.Authentication", SoapFaultCode::Client),
            ("env:VersionMismatch", SoapFaultCode::VersionMismatch),
            ("MustUnderstand", SoapFaultCode::MustUnderstand),
            ("ns:Receiver", SoapFaultCode::Server),
            ("", SoapFaultCode::Server),
        ] {
            assert_eq!(SoapFaultCode::parse(qname), code, "{qname}");
        }
        assert_eq!(
            SoapFaultCode::parse(SoapFaultCode::Client.as_str()),
            SoapFaultCode::Client
        );
    }

    #[test]
    fn first_occurrence_wins_and_unknown_elements_are_skipped() {
        let xml = "<e:Envelope xmlns:e=\"urn:e\"><e:Body><n:sendPaymentOutcomeRes xmlns:n=\"urn:n\">\
                   <new>1</new><outcome>OK</outcome><outcome>KO</outcome></n:sendPaymentOutcomeRes>\
                   </e:Body></e:Envelope>";
        let r: SendPaymentOutcomeResponse = decode(xml).expect("decodes");
        assert_eq!(r.result, Ok(()));
    }

    #[test]
    fn envelopes_are_written_with_the_right_namespace() {
        let ok = pa::PaSendRtResponse::ok(()).encode();
        assert_eq!(
            ok,
            "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:pafn=\"http://pagopa-api.pagopa.gov.it/pa/paForNode.xsd\"><soapenv:Body>\
             <pafn:paSendRTRes><outcome>OK</outcome></pafn:paSendRTRes></soapenv:Body>\
             </soapenv:Envelope>"
        );
        assert_eq!(
            SoapError::Missing { element: "x" }.code(),
            "SOAP_MISSING_ELEMENT"
        );
    }
}
