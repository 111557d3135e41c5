//! The scanner driver: labels from a serial (or USB CDC-ACM) scanner, with replug handling.
//!
//! A scanner only talks: the driver reads, feeds the pure [`ScanDecoder`] (suffix or idle
//! framing, AIM identifier, length limit, duplicate suppression, UTF-8 check), and hands out
//! what it decodes as [`ScannerEvent`]s. When the device vanishes (end-of-file or an I/O error
//! on the tty, scanners.md §8) the partial label is dropped, a `Disconnected` event is returned,
//! and the driver reopens the same path with back-off until the device is back: with a
//! `/dev/serial/by-id` path, a scanner replugged as `ttyACM1` is found again.

use std::collections::VecDeque;
use std::future::Future;

use tokio::io::AsyncReadExt as _;

use super::now;
use crate::scanner::{ScanDecoder, ScanError, ScanEvent, ScannerConfig, Symbology};
use crate::transport::{Connection, Endpoint, ReconnectPolicy, TransportError};

/// A barcode/QR scanner.
pub trait Scanner {
    /// Waits for the next event: a label, a rejected label, or a change of connection. Never
    /// ends: a vanished scanner is waited for.
    fn next_event(&mut self) -> impl Future<Output = ScannerEvent> + Send;
}

/// What a scanner reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScannerEvent {
    /// A label was read.
    Code {
        /// Its data, AIM identifier and terminator stripped.
        text: String,
        /// Its AIM identifier, when the scanner sends one.
        symbology: Option<Symbology>,
    },
    /// A label was read but refused (too long, no AIM identifier, not UTF-8).
    Rejected(ScanError),
    /// The device was opened.
    Connected,
    /// The device vanished or failed; the driver is reopening it.
    Disconnected(TransportError),
    /// An attempt to open it failed (reported once per kind of failure, not at every retry).
    Unavailable(TransportError),
}

/// Settings of a [`SerialScanner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerPortConfig {
    /// Where the scanner is: a serial path (a by-id link), or TCP for a network scanner.
    pub endpoint: Endpoint,
    /// Framing, AIM, limits, duplicate window.
    pub decoder: ScannerConfig,
    /// Back-off between attempts to reopen it.
    pub reconnect: ReconnectPolicy,
}

impl ScannerPortConfig {
    /// Default decoding for a scanner at `endpoint`.
    pub fn new(endpoint: Endpoint) -> ScannerPortConfig {
        ScannerPortConfig {
            endpoint,
            decoder: ScannerConfig::default(),
            reconnect: ReconnectPolicy::default(),
        }
    }
}

/// A scanner on a serial port (or any [`Endpoint`]).
#[derive(Debug)]
pub struct SerialScanner {
    conn: Connection,
    decoder: ScanDecoder,
    queue: VecDeque<ScannerEvent>,
    last_failure: Option<&'static str>,
    buf: Vec<u8>,
}

impl SerialScanner {
    /// A driver; the device is opened by the first [`next_event`](Scanner::next_event).
    pub fn new(config: ScannerPortConfig) -> SerialScanner {
        SerialScanner {
            conn: Connection::new(config.endpoint, config.reconnect),
            decoder: ScanDecoder::new(config.decoder),
            queue: VecDeque::new(),
            last_failure: None,
            buf: vec![0; 1024],
        }
    }

    /// Whether the device is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    fn push(&mut self, events: Vec<ScanEvent>) {
        self.queue.extend(events.into_iter().map(|e| match e {
            ScanEvent::Code { text, symbology } => ScannerEvent::Code { text, symbology },
            ScanEvent::Error(e) => ScannerEvent::Rejected(e),
        }));
    }

    fn lost(&mut self, error: TransportError) {
        // Bytes of a label cut by the unplug are not to be joined with the next device's.
        self.decoder.reset();
        self.conn.lost();
        self.last_failure = None;
        self.queue.push_back(ScannerEvent::Disconnected(error));
    }

    async fn step(&mut self) {
        if !self.conn.is_connected() {
            match self.conn.attempt().await {
                Ok(()) => {
                    self.last_failure = None;
                    self.decoder.reset();
                    self.queue.push_back(ScannerEvent::Connected);
                }
                Err(e) => {
                    if self.last_failure != Some(e.code()) {
                        self.last_failure = Some(e.code());
                        self.queue.push_back(ScannerEvent::Unavailable(e));
                    }
                }
            }
            return;
        }
        let deadline = self.decoder.deadline();
        let Some(link) = self.conn.link_mut() else {
            return;
        };
        let read = tokio::select! {
            read = link.read(&mut self.buf) => Some(read),
            () = sleep_until(deadline) => None,
        };
        match read {
            None => {
                let events = self.decoder.poll(now());
                self.push(events);
            }
            Some(Ok(0)) => {
                let error = link.closed();
                self.lost(error);
            }
            Some(Ok(n)) => {
                let events = self.decoder.feed(now(), &self.buf[..n]);
                self.push(events);
            }
            Some(Err(e)) => {
                let error = link.error(e);
                self.lost(error);
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

impl Scanner for SerialScanner {
    async fn next_event(&mut self) -> ScannerEvent {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return event;
            }
            self.step().await;
        }
    }
}
