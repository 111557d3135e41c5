//! The async device drivers: one trait per device kind, and its implementation over the
//! transports of [`crate::transport`].
//!
//! | Kind | Trait | Implementation | Codec |
//! | --- | --- | --- | --- |
//! | barcode/QR scanner | [`scanner::Scanner`] | [`scanner::SerialScanner`] | [`crate::scanner`] |
//! | receipt printer | [`printer::ReceiptPrinter`] | [`printer::EscPosPrinter`] | [`crate::escpos`] |
//! | cash drawer | [`drawer::CashDrawer`] | [`printer::EscPosPrinter`] (kick through the printer) | [`crate::escpos`] |
//! | card terminal | [`terminal::CardTerminal`] | [`terminal::Ecr17Terminal`] | [`crate::ecr17`] |
//!
//! The traits use `async fn` with `Send` futures (return-position `impl Future`), for generic
//! use: `async fn checkout(t: &mut impl CardTerminal)`. They are not object-safe; a program that
//! must choose a terminal protocol at run time wraps the implementations in an enum.
//!
//! Every driver reports its life as typed status events on a `tokio::sync::broadcast` channel
//! (`subscribe()`): connected, disconnected, printer status changes, terminal progress texts.
//! Events are informative; the outcome of an operation is always its return value.
//!
//! Time: the pure codecs take `std::time::Instant`; the drivers read the clock through
//! `tokio::time::Instant`, so tests may run them with paused time.

pub mod drawer;
pub mod printer;
pub mod scanner;
pub mod terminal;

/// Capacity of the event channels: a slow subscriber loses the oldest events, never blocks a
/// driver.
pub(crate) const EVENT_CAPACITY: usize = 64;

/// The current time for the pure state machines, from tokio's clock.
pub(crate) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}
