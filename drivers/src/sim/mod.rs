//! Device simulators, for tests, benchmarks and demonstrations (`provision sim …`).
//!
//! Each simulator serves the real wire protocol over a real transport, so the drivers are tested
//! exactly as they run in the field:
//! - [`printer::PrinterSim`]: an ESC/POS printer on TCP (port 9100 style) or a pseudo-terminal.
//!   It records the byte stream, answers `DLE EOT` from a configurable state (paper out, cover
//!   open, offline…), can run out of paper or be unplugged in the middle of a job, paces its
//!   input at a serial line's rate, and renders what it received to text and to a PNG
//!   ([`raster`]).
//! - [`terminal::TerminalSim`]: an ECR17 card terminal on TCP or a pseudo-terminal, scriptable
//!   per operation (approve, decline, slow, NAK, corrupt LRC, drop the connection after
//!   approving, no answer), with progress messages and last-result memory. It is written from
//!   `ecr17.md` alone and shares no code with [`crate::ecr17`], so that a misreading of the
//!   protocol in the driver is not mirrored by the simulator.
//! - [`scanner::ScannerSim`]: a serial scanner writing labels to a pseudo-terminal with a
//!   configurable AIM prefix, suffix and baud pacing.
//!
//! Pseudo-terminals stand in for USB serial devices ([`pty::Pty`]); an optional symbolic link
//! plays the role of the stable `/dev/serial/by-id` name, so that unplug and replug (a new
//! pseudo-terminal behind the same link) can be tested. A pseudo-terminal moves bytes as fast as
//! memory allows whatever its baud setting, so the simulators pace themselves ([`LinePacer`])
//! where line rate matters.

pub mod printer;
pub mod pty;
pub mod raster;
pub mod scanner;
pub mod terminal;

use std::time::Duration;

use tokio::time::Instant;

/// Paces a byte stream at a serial line's rate: 10 bit times per byte (8N1: start, 8 data, stop).
///
/// The pacer keeps a virtual line clock, so many small chunks take as long as one big one. A
/// chunk that was already waiting when the previous one finished ([`LinePacer::pace_queued`])
/// crossed the line right after it; one that arrived later starts when it arrived. The tokio
/// timer has a resolution of a millisecond, so the last millisecond of a wait is spent yielding
/// to other tasks until it has passed: pacing is accurate to scheduling latency, not to the
/// timer's tick, and a waiting simulator never holds up the driver it serves.
#[derive(Debug, Clone)]
pub struct LinePacer {
    baud: Option<u32>,
    free_at: Option<Instant>,
}

impl LinePacer {
    /// A pacer at `baud`; `None` does not pace.
    pub fn new(baud: Option<u32>) -> LinePacer {
        LinePacer {
            baud,
            free_at: None,
        }
    }

    /// The time `bytes` take on the wire at `baud`: `bytes × 10 / baud`.
    pub fn line_time(baud: u32, bytes: usize) -> Duration {
        crate::transport::line_time(baud, bytes)
    }

    /// Waits until `bytes` that arrived just now would have crossed the line: from now, or from
    /// when the line becomes free if it is still busy.
    pub async fn pace(&mut self, bytes: usize) {
        self.pace_queued(bytes, false).await;
    }

    /// Like [`pace`](Self::pace); `queued` says the bytes were already waiting while the line
    /// was busy, so they follow the previous ones back to back.
    pub async fn pace_queued(&mut self, bytes: usize, queued: bool) {
        let Some(baud) = self.baud else {
            return;
        };
        let now = Instant::now();
        let start = match self.free_at {
            Some(at) if queued || at > now => at,
            _ => now,
        };
        let end = start + LinePacer::line_time(baud, bytes);
        self.free_at = Some(end);
        wait_until(end).await;
    }
}

/// Sleeps until `end`, finishing the last millisecond by yielding (below the timer's
/// resolution). The yielding is bounded in real time, so it also ends under paused test time.
async fn wait_until(end: Instant) {
    let tick = Duration::from_millis(1);
    let now = Instant::now();
    if end <= now {
        return;
    }
    if end - now > tick {
        tokio::time::sleep_until(end - tick).await;
    }
    let remaining = end.saturating_duration_since(Instant::now());
    let until = std::time::Instant::now() + remaining;
    while std::time::Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_time_is_ten_bits_per_byte() {
        assert_eq!(LinePacer::line_time(9600, 960), Duration::from_secs(1));
        assert_eq!(
            LinePacer::line_time(115_200, 1152),
            Duration::from_millis(100)
        );
        assert_eq!(LinePacer::line_time(9600, 0), Duration::ZERO);
    }

    #[tokio::test]
    async fn chunks_are_paced_back_to_back_to_within_scheduling_latency() {
        let mut pacer = LinePacer::new(Some(9600));
        let started = std::time::Instant::now();
        // 100 one-byte chunks: were each paced from "now", the timer's overshoot (about a
        // millisecond per wait) would add some 100 ms.
        for _ in 0..100 {
            pacer.pace_queued(1, true).await;
        }
        let line = LinePacer::line_time(9600, 100);
        let took = started.elapsed();
        assert!(took >= line, "{took:?} < {line:?}");
        assert!(took < line + Duration::from_millis(50), "{took:?}");
        let mut free = LinePacer::new(None);
        free.pace(1_000_000).await;
        assert!(started.elapsed() < line + Duration::from_millis(50));
    }
}
