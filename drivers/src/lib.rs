//! Device drivers for kiosks and counters: barcode/QR scanner, ESC/POS receipt printer (and the
//! cash drawer wired to it), ECR17 card terminal.
//!
//! Kiosk hardware is cheap and unreliable: printers run out of paper, USB devices vanish, card
//! terminals drop the connection right after approving a payment. This crate turns all of that
//! into typed events, and is built so that a payment is never charged twice and a receipt is never
//! reported printed when it was not.
//!
//! Each protocol has a **pure codec**, kept apart from its transport: no I/O, no threads, no clock
//! reads. State machines take the current time (`std::time::Instant`) as an input, so every
//! timeout path is testable byte for byte. Transports (serial, USB, TCP) and simulators build on
//! these codecs.
//!
//! The crate knows nothing about payments: the printer prints a generic [`escpos::Receipt`], the
//! scanner yields raw text plus a [`scanner::Symbology`], and the card terminal codec moves amounts
//! in cents without knowing what they pay for.
//!
//! Modules:
//! - [`scanner`]: framing of scanner output (suffix or idle gap), AIM symbology identifiers,
//!   duplicate suppression.
//! - [`escpos`]: ESC/POS receipt encoder (PC858/WPC1252 text, QR, CODE128, cut, drawer kick) and
//!   real-time status parser.
//! - [`escpos_view`]: an independent ESC/POS decoder that turns a captured byte stream back into
//!   printed lines, QR payloads and cuts, for tests and the printer simulator.
//! - [`ecr17`]: the ECR17 ("Protocollo 17") card-terminal protocol: framing and LRC, link-level
//!   retransmission, message builders and parsers, and a session that refuses to replay a payment
//!   whose outcome is unknown.
//!
//! - [`transport`]: serial, USB printer class and TCP links; reconnection with back-off.
//! - [`discovery`]: serial ports and USB printers with their USB IDs and by-id names, from sysfs.
//! - [`devices`]: the async drivers, one trait per device kind (scanner, printer, cash drawer,
//!   card terminal), with typed errors and status events.
//! - `sim` (feature `sim`): simulators of the three devices over pseudo-terminals and TCP, for
//!   tests, benchmarks and `provision sim`.
//!
//! The protocol references these codecs follow are `shared/reference/{scanners,escpos,ecr17}.md`;
//! where they are ambiguous the item's documentation says which reading was chosen.

pub mod devices;
pub mod discovery;
pub mod ecr17;
pub mod escpos;
pub mod escpos_view;
pub mod scanner;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transport;
