//! Minimal XML plumbing shared by the SOAP and rendicontazione codecs.
//!
//! Why not serde: the Nodo's messages must be *read* tolerantly (any namespace prefix, stray
//! whitespace, unknown elements from newer schema versions) but *written* exactly in the XSD's
//! element order. A tiny flat tree for small messages plus a string writer does both, allocates
//! little (one node vector, text borrowed from the input unless it contained entity references)
//! and keeps the codecs readable. Large documents (flows of 100,000 payments) do not use the tree:
//! they stream through [`quick_xml`] directly with `push_text` to collect text.
//!
//! Security: only the five predefined entities and character references are expanded; a document
//! with a DTD-defined entity is rejected, so there is no entity-expansion attack surface.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use quick_xml::events::{BytesRef, Event};

/// Why an XML document could not be read. The codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// Not well-formed XML (the parser's message is kept for operators).
    #[error("XML non ben formato: {0}")]
    Malformed(String),
    /// Text is not valid UTF-8.
    #[error("XML con testo non UTF-8")]
    NotUtf8,
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("entità XML non ammessa: &{0};")]
    UnknownEntity(String),
    /// No root element, or content after the root element closed.
    #[error("documento XML senza elemento radice")]
    NoRoot,
    /// The document nests deeper than 64 levels.
    #[error("XML annidato oltre {MAX_DEPTH} livelli")]
    TooDeep,
}

impl XmlError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            XmlError::Malformed(_) => "XML_MALFORMED",
            XmlError::NotUtf8 => "XML_NOT_UTF8",
            XmlError::UnknownEntity(_) => "XML_UNKNOWN_ENTITY",
            XmlError::NoRoot => "XML_NO_ROOT",
            XmlError::TooDeep => "XML_TOO_DEEP",
        }
    }
}

impl From<quick_xml::Error> for XmlError {
    fn from(e: quick_xml::Error) -> Self {
        XmlError::Malformed(e.to_string())
    }
}

/// Deepest nesting accepted; real pagoPA messages stay under 12.
pub const MAX_DEPTH: usize = 64;

const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Node<'a> {
    name: &'a str,
    text: Cow<'a, str>,
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
}

/// A parsed document: every element, in document order, with its local name and text.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    nodes: Vec<Node<'a>>,
}

/// A borrowed handle to one element of a [`Doc`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct El<'d, 'a> {
    doc: &'d Doc<'a>,
    idx: u32,
}

/// Resolve an entity or character reference to text.
pub(crate) fn resolve_ref(r: &BytesRef<'_>) -> Result<Cow<'static, str>, XmlError> {
    if let Some(c) = r.resolve_char_ref().map_err(XmlError::from)? {
        return Ok(Cow::Owned(c.to_string()));
    }
    let name = r.as_ref();
    let s = match name {
        b"amp" => "&",
        b"lt" => "<",
        b"gt" => ">",
        b"quot" => "\"",
        b"apos" => "'",
        other => {
            return Err(XmlError::UnknownEntity(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    Ok(Cow::Borrowed(s))
}

/// Append the text an event contributes (text, CDATA or a reference) to `buf`.
/// Returns `Ok(false)` for events that carry no text.
pub(crate) fn push_text(buf: &mut String, ev: &Event<'_>) -> Result<bool, XmlError> {
    match ev {
        Event::Text(t) => {
            buf.push_str(std::str::from_utf8(t.as_ref()).map_err(|_| XmlError::NotUtf8)?);
        }
        Event::CData(t) => {
            buf.push_str(std::str::from_utf8(t.as_ref()).map_err(|_| XmlError::NotUtf8)?);
        }
        Event::GeneralRef(r) => buf.push_str(&resolve_ref(r)?),
        _ => return Ok(false),
    }
    Ok(true)
}

impl<'a> Doc<'a> {
    /// Parse a whole (small) document into a flat tree.
    ///
    /// A hand-written tokenizer rather than quick-xml's: SOAP messages are small, parsed on
    /// every request, and this path is about twice as fast while checking the same
    /// well-formedness rules that matter here (balanced and matching tags, quoted attributes,
    /// valid references, one root, no DTD).
    pub(crate) fn parse(input: &'a str) -> Result<Self, XmlError> {
        let b = input.as_bytes();
        let mut nodes: Vec<Node<'a>> = Vec::with_capacity(48);
        // Open elements: node index and qualified name (for matching the end tag).
        let mut stack: Vec<(u32, &'a str)> = Vec::with_capacity(16);
        let mut root_closed = false;
        let mut i = 0;
        loop {
            // Text runs are short (values, indentation): a plain loop beats memchr's set-up.
            let lt = b[i..].iter().position(|&c| c == b'<').map(|p| i + p);
            let text_end = lt.unwrap_or(b.len());
            if text_end > i {
                let raw = &input[i..text_end];
                match stack.last() {
                    Some(&(cur, _)) => {
                        let node = &mut nodes[cur as usize];
                        // Text between child elements is indentation (pagoPA has no mixed
                        // content); skipping it saves an allocation per container element.
                        if node.first_child == NONE {
                            let piece = decode_text(raw)?;
                            append(&mut node.text, piece);
                        } else if raw.contains('&') {
                            // Still check its references, so well-formedness does not depend
                            // on where text sits.
                            decode_text(raw)?;
                        }
                    }
                    None => {
                        if !raw.bytes().all(|c| c.is_ascii_whitespace()) {
                            return Err(XmlError::Malformed(
                                "testo fuori dall'elemento radice".into(),
                            ));
                        }
                    }
                }
            }
            let Some(lt) = lt else { break };
            i = lt + 1;
            match b.get(i) {
                Some(b'/') => {
                    let gt = find(b, i, b">")?;
                    let name = input[i + 1..gt].trim_end_matches(is_xml_space);
                    match stack.pop() {
                        Some((_, open)) if open == name => {}
                        _ => {
                            return Err(XmlError::Malformed(format!(
                                "tag di chiusura inatteso </{name}>"
                            )));
                        }
                    }
                    if stack.is_empty() {
                        root_closed = true;
                    }
                    i = gt + 1;
                }
                Some(b'?') => {
                    i = find(b, i, b"?>")? + 2;
                }
                Some(b'!') => {
                    let rest = &b[i + 1..];
                    if rest.starts_with(b"--") {
                        i = find(b, i + 3, b"-->")? + 3;
                    } else if rest.starts_with(b"[CDATA[") {
                        let start = i + 8;
                        let end = find(b, start, b"]]>")?;
                        let &(cur, _) = stack.last().ok_or(XmlError::NoRoot)?;
                        append(
                            &mut nodes[cur as usize].text,
                            Cow::Borrowed(&input[start..end]),
                        );
                        i = end + 3;
                    } else if rest.starts_with(b"DOCTYPE") {
                        return Err(XmlError::Malformed("DOCTYPE non ammesso".into()));
                    } else {
                        return Err(XmlError::Malformed("dichiarazione non valida".into()));
                    }
                }
                Some(_) => {
                    if root_closed {
                        return Err(XmlError::NoRoot);
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(XmlError::TooDeep);
                    }
                    // One pass over the name: find its end, its prefix separator, and any
                    // character that cannot be in a name.
                    let mut j = i;
                    let mut colon = None;
                    loop {
                        match b.get(j) {
                            Some(b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>') => break,
                            Some(b'<' | b'=' | b'"' | b'\'' | b'&') | None => {
                                return Err(XmlError::Malformed(
                                    "nome di elemento non valido".into(),
                                ));
                            }
                            Some(b':') => colon = Some(j),
                            Some(_) => {}
                        }
                        j += 1;
                    }
                    if j == i {
                        return Err(XmlError::Malformed("nome di elemento non valido".into()));
                    }
                    let qname = &input[i..j];
                    let name = &input[colon.map_or(i, |c| c + 1)..j];
                    let (gt, empty) = skip_attributes(b, j)?;
                    let idx = u32::try_from(nodes.len())
                        .map_err(|_| XmlError::Malformed("troppi elementi".into()))?;
                    nodes.push(Node {
                        name,
                        text: Cow::Borrowed(""),
                        first_child: NONE,
                        last_child: NONE,
                        next_sibling: NONE,
                    });
                    if let Some(&(parent, _)) = stack.last() {
                        let p = parent as usize;
                        if nodes[p].last_child == NONE {
                            nodes[p].first_child = idx;
                        } else {
                            let last = nodes[p].last_child as usize;
                            nodes[last].next_sibling = idx;
                        }
                        nodes[p].last_child = idx;
                    }
                    if empty {
                        if stack.is_empty() {
                            root_closed = true;
                        }
                    } else {
                        stack.push((idx, qname));
                    }
                    i = gt + 1;
                }
                None => return Err(XmlError::Malformed("documento troncato".into())),
            }
        }
        if nodes.is_empty() {
            return Err(XmlError::NoRoot);
        }
        if !stack.is_empty() {
            return Err(XmlError::Malformed("documento troncato".into()));
        }
        Ok(Doc { nodes })
    }

    /// The root element.
    pub(crate) fn root(&self) -> El<'_, 'a> {
        El { doc: self, idx: 0 }
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Index of the first occurrence of `pat` at or after `from`.
fn find(b: &[u8], from: usize, pat: &[u8]) -> Result<usize, XmlError> {
    let truncated = || XmlError::Malformed("documento troncato".into());
    let (&first, tail) = pat.split_first().ok_or_else(truncated)?;
    let mut at = from;
    // The patterns are one to three bytes long and rare in the text searched, so a memchr on
    // the first byte beats building a substring searcher on every call.
    loop {
        let rest = b.get(at..).ok_or_else(truncated)?;
        let p = at + memchr::memchr(first, rest).ok_or_else(truncated)?;
        if b.get(p + 1..p + 1 + tail.len()) == Some(tail) {
            return Ok(p);
        }
        at = p + 1;
    }
}

/// Skip the attributes of a start tag (we read none: pagoPA bodies carry data in elements),
/// checking their syntax. Returns the index of the closing `>` and whether the tag was `/>`.
fn skip_attributes(b: &[u8], mut i: usize) -> Result<(usize, bool), XmlError> {
    let bad = || XmlError::Malformed("attributo non valido".into());
    loop {
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        match b.get(i) {
            Some(b'>') => return Ok((i, false)),
            Some(b'/') if b.get(i + 1) == Some(&b'>') => return Ok((i + 1, true)),
            None => return Err(XmlError::Malformed("tag non chiuso".into())),
            Some(_) => {}
        }
        let name_start = i;
        while matches!(b.get(i), Some(c) if !matches!(c, b'=' | b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/' | b'<' | b'"' | b'\''))
        {
            i += 1;
        }
        if i == name_start {
            return Err(bad());
        }
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err(bad());
        }
        i += 1;
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        let quote = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return Err(bad()),
        };
        let end = memchr::memchr(quote, &b[i + 1..]).ok_or_else(bad)? + i + 1;
        if b[i + 1..end].contains(&b'<') {
            return Err(bad());
        }
        i = end + 1;
        // Attributes must be separated by white space.
        if !matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')) {
            return Err(bad());
        }
    }
}

/// Text content with its references expanded; borrowed when there are none.
fn decode_text(raw: &str) -> Result<Cow<'_, str>, XmlError> {
    let Some(first) = raw.bytes().position(|c| c == b'&') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|&s| s <= 10)
            .ok_or_else(|| XmlError::Malformed("riferimento non terminato".into()))?;
        let name = &after[..semi];
        match name {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    return Err(XmlError::UnknownEntity(name.to_owned()));
                };
                let c = code
                    .filter(|&c| c != 0)
                    .and_then(char::from_u32)
                    .ok_or_else(|| {
                        XmlError::Malformed(format!("riferimento a carattere non valido &{name};"))
                    })?;
                out.push(c);
            }
        }
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

impl<'d, 'a> El<'d, 'a> {
    fn node(&self) -> &'d Node<'a> {
        &self.doc.nodes[self.idx as usize]
    }

    /// Local name (namespace prefix removed).
    pub(crate) fn name(&self) -> &'d str {
        self.node().name
    }

    /// Text content with surrounding whitespace removed.
    pub(crate) fn text(&self) -> &'d str {
        self.node().text.trim()
    }

    /// Child elements, in order.
    pub(crate) fn children(&self) -> Children<'d, 'a> {
        Children {
            doc: self.doc,
            next: self.node().first_child,
        }
    }

    /// First child with this local name.
    pub(crate) fn child(&self, name: &str) -> Option<El<'d, 'a>> {
        self.children().find(|c| c.name() == name)
    }

    /// Text of the first child with this local name.
    pub(crate) fn child_text(&self, name: &str) -> Option<&'d str> {
        self.child(name).map(|c| c.text())
    }

    /// All children with this local name.
    pub(crate) fn children_named<'n>(
        &self,
        name: &'n str,
    ) -> impl Iterator<Item = El<'d, 'a>> + use<'d, 'a, 'n> {
        self.children().filter(move |c| c.name() == name)
    }
}

/// Iterator over an element's children.
#[derive(Debug)]
pub(crate) struct Children<'d, 'a> {
    doc: &'d Doc<'a>,
    next: u32,
}

impl<'d, 'a> Iterator for Children<'d, 'a> {
    type Item = El<'d, 'a>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.next == NONE {
            return None;
        }
        let idx = self.next;
        self.next = self.doc.nodes[idx as usize].next_sibling;
        Some(El { doc: self.doc, idx })
    }
}

/// Append `s` to `out` with the XML special characters escaped (valid in text and attributes).
pub(crate) fn escape_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&apos;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Builds XML text in exactly the order it is told; the caller follows the XSD's sequence.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: String,
}

impl Writer {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Writer {
            out: String::with_capacity(n),
        }
    }

    /// `<tag>`
    pub(crate) fn open(&mut self, tag: &str) {
        self.out.push('<');
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `</tag>`
    pub(crate) fn close(&mut self, tag: &str) {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
    }

    /// `<tag>escaped text</tag>`
    pub(crate) fn leaf(&mut self, tag: &str, text: &str) {
        self.open(tag);
        escape_into(&mut self.out, text);
        self.close(tag);
    }

    /// A leaf only when there is a value.
    pub(crate) fn leaf_opt(&mut self, tag: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(tag, t);
        }
    }

    /// `<tag>value</tag>` for values whose `Display` needs no escaping (amounts, numbers, dates).
    pub(crate) fn leaf_display(&mut self, tag: &str, value: impl fmt::Display) {
        self.open(tag);
        // Writing to a String cannot fail.
        let _ = write!(self.out, "{value}");
        self.close(tag);
    }

    /// Raw markup, already well-formed.
    pub(crate) fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixes_entities_and_whitespace() {
        let x = r#"<?xml version="1.0"?><a:Root xmlns:a="urn:x"><b> one &amp; two </b><!-- c --><c/><b><![CDATA[<x>]]></b></a:Root>"#;
        let doc = Doc::parse(x).expect("parse");
        let root = doc.root();
        assert_eq!(root.name(), "Root");
        let names: Vec<_> = root.children().map(|c| c.name()).collect();
        assert_eq!(names, ["b", "c", "b"]);
        assert_eq!(root.child_text("b"), Some("one & two"));
        assert_eq!(
            root.children_named("b").nth(1).map(|e| e.text()),
            Some("<x>")
        );
        assert_eq!(root.child_text("c"), Some(""));
        assert!(root.child("zzz").is_none());
    }

    #[test]
    fn rejects_bad_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "text",
            "<a>&foo;</a>",
            "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>",
        ] {
            assert!(Doc::parse(bad).is_err(), "{bad:?} should fail");
        }
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        assert_eq!(Doc::parse(&deep).err(), Some(XmlError::TooDeep));
    }

    #[test]
    fn escapes_everything_special() {
        let mut w = Writer::default();
        w.leaf("t", "a<b>&\"c'");
        assert_eq!(w.finish(), "<t>a&lt;b&gt;&amp;&quot;c&apos;</t>");
    }
}
