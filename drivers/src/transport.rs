//! Transports: how bytes reach a device, and how a vanished device is found again.
//!
//! The codecs of this crate are pure; this module is the thin I/O layer under them. Three kinds
//! of link cover kiosk hardware:
//! - **serial** (RS-232, USB CDC-ACM scanners and terminals, USB-serial printers), opened with
//!   `tokio-serial` at 8N1 without flow control;
//! - the **USB printer class** device `/dev/usb/lpN`, a character device opened non-blocking and
//!   driven through the reactor ([`Endpoint::UsbPrinter`]);
//! - **TCP** (printers on port 9100, card terminals on their configured port).
//!
//! Devices disappear: a USB cable is pulled, a printer is switched off, a terminal closes its
//! socket between transactions. A read that returns end-of-file means the device is gone
//! (scanners.md §8: on a tty, EOF is not "no data yet"), and [`Connection`] then reopens the
//! same address with exponential back-off. Stable addresses make that work across a replug: use
//! `/dev/serial/by-id/…` links rather than `/dev/ttyACM0`, which may come back as `ttyACM1`.
//!
//! Addresses are written as the technician types them ([`Endpoint::parse`]): `tcp://host:port`,
//! a device path (serial; `?baud=N` sets the speed), or `usblp:/dev/usb/lp0` (any path under
//! `/dev/usb/` is taken as a USB printer class device).

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Serial speed used when none is given: the most common factory setting of scanners and
/// printers (scanners.md §2).
pub const DEFAULT_BAUD: u32 = 9600;

/// Where a device is reached.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A serial port (real, USB CDC-ACM, USB-serial, or a pseudo-terminal).
    Serial {
        /// Device path; prefer a stable `/dev/serial/by-id/…` link.
        path: PathBuf,
        /// Line speed.
        baud: u32,
        /// Lock the port against other openers (`TIOCEXCL` and `flock`), so that no second
        /// process (a stray `cat`, ModemManager) reads the device's answers.
        exclusive: bool,
    },
    /// A USB printer class device (`/dev/usb/lpN`): a bidirectional character device without
    /// line settings.
    UsbPrinter {
        /// Device path.
        path: PathBuf,
    },
    /// A TCP server on the device (printer on 9100, card terminal on its configured port).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Endpoint {
    /// Parses an address: `tcp://host:port`, `usblp:PATH`, `serial:PATH`, or a bare absolute
    /// path (a USB printer class device under `/dev/usb/`, a serial port otherwise). Serial paths
    /// may end with `?baud=N`; the default speed is [`DEFAULT_BAUD`].
    pub fn parse(input: &str) -> Result<Endpoint, TransportError> {
        let invalid = |reason: &'static str| TransportError::InvalidEndpoint {
            input: input.to_owned(),
            reason,
        };
        if let Some(rest) = input.strip_prefix("tcp://") {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| invalid("expected tcp://host:port"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(invalid("empty host"));
            }
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("port must be 1-65535"))?;
            return Ok(Endpoint::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        let absolute = |path: &str| {
            if path.starts_with('/') {
                Ok(PathBuf::from(path))
            } else {
                Err(invalid("device path must be absolute"))
            }
        };
        if let Some(path) = input.strip_prefix("usblp:") {
            return Ok(Endpoint::UsbPrinter {
                path: absolute(path)?,
            });
        }
        let path = input.strip_prefix("serial:").unwrap_or(input);
        let (path, baud) = match path.split_once("?baud=") {
            Some((path, baud)) => (
                path,
                baud.parse::<u32>()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| invalid("baud must be a positive number"))?,
            ),
            None => (path, DEFAULT_BAUD),
        };
        let path = absolute(path)?;
        if !input.starts_with("serial:") && path.parent() == Some(Path::new("/dev/usb")) {
            return Ok(Endpoint::UsbPrinter { path });
        }
        Ok(Endpoint::Serial {
            path,
            baud,
            exclusive: true,
        })
    }

    /// The same endpoint at another line speed (serial only; others are unchanged).
    pub fn with_baud(self, baud: u32) -> Endpoint {
        match self {
            Endpoint::Serial {
                path, exclusive, ..
            } => Endpoint::Serial {
                path,
                baud,
                exclusive,
            },
            other => other,
        }
    }

    /// The same endpoint with or without exclusive access (serial only).
    pub fn with_exclusive(self, exclusive: bool) -> Endpoint {
        match self {
            Endpoint::Serial { path, baud, .. } => Endpoint::Serial {
                path,
                baud,
                exclusive,
            },
            other => other,
        }
    }
}

impl fmt::Display for Endpoint {
    /// The form [`Endpoint::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Serial { path, baud, .. } => {
                write!(f, "serial:{}?baud={baud}", path.display())
            }
            Endpoint::UsbPrinter { path } => write!(f, "usblp:{}", path.display()),
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// Why a link could not be opened or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address cannot be parsed.
    #[error("invalid device address {input:?}: {reason}")]
    InvalidEndpoint {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Opening failed (no such device, permission, connection refused, port busy…).
    #[error("cannot open {endpoint}: {source}")]
    Open {
        /// The address.
        endpoint: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Opening did not finish in time (a TCP peer that does not answer).
    #[error("opening {endpoint} timed out after {after:?}")]
    OpenTimeout {
        /// The address.
        endpoint: String,
        /// The time allowed.
        after: Duration,
    },
    /// The device closed the link: unplugged, switched off, or a peer closing its socket.
    #[error("{endpoint} closed the connection")]
    Closed {
        /// The address.
        endpoint: String,
    },
    /// Reading or writing failed.
    #[error("i/o error on {endpoint}: {source}")]
    Io {
        /// The address.
        endpoint: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl TransportError {
    /// Stable machine-readable code: `TRANSPORT_INVALID_ENDPOINT`, `TRANSPORT_NOT_FOUND`,
    /// `TRANSPORT_PERMISSION_DENIED`, `TRANSPORT_BUSY`, `TRANSPORT_REFUSED`,
    /// `TRANSPORT_OPEN_FAILED`, `TRANSPORT_OPEN_TIMEOUT`, `TRANSPORT_CLOSED`, `TRANSPORT_IO`.
    pub fn code(&self) -> &'static str {
        match self {
            TransportError::InvalidEndpoint { .. } => "TRANSPORT_INVALID_ENDPOINT",
            TransportError::Open { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => "TRANSPORT_NOT_FOUND",
                io::ErrorKind::PermissionDenied => "TRANSPORT_PERMISSION_DENIED",
                io::ErrorKind::ConnectionRefused => "TRANSPORT_REFUSED",
                io::ErrorKind::ResourceBusy | io::ErrorKind::WouldBlock => "TRANSPORT_BUSY",
                _ => "TRANSPORT_OPEN_FAILED",
            },
            TransportError::OpenTimeout { .. } => "TRANSPORT_OPEN_TIMEOUT",
            TransportError::Closed { .. } => "TRANSPORT_CLOSED",
            TransportError::Io { .. } => "TRANSPORT_IO",
        }
    }

    /// A hint for the technician, where the cause is a usual one (see `drivers/README.md`).
    pub fn hint(&self) -> Option<&'static str> {
        match self.code() {
            "TRANSPORT_NOT_FOUND" => Some(
                "the device is not there: check the cable and prefer a /dev/serial/by-id/ path",
            ),
            "TRANSPORT_PERMISSION_DENIED" => Some(
                "add the service user to the group owning the device (usually dialout, lp for /dev/usb/lp*)",
            ),
            "TRANSPORT_BUSY" => Some(
                "another process holds the port: a running agent, or ModemManager probing it (set ID_MM_DEVICE_IGNORE)",
            ),
            "TRANSPORT_REFUSED" | "TRANSPORT_OPEN_TIMEOUT" => {
                Some("check the device's IP address and port, and that it is switched on")
            }
            _ => None,
        }
    }
}

/// The time `bytes` take on a serial line at `baud`, 8N1: `bytes × 10 / baud`.
pub fn line_time(baud: u32, bytes: usize) -> Duration {
    let bits = u128::try_from(bytes)
        .unwrap_or(u128::MAX)
        .saturating_mul(10);
    let nanos = bits.saturating_mul(1_000_000_000) / u128::from(baud.max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Anything a link can be: a byte stream in both directions.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Io for T {}

/// What a non-blocking look at a link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Open, nothing to read.
    Idle,
    /// Open, and these bytes were waiting.
    Data(Vec<u8>),
    /// The peer closed it, or it failed.
    Closed,
}

/// An open link to a device.
#[derive(Debug)]
pub struct Link {
    io: Box<dyn Io>,
    endpoint: String,
}

impl Link {
    /// Wraps any byte stream, e.g. one end of an in-memory pipe in tests.
    pub fn new(io: impl Io + 'static, endpoint: impl Into<String>) -> Link {
        Link {
            io: Box::new(io),
            endpoint: endpoint.into(),
        }
    }

    /// The address it was opened at, for messages.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Looks at the link without waiting and without writing anything: card terminals close
    /// their socket between transactions, and writing probe bytes corrupts some devices'
    /// framing (ecr17.md §10.7).
    pub fn probe(&mut self) -> Liveness {
        let mut buf = [0u8; 512];
        let mut data = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut self.io).poll_read(&mut cx, &mut read) {
                Poll::Pending => break,
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Liveness::Closed,
                Poll::Ready(Ok(())) => {
                    data.extend_from_slice(read.filled());
                    // A device that never stops talking is alive; no need to drain it all.
                    if data.len() >= 64 * 1024 {
                        break;
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Poll::Ready(Err(_)) => return Liveness::Closed,
            }
        }
        if data.is_empty() {
            Liveness::Idle
        } else {
            Liveness::Data(data)
        }
    }

    /// The error for a read that returned end-of-file.
    pub fn closed(&self) -> TransportError {
        TransportError::Closed {
            endpoint: self.endpoint.clone(),
        }
    }

    /// Wraps an I/O error of this link; end-of-file-like errors (EIO on a vanished tty, a reset
    /// or broken TCP connection) become [`TransportError::Closed`].
    pub fn error(&self, source: io::Error) -> TransportError {
        let gone = matches!(
            source.kind(),
            io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::NotConnected
        ) || source.raw_os_error() == Some(libc::EIO)
            || source.raw_os_error() == Some(libc::ENODEV)
            || source.raw_os_error() == Some(libc::ENXIO);
        if gone {
            self.closed()
        } else {
            TransportError::Io {
                endpoint: self.endpoint.clone(),
                source,
            }
        }
    }
}

impl AsyncRead for Link {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Link {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Opens a link. `timeout` bounds a TCP connect; device files open at once or fail.
pub async fn open(endpoint: &Endpoint, timeout: Duration) -> Result<Link, TransportError> {
    let name = endpoint.to_string();
    let open_error = |source: io::Error| TransportError::Open {
        endpoint: name.clone(),
        source,
    };
    match endpoint {
        Endpoint::Tcp { host, port } => {
            let connect = TcpStream::connect((host.as_str(), *port));
            let stream = tokio::time::timeout(timeout, connect)
                .await
                .map_err(|_| TransportError::OpenTimeout {
                    endpoint: name.clone(),
                    after: timeout,
                })?
                .map_err(open_error)?;
            // Frames are small and answered one by one: do not let Nagle hold them back.
            stream.set_nodelay(true).map_err(open_error)?;
            Ok(Link::new(stream, name.clone()))
        }
        Endpoint::Serial {
            path,
            baud,
            exclusive,
        } => {
            use tokio_serial::SerialPortBuilderExt as _;
            let port = tokio_serial::new(path.to_string_lossy(), *baud)
                .data_bits(tokio_serial::DataBits::Eight)
                .parity(tokio_serial::Parity::None)
                .stop_bits(tokio_serial::StopBits::One)
                .flow_control(tokio_serial::FlowControl::None)
                .exclusive(*exclusive)
                .open_native_async()
                .map_err(|e| {
                    // serialport reports a port locked by another process as "no device".
                    let busy = e.description.contains("exclusive lock");
                    let e = io::Error::from(e);
                    open_error(if busy {
                        io::Error::new(io::ErrorKind::ResourceBusy, e.to_string())
                    } else {
                        e
                    })
                })?;
            Ok(Link::new(port, name.clone()))
        }
        Endpoint::UsbPrinter { path } => {
            let device = CharDevice::open(path).map_err(open_error)?;
            Ok(Link::new(device, name.clone()))
        }
    }
}

/// A character device (USB printer class) driven through the reactor. No line settings apply.
#[derive(Debug)]
struct CharDevice {
    fd: AsyncFd<std::fs::File>,
}

impl CharDevice {
    fn open(path: &Path) -> io::Result<CharDevice> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        // Deprecated because a type that does not own its descriptor could close it while
        // registered; a `File` owns its descriptor, and the registration goes with it. The
        // replacement, `AsyncFd::register`, is `unsafe`, which this workspace forbids.
        #[allow(deprecated)]
        let fd = AsyncFd::new(file)?;
        Ok(CharDevice { fd })
    }
}

impl AsyncRead for CharDevice {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let fd = &self.get_mut().fd;
        loop {
            let mut guard = ready!(fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for CharDevice {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let fd = &self.get_mut().fd;
        loop {
            let mut guard = ready!(fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(buf)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// How to wait between attempts to reopen a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// First wait after a failure or a loss.
    pub initial: Duration,
    /// The wait doubles up to this.
    pub max: Duration,
    /// Bound on one TCP connect.
    pub open_timeout: Duration,
}

impl Default for ReconnectPolicy {
    /// 0.5 s doubling to 8 s (scanners.md §8 advises 0.5–2 s before the first retry), 5 s TCP
    /// connect timeout.
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(8),
            open_timeout: Duration::from_secs(5),
        }
    }
}

/// Exponential back-off: each wait doubles up to the policy's maximum; a success resets it.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: ReconnectPolicy,
    next: Duration,
}

impl Backoff {
    /// A back-off starting at `policy.initial`.
    pub fn new(policy: ReconnectPolicy) -> Backoff {
        Backoff {
            policy,
            next: policy.initial,
        }
    }

    /// The wait before the next attempt; the one after will be twice as long (capped).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(self.policy.max).max(self.policy.initial);
        delay
    }

    /// Back to the initial wait, after a success.
    pub fn reset(&mut self) {
        self.next = self.policy.initial;
    }
}

/// A link that reopens itself: the device's address, the current link if any, and the back-off
/// state between attempts.
#[derive(Debug)]
pub struct Connection {
    endpoint: Endpoint,
    policy: ReconnectPolicy,
    backoff: Backoff,
    link: Option<Link>,
    retry_at: Option<Instant>,
}

impl Connection {
    /// Not connected yet; the first attempt is immediate.
    pub fn new(endpoint: Endpoint, policy: ReconnectPolicy) -> Connection {
        Connection {
            endpoint,
            policy,
            backoff: Backoff::new(policy),
            link: None,
            retry_at: None,
        }
    }

    /// The device's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether a link is open (as far as is known: a vanished device is only noticed on use or
    /// by [`Link::probe`]).
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// The open link.
    pub fn link_mut(&mut self) -> Option<&mut Link> {
        self.link.as_mut()
    }

    /// The link was found dead: drop it; the next background attempt waits for the back-off.
    pub fn lost(&mut self) {
        if self.link.take().is_some() {
            self.retry_at = Some(Instant::now() + self.backoff.next_delay());
        }
    }

    /// Closes the link on purpose (not a failure): the next operation reconnects at once.
    pub fn close(&mut self) {
        self.link = None;
        self.retry_at = None;
    }

    /// One attempt in a background reconnect loop: waits until the back-off allows it, then
    /// tries once. A failure schedules the next attempt later.
    pub async fn attempt(&mut self) -> Result<(), TransportError> {
        if self.link.is_some() {
            return Ok(());
        }
        if let Some(at) = self.retry_at {
            tokio::time::sleep_until(at).await;
        }
        self.try_open().await
    }

    /// For an operation that needs the device now: returns at once if connected, otherwise
    /// tries immediately and then at the back-off's pace until `wait` has passed. Returns
    /// whether a new link was opened; on failure, the last attempt's error.
    pub async fn connect(&mut self, wait: Duration) -> Result<bool, TransportError> {
        if self.link.is_some() {
            return Ok(false);
        }
        let give_up = Instant::now() + wait;
        loop {
            match self.try_open().await {
                Ok(()) => return Ok(true),
                Err(e) => match self.retry_at {
                    Some(at) if at <= give_up => tokio::time::sleep_until(at).await,
                    _ => return Err(e),
                },
            }
        }
    }

    async fn try_open(&mut self) -> Result<(), TransportError> {
        match open(&self.endpoint, self.policy.open_timeout).await {
            Ok(link) => {
                self.link = Some(link);
                self.backoff.reset();
                self.retry_at = None;
                Ok(())
            }
            Err(e) => {
                self.retry_at = Some(Instant::now() + self.backoff.next_delay());
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        let cases = [
            ("tcp://192.0.2.10:9100", "tcp://192.0.2.10:9100"),
            ("tcp://printer.local:9100/", "tcp://printer.local:9100"),
            ("tcp://[::1]:10000", "tcp://[::1]:10000"),
            ("/dev/ttyACM0", "serial:/dev/ttyACM0?baud=9600"),
            (
                "/dev/serial/by-id/usb-Honeywell_1900-if00?baud=115200",
                "serial:/dev/serial/by-id/usb-Honeywell_1900-if00?baud=115200",
            ),
            ("/dev/usb/lp0", "usblp:/dev/usb/lp0"),
            ("usblp:/dev/pts/3", "usblp:/dev/pts/3"),
            ("serial:/dev/usb/odd", "serial:/dev/usb/odd?baud=9600"),
        ];
        for (input, shown) in cases {
            let endpoint = Endpoint::parse(input).expect(input);
            assert_eq!(endpoint.to_string(), shown, "{input}");
            assert_eq!(
                Endpoint::parse(shown).expect("round trip"),
                endpoint,
                "{input}"
            );
        }
    }

    #[test]
    fn bad_addresses_are_typed_errors() {
        for input in [
            "tcp://host",
            "tcp://:9100",
            "tcp://host:0",
            "tcp://host:99999",
            "ttyUSB0",
            "/dev/ttyUSB0?baud=fast",
            "/dev/ttyUSB0?baud=0",
            "usblp:lp0",
            "",
        ] {
            let err = Endpoint::parse(input).expect_err(input);
            assert_eq!(err.code(), "TRANSPORT_INVALID_ENDPOINT", "{input}");
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut b = Backoff::new(ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            open_timeout: Duration::from_secs(1),
        });
        let waits: Vec<u128> = (0..5).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn open_errors_carry_codes_and_hints() {
        let missing = TransportError::Open {
            endpoint: "serial:/dev/nothing".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(missing.code(), "TRANSPORT_NOT_FOUND");
        assert!(missing.hint().is_some_and(|h| h.contains("by-id")));
        let denied = TransportError::Open {
            endpoint: "serial:/dev/ttyS0".into(),
            source: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        assert!(denied.hint().is_some_and(|h| h.contains("dialout")));
    }

    #[tokio::test]
    async fn missing_device_fails_with_not_found_after_the_wait() {
        let mut conn = Connection::new(
            Endpoint::parse("/dev/serial/by-id/no-such-device").expect("valid"),
            ReconnectPolicy {
                initial: Duration::from_millis(20),
                max: Duration::from_millis(40),
                open_timeout: Duration::from_secs(1),
            },
        );
        let started = std::time::Instant::now();
        let err = conn
            .connect(Duration::from_millis(100))
            .await
            .expect_err("no device");
        assert_eq!(err.code(), "TRANSPORT_NOT_FOUND");
        // Attempts at 0, 20, 60 ms; the next (100 ms later) would pass the wait.
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(!conn.is_connected());
    }

    #[tokio::test]
    async fn tcp_probe_sees_data_and_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let endpoint = Endpoint::parse(&format!("tcp://{addr}")).expect("valid");
        let mut link = open(&endpoint, Duration::from_secs(1))
            .await
            .expect("connect");
        let (mut peer, _) = listener.accept().await.expect("accept");
        assert_eq!(link.probe(), Liveness::Idle);
        tokio::io::AsyncWriteExt::write_all(&mut peer, b"late")
            .await
            .expect("write");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(link.probe(), Liveness::Data(b"late".to_vec()));
        drop(peer);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(link.probe(), Liveness::Closed);
    }
}
