//! The receipt printer driver: ESC/POS over serial, USB printer class or TCP 9100.
//!
//! A printer never acknowledges data: a successful `write()` says nothing about paper. So a job
//! is bracketed by real-time status (`DLE EOT 1–4`, escpos.md §9):
//!
//! 1. the receipt is encoded first, so a document the printer cannot print fails before any byte
//!    is sent;
//! 2. the status is read **before** sending: paper end, cover open, an error or offline refuse the
//!    job with nothing sent ([`JobStage::NotSent`]: safe to print again once fixed);
//! 3. the job is written;
//! 4. the status is read **after**: the printer answers only once the bytes ahead of the request
//!    have reached it, and a paper end or cover opened during the job shows there. Any problem,
//!    or no answer at all, reports the job failed ([`JobStage::Sent`]: part of it may be on
//!    paper, and a reprint must say it is a copy).
//!
//! Only when both checks pass is the job [`Printed`]. The driver never reports a receipt printed
//! on paper-out, on a lost link, or on silence.
//!
//! What "after" cannot prove: `DLE EOT` is a real-time command, answered even while earlier data
//! still sits in the printer's buffer, so on a fast link the reply can precede the last lines'
//! printing by a fraction of a second. A paper end in that window is reported at the next job's
//! "before" check. Printers with Automatic Status Back or a job-end report (`GS ( H`) could close
//! that window; they are not required here.
//!
//! TCP printers drop idle connections: a kept link is probed before use, and a job whose
//! "before" check finds the link dead reconnects once (nothing was sent yet).

use std::future::Future;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::broadcast;

use super::EVENT_CAPACITY;
use super::drawer::DrawerConfig;
use crate::escpos::{
    EncodeError, PaperState, PrinterErrors, PrinterProfile, PrinterStatus, Receipt, StatusError,
    StatusRequest,
};
use crate::transport::{
    Connection, Endpoint, Liveness, ReconnectPolicy, TransportError, line_time,
};

/// A receipt printer.
pub trait ReceiptPrinter {
    /// Reads the printer's status now (connecting if needed). Paper end and the like are a
    /// status here, not an error.
    fn status(&mut self) -> impl Future<Output = Result<PrinterStatus, PrintError>> + Send;

    /// Prints a receipt: `Ok` only when the printer confirmed it was fit before and after the
    /// job. See the module documentation.
    fn print(
        &mut self,
        receipt: &Receipt,
    ) -> impl Future<Output = Result<Printed, PrintError>> + Send;
}

/// A job the printer confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// Bytes sent.
    pub bytes: usize,
    /// The status read after the job; [`PaperState::NearEnd`] here is a warning to act on.
    pub status: PrinterStatus,
}

/// How far a failed job got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStage {
    /// Nothing was sent: nothing can be on paper.
    NotSent,
    /// The job was sent, in part or whole: something may be on paper, but the job is not
    /// confirmed.
    Sent,
}

impl std::fmt::Display for JobStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobStage::NotSent => "nothing printed",
            JobStage::Sent => "job sent, not confirmed",
        })
    }
}

/// Why a status reply is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFailure {
    /// No complete reply within the status timeout (a one-way link, a printer in a bad state).
    Timeout,
    /// A reply byte whose fixed bits are wrong.
    Invalid(StatusError),
}

/// Why a job or status request failed. Never "maybe printed": see [`PrintError::stage`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrintError {
    /// The receipt cannot be encoded for this printer; nothing was sent.
    #[error("receipt cannot be encoded: {0}")]
    Encode(#[from] EncodeError),
    /// The printer cannot be reached; nothing was sent.
    #[error("printer unavailable: {0}")]
    Unavailable(#[source] TransportError),
    /// No paper (or printing stopped by paper end).
    #[error("printer out of paper ({stage})")]
    PaperEnd {
        /// How far the job got.
        stage: JobStage,
    },
    /// Cover open.
    #[error("printer cover open ({stage})")]
    CoverOpen {
        /// How far the job got.
        stage: JobStage,
    },
    /// The printer reports an error (cutter jam, overheating, mechanical).
    #[error("printer error {errors:?} ({stage})")]
    Fault {
        /// How far the job got.
        stage: JobStage,
        /// The reported causes.
        errors: PrinterErrors,
    },
    /// The printer is offline for another reason (e.g. FEED button held).
    #[error("printer offline ({stage})")]
    Offline {
        /// How far the job got.
        stage: JobStage,
    },
    /// The status could not be read, so the printer's fitness is not known.
    #[error("printer did not answer the status request ({stage}): {reason:?}")]
    NoStatus {
        /// How far the job got.
        stage: JobStage,
        /// What went wrong.
        reason: StatusFailure,
    },
    /// The link was lost after the job started: unplugged, switched off.
    #[error("link lost during the job (not confirmed): {0}")]
    Interrupted(#[source] TransportError),
}

impl PrintError {
    /// Stable machine-readable code: `PRINTER_UNAVAILABLE`, `PRINTER_PAPER_END`,
    /// `PRINTER_COVER_OPEN`, `PRINTER_FAULT`, `PRINTER_OFFLINE`, `PRINTER_NO_STATUS`,
    /// `PRINTER_INTERRUPTED`, or the `ESCPOS_…` code of an encoding error.
    pub fn code(&self) -> &'static str {
        match self {
            PrintError::Encode(e) => e.code(),
            PrintError::Unavailable(_) => "PRINTER_UNAVAILABLE",
            PrintError::PaperEnd { .. } => "PRINTER_PAPER_END",
            PrintError::CoverOpen { .. } => "PRINTER_COVER_OPEN",
            PrintError::Fault { .. } => "PRINTER_FAULT",
            PrintError::Offline { .. } => "PRINTER_OFFLINE",
            PrintError::NoStatus { .. } => "PRINTER_NO_STATUS",
            PrintError::Interrupted(_) => "PRINTER_INTERRUPTED",
        }
    }

    /// How far the job got: [`JobStage::NotSent`] means nothing can be on paper.
    pub fn stage(&self) -> JobStage {
        match self {
            PrintError::Encode(_) | PrintError::Unavailable(_) => JobStage::NotSent,
            PrintError::Interrupted(_) => JobStage::Sent,
            PrintError::PaperEnd { stage }
            | PrintError::CoverOpen { stage }
            | PrintError::Fault { stage, .. }
            | PrintError::Offline { stage }
            | PrintError::NoStatus { stage, .. } => *stage,
        }
    }

    /// The error a status unfit for printing means, if any. Paper end wins over the offline bit
    /// it usually sets, then cover, then errors.
    pub fn from_status(status: &PrinterStatus, stage: JobStage) -> Option<PrintError> {
        if status.paper == PaperState::End {
            Some(PrintError::PaperEnd { stage })
        } else if status.cover_open {
            Some(PrintError::CoverOpen { stage })
        } else if status.errors.any() {
            Some(PrintError::Fault {
                stage,
                errors: status.errors,
            })
        } else if status.offline {
            Some(PrintError::Offline { stage })
        } else {
            None
        }
    }
}

/// What the printer driver reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrinterEvent {
    /// A link was opened.
    Connected {
        /// The address.
        endpoint: String,
    },
    /// The link was lost.
    Disconnected {
        /// The address.
        endpoint: String,
        /// The transport error's code.
        code: &'static str,
    },
    /// The status read differs from the previous one.
    Status(PrinterStatus),
    /// A job was confirmed printed.
    JobPrinted {
        /// Bytes sent.
        bytes: usize,
    },
    /// A job failed.
    JobFailed {
        /// The [`PrintError`] code.
        code: &'static str,
        /// How far it got.
        stage: JobStage,
    },
}

/// Settings of an [`EscPosPrinter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterConfig {
    /// Where the printer is.
    pub endpoint: Endpoint,
    /// Paper width and code page.
    pub profile: PrinterProfile,
    /// The cash drawer wired to the printer.
    pub drawer: DrawerConfig,
    /// Wait for the four status reply bytes. Default 2 s. After a job on a serial link, the
    /// job's line time (bytes × 10 / baud) is added.
    pub status_timeout: Duration,
    /// How long an operation keeps trying to (re)connect before failing. Default 3 s.
    pub connect_wait: Duration,
    /// Back-off between connection attempts.
    pub reconnect: ReconnectPolicy,
}

impl PrinterConfig {
    /// Defaults for a printer at `endpoint`: 80 mm, PC858, drawer on pin 2 without sensor.
    pub fn new(endpoint: Endpoint) -> PrinterConfig {
        PrinterConfig {
            endpoint,
            profile: PrinterProfile::default(),
            drawer: DrawerConfig::default(),
            status_timeout: Duration::from_secs(2),
            connect_wait: Duration::from_secs(3),
            reconnect: ReconnectPolicy::default(),
        }
    }
}

/// An ESC/POS printer. Also the [`CashDrawer`](super::drawer::CashDrawer) wired to it.
#[derive(Debug)]
pub struct EscPosPrinter {
    config: PrinterConfig,
    conn: Connection,
    events: broadcast::Sender<PrinterEvent>,
    last_status: Option<PrinterStatus>,
}

/// Judges whether a status allows a job: the error to report, if not.
pub(crate) type Unfit = fn(&PrinterStatus, JobStage) -> Option<PrintError>;

/// A failed status query.
enum QueryError {
    Link(TransportError),
    Timeout,
    Invalid(StatusError),
}

impl EscPosPrinter {
    /// A printer driver; nothing is opened until the first operation.
    pub fn new(config: PrinterConfig) -> EscPosPrinter {
        EscPosPrinter {
            conn: Connection::new(config.endpoint.clone(), config.reconnect),
            config,
            events: broadcast::channel(EVENT_CAPACITY).0,
            last_status: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &PrinterConfig {
        &self.config
    }

    /// Status events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<PrinterEvent> {
        self.events.subscribe()
    }

    /// The last status read, if any.
    pub fn last_status(&self) -> Option<PrinterStatus> {
        self.last_status
    }

    fn emit(&self, event: PrinterEvent) {
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    fn lost(&mut self, error: &TransportError) {
        self.conn.lost();
        self.emit(PrinterEvent::Disconnected {
            endpoint: self.config.endpoint.to_string(),
            code: error.code(),
        });
    }

    /// Makes sure a link is open, dropping a kept one the peer has closed.
    async fn ready_link(&mut self) -> Result<(), TransportError> {
        if let Some(link) = self.conn.link_mut() {
            // Late status replies are stale: dropped with the probe.
            match link.probe() {
                Liveness::Idle | Liveness::Data(_) => return Ok(()),
                Liveness::Closed => {
                    let error = link.closed();
                    self.lost(&error);
                }
            }
        }
        if self.conn.connect(self.config.connect_wait).await? {
            self.emit(PrinterEvent::Connected {
                endpoint: self.config.endpoint.to_string(),
            });
        }
        Ok(())
    }

    /// `DLE EOT 1–4` in one write, then the four reply bytes. `queued` bytes just written are
    /// still crossing a serial line ahead of the request: the wait is extended by their line
    /// time, since the printer can only answer once the request reaches it.
    async fn query(&mut self, queued: usize) -> Result<PrinterStatus, QueryError> {
        let timeout = self.config.status_timeout
            + match self.config.endpoint {
                Endpoint::Serial { baud, .. } => line_time(baud, queued + 12),
                _ => Duration::ZERO,
            };
        let polarity = self.config.drawer.polarity;
        let Some(link) = self.conn.link_mut() else {
            return Err(QueryError::Link(TransportError::Closed {
                endpoint: self.config.endpoint.to_string(),
            }));
        };
        if link.probe() == Liveness::Closed {
            return Err(QueryError::Link(link.closed()));
        }
        let mut request = [0u8; 12];
        for (chunk, r) in request.chunks_exact_mut(3).zip(StatusRequest::ALL) {
            chunk.copy_from_slice(&r.bytes());
        }
        if let Err(e) = write_all(link, &request).await {
            return Err(QueryError::Link(link.error(e)));
        }
        let mut replies = [0u8; 4];
        match tokio::time::timeout(timeout, link.read_exact(&mut replies)).await {
            Err(_) => Err(QueryError::Timeout),
            Ok(Err(e)) => Err(QueryError::Link(link.error(e))),
            Ok(Ok(_)) => {
                PrinterStatus::from_replies(replies, polarity).map_err(QueryError::Invalid)
            }
        }
    }

    /// A status query whose failure is reported for a job at `stage`. A fit status is not
    /// checked here.
    async fn read_status(
        &mut self,
        stage: JobStage,
        queued: usize,
    ) -> Result<PrinterStatus, PrintError> {
        match self.query(queued).await {
            Ok(status) => {
                if self.last_status != Some(status) {
                    self.last_status = Some(status);
                    self.emit(PrinterEvent::Status(status));
                }
                Ok(status)
            }
            Err(QueryError::Link(e)) => {
                self.lost(&e);
                Err(match stage {
                    JobStage::NotSent => PrintError::Unavailable(e),
                    JobStage::Sent => PrintError::Interrupted(e),
                })
            }
            Err(QueryError::Timeout) => Err(PrintError::NoStatus {
                stage,
                reason: StatusFailure::Timeout,
            }),
            Err(QueryError::Invalid(e)) => Err(PrintError::NoStatus {
                stage,
                reason: StatusFailure::Invalid(e),
            }),
        }
    }

    /// The status before a job, refusing a printer `unfit` judges unfit. A kept link found dead
    /// is reopened once: nothing has been sent yet.
    async fn check_before(&mut self, unfit: Unfit) -> Result<PrinterStatus, PrintError> {
        self.ready_link().await.map_err(PrintError::Unavailable)?;
        let status = match self.read_status(JobStage::NotSent, 0).await {
            Err(PrintError::Unavailable(_)) => {
                self.ready_link().await.map_err(PrintError::Unavailable)?;
                self.read_status(JobStage::NotSent, 0).await?
            }
            other => other?,
        };
        match unfit(&status, JobStage::NotSent) {
            Some(e) => Err(e),
            None => Ok(status),
        }
    }

    /// Sends `bytes` between a "before" and an "after" check, each judged by `unfit`
    /// ([`PrintError::from_status`] for receipts).
    pub(crate) async fn run_job(
        &mut self,
        bytes: &[u8],
        unfit: Unfit,
    ) -> Result<Printed, PrintError> {
        let result = self.run_job_inner(bytes, unfit).await;
        self.emit(match &result {
            Ok(printed) => PrinterEvent::JobPrinted {
                bytes: printed.bytes,
            },
            Err(e) => PrinterEvent::JobFailed {
                code: e.code(),
                stage: e.stage(),
            },
        });
        result
    }

    async fn run_job_inner(&mut self, bytes: &[u8], unfit: Unfit) -> Result<Printed, PrintError> {
        self.check_before(unfit).await?;
        let written = match self.conn.link_mut() {
            Some(link) => write_all(link, bytes).await.map_err(|e| link.error(e)),
            None => Err(TransportError::Closed {
                endpoint: self.config.endpoint.to_string(),
            }),
        };
        if let Err(e) = written {
            self.lost(&e);
            return Err(PrintError::Interrupted(e));
        }
        let after = self.read_status(JobStage::Sent, bytes.len()).await?;
        match unfit(&after, JobStage::Sent) {
            Some(e) => Err(e),
            None => Ok(Printed {
                bytes: bytes.len(),
                status: after,
            }),
        }
    }
}

async fn write_all(link: &mut crate::transport::Link, bytes: &[u8]) -> std::io::Result<()> {
    link.write_all(bytes).await?;
    link.flush().await
}

impl ReceiptPrinter for EscPosPrinter {
    async fn status(&mut self) -> Result<PrinterStatus, PrintError> {
        self.ready_link().await.map_err(PrintError::Unavailable)?;
        match self.read_status(JobStage::NotSent, 0).await {
            Err(PrintError::Unavailable(_)) => {
                self.ready_link().await.map_err(PrintError::Unavailable)?;
                self.read_status(JobStage::NotSent, 0).await
            }
            other => other,
        }
    }

    async fn print(&mut self, receipt: &Receipt) -> Result<Printed, PrintError> {
        let job = receipt.encode(&self.config.profile)?;
        self.run_job(&job, PrintError::from_status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::{DrawerPolarity, PrinterStatus};

    fn status(replies: [u8; 4]) -> PrinterStatus {
        PrinterStatus::from_replies(replies, DrawerPolarity::OpenWhenHigh).expect("valid replies")
    }

    #[test]
    fn unfit_statuses_map_to_typed_errors_with_precedence() {
        let fine = status([0x12, 0x12, 0x12, 0x12]);
        assert!(PrintError::from_status(&fine, JobStage::NotSent).is_none());
        let near_end = status([0x12, 0x12, 0x12, 0x1E]);
        assert!(PrintError::from_status(&near_end, JobStage::Sent).is_none());
        // Paper end sets offline and the paper-end stop too: reported as paper end.
        let paper_out = status([0x1A, 0x32, 0x12, 0x72]);
        let e = PrintError::from_status(&paper_out, JobStage::Sent).expect("unfit");
        assert_eq!((e.code(), e.stage()), ("PRINTER_PAPER_END", JobStage::Sent));
        let cover = status([0x1A, 0x16, 0x12, 0x12]);
        assert_eq!(
            PrintError::from_status(&cover, JobStage::NotSent).map(|e| e.code()),
            Some("PRINTER_COVER_OPEN")
        );
        let jam = status([0x1A, 0x52, 0x1A, 0x12]);
        assert_eq!(
            PrintError::from_status(&jam, JobStage::NotSent).map(|e| e.code()),
            Some("PRINTER_FAULT")
        );
        let offline = status([0x1A, 0x12, 0x12, 0x12]);
        assert_eq!(
            PrintError::from_status(&offline, JobStage::NotSent).map(|e| e.code()),
            Some("PRINTER_OFFLINE")
        );
    }
}
