//! An ECR17 card terminal simulator on TCP or a pseudo-terminal.
//!
//! **Written from `shared/reference/ecr17.md` alone, sharing no code with [`crate::ecr17`]**:
//! its framing, LRC and message layouts are re-implemented here in a few lines each. A test of
//! the driver against this simulator then checks the driver against a second reading of the
//! reference, not against itself.
//!
//! The terminal keeps what a real one keeps: its STAN counter, the last saved result (returned
//! by `G`), the running totals (reported by `T`, reset by `C`), and the "send receipt to the ECR"
//! flag (`E1`, cleared after every procedure). Each payment, reversal or close session takes the
//! next scripted [`Behaviour`] (approve when the script is empty): decline, answer slowly, NAK the
//! command, corrupt the LRC of its result, drop the connection right after approving, or go
//! silent. Progress messages (`SOH text EOT`) precede every result.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use super::pty::Pty;

const SOH: u8 = 0x01;
const STX: u8 = 0x02;
const ETX: u8 = 0x03;
const EOT: u8 = 0x04;
const ACK: u8 = 0x06;
const NAK: u8 = 0x15;
const TICKET_END: u8 = 0x1B;

/// Which bytes the terminal folds into the LRC, starting from 0x7F (ecr17.md §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LrcFold {
    /// The message only (`std`).
    Message,
    /// The message and ETX (`noext`).
    MessageEtx,
    /// STX, the message and ETX: every byte before the LRC (`stx`, the Setefi client's).
    #[default]
    Everything,
    /// STX and the message (`stx_noext`).
    StxMessage,
}

impl LrcFold {
    fn lrc(self, message: &[u8]) -> u8 {
        let mut x = 0x7Fu8;
        if matches!(self, LrcFold::Everything | LrcFold::StxMessage) {
            x ^= STX;
        }
        for b in message {
            x ^= b;
        }
        if matches!(self, LrcFold::Everything | LrcFold::MessageEtx) {
            x ^= ETX;
        }
        x
    }
}

/// What the terminal does with the next payment, reversal or close session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Approve.
    Approve,
    /// Decline with this description.
    Decline(String),
    /// Approve after this long (PIN entry, a slow host).
    Slow(Duration),
    /// NAK the command this many times (the register retransmits), then approve.
    Nak(u8),
    /// Approve, but send the result with a wrong LRC first (the register NAKs, then gets it
    /// right).
    CorruptLrc,
    /// Approve and save the result, then close the connection without sending it.
    DropAfterApprove,
    /// Acknowledge, then never answer (nothing is charged).
    NoAnswer,
    /// Ignore the command and its retransmissions entirely: no ACK.
    NoAck,
}

impl FromStr for Behaviour {
    type Err = String;

    /// `approve`, `decline[:TEXT]`, `slow:DURATION` (`500ms`, `3s`), `nak:N`, `corrupt-lrc`,
    /// `drop-after-approve`, `no-answer`, `no-ack`.
    fn from_str(s: &str) -> Result<Behaviour, String> {
        let (name, arg) = s.split_once(':').unwrap_or((s, ""));
        Ok(match name {
            "approve" => Behaviour::Approve,
            "decline" => Behaviour::Decline(if arg.is_empty() {
                "RIFIUTATA".into()
            } else {
                arg.to_owned()
            }),
            "slow" => {
                Behaviour::Slow(parse_duration(arg).ok_or_else(|| {
                    format!("slow needs a duration like 500ms or 3s, got {arg:?}")
                })?)
            }
            "nak" => Behaviour::Nak(
                arg.parse()
                    .map_err(|_| format!("nak needs a count, got {arg:?}"))?,
            ),
            "corrupt-lrc" => Behaviour::CorruptLrc,
            "drop-after-approve" => Behaviour::DropAfterApprove,
            "no-answer" => Behaviour::NoAnswer,
            "no-ack" => Behaviour::NoAck,
            _ => return Err(format!("unknown behaviour {s:?}")),
        })
    }
}

/// Parses `500ms`, `3s` or a number of milliseconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(secs) = s.strip_suffix('s') {
        return secs.parse().ok().map(Duration::from_secs);
    }
    s.parse().ok().map(Duration::from_millis)
}

/// How the simulated terminal is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalSimConfig {
    /// Its 8-digit ID; it also accepts `00000000`.
    pub terminal_id: String,
    /// LRC convention of its application frames.
    pub lrc: LrcFold,
    /// Progress texts sent before each result.
    pub progress: Vec<String>,
    /// Pause before each progress text.
    pub progress_delay: Duration,
    /// Wait for the register's ACK of a result before sending it again (up to 3 more times).
    pub ack_timeout: Duration,
    /// STAN of the result saved before the simulator started.
    pub initial_stan: u32,
    /// Close the TCP connection after every command, as Nexi terminals do between
    /// transactions.
    pub close_after_each: bool,
}

impl Default for TerminalSimConfig {
    fn default() -> Self {
        TerminalSimConfig {
            terminal_id: "12345678".into(),
            lrc: LrcFold::default(),
            progress: vec![
                "INSERIRE CARTA".into(),
                "DIGITARE PIN".into(),
                "ATTENDERE".into(),
            ],
            progress_delay: Duration::from_millis(5),
            ack_timeout: Duration::from_secs(1),
            initial_stan: 41,
            close_after_each: false,
        }
    }
}

/// Something the simulator saw or did, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A command frame with a valid LRC arrived (retransmissions included).
    Received(char),
    /// A payment, reversal or close session was carried out (charged, declined, or saved).
    Executed {
        /// The command code.
        code: char,
        /// Approved (`00`) or not.
        approved: bool,
        /// Its STAN.
        stan: u32,
    },
    /// The register sent a NAK.
    NakReceived,
    /// The simulator sent a NAK.
    NakSent,
    /// The simulator closed the connection.
    Dropped,
}

#[derive(Debug)]
struct State {
    config: TerminalSimConfig,
    script: VecDeque<Behaviour>,
    stan: u32,
    online_id: u32,
    last_result: Vec<u8>,
    total: u64,
    last_payment: Option<(u32, u64)>,
    to_ecr: bool,
    ignoring: Option<Vec<u8>>,
    log: Vec<SimEvent>,
    connections: usize,
    tasks: Vec<AbortHandle>,
    device_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
enum Mode {
    Tcp(SocketAddr),
    Pty,
}

/// A running terminal simulator; clones are handles to the same terminal.
#[derive(Debug, Clone)]
pub struct TerminalSim {
    state: Arc<Mutex<State>>,
    mode: Mode,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl TerminalSim {
    fn with_state(config: TerminalSimConfig, mode: Mode) -> TerminalSim {
        let stan = config.initial_stan;
        let mut state = State {
            last_result: Vec::new(),
            config,
            script: VecDeque::new(),
            stan,
            online_id: stan,
            total: 0,
            last_payment: None,
            to_ecr: false,
            ignoring: None,
            log: Vec::new(),
            connections: 0,
            tasks: Vec::new(),
            device_path: None,
        };
        // The terminal remembers a payment from before it was "switched on" here.
        state.last_result = state.payment_result(b'P', true, "", 100, stan);
        TerminalSim {
            state: Arc::new(Mutex::new(state)),
            mode,
        }
    }

    /// A terminal listening on `addr` (port 0 picks a free port).
    pub async fn tcp(addr: SocketAddr, config: TerminalSimConfig) -> io::Result<TerminalSim> {
        let listener = TcpListener::bind(addr).await?;
        let sim = TerminalSim::with_state(config, Mode::Tcp(listener.local_addr()?));
        let state = Arc::clone(&sim.state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let conn = tokio::spawn(serve(stream, Arc::clone(&state)));
                let mut guard = lock(&state);
                // Forget connections that have ended, so a long-running simulator does not grow.
                guard.tasks.retain(|t| !t.is_finished());
                guard.tasks.push(conn.abort_handle());
            }
        });
        sim.lock().tasks.push(task.abort_handle());
        Ok(sim)
    }

    /// A terminal on a pseudo-terminal, named by `link` if given. Dropping the connection means
    /// closing the pseudo-terminal; a new one then appears behind the same link.
    pub fn pty(link: Option<&Path>, config: TerminalSimConfig) -> io::Result<TerminalSim> {
        let sim = TerminalSim::with_state(config, Mode::Pty);
        let first = Pty::open(link)?;
        sim.lock().device_path = Some(first.device_path().to_path_buf());
        let state = Arc::clone(&sim.state);
        let link = link.map(Path::to_path_buf);
        let task = tokio::spawn(async move {
            let mut pty = first;
            loop {
                serve(pty.master(), Arc::clone(&state)).await;
                // Replug before unplugging, so the link never dangles.
                let Ok(next) = Pty::open(link.as_deref()) else {
                    return;
                };
                lock(&state).device_path = Some(next.device_path().to_path_buf());
                pty = next;
            }
        });
        sim.lock().tasks.push(task.abort_handle());
        Ok(sim)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The address a driver connects to.
    pub fn endpoint(&self) -> String {
        match &self.mode {
            Mode::Tcp(addr) => format!("tcp://{addr}"),
            Mode::Pty => self
                .lock()
                .device_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// Queues behaviours for the next payments, reversals and close sessions.
    pub fn script(&self, behaviours: impl IntoIterator<Item = Behaviour>) {
        self.lock().script.extend(behaviours);
    }

    /// Everything seen and done so far.
    pub fn log(&self) -> Vec<SimEvent> {
        self.lock().log.clone()
    }

    /// How many payments (`P`/`X`) were carried out: what the customer's card was charged with,
    /// approved or not.
    pub fn payments_executed(&self) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    SimEvent::Executed {
                        code: 'P' | 'X',
                        ..
                    }
                )
            })
            .count()
    }

    /// The running total in cents (approved payments less reversals since the last close).
    pub fn total_cents(&self) -> u64 {
        self.lock().total
    }

    /// The current STAN.
    pub fn stan(&self) -> u32 {
        self.lock().stan
    }

    /// Connections served so far.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// Stops the simulator: closes every connection and the listener.
    pub fn stop(&self) {
        for task in self.lock().tasks.drain(..) {
            task.abort();
        }
    }
}

fn frame(lrc: LrcFold, message: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(message.len() + 3);
    f.push(STX);
    f.extend_from_slice(message);
    f.push(ETX);
    f.push(lrc.lrc(message));
    f
}

/// ACK/NAK as "every byte before the third folded from 0x7F" (`06 03 7A`, `15 03 69`).
fn control(byte: u8) -> [u8; 3] {
    [byte, ETX, 0x7F ^ byte ^ ETX]
}

fn digits(n: u64, width: usize) -> String {
    let s = format!("{n:0width$}");
    s[s.len() - width..].to_owned()
}

impl State {
    /// A transaction result: `E` of 71 (`P`), 92 (`X`) or 84 (reversal) bytes (ecr17.md §6.3).
    fn payment_result(
        &self,
        request: u8,
        approved: bool,
        reason: &str,
        amount: u64,
        stan: u32,
    ) -> Vec<u8> {
        let mut m = format!("{}0E", self.config.terminal_id);
        if approved {
            m.push_str("00");
            m.push_str("000545454******5454");
            m.push_str("CLI");
            m.push_str(if request == b'S' { "000000" } else { "123456" });
            m.push_str("1501015");
        } else {
            m.push_str("01");
            m.push_str(&format!("{:<24.24}", reason));
            m.push_str(&"0".repeat(11));
        }
        m.push('2');
        m.push_str("1234567    ");
        m.push_str(&digits(u64::from(stan), 6));
        m.push_str(&digits(u64::from(self.online_id), 6));
        match request {
            b'X' => {
                m.push_str("000");
                m.push_str(&digits(amount, 8));
                m.push_str(&"0".repeat(10));
            }
            b'S' => {
                m.push_str("000");
                m.push_str(&"0".repeat(10));
            }
            _ => {}
        }
        m.into_bytes()
    }

    fn status(&self) -> Vec<u8> {
        format!(
            "{}0s00000000002511251430{}REL0001A",
            self.config.terminal_id, 2
        )
        .into_bytes()
    }

    fn totals(&self) -> Vec<u8> {
        format!(
            "{}0T00{}000000",
            self.config.terminal_id,
            digits(self.total, 16)
        )
        .into_bytes()
    }

    fn close(&mut self) -> Vec<u8> {
        let t = digits(self.total, 16);
        self.total = 0;
        format!("{}0C00{t}{t}", self.config.terminal_id).into_bytes()
    }

    fn ticket(&self, lines: &[String], last: bool) -> Vec<u8> {
        let mut m = format!("{}0S", self.config.terminal_id).into_bytes();
        for line in lines {
            m.extend_from_slice(line.as_bytes());
            m.push(b'}');
        }
        if last {
            m.extend_from_slice(b"}}}}}}");
            m.push(TICKET_END);
        }
        m
    }
}

/// What arrived from the register.
#[derive(Debug)]
enum Inbound {
    Ack,
    Nak,
    Message(Vec<u8>),
    BadLrc,
}

/// One connection: the byte stream and what has been read but not yet used.
struct Conn<S> {
    io: S,
    buf: Vec<u8>,
    state: Arc<Mutex<State>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    fn lrc(&self) -> LrcFold {
        lock(&self.state).config.lrc
    }

    fn log(&self, event: SimEvent) {
        lock(&self.state).log.push(event);
    }

    /// Takes one frame off the buffer, if complete. Bytes outside frames are skipped.
    fn parse(&mut self) -> Option<Inbound> {
        loop {
            match *self.buf.first()? {
                lead @ (ACK | NAK) => {
                    if self.buf.len() < 3 {
                        return None;
                    }
                    let ok = self.buf[1] == ETX;
                    self.buf.drain(..if ok { 3 } else { 1 });
                    if ok {
                        return Some(if lead == ACK {
                            Inbound::Ack
                        } else {
                            Inbound::Nak
                        });
                    }
                }
                STX => {
                    let end = self.buf.iter().position(|&b| b == ETX)?;
                    let lrc = *self.buf.get(end + 1)?;
                    let message = self.buf[1..end].to_vec();
                    self.buf.drain(..end + 2);
                    return Some(if self.lrc().lrc(&message) == lrc {
                        Inbound::Message(message)
                    } else {
                        Inbound::BadLrc
                    });
                }
                _ => {
                    self.buf.remove(0);
                }
            }
        }
    }

    /// The next frame, waiting at most `wait` (forever with `None`). `Err` when the peer closed.
    async fn next(&mut self, wait: Option<Duration>) -> Result<Option<Inbound>, ()> {
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        loop {
            if let Some(inbound) = self.parse() {
                return Ok(Some(inbound));
            }
            let mut chunk = [0u8; 512];
            let read = match deadline {
                Some(at) => match tokio::time::timeout_at(at, self.io.read(&mut chunk)).await {
                    Ok(read) => read,
                    Err(_) => return Ok(None),
                },
                None => self.io.read(&mut chunk).await,
            };
            match read {
                Ok(0) | Err(_) => return Err(()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ()> {
        self.io.write_all(bytes).await.map_err(|_| ())?;
        self.io.flush().await.map_err(|_| ())
    }

    async fn ack(&mut self) -> Result<(), ()> {
        self.write(&control(ACK)).await
    }

    async fn nak(&mut self) -> Result<(), ()> {
        self.log(SimEvent::NakSent);
        self.write(&control(NAK)).await
    }

    /// Sends a message and waits for its ACK, resending on NAK or silence (up to 4 sends).
    /// With `corrupt`, the first send has a wrong LRC.
    async fn send(&mut self, message: &[u8], corrupt: bool) -> Result<(), ()> {
        let (lrc, wait) = {
            let s = lock(&self.state);
            (s.config.lrc, s.config.ack_timeout)
        };
        for attempt in 0..4 {
            let mut f = frame(lrc, message);
            if corrupt && attempt == 0 {
                let last = f.len() - 1;
                f[last] ^= 0x01;
            }
            self.write(&f).await?;
            match self.next(Some(wait)).await? {
                Some(Inbound::Ack) => return Ok(()),
                Some(Inbound::Nak) => self.log(SimEvent::NakReceived),
                // The register moved on without acknowledging: put its frame back.
                Some(Inbound::Message(m)) => {
                    let mut again = frame(lrc, &m);
                    again.append(&mut self.buf);
                    self.buf = again;
                    return Ok(());
                }
                Some(Inbound::BadLrc) | None => {}
            }
        }
        Ok(())
    }

    async fn progress(&mut self) -> Result<(), ()> {
        let (texts, delay) = {
            let s = lock(&self.state);
            (s.config.progress.clone(), s.config.progress_delay)
        };
        for text in texts {
            tokio::time::sleep(delay).await;
            let mut f = vec![SOH];
            f.extend_from_slice(format!("{:<20.20}", text).as_bytes());
            f.push(EOT);
            self.write(&f).await?;
        }
        Ok(())
    }

    /// Handles one valid command. `Ok(false)` closes the connection.
    async fn command(&mut self, m: Vec<u8>) -> Result<bool, ()> {
        if m.len() < 10 {
            self.nak().await?;
            return Ok(true);
        }
        let code = m[9];
        let (ours, ignoring) = {
            let s = lock(&self.state);
            let tid = &m[0..8];
            (
                tid == s.config.terminal_id.as_bytes() || tid == b"00000000",
                s.ignoring.as_deref() == Some(m.as_slice()),
            )
        };
        self.log(SimEvent::Received(char::from(code)));
        if ignoring {
            return Ok(true);
        }
        lock(&self.state).ignoring = None;
        if !ours {
            // A wrong terminal ID is a protocol error (ecr17.md §4).
            self.nak().await?;
            return Ok(true);
        }
        match (code, m.len()) {
            (b's', 10) => {
                self.ack().await?;
                let reply = lock(&self.state).status();
                self.send(&reply, false).await?;
            }
            (b'E', 11) => {
                self.ack().await?;
                lock(&self.state).to_ecr = m[10] == b'1';
            }
            (b'G', 22) => {
                self.ack().await?;
                let last = lock(&self.state).last_result.clone();
                self.send(&last, false).await?;
            }
            (b'T', 26) => {
                self.ack().await?;
                let reply = lock(&self.state).totals();
                self.send(&reply, false).await?;
            }
            (b'P' | b'X', 167) | (b'S' | b'C', 26) => return self.operation(m).await,
            // Unknown or unsupported commands are refused (ecr17.md §3).
            _ => self.nak().await?,
        }
        Ok(true)
    }

    /// A payment, reversal or close session, under the next scripted behaviour.
    async fn operation(&mut self, m: Vec<u8>) -> Result<bool, ()> {
        let code = m[9];
        let behaviour = lock(&self.state)
            .script
            .pop_front()
            .unwrap_or(Behaviour::Approve);
        match behaviour {
            Behaviour::NoAck => {
                lock(&self.state).ignoring = Some(m);
                return Ok(true);
            }
            Behaviour::Nak(n) => {
                for _ in 0..n {
                    self.nak().await?;
                    let wait = lock(&self.state).config.ack_timeout * 4;
                    match self.next(Some(wait)).await? {
                        Some(Inbound::Message(again)) if again == m => {
                            self.log(SimEvent::Received(char::from(code)));
                        }
                        // The register gave up and moved on: handle that as a new command.
                        Some(Inbound::Message(other)) => {
                            let lrc = self.lrc();
                            let mut again = frame(lrc, &other);
                            again.append(&mut self.buf);
                            self.buf = again;
                            return Ok(true);
                        }
                        _ => return Ok(true),
                    }
                }
            }
            _ => {}
        }
        self.ack().await?;
        self.progress().await?;
        if let Behaviour::Slow(d) = behaviour {
            tokio::time::sleep(d).await;
        }
        if behaviour == Behaviour::NoAnswer {
            return Ok(true);
        }
        let (result, approved, stan, to_ecr) = {
            let mut s = lock(&self.state);
            let to_ecr = std::mem::take(&mut s.to_ecr);
            if code == b'C' {
                (s.close(), true, s.stan, false)
            } else {
                s.stan += 1;
                s.online_id += 1;
                let stan = s.stan;
                let amount = if code == b'S' {
                    0
                } else {
                    std::str::from_utf8(&m[23..31])
                        .ok()
                        .and_then(|a| a.parse().ok())
                        .unwrap_or(0)
                };
                let (approved, reason) = match (&behaviour, code) {
                    (Behaviour::Decline(reason), _) => (false, reason.clone()),
                    (_, b'S') => {
                        // Only the last payment, and only if the STAN matches (ecr17.md §6.4).
                        let wanted = std::str::from_utf8(&m[18..24])
                            .ok()
                            .and_then(|v| v.parse::<u32>().ok());
                        match (s.last_payment, wanted) {
                            (Some((last, _)), Some(w)) if w == 0 || w == last => {
                                (true, String::new())
                            }
                            _ => (false, "STAN NON VALIDO".into()),
                        }
                    }
                    _ => (true, String::new()),
                };
                let result = s.payment_result(code, approved, &reason, amount, stan);
                if approved {
                    if code == b'S' {
                        let reversed = s.last_payment.take().map_or(0, |(_, a)| a);
                        s.total = s.total.saturating_sub(reversed);
                    } else {
                        s.total += amount;
                        s.last_payment = Some((stan, amount));
                    }
                }
                s.last_result = result.clone();
                (result, approved, stan, to_ecr)
            }
        };
        self.log(SimEvent::Executed {
            code: char::from(code),
            approved,
            stan,
        });
        if behaviour == Behaviour::DropAfterApprove {
            self.log(SimEvent::Dropped);
            return Ok(false);
        }
        self.send(&result, behaviour == Behaviour::CorruptLrc)
            .await?;
        if to_ecr && code != b'C' {
            let lines = [
                "NEXI".to_owned(),
                if approved {
                    "TRANSAZIONE ESEGUITA".to_owned()
                } else {
                    "TRANSAZIONE NEGATA".to_owned()
                },
                format!("STAN {}", digits(u64::from(stan), 6)),
            ];
            let (first, second) = {
                let s = lock(&self.state);
                (s.ticket(&lines[..1], false), s.ticket(&lines[1..], true))
            };
            self.send(&first, false).await?;
            self.send(&second, false).await?;
        }
        Ok(true)
    }
}

/// Serves one connection until the register closes it or a behaviour drops it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(io: S, state: Arc<Mutex<State>>) {
    lock(&state).connections += 1;
    let close_after_each = lock(&state).config.close_after_each;
    let mut conn = Conn {
        io,
        buf: Vec::new(),
        state,
    };
    loop {
        let inbound = match conn.next(None).await {
            Ok(Some(inbound)) => inbound,
            Ok(None) | Err(()) => return,
        };
        let keep = match inbound {
            Inbound::Ack => Ok(true),
            Inbound::Nak => {
                conn.log(SimEvent::NakReceived);
                Ok(true)
            }
            Inbound::BadLrc => conn.nak().await.map(|()| true),
            Inbound::Message(m) => conn.command(m).await,
        };
        match keep {
            Ok(true) if !close_after_each => {}
            Ok(true) => {
                // Let the register's last ACK arrive before closing, as a terminal would.
                tokio::time::sleep(Duration::from_millis(20)).await;
                return;
            }
            Ok(false) | Err(()) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex"))
            .collect()
    }

    /// The worked LRCs of ecr17.md §9, computed by this module's own code.
    #[test]
    fn lrc_matches_the_reference_examples() {
        let status = b"123456780s";
        let results = [
            LrcFold::Message,
            LrcFold::MessageEtx,
            LrcFold::Everything,
            LrcFold::StxMessage,
        ]
        .map(|f| f.lrc(status));
        assert_eq!(results, [0x34, 0x37, 0x35, 0x36]);
        let g = hex("31 32 33 34 35 36 37 38 30 47 30 30 30 30 30 30 30 31 30 30 30 30");
        assert_eq!(LrcFold::Everything.lrc(&g), 0x00);
        assert_eq!(LrcFold::Message.lrc(&g), 0x01);
        assert_eq!(control(ACK), [0x06, 0x03, 0x7A]);
        assert_eq!(control(NAK), [0x15, 0x03, 0x69]);
    }

    #[test]
    fn result_layouts_have_the_reference_lengths() {
        let sim = TerminalSim::with_state(TerminalSimConfig::default(), Mode::Pty);
        let s = sim.lock();
        assert_eq!(s.payment_result(b'P', true, "", 1234, 42).len(), 71);
        assert_eq!(s.payment_result(b'P', false, "NEGATA", 1234, 42).len(), 71);
        assert_eq!(s.payment_result(b'X', true, "", 1234, 42).len(), 92);
        assert_eq!(s.payment_result(b'S', true, "", 0, 42).len(), 84);
        assert_eq!(s.status().len(), 39);
        assert_eq!(s.totals().len(), 34);
        let x = s.payment_result(b'X', true, "", 1234, 42);
        assert_eq!(&x[59..65], b"000042");
        assert_eq!(&x[74..82], b"00001234");
    }

    #[test]
    fn behaviours_parse_from_script_words() {
        let parsed: Vec<Behaviour> = [
            "approve",
            "decline",
            "decline:FONDI INSUFF",
            "slow:1500ms",
            "slow:2s",
            "nak:2",
            "corrupt-lrc",
            "drop-after-approve",
            "no-answer",
            "no-ack",
        ]
        .iter()
        .map(|s| s.parse().expect(s))
        .collect();
        assert_eq!(parsed[2], Behaviour::Decline("FONDI INSUFF".into()));
        assert_eq!(parsed[3], Behaviour::Slow(Duration::from_millis(1500)));
        assert_eq!(parsed[4], Behaviour::Slow(Duration::from_secs(2)));
        assert_eq!(parsed[5], Behaviour::Nak(2));
        assert!("explode".parse::<Behaviour>().is_err());
        assert!("slow:soon".parse::<Behaviour>().is_err());
    }
}
