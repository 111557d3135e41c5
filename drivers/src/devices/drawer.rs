//! The cash drawer: a solenoid on the receipt printer's kick-out connector.
//!
//! There is no separate link: the drawer is opened with a pulse command the printer executes
//! (`ESC p`, escpos.md §8), and its open/closed switch, where the drawer has one, is read back as
//! the "pin 3" bit of the printer's status. The switch's polarity depends on the drawer, so it is
//! part of the configuration and is calibrated once per installation (`provision test drawer`).
//!
//! A kick is refused when the printer reports itself offline: an offline printer does not
//! execute buffered commands, so the pulse would fire later, at an unexpected moment.

use std::future::Future;

use super::printer::{EscPosPrinter, JobStage, PrintError, ReceiptPrinter as _};
use crate::escpos::PrinterStatus;
use crate::escpos::{DrawerKick, DrawerPolarity, Receipt};

/// A cash drawer.
pub trait CashDrawer {
    /// Pulses the drawer open. `Ok` means the printer accepted the pulse; whether the drawer
    /// actually opened is for [`state`](Self::state) to tell, where a sensor is wired.
    fn open(&mut self) -> impl Future<Output = Result<(), PrintError>> + Send;

    /// Whether the drawer is open, from the sensor.
    fn state(&mut self) -> impl Future<Output = Result<DrawerState, PrintError>> + Send;
}

/// The drawer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawerState {
    /// Open.
    Open,
    /// Closed.
    Closed,
    /// This drawer has no sensor (or it is not wired): nothing is known.
    NotReported,
}

/// How the drawer is wired to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrawerConfig {
    /// The pulse: connector pin and timing.
    pub kick: DrawerKick,
    /// How the open/closed switch reads on pin 3.
    pub polarity: DrawerPolarity,
    /// Whether a switch is wired at all; without one, [`DrawerState::NotReported`].
    pub sensor: bool,
}

impl CashDrawer for EscPosPrinter {
    async fn open(&mut self) -> Result<(), PrintError> {
        let kick = Receipt::new()
            .drawer_kick(self.config().drawer.kick)
            .encode(&self.config().profile)?;
        self.run_job(&kick, offline).await.map(|_| ())
    }

    async fn state(&mut self) -> Result<DrawerState, PrintError> {
        if !self.config().drawer.sensor {
            return Ok(DrawerState::NotReported);
        }
        let status = self.status().await?;
        Ok(if status.drawer_open {
            DrawerState::Open
        } else {
            DrawerState::Closed
        })
    }
}

/// A pulse needs the printer online and nothing else: no paper is involved.
fn offline(status: &PrinterStatus, stage: JobStage) -> Option<PrintError> {
    status.offline.then_some(PrintError::Offline { stage })
}
