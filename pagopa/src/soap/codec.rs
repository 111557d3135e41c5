//! The machinery that maps XSD sequences to Rust structs, one declaration per struct.
//!
//! Why a macro: every complex type needs a reader (tolerant: one pass over the children in any
//! order, unknown elements ignored) and a writer (strict: exactly the XSD's sequence). Writing
//! both by hand for thirty types would repeat the same field list twice per type and invite
//! the two to drift apart. [`composite!`] takes the field list once, in XSD order, and derives
//! both from it; each field's type says how it is read and written ([`Field`]), and `Option`
//! marks `minOccurs="0"` ([`Occurs`]).

use crate::xml::{Doc, El, Writer};

use super::types::{BoundedVec, ValueError, forbidden_char};
use super::{Fault, Namespace, SoapError, SoapFault};

/// A value carried as the text of one element.
pub(crate) trait Leaf: Sized {
    /// Parse the (trimmed) element text.
    fn from_text(s: &str) -> Result<Self, ValueError>;
    /// Append the escaped text.
    fn write_text(&self, out: &mut String);
}

/// Anything that is one element: a leaf, a complex type, a list wrapper or a choice.
pub(crate) trait Field: Sized {
    /// Read from `el`; `name` is the element's name for error messages.
    fn read(el: El<'_, '_>, name: &'static str) -> Result<Self, SoapError>;
    /// Write as `<name>…</name>`.
    fn write(&self, w: &mut Writer, name: &str);
}

impl<T: Leaf> Field for T {
    fn read(el: El<'_, '_>, name: &'static str) -> Result<Self, SoapError> {
        T::from_text(el.text()).map_err(|error| SoapError::Invalid {
            element: name,
            error,
        })
    }
    fn write(&self, w: &mut Writer, name: &str) {
        w.open(name);
        self.write_text(&mut w.out);
        w.close(name);
    }
}

/// A complex type: its content is a sequence of child elements.
pub(crate) trait Composite: Sized {
    /// Read the children of `el`.
    fn read_children(el: El<'_, '_>) -> Result<Self, SoapError>;
    /// Write the children, in XSD order.
    fn write_children(&self, w: &mut Writer);
}

/// The empty sequence (responses that carry only an outcome).
impl Composite for () {
    fn read_children(_: El<'_, '_>) -> Result<Self, SoapError> {
        Ok(())
    }
    fn write_children(&self, _: &mut Writer) {}
}

/// An `xsd:choice` between elements of different names. Its [`Field`] impl reads whichever
/// alternative it is given (by the element's own name) and writes the chosen one under its own
/// name, ignoring the `name` argument.
pub(crate) trait Choice: Field {
    /// The element names of the alternatives.
    const NAMES: &'static [&'static str];
    /// How a missing choice is reported.
    const NAME: &'static str;
}

/// The element name of the items of a list wrapper (`transferList` holds `transfer`s).
pub(crate) trait ListItem {
    const ITEM: &'static str;
}

impl<T: Field + ListItem, const MAX: usize> Field for BoundedVec<T, MAX> {
    fn read(el: El<'_, '_>, name: &'static str) -> Result<Self, SoapError> {
        let mut items = Vec::new();
        for c in el.children_named(T::ITEM) {
            if items.len() == MAX {
                return Err(SoapError::Invalid {
                    element: name,
                    error: ValueError::Count {
                        min: 1,
                        max: MAX,
                        actual: el.children_named(T::ITEM).count(),
                    },
                });
            }
            items.push(T::read(c, T::ITEM)?);
        }
        if items.is_empty() {
            return Err(SoapError::Missing { element: T::ITEM });
        }
        BoundedVec::new(items).map_err(|error| SoapError::Invalid {
            element: name,
            error,
        })
    }
    fn write(&self, w: &mut Writer, name: &str) {
        w.open(name);
        for item in self {
            item.write(w, T::ITEM);
        }
        w.close(name);
    }
}

/// How many times a field occurs: exactly once (`T`) or at most once (`Option<T>`).
pub(crate) trait Occurs: Sized {
    type Item;
    /// Turn what was found into the field, reporting a missing mandatory element.
    fn finish(found: Option<Self::Item>, name: &'static str) -> Result<Self, SoapError>;
    /// The value to write, if any.
    fn present(&self) -> Option<&Self::Item>;
}

impl<T: Field> Occurs for T {
    type Item = T;
    fn finish(found: Option<T>, name: &'static str) -> Result<Self, SoapError> {
        found.ok_or(SoapError::Missing { element: name })
    }
    fn present(&self) -> Option<&T> {
        Some(self)
    }
}

impl<T: Field> Occurs for Option<T> {
    type Item = T;
    fn finish(found: Option<T>, _: &'static str) -> Result<Self, SoapError> {
        Ok(found)
    }
    fn present(&self) -> Option<&T> {
        self.as_ref()
    }
}

/// Write a field of type `T` or `Option<T>`.
pub(crate) fn write_occurs<O: Occurs>(v: &O, w: &mut Writer, name: &str)
where
    O::Item: Field,
{
    if let Some(item) = v.present() {
        item.write(w, name);
    }
}

/// Declares a struct for an XSD complex type and derives its reader and writer.
///
/// Each field is `name: Type => kind`, in XSD sequence order, where kind is
/// - `"element"`: one child element of that name (`Option<T>` when `minOccurs="0"`);
/// - `choice`: an `xsd:choice` (the type implements [`Choice`]);
/// - `flatten`: a group of elements written inline (the type is itself a `composite!`).
macro_rules! composite {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $fvis:vis $field:ident : $ty:ty => $kind:tt
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        impl $crate::soap::codec::Composite for $name {
            #[allow(unused_variables)]
            fn read_children(
                el: $crate::xml::El<'_, '_>,
            ) -> ::std::result::Result<Self, $crate::soap::SoapError> {
                $( $crate::soap::codec::composite!(@decl $field, $ty, $kind); )*
                for c in el.children() {
                    let n = c.name();
                    $( $crate::soap::codec::composite!(@read n, c, $field, $ty, $kind); )*
                }
                Ok($name {
                    $( $field: $crate::soap::codec::composite!(@finish el, $field, $ty, $kind), )*
                })
            }

            fn write_children(&self, w: &mut $crate::xml::Writer) {
                $( $crate::soap::codec::composite!(@write w, self.$field, $ty, $kind); )*
            }
        }

        impl $crate::soap::codec::Field for $name {
            fn read(
                el: $crate::xml::El<'_, '_>,
                _name: &'static str,
            ) -> ::std::result::Result<Self, $crate::soap::SoapError> {
                <$name as $crate::soap::codec::Composite>::read_children(el)
            }
            fn write(&self, w: &mut $crate::xml::Writer, name: &str) {
                w.open(name);
                $crate::soap::codec::Composite::write_children(self, w);
                w.close(name);
            }
        }
    };

    (@decl $field:ident, $ty:ty, flatten) => {};
    (@decl $field:ident, $ty:ty, $kind:tt) => {
        let mut $field: Option<<$ty as $crate::soap::codec::Occurs>::Item> = None;
    };

    (@read $n:ident, $c:ident, $field:ident, $ty:ty, flatten) => {};
    (@read $n:ident, $c:ident, $field:ident, $ty:ty, choice) => {
        if <<$ty as $crate::soap::codec::Occurs>::Item as $crate::soap::codec::Choice>::NAMES
            .contains(&$n)
        {
            if $field.is_none() {
                $field = Some(
                    <<$ty as $crate::soap::codec::Occurs>::Item as $crate::soap::codec::Field>
                        ::read($c, "")?,
                );
            }
            continue;
        }
    };
    (@read $n:ident, $c:ident, $field:ident, $ty:ty, $lit:literal) => {
        if $n == $lit {
            if $field.is_none() {
                $field = Some(
                    <<$ty as $crate::soap::codec::Occurs>::Item as $crate::soap::codec::Field>
                        ::read($c, $lit)?,
                );
            }
            continue;
        }
    };

    (@finish $el:ident, $field:ident, $ty:ty, flatten) => {
        <$ty as $crate::soap::codec::Composite>::read_children($el)?
    };
    (@finish $el:ident, $field:ident, $ty:ty, choice) => {
        <$ty as $crate::soap::codec::Occurs>::finish(
            $field,
            <<$ty as $crate::soap::codec::Occurs>::Item as $crate::soap::codec::Choice>::NAME,
        )?
    };
    (@finish $el:ident, $field:ident, $ty:ty, $lit:literal) => {
        <$ty as $crate::soap::codec::Occurs>::finish($field, $lit)?
    };

    (@write $w:ident, $value:expr, $ty:ty, flatten) => {
        $crate::soap::codec::Composite::write_children(&$value, $w)
    };
    (@write $w:ident, $value:expr, $ty:ty, choice) => {
        $crate::soap::codec::write_occurs(&$value, $w, "")
    };
    (@write $w:ident, $value:expr, $ty:ty, $lit:literal) => {
        $crate::soap::codec::write_occurs(&$value, $w, $lit)
    };
}
pub(crate) use composite;

/// Declares a fieldless enum for an XSD string enumeration, with its XML values.
macro_rules! xml_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in XSD order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as written in XML.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Parse the XML value (case-sensitive, as in the XSD).
            pub fn parse(s: &str) -> ::std::result::Result<Self, $crate::soap::ValueError> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err($crate::soap::ValueError::NotAllowed {
                        value: s.to_owned(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::soap::ValueError;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl $crate::soap::codec::Leaf for $name {
            fn from_text(s: &str) -> ::std::result::Result<Self, $crate::soap::ValueError> {
                Self::parse(s)
            }
            fn write_text(&self, out: &mut String) {
                out.push_str(self.as_str());
            }
        }
    };
}
pub(crate) use xml_enum;

fn push_display(out: &mut String, v: impl std::fmt::Display) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(out, "{v}");
}

impl Leaf for crate::Amount {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::Amount::parse_nodo(s)?)
    }
    /// Same text as `Display` (`30.00`), without the formatting machinery: amounts are the
    /// most frequent non-text values on the hot path.
    fn write_text(&self, out: &mut String) {
        let cents = self.cents();
        let mut buf = [0u8; 24];
        let mut i = buf.len();
        let mut n = cents;
        for _ in 0..2 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        i -= 1;
        buf[i] = b'.';
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        // Only ASCII digits and a dot were written.
        out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
    }
}

/// The Nodo accepts test codes that fail the check digit; the XSD checks only the format.
impl Leaf for crate::CreditorFiscalCode {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::CreditorFiscalCode::parse(
            s,
            crate::CheckMode::Lenient,
        )?)
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

/// As for fiscal codes: format enforced, check digit not.
impl Leaf for crate::NoticeNumber {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::NoticeNumber::parse(s, crate::CheckMode::Lenient)?)
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl Leaf for crate::Iuv {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::Iuv::parse(s)?)
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(self.as_str());
    }
}

impl Leaf for crate::Date {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::Date::parse(s)?)
    }
    fn write_text(&self, out: &mut String) {
        push_display(out, self);
    }
}

impl Leaf for crate::DateTime {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(crate::DateTime::parse(s)?)
    }
    fn write_text(&self, out: &mut String) {
        push_display(out, self);
    }
}

/// `xsd:boolean`: `true`, `false`, `1`, `0` are read; `true`/`false` are written.
impl Leaf for bool {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        match s {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(ValueError::NotAllowed {
                value: s.to_owned(),
                allowed: &["true", "false", "1", "0"],
            }),
        }
    }
    fn write_text(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// `xsd:int`.
impl Leaf for i32 {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        let n = super::types::parse_integer(s)?;
        i32::try_from(n).map_err(|_| ValueError::OutOfRange {
            value: n,
            min: i64::from(i32::MIN),
            max: i64::from(i32::MAX),
        })
    }
    fn write_text(&self, out: &mut String) {
        push_display(out, self);
    }
}

/// Unconstrained `xsd:string` (fault texts). Characters XML cannot carry are written as
/// U+FFFD so that whatever the caller puts in, the message stays well-formed.
impl Leaf for String {
    fn from_text(s: &str) -> Result<Self, ValueError> {
        Ok(s.to_owned())
    }
    fn write_text(&self, out: &mut String) {
        write_any_text(out, self);
    }
}

/// Escape `s` into `out`, replacing characters XML cannot carry with U+FFFD.
pub(crate) fn write_any_text(out: &mut String, s: &str) {
    if s.chars().any(forbidden_char) {
        let clean: String = s
            .chars()
            .map(|c| if forbidden_char(c) { '\u{FFFD}' } else { c })
            .collect();
        crate::xml::escape_into(out, &clean);
    } else {
        crate::xml::escape_into(out, s);
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Typical size of a message, to allocate once.
const CAPACITY: usize = 2048;

fn open_envelope(w: &mut Writer, ns: Namespace) {
    w.raw("<soapenv:Envelope xmlns:soapenv=\"");
    w.raw(SOAP_ENV);
    w.raw("\" xmlns:");
    w.raw(ns.prefix());
    w.raw("=\"");
    w.raw(ns.uri());
    w.raw("\"><soapenv:Body>");
}

fn close_envelope(w: &mut Writer) {
    w.raw("</soapenv:Body></soapenv:Envelope>");
}

/// A whole envelope around the body element `ns:element`, whose content `body` writes.
pub(crate) fn envelope(ns: Namespace, element: &str, body: impl FnOnce(&mut Writer)) -> String {
    let mut w = Writer::with_capacity(CAPACITY);
    open_envelope(&mut w, ns);
    let qualified = |w: &mut Writer| {
        w.raw(ns.prefix());
        w.raw(":");
        w.raw(element);
    };
    w.raw("<");
    qualified(&mut w);
    w.raw(">");
    body(&mut w);
    w.raw("</");
    qualified(&mut w);
    w.raw(">");
    close_envelope(&mut w);
    w.finish()
}

/// A SOAP 1.1 Fault envelope.
pub(crate) fn fault_envelope(f: &SoapFault) -> String {
    let mut w = Writer::with_capacity(CAPACITY);
    open_envelope(&mut w, Namespace::NodeForPsp);
    w.raw("<soapenv:Fault><faultcode>soapenv:");
    w.raw(f.code.as_str());
    w.raw("</faultcode>");
    f.string.write(&mut w, "faultstring");
    if let Some(a) = &f.actor {
        a.write(&mut w, "faultactor");
    }
    if let Some(d) = &f.detail {
        w.open("detail");
        d.write(&mut w, "fault");
        w.close("detail");
    }
    w.raw("</soapenv:Fault>");
    close_envelope(&mut w);
    w.finish()
}

/// The element inside `soapenv:Body`; a SOAP Fault becomes [`SoapError::Fault`].
pub(crate) fn body<'d, 'a>(doc: &'d Doc<'a>) -> Result<El<'d, 'a>, SoapError> {
    let root = doc.root();
    if root.name() != "Envelope" {
        return Err(SoapError::NotEnvelope {
            root: root.name().to_owned(),
        });
    }
    let el = root
        .child("Body")
        .and_then(|b| b.children().next())
        .ok_or(SoapError::NoBody)?;
    if el.name() == "Fault" {
        return Err(SoapError::Fault(Box::new(read_soap_fault(el))));
    }
    Ok(el)
}

/// Read a SOAP Fault leniently: whatever is missing is left empty, and an application fault
/// bean anywhere inside `detail` is picked up.
fn read_soap_fault(el: El<'_, '_>) -> SoapFault {
    let code = el
        .child_text("faultcode")
        .map_or(super::SoapFaultCode::Server, super::SoapFaultCode::parse);
    let detail = el.child("detail").and_then(|d| {
        d.children()
            .find(|c| c.child("faultCode").is_some())
            .and_then(|c| Fault::read(c, "fault").ok())
    });
    SoapFault {
        code,
        string: el.child_text("faultstring").unwrap_or_default().to_owned(),
        actor: el.child_text("faultactor").map(str::to_owned),
        detail,
    }
}

/// Read the `outcome` and either the OK content (`read_ok`) or the `fault`.
pub(crate) fn read_reply<T>(
    el: El<'_, '_>,
    read_ok: impl FnOnce(El<'_, '_>) -> Result<T, SoapError>,
) -> Result<Result<T, Fault>, SoapError> {
    let outcome = el
        .child("outcome")
        .ok_or(SoapError::Missing { element: "outcome" })?;
    match super::Outcome::read(outcome, "outcome")? {
        super::Outcome::Ok => read_ok(el).map(Ok),
        super::Outcome::Ko => {
            let f = el
                .child("fault")
                .ok_or(SoapError::Missing { element: "fault" })?;
            Fault::read(f, "fault").map(Err)
        }
    }
}

/// Write `outcome`, then the OK content (`write_ok`) or the `fault`.
pub(crate) fn write_reply<T>(
    w: &mut Writer,
    result: &Result<T, Fault>,
    write_ok: impl FnOnce(&T, &mut Writer),
) {
    match result {
        Ok(v) => {
            w.leaf("outcome", "OK");
            write_ok(v, w);
        }
        Err(f) => {
            w.leaf("outcome", "KO");
            f.write(w, "fault");
        }
    }
}
