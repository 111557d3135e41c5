//! A serial scanner simulator: labels written to a pseudo-terminal as a USB CDC-ACM scanner
//! sends them, `[AIM identifier] data suffix` (scanners.md §3), at the pace of the configured
//! baud rate. It can be unplugged and replugged behind the same link.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt as _;

use super::LinePacer;
use super::pty::Pty;

/// How the simulated scanner formats and sends labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerSimConfig {
    /// The AIM identifier sent before each label (e.g. `]Q1`), if any.
    pub aim: Option<String>,
    /// The terminator after each label (e.g. `\r`); empty for none (idle-gap framing).
    pub suffix: Vec<u8>,
    /// Line rate to pace the bytes at; `None` writes them at once.
    pub baud: Option<u32>,
}

impl Default for ScannerSimConfig {
    /// `]Q1` + data + CR at 9600 baud: the recommended kiosk configuration (scanners.md §3).
    fn default() -> Self {
        ScannerSimConfig {
            aim: Some("]Q1".into()),
            suffix: b"\r".to_vec(),
            baud: Some(9600),
        }
    }
}

/// A simulated scanner on a pseudo-terminal.
#[derive(Debug)]
pub struct ScannerSim {
    config: ScannerSimConfig,
    link: Option<PathBuf>,
    pty: Option<Pty>,
    pacer: LinePacer,
}

impl ScannerSim {
    /// Plugs in a scanner on a new pseudo-terminal, named by `link` if given.
    pub fn new(link: Option<&Path>, config: ScannerSimConfig) -> io::Result<ScannerSim> {
        let pty = Pty::open(link)?;
        Ok(ScannerSim {
            pacer: LinePacer::new(config.baud),
            config,
            link: link.map(Path::to_path_buf),
            pty: Some(pty),
        })
    }

    /// The path a driver opens (the link, or the pseudo-terminal), while plugged in.
    pub fn device_path(&self) -> Option<&Path> {
        self.pty.as_ref().map(Pty::device_path)
    }

    /// The exact bytes a label is sent as.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        if let Some(aim) = &self.config.aim {
            bytes.extend_from_slice(aim.as_bytes());
        }
        bytes.extend_from_slice(payload);
        bytes.extend_from_slice(&self.config.suffix);
        bytes
    }

    /// "Scans" a label: writes its frame, paced at the baud rate.
    pub async fn scan(&mut self, payload: &[u8]) -> io::Result<()> {
        let frame = self.frame(payload);
        self.send_raw(&frame).await
    }

    /// Writes raw bytes (a label cut short, noise, a frame of another format), paced byte by
    /// byte at the baud rate.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let pty = self
            .pty
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "scanner unplugged"))?;
        for chunk in bytes.chunks(if self.config.baud.is_some() { 8 } else { 4096 }) {
            self.pacer.pace(chunk.len()).await;
            pty.master().write_all(chunk).await?;
        }
        Ok(())
    }

    /// Pulls the cable: both sides of the pseudo-terminal close, the link goes away.
    pub fn unplug(&mut self) {
        self.pty = None;
    }

    /// Plugs it back in: a new pseudo-terminal (a new device node) behind the same link.
    pub fn replug(&mut self) -> io::Result<()> {
        self.pty = Some(Pty::open(self.link.as_deref())?);
        Ok(())
    }
}
