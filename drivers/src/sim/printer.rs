//! An ESC/POS receipt printer simulator on TCP or a pseudo-terminal.
//!
//! It records every byte it receives, answers the real-time status request `DLE EOT n` from a
//! configurable [`PrinterState`] with the bit layout of escpos.md §9, and can misbehave on cue:
//! run out of paper after so many bytes ([`PrinterSimConfig::paper_out_after`]), or drop the
//! link in the middle of a job ([`PrinterSimConfig::drop_after`]). With a baud rate it consumes
//! its input at that line's rate, as a printer behind a UART would, and answers a status request
//! only once the bytes before it have "crossed the line". [`PrinterSim::printout`] decodes what
//! was received with [`crate::escpos_view`], and [`PrinterSim::png`] draws it ([`super::raster`]).
//!
//! Like many printers, the simulator acts on `10 04 n` wherever it appears in the stream
//! (escpos.md §9 warns that some printers do so even inside other commands' data).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use super::LinePacer;
use super::pty::Pty;
use super::raster::{self, RenderError};
use crate::escpos::PaperWidth;
use crate::escpos_view::{self, Printout, ViewError};

const DLE: u8 = 0x10;
const EOT: u8 = 0x04;

/// Paper supply of the simulated printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Paper {
    /// Plenty.
    #[default]
    Ok,
    /// Near the end of the roll (still printing).
    NearEnd,
    /// None: printing stops, the printer goes offline.
    Out,
}

/// What the printer reports to `DLE EOT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterState {
    /// Paper supply.
    pub paper: Paper,
    /// Cover open (the printer goes offline).
    pub cover_open: bool,
    /// Offline for another reason (FEED button, user switch).
    pub offline: bool,
    /// Drawer kick-out connector pin 3 HIGH (the drawer switch).
    pub drawer_pin3_high: bool,
    /// Autocutter error (paper jam): offline with an error.
    pub cutter_error: bool,
}

impl PrinterState {
    /// The reply byte to `DLE EOT n` (escpos.md §9); `None` for an `n` outside 1–4.
    pub fn reply(&self, n: u8) -> Option<u8> {
        let bit = |on: bool, b: u8| if on { 1u8 << b } else { 0 };
        let out = self.paper == Paper::Out;
        let offline = self.offline || self.cover_open || out || self.cutter_error;
        let fixed = 0x12;
        Some(match n {
            1 => fixed | bit(self.drawer_pin3_high, 2) | bit(offline, 3),
            2 => fixed | bit(self.cover_open, 2) | bit(out, 5) | bit(self.cutter_error, 6),
            3 => fixed | bit(self.cutter_error, 3),
            4 => {
                fixed
                    | match self.paper {
                        Paper::Ok => 0,
                        Paper::NearEnd => 0x0C,
                        Paper::Out => 0x60,
                    }
            }
            _ => return None,
        })
    }
}

/// How the simulated printer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterSimConfig {
    /// The initial state.
    pub state: PrinterState,
    /// Run out of paper once this many bytes (status requests excluded) have been received.
    /// Fires once.
    pub paper_out_after: Option<usize>,
    /// Close the link once this many bytes have been received on one connection (the printer is
    /// unplugged mid-job). Fires once.
    pub drop_after: Option<usize>,
    /// Consume input at this serial line rate; `None` takes it as fast as it comes.
    pub baud: Option<u32>,
    /// Answer `DLE EOT`; `false` simulates a one-way link (a unidirectional USB or parallel
    /// adapter).
    pub mute: bool,
    /// Paper width for rendering.
    pub paper_width: PaperWidth,
}

#[derive(Debug, Default)]
struct Shared {
    config: PrinterSimConfig,
    received: Vec<u8>,
    job_bytes: usize,
    change_after: Option<(usize, PrinterState)>,
    status_requests: usize,
    connections: usize,
    tasks: Vec<AbortHandle>,
    device_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum Mode {
    Tcp(SocketAddr),
    Pty(Option<PathBuf>),
}

/// A running printer simulator. Cloning gives another handle to the same printer; dropping the
/// last handle does not stop it: call [`PrinterSim::unplug`].
#[derive(Debug, Clone)]
pub struct PrinterSim {
    shared: Arc<Mutex<Shared>>,
    mode: Mode,
}

impl PrinterSim {
    /// A printer listening on `addr` (port 0 picks a free port).
    pub async fn tcp(addr: SocketAddr, config: PrinterSimConfig) -> io::Result<PrinterSim> {
        let listener = TcpListener::bind(addr).await?;
        let sim = PrinterSim {
            shared: Arc::new(Mutex::new(Shared {
                config,
                ..Shared::default()
            })),
            mode: Mode::Tcp(listener.local_addr()?),
        };
        sim.spawn_listener(listener);
        Ok(sim)
    }

    /// A printer on a new pseudo-terminal; with `link`, that symbolic link names it.
    pub fn pty(link: Option<&Path>, config: PrinterSimConfig) -> io::Result<PrinterSim> {
        let sim = PrinterSim {
            shared: Arc::new(Mutex::new(Shared {
                config,
                ..Shared::default()
            })),
            mode: Mode::Pty(link.map(Path::to_path_buf)),
        };
        sim.spawn_pty()?;
        Ok(sim)
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking test thread must not hide the recorded bytes from the others.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn_listener(&self, listener: TcpListener) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let shared2 = Arc::clone(&shared);
                let conn = tokio::spawn(serve(stream, shared2));
                let mut guard = lock(&shared);
                // Forget connections that have ended, so a long-running simulator does not grow.
                guard.tasks.retain(|t| !t.is_finished());
                guard.tasks.push(conn.abort_handle());
            }
        });
        self.lock().tasks.push(task.abort_handle());
    }

    fn spawn_pty(&self) -> io::Result<()> {
        let Mode::Pty(link) = &self.mode else {
            return Ok(());
        };
        let pty = Pty::open(link.as_deref())?;
        let shared = Arc::clone(&self.shared);
        let mut guard = self.lock();
        guard.device_path = Some(pty.device_path().to_path_buf());
        let task = tokio::spawn(async move {
            let mut pty = pty;
            serve(pty.master(), shared).await;
        });
        guard.tasks.push(task.abort_handle());
        Ok(())
    }

    /// The address a driver connects to: `tcp://127.0.0.1:port`, or the pseudo-terminal's path
    /// (its link if it has one).
    pub fn endpoint(&self) -> String {
        match &self.mode {
            Mode::Tcp(addr) => format!("tcp://{addr}"),
            Mode::Pty(_) => self
                .lock()
                .device_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// The TCP address, in TCP mode.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.mode {
            Mode::Tcp(addr) => Some(addr),
            Mode::Pty(_) => None,
        }
    }

    /// Pulls the plug: stops listening and closes every connection (or the pseudo-terminal).
    pub fn unplug(&self) {
        for task in self.lock().tasks.drain(..) {
            task.abort();
        }
    }

    /// Plugs it back: listens again on the same address, or opens a new pseudo-terminal behind
    /// the same link.
    pub async fn plug(&self) -> io::Result<()> {
        match &self.mode {
            Mode::Tcp(addr) => {
                let listener = TcpListener::bind(*addr).await?;
                self.spawn_listener(listener);
                Ok(())
            }
            Mode::Pty(_) => self.spawn_pty(),
        }
    }

    /// The current state.
    pub fn state(&self) -> PrinterState {
        self.lock().config.state
    }

    /// Changes the state (the technician opens the cover, loads paper…).
    pub fn set_state(&self, state: PrinterState) {
        self.lock().config.state = state;
    }

    /// Runs out of paper after `bytes` more job bytes (`None`: never).
    pub fn set_paper_out_after(&self, bytes: Option<usize>) {
        let mut shared = self.lock();
        shared.config.paper_out_after = bytes.map(|b| shared.job_bytes + b);
    }

    /// Switches to `state` once `bytes` more job bytes have been received: a cover opened or a
    /// jam in the middle of a job, at an exact point of the stream.
    pub fn set_state_after(&self, bytes: usize, state: PrinterState) {
        let mut shared = self.lock();
        shared.change_after = Some((shared.job_bytes + bytes, state));
    }

    /// Drops the next connection after it has received `bytes` (`None`: never).
    pub fn set_drop_after(&self, bytes: Option<usize>) {
        self.lock().config.drop_after = bytes;
    }

    /// Every byte received so far, status requests included.
    pub fn received(&self) -> Vec<u8> {
        self.lock().received.clone()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        let mut shared = self.lock();
        shared.received.clear();
    }

    /// How many `DLE EOT` requests were answered (or ignored, when mute).
    pub fn status_requests(&self) -> usize {
        self.lock().status_requests
    }

    /// How many connections were accepted (TCP) or served (pseudo-terminal).
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// What was received, decoded as a printer would print it.
    pub fn printout(&self) -> Result<Printout, ViewError> {
        escpos_view::render(&self.received())
    }

    /// What was received, drawn as a PNG image.
    pub fn png(&self) -> Result<Vec<u8>, RenderError> {
        let width = self.lock().config.paper_width;
        let printout = self.printout().map_err(RenderError::View)?;
        raster::render_png(&printout, width)
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serves one connection until the peer closes it or the simulator drops it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, shared: Arc<Mutex<Shared>>) {
    let (baud, mut drop_after) = {
        let mut s = lock(&shared);
        s.connections += 1;
        (s.config.baud, s.config.drop_after)
    };
    let mut pacer = LinePacer::new(baud);
    let mut buf = vec![0u8; 4096];
    let mut carry: Vec<u8> = Vec::new();
    let mut on_this_connection = 0usize;
    loop {
        // Were the bytes already waiting (sent while the line was busy), or do they arrive now?
        let (n, mut queued) = match read_now(&mut io, &mut buf) {
            Some(Ok(n)) => (n, true),
            Some(Err(_)) => return,
            None => match io.read(&mut buf).await {
                Ok(n) => (n, false),
                Err(_) => return,
            },
        };
        if n == 0 {
            return;
        }
        let mut data = std::mem::take(&mut carry);
        data.extend_from_slice(&buf[..n]);
        // A request split across reads: keep its start for the next chunk.
        let hold = match data.as_slice() {
            [.., DLE, EOT] => 2,
            [.., DLE] => 1,
            _ => 0,
        };
        carry = data.split_off(data.len() - hold);
        let mut start = 0;
        let mut i = 0;
        while i < data.len() {
            let request = match data[i..] {
                [DLE, EOT, n @ 1..=4, ..] => Some(n),
                _ => None,
            };
            let Some(n) = request else {
                i += 1;
                continue;
            };
            let segment = &data[start..i];
            if !take(
                &shared,
                &mut pacer,
                segment,
                queued,
                &mut on_this_connection,
                &mut drop_after,
            )
            .await
            {
                return;
            }
            pacer.pace_queued(3, queued || !segment.is_empty()).await;
            queued = true;
            let reply = {
                let mut s = lock(&shared);
                s.received.extend_from_slice(&[DLE, EOT, n]);
                s.status_requests += 1;
                (!s.config.mute).then(|| s.config.state.reply(n)).flatten()
            };
            on_this_connection += 3;
            if let Some(byte) = reply {
                // The reply byte crosses the line back after its request. Replies to requests
                // still queued behind it travel while those arrive (full duplex): only the last
                // one's byte time is on the host's critical path.
                if i + 3 >= data.len() && carry.is_empty() {
                    pacer.pace_queued(1, true).await;
                }
                if io.write_all(&[byte]).await.is_err() {
                    return;
                }
            }
            i += 3;
            start = i;
        }
        let rest = &data[start..];
        if !take(
            &shared,
            &mut pacer,
            rest,
            queued,
            &mut on_this_connection,
            &mut drop_after,
        )
        .await
        {
            return;
        }
    }
}

/// Reads what is already waiting, without waiting; `None` if nothing is.
fn read_now<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Option<io::Result<usize>> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut read = ReadBuf::new(buf);
    match Pin::new(io).poll_read(&mut cx, &mut read) {
        Poll::Ready(Ok(())) => Some(Ok(read.filled().len())),
        Poll::Ready(Err(e)) => Some(Err(e)),
        Poll::Pending => None,
    }
}

/// Receives job bytes: paces them, records them, runs out of paper or drops the link on cue.
/// Returns `false` when the link is to be dropped.
async fn take(
    shared: &Mutex<Shared>,
    pacer: &mut LinePacer,
    bytes: &[u8],
    queued: bool,
    on_this_connection: &mut usize,
    drop_after: &mut Option<usize>,
) -> bool {
    if bytes.is_empty() {
        return true;
    }
    let (bytes, dropping) = match drop_after {
        Some(limit) if *on_this_connection + bytes.len() >= *limit => {
            let keep = limit.saturating_sub(*on_this_connection);
            (&bytes[..keep.min(bytes.len())], true)
        }
        _ => (bytes, false),
    };
    pacer.pace_queued(bytes.len(), queued).await;
    *on_this_connection += bytes.len();
    let mut s = lock(shared);
    s.received.extend_from_slice(bytes);
    s.job_bytes += bytes.len();
    if s.config
        .paper_out_after
        .is_some_and(|limit| s.job_bytes >= limit)
    {
        // Fires once: loading paper (`set_state`) ends it.
        s.config.paper_out_after = None;
        s.config.state.paper = Paper::Out;
    }
    if let Some((at, state)) = s.change_after
        && s.job_bytes >= at
    {
        s.change_after = None;
        s.config.state = state;
    }
    if dropping {
        // Fires once: the printer comes back working.
        s.config.drop_after = None;
        *drop_after = None;
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::{DrawerPolarity, PaperState, PrinterStatus};

    fn status(state: PrinterState) -> PrinterStatus {
        let r = |n| state.reply(n).expect("n in 1-4");
        PrinterStatus::from_replies([r(1), r(2), r(3), r(4)], DrawerPolarity::OpenWhenHigh)
            .expect("valid replies")
    }

    #[test]
    fn replies_follow_the_reference_bit_layout() {
        let ok = PrinterState::default();
        assert_eq!([1, 2, 3, 4].map(|n| ok.reply(n)), [Some(0x12); 4]);
        assert_eq!(ok.reply(5), None);
        let out = PrinterState {
            paper: Paper::Out,
            ..ok
        };
        // python-escpos' "no paper" 0x72 and "offline" 0x1A.
        assert_eq!(out.reply(4), Some(0x72));
        assert_eq!(out.reply(1), Some(0x1A));
        assert_eq!(status(out).paper, PaperState::End);
        let near = PrinterState {
            paper: Paper::NearEnd,
            ..ok
        };
        assert_eq!(near.reply(4), Some(0x1E));
        assert!(status(near).ready());
        let cover = PrinterState {
            cover_open: true,
            ..ok
        };
        assert!(status(cover).cover_open && status(cover).offline);
        let drawer = PrinterState {
            drawer_pin3_high: true,
            ..ok
        };
        assert!(status(drawer).drawer_open);
        let jam = PrinterState {
            cutter_error: true,
            ..ok
        };
        assert!(status(jam).errors.autocutter && !status(jam).ready());
    }
}
