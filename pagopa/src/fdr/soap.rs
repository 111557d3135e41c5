//! `nodoInviaFlussoRendicontazione`: how a PSP hands a flow to the Nodo over SOAP, and the
//! Nodo's `nodoInviaFlussoRendicontazioneRisposta`.
//!
//! The flow travels base64-encoded inside the request (`xmlRendicontazione`), next to copies of
//! its id and timestamp that the Nodo compares with the flow's own (a mismatch is
//! `PPT_SEMANTICA`), so [`NodoInviaFlussoRendicontazione::new`] takes them from the header.
//! The primitive lives in the older `nodoPerPsp` schema (namespace [`NAMESPACE`], children
//! unqualified) and is deprecated in favour of REST FdR, due 30 June 2026; its answer is
//! `esito` OK/KO with an optional fault bean, read here into the same [`Fault`] as the
//! nodeForPsp answers.
//!
//! `identificativoFlusso` is `xsd:string` in this schema, so the request keeps it as text: a
//! Nodo simulator must be able to read a malformed id and answer `PPT_SEMANTICA`.

use crate::date::DateTime;
use crate::remittance::{FlowId, FlowIdError};
use crate::soap::codec::{Composite, Field as _, composite};
use crate::soap::{Base64Binary, Fault, Outcome, Password, PspIdentity, SoapError, Text35};
use crate::xml::{El, Writer};

use super::{FdrError, FlowHeader, Reader};

/// Namespace of the `nodoPerPsp` schema (`wsdl/xsd/nodoPerPsp.xsd`).
pub const NAMESPACE: &str = "http://ws.pagamenti.telematici.gov/";

/// The SOAPAction header value of the request.
pub const SOAP_ACTION: &str = "nodoInviaFlussoRendicontazione";

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// A whole envelope around `ppt:<element>`, whose content `body` writes.
fn envelope(element: &str, capacity: usize, body: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::with_capacity(capacity);
    w.raw("<soapenv:Envelope xmlns:soapenv=\"");
    w.raw(SOAP_ENV);
    w.raw("\" xmlns:ppt=\"");
    w.raw(NAMESPACE);
    w.raw("\"><soapenv:Body><ppt:");
    w.raw(element);
    w.raw(">");
    body(&mut w);
    w.raw("</ppt:");
    w.raw(element);
    w.raw("></soapenv:Body></soapenv:Envelope>");
    w.finish()
}

composite! {
    /// `nodoInviaFlussoRendicontazione`: send (or, with the same id and a later
    /// `dataOraFlusso`, correct) a rendicontazione flow. The password is never shown by `Debug`,
    /// and the flow only by its size.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct NodoInviaFlussoRendicontazione {
        /// `identificativoPSP`
        pub id_psp: Text35 => "identificativoPSP",
        /// `identificativoIntermediarioPSP`
        pub id_broker_psp: Text35 => "identificativoIntermediarioPSP",
        /// `identificativoCanale`
        pub id_channel: Text35 => "identificativoCanale",
        /// `password`
        pub password: Password => "password",
        /// `identificativoDominio`: the receiving creditor's fiscal code.
        pub id_domain: Text35 => "identificativoDominio",
        /// `identificativoFlusso`, as written (see [`NodoInviaFlussoRendicontazione::flow_id`]).
        pub flow_id: String => "identificativoFlusso",
        /// `dataOraFlusso`: must equal the flow's own.
        pub flow_date_time: DateTime => "dataOraFlusso",
        /// `xmlRendicontazione`: the encoded `FlussoRiversamento` document.
        pub flow_xml: Base64Binary => "xmlRendicontazione",
    }
}

impl NodoInviaFlussoRendicontazione {
    /// Local name of the body element.
    pub const ELEMENT: &'static str = "nodoInviaFlussoRendicontazione";

    /// The request carrying `flow_xml` (as produced by [`super::Writer`] or
    /// [`super::encode`] from `header`): the flow id, its date-time and the receiving
    /// creditor are copied from `header`, so they agree with the document.
    pub fn new(psp: &PspIdentity, header: &FlowHeader, flow_xml: Vec<u8>) -> Self {
        NodoInviaFlussoRendicontazione {
            id_psp: psp.id_psp.clone(),
            id_broker_psp: psp.id_broker_psp.clone(),
            id_channel: psp.id_channel.clone(),
            password: psp.password.clone(),
            id_domain: header.receiver.code.clone(),
            flow_id: header.flow_id.as_str().to_owned(),
            flow_date_time: header.flow_date_time,
            flow_xml: Base64Binary::new(flow_xml),
        }
    }

    /// `identificativoFlusso` checked as a flow identifier.
    pub fn flow_id(&self) -> Result<FlowId, FlowIdError> {
        FlowId::parse(&self.flow_id)
    }

    /// Start streaming the flow this request carries.
    pub fn flow_reader(&self) -> Result<Reader<&[u8]>, FdrError> {
        Reader::new(self.flow_xml.as_bytes())
    }

    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        let capacity = 1024 + self.flow_xml.as_bytes().len() / 3 * 4;
        envelope(Self::ELEMENT, capacity, |w| self.write_children(w))
    }

    /// Read an envelope holding this request (any prefixes, unknown elements ignored).
    pub fn decode(xml: &str) -> Result<Self, SoapError> {
        crate::soap::decode_body(xml, Self::ELEMENT, Self::read_children)
    }
}

/// `nodoInviaFlussoRendicontazioneRisposta`: `esito` OK, or KO with the fault bean
/// (`PPT_FLUSSO_DUPLICATO`, `PPT_SEMANTICA`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodoInviaFlussoRendicontazioneRisposta {
    /// `Ok` for esito OK, the fault for KO.
    pub result: Result<(), Fault>,
}

impl NodoInviaFlussoRendicontazioneRisposta {
    /// Local name of the body element.
    pub const ELEMENT: &'static str = "nodoInviaFlussoRendicontazioneRisposta";

    /// An `OK` answer.
    pub fn ok() -> Self {
        NodoInviaFlussoRendicontazioneRisposta { result: Ok(()) }
    }

    /// A `KO` answer.
    pub fn ko(fault: Fault) -> Self {
        NodoInviaFlussoRendicontazioneRisposta { result: Err(fault) }
    }

    /// The whole SOAP envelope.
    pub fn encode(&self) -> String {
        envelope(Self::ELEMENT, 1024, |w| self.write_children(w))
    }

    /// Read an envelope holding this answer. A KO without a fault bean is an error
    /// ([`SoapError::Missing`]); a fault next to OK is ignored.
    pub fn decode(xml: &str) -> Result<Self, SoapError> {
        crate::soap::decode_body(xml, Self::ELEMENT, Self::read_children)
    }
}

impl Composite for NodoInviaFlussoRendicontazioneRisposta {
    fn read_children(el: El<'_, '_>) -> Result<Self, SoapError> {
        let esito = el
            .child("esito")
            .ok_or(SoapError::Missing { element: "esito" })?;
        let result = match Outcome::read(esito, "esito")? {
            Outcome::Ok => Ok(()),
            Outcome::Ko => {
                let f = el
                    .child("fault")
                    .ok_or(SoapError::Missing { element: "fault" })?;
                Err(Fault::read(f, "fault")?)
            }
        };
        Ok(NodoInviaFlussoRendicontazioneRisposta { result })
    }

    /// The schema puts the inherited `fault` before `esito`.
    fn write_children(&self, w: &mut Writer) {
        match &self.result {
            Ok(()) => w.leaf("esito", Outcome::Ok.as_str()),
            Err(f) => {
                f.write(w, "fault");
                w.leaf("esito", Outcome::Ko.as_str());
            }
        }
    }
}
