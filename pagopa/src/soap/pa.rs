//! The creditor (EC) side, `paForNode`: what the Nodo sends to a creditor's station
//! (paVerifyPaymentNotice, paGetPayment\[V2\], paSendRT\[V2\]) and the station's answers.
//!
//! A PSP never sends these; they are here so that a Nodo simulator can play the creditor too,
//! and so that receipts (`ctReceipt`) can be inspected with the same domain types. The shared
//! pieces (subject, metadata, fault, IBAN or stamp) are the ones of the PSP side.

use crate::{Amount, CreditorFiscalCode, Date, DateTime, Iuv, NoticeNumber};

use super::codec::{Choice, Field, ListItem, composite, xml_enum};
use super::types::{
    Base64Binary, BoundedVec, Iban, Metadata, NonZeroAmount, Outcome, PaymentToken, QrCode,
    Subject, Text20, Text35, Text70, Text140, Text210, TransferDestination, TransferId,
};
use super::{AmountOption, SoapError, message, reply};
use crate::xml::{El, Writer};

xml_enum! {
    /// Which accounts the creditor may credit (`stTransferType`).
    pub enum TransferType {
        /// `POSTAL`: postal accounts are acceptable.
        Postal = "POSTAL",
        /// `PAGOPA`
        Pagopa = "PAGOPA",
    }
}

composite! {
    /// Which station is called: creditor, broker, station. These open every EC-side request.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StationIdentity {
        /// `idPA`
        pub id_pa: Text35 => "idPA",
        /// `idBrokerPA`
        pub id_broker_pa: Text35 => "idBrokerPA",
        /// `idStation`
        pub id_station: Text35 => "idStation",
    }
}

composite! {
    /// `paVerifyPaymentNoticeReq`
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaVerifyPaymentNoticeRequest {
        /// `idPA`, `idBrokerPA`, `idStation`
        pub station: StationIdentity => flatten,
        /// `qrCode`
        pub qr_code: QrCode => "qrCode",
    }
}

composite! {
    /// One way to pay, as the creditor states it (`ctPaymentOptionDescriptionPA`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaymentOption {
        /// `amount`
        pub amount: NonZeroAmount => "amount",
        /// `options`
        pub options: AmountOption => "options",
        /// `dueDate`
        pub due_date: Option<Date> => "dueDate",
        /// `detailDescription`
        pub detail_description: Option<Text140> => "detailDescription",
        /// `allCCP`: every transfer goes to a postal account.
        pub all_ccp: bool => "allCCP",
    }
}

impl ListItem for PaymentOption {
    const ITEM: &'static str = "paymentOptionDescription";
}

composite! {
    /// The content of a paVerifyPaymentNotice OK.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VerifiedNotice {
        /// `paymentList`: exactly one option.
        pub payment_options: BoundedVec<PaymentOption, 1> => "paymentList",
        /// `paymentDescription`
        pub payment_description: Option<Text140> => "paymentDescription",
        /// `fiscalCodePA`
        pub fiscal_code_pa: Option<CreditorFiscalCode> => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
    }
}

reply! {
    /// `paVerifyPaymentNoticeRes`
    PaVerifyPaymentNoticeResponse(VerifiedNotice) = "paVerifyPaymentNoticeRes", PaForNode
}

composite! {
    /// `paGetPaymentReq`: the Nodo asks the creditor for the payment data at activation.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaGetPaymentRequest {
        /// `idPA`, `idBrokerPA`, `idStation`
        pub station: StationIdentity => flatten,
        /// `qrCode`
        pub qr_code: QrCode => "qrCode",
        /// `amount`
        pub amount: Option<Amount> => "amount",
        /// `paymentNote`
        pub payment_note: Option<Text210> => "paymentNote",
        /// `transferType`
        pub transfer_type: Option<TransferType> => "transferType",
        /// `dueDate`
        pub due_date: Option<Date> => "dueDate",
    }
}

composite! {
    /// `paGetPaymentV2Request`: the same content as V1.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaGetPaymentV2Request {
        /// Every element, as in V1.
        pub base: PaGetPaymentRequest => flatten,
    }
}

composite! {
    /// Where part of the money goes, as the creditor states it (`ctTransferPA`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Transfer {
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `transferAmount`
        pub amount: NonZeroAmount => "transferAmount",
        /// `fiscalCodePA`
        pub fiscal_code_pa: CreditorFiscalCode => "fiscalCodePA",
        /// `IBAN`
        pub iban: Iban => "IBAN",
        /// `remittanceInformation`
        pub remittance_information: Text140 => "remittanceInformation",
        /// `transferCategory`: taxonomy code.
        pub transfer_category: Text140 => "transferCategory",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

impl ListItem for Transfer {
    const ITEM: &'static str = "transfer";
}

composite! {
    /// The payment position (`ctPaymentPA`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Payment {
        /// `creditorReferenceId`: the IUV.
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `paymentAmount`
        pub payment_amount: NonZeroAmount => "paymentAmount",
        /// `dueDate`
        pub due_date: Date => "dueDate",
        /// `retentionDate`: until when the IUV stays the same across activations.
        pub retention_date: Option<DateTime> => "retentionDate",
        /// `lastPayment`
        pub last_payment: Option<bool> => "lastPayment",
        /// `description`
        pub description: Text140 => "description",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `debtor`
        pub debtor: Subject => "debtor",
        /// `transferList`
        pub transfers: BoundedVec<Transfer, 5> => "transferList",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

reply! {
    /// `paGetPaymentRes`: on OK the payment is in `<data>`.
    PaGetPaymentResponse(Payment, "data") = "paGetPaymentRes", PaForNode
}

composite! {
    /// Where part of the money goes, V2 (`ctTransferPAV2`): an IBAN or an @e.bollo stamp.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TransferV2 {
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `transferAmount`
        pub amount: NonZeroAmount => "transferAmount",
        /// `fiscalCodePA`
        pub fiscal_code_pa: CreditorFiscalCode => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `IBAN` | `richiestaMarcaDaBollo`
        pub destination: TransferDestination => choice,
        /// `remittanceInformation`
        pub remittance_information: Text140 => "remittanceInformation",
        /// `transferCategory`
        pub transfer_category: Text140 => "transferCategory",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

impl ListItem for TransferV2 {
    const ITEM: &'static str = "transfer";
}

composite! {
    /// The payment position, V2 (`ctPaymentPAV2`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaymentV2 {
        /// `creditorReferenceId`: the IUV.
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `paymentAmount`
        pub payment_amount: NonZeroAmount => "paymentAmount",
        /// `dueDate`
        pub due_date: Date => "dueDate",
        /// `retentionDate`
        pub retention_date: Option<DateTime> => "retentionDate",
        /// `lastPayment`
        pub last_payment: Option<bool> => "lastPayment",
        /// `description`
        pub description: Text140 => "description",
        /// `companyName`
        pub company_name: Text140 => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `debtor`
        pub debtor: Subject => "debtor",
        /// `transferList`
        pub transfers: BoundedVec<TransferV2, 5> => "transferList",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

reply! {
    /// `paGetPaymentV2Response`: on OK the payment is in `<data>`.
    PaGetPaymentV2Response(PaymentV2, "data") = "paGetPaymentV2Response", PaForNode
}

composite! {
    /// The receipt the Nodo sends the creditor (`ctReceipt`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Receipt {
        /// `receiptId`: the payment token.
        pub receipt_id: PaymentToken => "receiptId",
        /// `noticeNumber`
        pub notice_number: NoticeNumber => "noticeNumber",
        /// `fiscalCode`: the creditor.
        pub fiscal_code: CreditorFiscalCode => "fiscalCode",
        /// `outcome`
        pub outcome: Outcome => "outcome",
        /// `creditorReferenceId`: the IUV.
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `paymentAmount`
        pub payment_amount: Amount => "paymentAmount",
        /// `description`
        pub description: Text140 => "description",
        /// `companyName`
        pub company_name: Text140 => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `debtor`
        pub debtor: Subject => "debtor",
        /// `transferList`
        pub transfers: BoundedVec<Transfer, 5> => "transferList",
        /// `idPSP`
        pub id_psp: Text35 => "idPSP",
        /// `pspFiscalCode`
        pub psp_fiscal_code: Option<Text70> => "pspFiscalCode",
        /// `pspPartitaIVA`
        pub psp_vat_number: Option<Text20> => "pspPartitaIVA",
        /// `PSPCompanyName`
        pub psp_company_name: Text70 => "PSPCompanyName",
        /// `idChannel`
        pub id_channel: Text35 => "idChannel",
        /// `channelDescription`
        pub channel_description: Text35 => "channelDescription",
        /// `payer`
        pub payer: Option<Subject> => "payer",
        /// `paymentMethod`
        pub payment_method: Option<Text35> => "paymentMethod",
        /// `fee`
        pub fee: Option<Amount> => "fee",
        /// `paymentDateTime`: the legally relevant moment of the payment.
        pub payment_date_time: Option<DateTime> => "paymentDateTime",
        /// `applicationDate`
        pub application_date: Option<Date> => "applicationDate",
        /// `transferDate`
        pub transfer_date: Option<Date> => "transferDate",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
        /// `standIn`
        pub stand_in: Option<bool> => "standIn",
    }
}

composite! {
    /// `paSendRTReq`: the receipt, delivered to the creditor's station.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaSendRtRequest {
        /// `idPA`, `idBrokerPA`, `idStation`
        pub station: StationIdentity => flatten,
        /// `receipt`
        pub receipt: Receipt => "receipt",
    }
}

reply! {
    /// `paSendRTRes`
    PaSendRtResponse(()) = "paSendRTRes", PaForNode
}

/// Where the money of a receipt's V2 transfer went: a bank account, or the @e.bollo stamp
/// document itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptDestination {
    /// `IBAN`
    Iban(Iban),
    /// `MBDAttachment`
    Stamp(Base64Binary),
}

impl Choice for ReceiptDestination {
    const NAMES: &'static [&'static str] = &["IBAN", "MBDAttachment"];
    const NAME: &'static str = "IBAN|MBDAttachment";
}

impl Field for ReceiptDestination {
    fn read(el: El<'_, '_>, _: &'static str) -> Result<Self, SoapError> {
        if el.name() == "IBAN" {
            Iban::read(el, "IBAN").map(ReceiptDestination::Iban)
        } else {
            Base64Binary::read(el, "MBDAttachment").map(ReceiptDestination::Stamp)
        }
    }

    fn write(&self, w: &mut Writer, _: &str) {
        match self {
            ReceiptDestination::Iban(i) => i.write(w, "IBAN"),
            ReceiptDestination::Stamp(s) => s.write(w, "MBDAttachment"),
        }
    }
}

composite! {
    /// A transfer of a V2 receipt (`ctTransferPAReceiptV2`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReceiptTransferV2 {
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `transferAmount`
        pub amount: NonZeroAmount => "transferAmount",
        /// `fiscalCodePA`
        pub fiscal_code_pa: CreditorFiscalCode => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `IBAN` | `MBDAttachment`
        pub destination: ReceiptDestination => choice,
        /// `remittanceInformation`
        pub remittance_information: Text140 => "remittanceInformation",
        /// `transferCategory`
        pub transfer_category: Text140 => "transferCategory",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

impl ListItem for ReceiptTransferV2 {
    const ITEM: &'static str = "transfer";
}

composite! {
    /// The V2 receipt (`ctReceiptV2`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ReceiptV2 {
        /// `receiptId`
        pub receipt_id: PaymentToken => "receiptId",
        /// `noticeNumber`
        pub notice_number: NoticeNumber => "noticeNumber",
        /// `fiscalCode`
        pub fiscal_code: CreditorFiscalCode => "fiscalCode",
        /// `outcome`
        pub outcome: Outcome => "outcome",
        /// `creditorReferenceId`
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `paymentAmount`
        pub payment_amount: Amount => "paymentAmount",
        /// `description`
        pub description: Text140 => "description",
        /// `companyName`
        pub company_name: Text140 => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `debtor`
        pub debtor: Subject => "debtor",
        /// `transferList`
        pub transfers: BoundedVec<ReceiptTransferV2, 5> => "transferList",
        /// `idPSP`
        pub id_psp: Text35 => "idPSP",
        /// `pspFiscalCode`
        pub psp_fiscal_code: Option<Text70> => "pspFiscalCode",
        /// `pspPartitaIVA`
        pub psp_vat_number: Option<Text20> => "pspPartitaIVA",
        /// `PSPCompanyName`
        pub psp_company_name: Text70 => "PSPCompanyName",
        /// `idChannel`
        pub id_channel: Text35 => "idChannel",
        /// `channelDescription`
        pub channel_description: Text35 => "channelDescription",
        /// `payer`
        pub payer: Option<Subject> => "payer",
        /// `paymentMethod`
        pub payment_method: Option<Text35> => "paymentMethod",
        /// `paymentNote`
        pub payment_note: Option<Text210> => "paymentNote",
        /// `fee`
        pub fee: Option<Amount> => "fee",
        /// `primaryCiIncurredFee`
        pub primary_ci_incurred_fee: Option<Amount> => "primaryCiIncurredFee",
        /// `idBundle`
        pub id_bundle: Option<Text70> => "idBundle",
        /// `idCiBundle`
        pub id_ci_bundle: Option<Text70> => "idCiBundle",
        /// `paymentDateTime`
        pub payment_date_time: Option<DateTime> => "paymentDateTime",
        /// `applicationDate`
        pub application_date: Option<Date> => "applicationDate",
        /// `transferDate`
        pub transfer_date: Option<Date> => "transferDate",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
        /// `standIn`
        pub stand_in: Option<bool> => "standIn",
    }
}

composite! {
    /// `paSendRTV2Request`
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaSendRtV2Request {
        /// `idPA`, `idBrokerPA`, `idStation`
        pub station: StationIdentity => flatten,
        /// `receipt`
        pub receipt: ReceiptV2 => "receipt",
    }
}

reply! {
    /// `paSendRTV2Response`
    PaSendRtV2Response(()) = "paSendRTV2Response", PaForNode
}

message!(
    PaVerifyPaymentNoticeRequest,
    "paVerifyPaymentNoticeReq",
    PaForNode
);
message!(PaGetPaymentRequest, "paGetPaymentReq", PaForNode);
message!(PaGetPaymentV2Request, "paGetPaymentV2Request", PaForNode);
message!(PaSendRtRequest, "paSendRTReq", PaForNode);
message!(PaSendRtV2Request, "paSendRTV2Request", PaForNode);
