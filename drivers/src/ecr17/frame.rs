//! ECR17 framing: `STX message ETX LRC`, the three-byte ACK/NAK, the `SOH text EOT` progress
//! frame, and a decoder that finds them in a noisy, arbitrarily split byte stream.
//!
//! Reference: ecr17.md §2 (frame formats, LRC variants), §3 (validation and NAK).

const SOH: u8 = 0x01;
/// Start of an application frame.
pub const STX: u8 = 0x02;
/// End of an application message (and second byte of ACK/NAK).
pub const ETX: u8 = 0x03;
const EOT: u8 = 0x04;
/// Lead byte of a confirmation.
pub const ACK: u8 = 0x06;
/// Lead byte of a refusal.
pub const NAK: u8 = 0x15;

/// Length of the text of a progress frame per Nexi (§2.4); other lengths are tolerated.
pub const PROGRESS_TEXT_LEN: usize = 20;
/// Longest progress text accepted before the frame is dropped as noise.
const PROGRESS_MAX: usize = 80;
/// Default longest application message: well above the longest fixed layout (`S` ticket, 210
/// bytes), bounded so that noise without ETX cannot grow the buffer forever.
pub const DEFAULT_MAX_MESSAGE: usize = 1024;

/// Which bytes the LRC folds, starting from 0x7F (ecr17.md §2.2). Terminals and firmware
/// differ; the modes differ only by the constants STX and ETX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LrcMode {
    /// Message bytes only (between STX and ETX).
    Std,
    /// Message and ETX.
    NoExt,
    /// STX, message and ETX: every byte of the frame before the LRC.
    Stx,
    /// STX and message.
    StxNoExt,
}

impl LrcMode {
    /// The four modes.
    pub const ALL: [LrcMode; 4] = [
        LrcMode::Std,
        LrcMode::NoExt,
        LrcMode::Stx,
        LrcMode::StxNoExt,
    ];

    /// The LRC of an application `message` (without STX/ETX) in this mode.
    pub fn lrc(self, message: &[u8]) -> u8 {
        let folded = message.iter().fold(0x7F, |acc, b| acc ^ b);
        match self {
            LrcMode::Std => folded,
            LrcMode::NoExt => folded ^ ETX,
            LrcMode::Stx => folded ^ STX ^ ETX,
            LrcMode::StxNoExt => folded ^ STX,
        }
    }

    /// The mode under which `lrc` is the LRC of `message`, if any. The four candidates always
    /// differ, so at most one matches: a commissioning aid to discover a terminal's convention.
    pub fn detect(message: &[u8], lrc: u8) -> Option<LrcMode> {
        LrcMode::ALL
            .into_iter()
            .find(|mode| mode.lrc(message) == lrc)
    }
}

/// The LRC conventions of a link: one for application frames, one for the ACK/NAK we send.
///
/// They are separate because the only client known to work with real terminals (the 2008 Setefi
/// client, ecr17.md §2.2) folds "every byte before the LRC": `Stx` for application frames, and
/// for `ACK ETX LRC` that is 0x7F ⊕ ACK ⊕ ETX, i.e. the `NoExt` formula applied to the control
/// byte, giving `06 03 7A`. The `ecr17-protocol` crate instead applies one mode to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrcConfig {
    /// Mode for application frames, sent and received.
    pub frame: LrcMode,
    /// Mode for the third byte of the ACK/NAK we send (computed over the control byte as the
    /// "message"). Received ACK/NAK are accepted on lead byte and ETX whatever their third byte,
    /// as ecr17.md §2.3 advises.
    pub control: LrcMode,
}

impl LrcConfig {
    /// The full-frame convention of the Setefi client and the PHP client's example: application
    /// LRC over STX…ETX, ACK `06 03 7A`, NAK `15 03 69`. Still to be confirmed on the target
    /// terminal (ecr17.md §11).
    pub const FULL_FRAME: LrcConfig = LrcConfig {
        frame: LrcMode::Stx,
        control: LrcMode::NoExt,
    };

    /// One mode for both, as the `ecr17-protocol` crate does.
    pub const fn uniform(mode: LrcMode) -> LrcConfig {
        LrcConfig {
            frame: mode,
            control: mode,
        }
    }

    /// The ACK to send.
    pub fn ack(self) -> [u8; 3] {
        [ACK, ETX, self.control.lrc(&[ACK])]
    }

    /// The NAK to send.
    pub fn nak(self) -> [u8; 3] {
        [NAK, ETX, self.control.lrc(&[NAK])]
    }
}

impl Default for LrcConfig {
    fn default() -> Self {
        LrcConfig::FULL_FRAME
    }
}

/// Frames `message` as `STX message ETX LRC`. The message must be ASCII (0–127) without STX or
/// ETX, which would break the framing.
pub fn encode_frame(mode: LrcMode, message: &[u8]) -> Result<Vec<u8>, FrameError> {
    if let Some(&byte) = message.iter().find(|&&b| b >= 0x80 || b == STX || b == ETX) {
        return Err(FrameError::InvalidByte { byte });
    }
    let mut frame = Vec::with_capacity(message.len() + 3);
    frame.push(STX);
    frame.extend_from_slice(message);
    frame.push(ETX);
    frame.push(mode.lrc(message));
    Ok(frame)
}

/// A well-formed frame received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// An application message (between STX and ETX), LRC verified. It must be answered with an
    /// ACK (or a NAK if it fails validation).
    Message(Vec<u8>),
    /// A confirmation; `check` is its third byte, not verified (ecr17.md §2.3).
    Ack {
        /// The received third byte.
        check: u8,
    },
    /// A refusal; `check` is its third byte, not verified.
    Nak {
        /// The received third byte.
        check: u8,
    },
    /// A progress text for the display; not acknowledged. Normally 20 characters; bytes outside
    /// ASCII decode to U+FFFD.
    Progress(String),
}

/// A malformed frame, or a message that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The LRC does not match the configured mode.
    #[error("LRC {received:#04x} does not match {expected:#04x} (matches mode {detected:?})")]
    BadLrc {
        /// LRC computed under the configured mode.
        expected: u8,
        /// LRC received.
        received: u8,
        /// The mode the received LRC matches, if any: a hint that the link is misconfigured.
        detected: Option<LrcMode>,
    },
    /// A byte above 0x7F inside a message (the serial "parity error" of Nexi's list).
    #[error("non-ASCII byte inside a message")]
    NotAscii,
    /// No ETX within the maximum message length; bytes are dropped until the next STX.
    #[error("message longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// A new STX (or SOH) arrived inside a message: the partial frame is dropped. No NAK: the
    /// peer is already sending something else, and will retransmit on its own timeout.
    #[error("frame interrupted by a new start byte")]
    Interrupted,
    /// A progress frame without EOT within 80 bytes.
    #[error("progress frame without EOT")]
    ProgressTooLong,
    /// A message to send contains a byte that cannot be framed.
    #[error("byte {byte:#04x} cannot be sent inside an ECR17 frame")]
    InvalidByte {
        /// The byte.
        byte: u8,
    },
}

impl FrameError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::BadLrc { .. } => "ECR17_BAD_LRC",
            FrameError::NotAscii => "ECR17_NOT_ASCII",
            FrameError::TooLong { .. } => "ECR17_TOO_LONG",
            FrameError::Interrupted => "ECR17_INTERRUPTED",
            FrameError::ProgressTooLong => "ECR17_PROGRESS_TOO_LONG",
            FrameError::InvalidByte { .. } => "ECR17_INVALID_BYTE",
        }
    }

    /// Whether the peer must be told with a NAK so that it retransmits (ecr17.md §3).
    pub fn requires_nak(&self) -> bool {
        matches!(
            self,
            FrameError::BadLrc { .. } | FrameError::NotAscii | FrameError::TooLong { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Message,
    Lrc,
    /// Dropping an overlong message up to its ETX and LRC, or the next STX.
    Overflow,
    OverflowLrc,
    Control(u8),
    ControlLrc(u8),
    Progress,
}

/// Finds frames in a byte stream. Feed it whatever the transport reads; it keeps partial frames
/// across calls. Bytes outside any frame are counted and dropped.
///
/// Exactly one byte after the first ETX is taken as the LRC and never rescanned, since the LRC
/// can equal STX, SOH, ACK or NAK (ecr17.md §2.2).
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    mode: LrcMode,
    max_message: usize,
    state: State,
    buf: Vec<u8>,
    non_ascii: bool,
    discarded: u64,
}

impl FrameDecoder {
    /// A decoder checking application LRCs under `mode`, with [`DEFAULT_MAX_MESSAGE`].
    pub fn new(mode: LrcMode) -> FrameDecoder {
        FrameDecoder::with_max_message(mode, DEFAULT_MAX_MESSAGE)
    }

    /// A decoder with a custom message length limit.
    pub fn with_max_message(mode: LrcMode, max_message: usize) -> FrameDecoder {
        FrameDecoder {
            mode,
            max_message,
            state: State::Idle,
            buf: Vec::new(),
            non_ascii: false,
            discarded: 0,
        }
    }

    /// Bytes dropped outside frames so far (line noise, stray control bytes).
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// Forgets any partial frame, e.g. after the connection was re-established.
    pub fn reset(&mut self) {
        self.state = State::Idle;
        self.buf.clear();
    }

    /// Feeds received bytes; returns the frames and errors completed by them, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<Result<Inbound, FrameError>> {
        let mut out = Vec::new();
        for &b in bytes {
            self.push(b, &mut out);
        }
        out
    }

    fn start(&mut self, state: State) {
        self.state = state;
        self.buf.clear();
        self.non_ascii = false;
    }

    fn push(&mut self, b: u8, out: &mut Vec<Result<Inbound, FrameError>>) {
        match self.state {
            State::Idle => self.idle(b),
            State::Message => match b {
                ETX => self.state = State::Lrc,
                STX => {
                    out.push(Err(FrameError::Interrupted));
                    self.start(State::Message);
                }
                _ if self.buf.len() >= self.max_message => {
                    out.push(Err(FrameError::TooLong {
                        max: self.max_message,
                    }));
                    self.state = State::Overflow;
                    self.buf.clear();
                }
                _ => {
                    self.non_ascii |= b >= 0x80;
                    self.buf.push(b);
                }
            },
            State::Lrc => {
                self.state = State::Idle;
                let message = std::mem::take(&mut self.buf);
                let expected = self.mode.lrc(&message);
                out.push(if self.non_ascii {
                    Err(FrameError::NotAscii)
                } else if b != expected {
                    Err(FrameError::BadLrc {
                        expected,
                        received: b,
                        detected: LrcMode::detect(&message, b),
                    })
                } else {
                    Ok(Inbound::Message(message))
                });
            }
            State::Overflow => match b {
                ETX => self.state = State::OverflowLrc,
                STX => self.start(State::Message),
                _ => self.discarded += 1,
            },
            State::OverflowLrc => {
                self.discarded += 1;
                self.state = State::Idle;
            }
            State::Control(lead) => {
                if b == ETX {
                    self.state = State::ControlLrc(lead);
                } else {
                    // The lead byte was noise; look at this byte afresh.
                    self.discarded += 1;
                    self.state = State::Idle;
                    self.idle(b);
                }
            }
            State::ControlLrc(lead) => {
                self.state = State::Idle;
                out.push(Ok(if lead == ACK {
                    Inbound::Ack { check: b }
                } else {
                    Inbound::Nak { check: b }
                }));
            }
            State::Progress => match b {
                EOT => {
                    self.state = State::Idle;
                    let text = self
                        .buf
                        .iter()
                        .map(|&c| if c < 0x80 { char::from(c) } else { '\u{FFFD}' })
                        .collect();
                    self.buf.clear();
                    out.push(Ok(Inbound::Progress(text)));
                }
                STX => {
                    self.discarded += self.buf.len() as u64 + 1;
                    self.start(State::Message);
                }
                _ if self.buf.len() >= PROGRESS_MAX => {
                    self.discarded += self.buf.len() as u64 + 1;
                    out.push(Err(FrameError::ProgressTooLong));
                    self.state = State::Idle;
                    self.buf.clear();
                    self.idle(b);
                }
                _ => self.buf.push(b),
            },
        }
    }

    fn idle(&mut self, b: u8) {
        match b {
            STX => self.start(State::Message),
            SOH => self.start(State::Progress),
            ACK | NAK => self.state = State::Control(b),
            _ => self.discarded += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
            .collect()
    }

    /// ecr17.md §2.3: the ACK/NAK third byte under each convention.
    #[test]
    fn ack_and_nak_bytes_per_convention() {
        let table = [
            (LrcMode::NoExt, [0x06, 0x03, 0x7A], [0x15, 0x03, 0x69]),
            (LrcMode::Std, [0x06, 0x03, 0x79], [0x15, 0x03, 0x6A]),
            (LrcMode::Stx, [0x06, 0x03, 0x78], [0x15, 0x03, 0x6B]),
            (LrcMode::StxNoExt, [0x06, 0x03, 0x7B], [0x15, 0x03, 0x68]),
        ];
        for (mode, ack, nak) in table {
            assert_eq!(LrcConfig::uniform(mode).ack(), ack, "{mode:?}");
            assert_eq!(LrcConfig::uniform(mode).nak(), nak, "{mode:?}");
        }
        assert_eq!(LrcConfig::FULL_FRAME.ack(), [0x06, 0x03, 0x7A]);
        assert_eq!(LrcConfig::FULL_FRAME.nak(), [0x15, 0x03, 0x69]);
    }

    /// ecr17.md §9.3: LRCs of short frames in the four modes (std, noext, stx, stx_noext).
    #[test]
    fn short_frame_lrcs() {
        let table: [(&str, [u8; 4]); 5] = [
            ("123456780s", [0x34, 0x37, 0x35, 0x36]),
            ("123456780E1", [0x33, 0x30, 0x32, 0x31]),
            // G: cash register, flag, "000" (22 bytes).
            (
                concat!("123456780G", "00000001", "0", "000"),
                [0x01, 0x02, 0x00, 0x03],
            ),
            // T: cash register, flag, 7 zeros (26 bytes).
            (
                concat!("123456780T", "00000001", "0", "0000000"),
                [0x12, 0x11, 0x13, 0x10],
            ),
            // Reversal: cash register, STAN 000000, flag, reserved (26 bytes).
            (
                concat!("123456780S", "00000001", "000000", "0", "0"),
                [0x15, 0x16, 0x14, 0x17],
            ),
        ];
        for (message, lrcs) in table {
            for (mode, lrc) in LrcMode::ALL.into_iter().zip(lrcs) {
                assert_eq!(mode.lrc(message.as_bytes()), lrc, "{mode:?} {message}");
                assert_eq!(LrcMode::detect(message.as_bytes(), lrc), Some(mode));
            }
        }
    }

    #[test]
    fn frame_round_trip_and_lrc_equal_to_control_bytes() {
        // The G frame's LRC is 0x00 in stx mode and 0x01 (SOH) in std mode.
        let g = hex("31 32 33 34 35 36 37 38 30 47 30 30 30 30 30 30 30 31 30 30 30 30");
        for mode in LrcMode::ALL {
            let frame = encode_frame(mode, &g).expect("ASCII");
            let mut d = FrameDecoder::new(mode);
            let mut stream = frame.clone();
            stream.extend_from_slice(&frame);
            assert_eq!(
                d.feed(&stream),
                vec![
                    Ok(Inbound::Message(g.clone())),
                    Ok(Inbound::Message(g.clone()))
                ]
            );
            assert_eq!(d.discarded(), 0);
        }
    }

    #[test]
    fn encode_refuses_unframeable_bytes() {
        assert_eq!(
            encode_frame(LrcMode::Std, b"a\x03b"),
            Err(FrameError::InvalidByte { byte: 0x03 })
        );
        assert_eq!(
            encode_frame(LrcMode::Std, "è".as_bytes()).map_err(|e| e.code()),
            Err("ECR17_INVALID_BYTE")
        );
    }

    #[test]
    fn bad_lrc_needs_nak_and_hints_the_mode() {
        let frame = encode_frame(LrcMode::Std, b"123456780s").expect("ASCII");
        let mut d = FrameDecoder::new(LrcMode::Stx);
        let out = d.feed(&frame);
        assert_eq!(
            out,
            vec![Err(FrameError::BadLrc {
                expected: 0x35,
                received: 0x34,
                detected: Some(LrcMode::Std)
            })]
        );
        let Err(e) = &out[0] else {
            panic!("error expected");
        };
        assert!(e.requires_nak());
        assert_eq!(e.code(), "ECR17_BAD_LRC");
    }

    #[test]
    fn noise_partial_input_and_controls() {
        let mut d = FrameDecoder::new(LrcMode::Std);
        let frame = encode_frame(LrcMode::Std, b"123456780s").expect("ASCII");
        assert!(
            d.feed(&[0xFF, 0x00, 0x06, 0x41]).is_empty(),
            "noise and a fake ACK"
        );
        assert_eq!(d.discarded(), 4);
        assert!(d.feed(&frame[..4]).is_empty());
        let mut rest = frame[4..].to_vec();
        rest.extend_from_slice(&[0x06, 0x03, 0x7A, 0x15, 0x03, 0x00]);
        rest.push(0x01);
        rest.extend_from_slice(b"INSERIRE CARTA      ");
        rest.push(0x04);
        assert_eq!(
            d.feed(&rest),
            vec![
                Ok(Inbound::Message(b"123456780s".to_vec())),
                Ok(Inbound::Ack { check: 0x7A }),
                Ok(Inbound::Nak { check: 0x00 }),
                Ok(Inbound::Progress("INSERIRE CARTA      ".into())),
            ]
        );
    }

    #[test]
    fn interrupted_frame_restarts_without_nak() {
        let mut d = FrameDecoder::new(LrcMode::Std);
        let mut stream = vec![STX, b'1', b'2'];
        stream.extend(encode_frame(LrcMode::Std, b"123456780s").expect("ASCII"));
        let out = d.feed(&stream);
        assert_eq!(
            out,
            vec![
                Err(FrameError::Interrupted),
                Ok(Inbound::Message(b"123456780s".to_vec()))
            ]
        );
        assert!(!FrameError::Interrupted.requires_nak());
    }

    #[test]
    fn non_ascii_and_overlong_messages() {
        let mut d = FrameDecoder::with_max_message(LrcMode::Std, 8);
        let mut stream = vec![STX, b'a', 0x80, ETX, 0x00];
        stream.extend_from_slice(&[
            STX, b'0', b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', b'9',
        ]);
        // The overlong frame's LRC is skipped, then an empty frame (LRC 0x7F in std mode).
        stream.extend_from_slice(&[ETX, 0x00]);
        stream.extend_from_slice(&[STX, ETX, 0x7F]);
        assert_eq!(
            d.feed(&stream),
            vec![
                Err(FrameError::NotAscii),
                Err(FrameError::TooLong { max: 8 }),
                Ok(Inbound::Message(Vec::new())),
            ]
        );
    }

    #[test]
    fn progress_interrupted_by_a_frame() {
        let mut d = FrameDecoder::new(LrcMode::Std);
        let mut stream = vec![0x01, b'D', b'I'];
        stream.extend(encode_frame(LrcMode::Std, b"x").expect("ASCII"));
        assert_eq!(d.feed(&stream), vec![Ok(Inbound::Message(b"x".to_vec()))]);
        let mut long = vec![0x01];
        long.extend_from_slice(&[b'a'; 81]);
        assert_eq!(d.feed(&long), vec![Err(FrameError::ProgressTooLong)]);
    }
}
