//! The PSP side of `nodeForPsp`: verifyPaymentNotice, activatePaymentNotice[V2] and
//! sendPaymentOutcome[V2], requests and responses, field for field as in
//! `wsdl/xsd/nodeForPsp.xsd` (element order = XSD sequence order).

use crate::fault::Primitive;
use crate::{Amount, CreditorFiscalCode, Date, Iuv};

use super::codec::{ListItem, composite, xml_enum};
use super::types::{
    Base64Binary, BoundedVec, ExpirationTime, Iban, IdempotencyKey, Metadata, NonZeroAmount,
    Outcome, Password, PaymentToken, QrCode, Subject, Text35, Text70, Text140, Text210,
    TransferDestination, TransferId,
};
use super::{Request, message, reply};

xml_enum! {
    /// How the payer paid, in sendPaymentOutcome (`stPaymentMethod`).
    pub enum PaymentMethod {
        /// `cash`
        Cash = "cash",
        /// `creditCard`
        CreditCard = "creditCard",
        /// `bancomat`
        Bancomat = "bancomat",
        /// `other`
        Other = "other",
    }
}

xml_enum! {
    /// Where the payer paid, in sendPaymentOutcome (`stPaymentChannel`).
    pub enum PaymentChannel {
        /// `frontOffice`: a counter.
        FrontOffice = "frontOffice",
        /// `atm`: an unattended terminal.
        Atm = "atm",
        /// `onLine`
        OnLine = "onLine",
        /// `app`
        App = "app",
        /// `other`
        Other = "other",
    }
}

xml_enum! {
    /// Payment method for the platform's fee engine, in activatePaymentNoticeV2
    /// (`stPaymentMethodFee`).
    pub enum FeePaymentMethod {
        /// `BBT`: bonifico bancario di tesoreria.
        Bbt = "BBT",
        /// `BP`: bollettino postale.
        Bp = "BP",
        /// `AD`: addebito diretto.
        Ad = "AD",
        /// `CP`: carta di pagamento.
        Cp = "CP",
        /// `PO`: paid at the PSP.
        Po = "PO",
        /// `OBEP`: online banking e-payment.
        Obep = "OBEP",
        /// `JIF`: BANCOMAT Pay.
        Jif = "JIF",
        /// `MYBK`: MyBank.
        Mybk = "MYBK",
        /// `PPAL`: PayPal.
        Ppal = "PPAL",
    }
}

xml_enum! {
    /// Where the payment starts, for the fee engine, in activatePaymentNoticeV2
    /// (`stTouchpointFee`).
    pub enum TouchPoint {
        /// `IO`: the IO app.
        Io = "IO",
        /// `WISP`
        Wisp = "WISP",
        /// `CHECKOUT`: pagoPA Checkout.
        Checkout = "CHECKOUT",
        /// `PSP`: at the PSP, generic.
        Psp = "PSP",
        /// `ATM`: at a PSP's ATM.
        Atm = "ATM",
        /// `BETTING`: at a ricevitoria.
        Betting = "BETTING",
        /// `TS`: at a tabaccheria.
        Ts = "TS",
        /// `HB`: home banking.
        Hb = "HB",
        /// `POS`: a physical POS.
        Pos = "POS",
    }
}

composite! {
    /// Who is calling: PSP, broker, channel and the channel password. These four elements open
    /// every request.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PspIdentity {
        /// `idPSP`
        pub id_psp: Text35 => "idPSP",
        /// `idBrokerPSP`
        pub id_broker_psp: Text35 => "idBrokerPSP",
        /// `idChannel`
        pub id_channel: Text35 => "idChannel",
        /// `password`
        pub password: Password => "password",
    }
}

composite! {
    /// `verifyPaymentNoticeReq`: what is due on a notice (no side effect).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VerifyPaymentNoticeRequest {
        /// `idPSP`, `idBrokerPSP`, `idChannel`, `password`
        pub psp: PspIdentity => flatten,
        /// `qrCode`
        pub qr_code: QrCode => "qrCode",
    }
}

composite! {
    /// One way to pay the notice (`ctPaymentOptionDescription`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PaymentOption {
        /// `amount`
        pub amount: NonZeroAmount => "amount",
        /// `options`
        pub options: super::AmountOption => "options",
        /// `dueDate`
        pub due_date: Option<Date> => "dueDate",
        /// `paymentNote`
        pub payment_note: Option<Text210> => "paymentNote",
    }
}

impl ListItem for PaymentOption {
    const ITEM: &'static str = "paymentOptionDescription";
}

composite! {
    /// The content of a verifyPaymentNotice OK.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct VerifiedNotice {
        /// `paymentList`: today always one option.
        pub payment_options: BoundedVec<PaymentOption, 5> => "paymentList",
        /// `paymentDescription`
        pub payment_description: Option<Text210> => "paymentDescription",
        /// `fiscalCodePA`
        pub fiscal_code_pa: Option<CreditorFiscalCode> => "fiscalCodePA",
        /// `companyName`: the creditor's name.
        pub company_name: Option<Text140> => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `standin`: the Nodo answered for an unavailable creditor.
        pub standin: Option<bool> => "standin",
    }
}

reply! {
    /// `verifyPaymentNoticeRes`
    VerifyPaymentNoticeResponse(VerifiedNotice) = "verifyPaymentNoticeRes", NodeForPsp
}

composite! {
    /// `activatePaymentNoticeReq`: lock the notice and open a payment session.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActivatePaymentNoticeRequest {
        /// `idPSP`, `idBrokerPSP`, `idChannel`, `password`
        pub psp: PspIdentity => flatten,
        /// `idempotencyKey`: optional in the XSD, mandatory by best practice.
        pub idempotency_key: Option<IdempotencyKey> => "idempotencyKey",
        /// `qrCode`
        pub qr_code: QrCode => "qrCode",
        /// `expirationTime`: the token lifetime (default 30 minutes).
        pub expiration_time: Option<ExpirationTime> => "expirationTime",
        /// `amount`: what the payer is about to pay, from the verify.
        pub amount: Amount => "amount",
        /// `dueDate`
        pub due_date: Option<Date> => "dueDate",
        /// `paymentNote`
        pub payment_note: Option<Text210> => "paymentNote",
    }
}

composite! {
    /// `activatePaymentNoticeV2Request`: the V1 request plus the fee engine's inputs.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActivatePaymentNoticeV2Request {
        /// Every V1 element, in the same order.
        pub base: ActivatePaymentNoticeRequest => flatten,
        /// `paymentMethod`
        pub payment_method: Option<FeePaymentMethod> => "paymentMethod",
        /// `touchPoint`
        pub touch_point: Option<TouchPoint> => "touchPoint",
    }
}

composite! {
    /// Where part of the money goes (`ctTransferPSP`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Transfer {
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `transferAmount`
        pub amount: Amount => "transferAmount",
        /// `fiscalCodePA`: the receiving creditor, which may differ from the notice's.
        pub fiscal_code_pa: CreditorFiscalCode => "fiscalCodePA",
        /// `IBAN`
        pub iban: Iban => "IBAN",
        /// `remittanceInformation`
        pub remittance_information: Text140 => "remittanceInformation",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

impl ListItem for Transfer {
    const ITEM: &'static str = "transfer";
}

composite! {
    /// The content of an activatePaymentNotice OK.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActivatedPayment {
        /// `totalAmount`
        pub total_amount: Amount => "totalAmount",
        /// `paymentDescription`
        pub payment_description: Option<Text140> => "paymentDescription",
        /// `fiscalCodePA`
        pub fiscal_code_pa: Option<CreditorFiscalCode> => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `paymentToken`: the session, to quote in the outcome.
        pub payment_token: PaymentToken => "paymentToken",
        /// `transferList`
        pub transfers: BoundedVec<Transfer, 5> => "transferList",
        /// `creditorReferenceId`: the IUV.
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `standin`
        pub standin: Option<bool> => "standin",
    }
}

reply! {
    /// `activatePaymentNoticeRes`
    ActivatePaymentNoticeResponse(ActivatedPayment) = "activatePaymentNoticeRes", NodeForPsp
}

composite! {
    /// Where part of the money goes, V2 (`ctTransferPSPV2`): the destination may be an
    /// @e.bollo digital stamp instead of an IBAN.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct TransferV2 {
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `transferAmount`
        pub amount: Amount => "transferAmount",
        /// `fiscalCodePA`
        pub fiscal_code_pa: CreditorFiscalCode => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `IBAN` | `richiestaMarcaDaBollo`
        pub destination: Option<TransferDestination> => choice,
        /// `remittanceInformation`
        pub remittance_information: Text140 => "remittanceInformation",
        /// `transferCategory`: taxonomy code, e.g. `0101002IM`.
        pub transfer_category: Option<Text140> => "transferCategory",
        /// `metadata`
        pub metadata: Option<Metadata> => "metadata",
    }
}

impl ListItem for TransferV2 {
    const ITEM: &'static str = "transfer";
}

composite! {
    /// The content of an activatePaymentNoticeV2 OK.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ActivatedPaymentV2 {
        /// `totalAmount`
        pub total_amount: Amount => "totalAmount",
        /// `paymentDescription`
        pub payment_description: Option<Text140> => "paymentDescription",
        /// `fiscalCodePA`
        pub fiscal_code_pa: Option<CreditorFiscalCode> => "fiscalCodePA",
        /// `companyName`
        pub company_name: Option<Text140> => "companyName",
        /// `officeName`
        pub office_name: Option<Text140> => "officeName",
        /// `paymentToken`
        pub payment_token: PaymentToken => "paymentToken",
        /// `transferList`
        pub transfers: BoundedVec<TransferV2, 5> => "transferList",
        /// `metadata`: payment-level metadata.
        pub metadata: Option<Metadata> => "metadata",
        /// `creditorReferenceId`: the IUV.
        pub creditor_reference_id: Iuv => "creditorReferenceId",
        /// `suggestedUserFee`
        pub suggested_user_fee: Option<Amount> => "suggestedUserFee",
        /// `suggestedPaFee`
        pub suggested_pa_fee: Option<Amount> => "suggestedPaFee",
        /// `suggestedIdBundle`
        pub suggested_id_bundle: Option<Text70> => "suggestedIdBundle",
        /// `suggestedIdCiBundle`
        pub suggested_id_ci_bundle: Option<Text70> => "suggestedIdCiBundle",
        /// `allCCP`: every transfer goes to a postal account.
        pub all_ccp: Option<bool> => "allCCP",
        /// `standin`
        pub standin: Option<bool> => "standin",
    }
}

reply! {
    /// `activatePaymentNoticeV2Response`
    ActivatePaymentNoticeV2Response(ActivatedPaymentV2) = "activatePaymentNoticeV2Response", NodeForPsp
}

composite! {
    /// How the payment went, for an OK outcome (`ctOutcomeDetails`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OutcomeDetails {
        /// `paymentMethod`
        pub payment_method: PaymentMethod => "paymentMethod",
        /// `paymentChannel`
        pub payment_channel: Option<PaymentChannel> => "paymentChannel",
        /// `fee`: the commission charged to the payer.
        pub fee: Amount => "fee",
        /// `payer`
        pub payer: Option<Subject> => "payer",
        /// `applicationDate`: the PSP's accounting day of the payment.
        pub application_date: Date => "applicationDate",
        /// `transferDate`: the day of the credit transfer to the creditor.
        pub transfer_date: Date => "transferDate",
    }
}

composite! {
    /// `sendPaymentOutcomeReq`: the outcome of the payment session of `payment_token`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SendPaymentOutcomeRequest {
        /// `idPSP`, `idBrokerPSP`, `idChannel`, `password`
        pub psp: PspIdentity => flatten,
        /// `idempotencyKey`
        pub idempotency_key: Option<IdempotencyKey> => "idempotencyKey",
        /// `paymentToken`
        pub payment_token: PaymentToken => "paymentToken",
        /// `outcome`
        pub outcome: Outcome => "outcome",
        /// `details`: mandatory (for the Nodo, not the XSD) when the outcome is OK.
        pub details: Option<OutcomeDetails> => "details",
    }
}

reply! {
    /// `sendPaymentOutcomeRes`
    SendPaymentOutcomeResponse(()) = "sendPaymentOutcomeRes", NodeForPsp
}

composite! {
    /// An @e.bollo digital stamp bought with the payment (`ctMarcaDaBollo`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct DigitalStamp {
        /// `paymentToken`
        pub payment_token: PaymentToken => "paymentToken",
        /// `idTransfer`
        pub id_transfer: TransferId => "idTransfer",
        /// `MBDAttachment`: the stamp document.
        pub attachment: Base64Binary => "MBDAttachment",
    }
}

impl ListItem for DigitalStamp {
    const ITEM: &'static str = "marcaDaBollo";
}

composite! {
    /// How the payment went, V2 (`ctOutcomeDetailsV2`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OutcomeDetailsV2 {
        /// `paymentMethod`
        pub payment_method: PaymentMethod => "paymentMethod",
        /// `paymentChannel`
        pub payment_channel: Option<PaymentChannel> => "paymentChannel",
        /// `fee`
        pub fee: Amount => "fee",
        /// `primaryCiIncurredFee`
        pub primary_ci_incurred_fee: Option<Amount> => "primaryCiIncurredFee",
        /// `idBundle`
        pub id_bundle: Option<Text70> => "idBundle",
        /// `idCiBundle`
        pub id_ci_bundle: Option<Text70> => "idCiBundle",
        /// `payer`
        pub payer: Option<Subject> => "payer",
        /// `applicationDate`
        pub application_date: Date => "applicationDate",
        /// `transferDate`
        pub transfer_date: Date => "transferDate",
        /// `marcheDaBollo`: up to 25 stamps.
        pub digital_stamps: Option<BoundedVec<DigitalStamp, 25>> => "marcheDaBollo",
    }
}

composite! {
    /// `sendPaymentOutcomeV2Request`: one outcome for up to five payment sessions.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SendPaymentOutcomeV2Request {
        /// `idPSP`, `idBrokerPSP`, `idChannel`, `password`
        pub psp: PspIdentity => flatten,
        /// `idempotencyKey`
        pub idempotency_key: Option<IdempotencyKey> => "idempotencyKey",
        /// `paymentTokens`
        pub payment_tokens: BoundedVec<PaymentToken, 5> => "paymentTokens",
        /// `outcome`
        pub outcome: Outcome => "outcome",
        /// `details`
        pub details: Option<OutcomeDetailsV2> => "details",
    }
}

reply! {
    /// `sendPaymentOutcomeV2Response`
    SendPaymentOutcomeV2Response(()) = "sendPaymentOutcomeV2Response", NodeForPsp
}

message!(
    VerifyPaymentNoticeRequest,
    "verifyPaymentNoticeReq",
    NodeForPsp
);
message!(
    ActivatePaymentNoticeRequest,
    "activatePaymentNoticeReq",
    NodeForPsp
);
message!(
    ActivatePaymentNoticeV2Request,
    "activatePaymentNoticeV2Request",
    NodeForPsp
);
message!(
    SendPaymentOutcomeRequest,
    "sendPaymentOutcomeReq",
    NodeForPsp
);
message!(
    SendPaymentOutcomeV2Request,
    "sendPaymentOutcomeV2Request",
    NodeForPsp
);

macro_rules! request {
    ($req:ty, $res:ty, $p:ident) => {
        impl Request for $req {
            type Response = $res;
            const PRIMITIVE: Primitive = Primitive::$p;
        }
    };
}

request!(
    VerifyPaymentNoticeRequest,
    VerifyPaymentNoticeResponse,
    VerifyPaymentNotice
);
request!(
    ActivatePaymentNoticeRequest,
    ActivatePaymentNoticeResponse,
    ActivatePaymentNotice
);
request!(
    ActivatePaymentNoticeV2Request,
    ActivatePaymentNoticeV2Response,
    ActivatePaymentNoticeV2
);
request!(
    SendPaymentOutcomeRequest,
    SendPaymentOutcomeResponse,
    SendPaymentOutcome
);
request!(
    SendPaymentOutcomeV2Request,
    SendPaymentOutcomeV2Response,
    SendPaymentOutcomeV2
);

impl SendPaymentOutcomeRequest {
    /// An OK outcome with its details.
    pub fn ok(
        psp: PspIdentity,
        idempotency_key: IdempotencyKey,
        payment_token: PaymentToken,
        details: OutcomeDetails,
    ) -> Self {
        SendPaymentOutcomeRequest {
            psp,
            idempotency_key: Some(idempotency_key),
            payment_token,
            outcome: Outcome::Ok,
            details: Some(details),
        }
    }

    /// A KO outcome: the payment did not happen.
    pub fn ko(
        psp: PspIdentity,
        idempotency_key: IdempotencyKey,
        payment_token: PaymentToken,
    ) -> Self {
        SendPaymentOutcomeRequest {
            psp,
            idempotency_key: Some(idempotency_key),
            payment_token,
            outcome: Outcome::Ko,
            details: None,
        }
    }
}

impl ActivatedPayment {
    /// Sum of the transfer amounts (equal to `total_amount` in a consistent answer).
    pub fn transfers_total(&self) -> Result<Amount, crate::AmountError> {
        Amount::checked_sum(self.transfers.iter().map(|t| t.amount))
    }
}

impl ActivatedPaymentV2 {
    /// Sum of the transfer amounts (equal to `total_amount` in a consistent answer).
    pub fn transfers_total(&self) -> Result<Amount, crate::AmountError> {
        Amount::checked_sum(self.transfers.iter().map(|t| t.amount))
    }
}
