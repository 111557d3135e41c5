//! `provision sim printer|terminal|scanner`: the simulators of `drivers::sim` as standalone
//! processes, for demonstrations, for trying `provision test` without hardware, and for the
//! end-to-end tests of other programs.
//!
//! Each prints where it can be reached on its first line (`… on tcp://127.0.0.1:9100` or
//! `… on /dev/pts/7`), then one line per thing it sees, and runs until interrupted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use drivers::escpos::PaperWidth;
use drivers::sim::printer::{Paper, PrinterSim, PrinterSimConfig, PrinterState};
use drivers::sim::scanner::{ScannerSim, ScannerSimConfig};
use drivers::sim::terminal::{
    Behaviour, LrcFold, SimEvent, TerminalSim, TerminalSimConfig, parse_duration,
};

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// An ESC/POS printer: records what it receives (raw capture, text, PNG) and answers
    /// DLE EOT from the state given.
    Printer(PrinterArgs),
    /// An ECR17 card terminal with a script of behaviours for its payments.
    Terminal(TerminalArgs),
    /// A serial scanner writing labels to a pseudo-terminal.
    Scanner(ScannerArgs),
}

#[derive(Debug, Args)]
pub struct Place {
    /// Listen on this TCP address, e.g. 127.0.0.1:9100 (port 0 picks a free one).
    #[arg(long, conflicts_with = "pty")]
    listen: Option<SocketAddr>,
    /// Use a new pseudo-terminal instead (its path is printed).
    #[arg(long)]
    pty: bool,
    /// With --pty: also make this symbolic link to it, a stable name like /dev/serial/by-id/….
    #[arg(long, requires = "pty")]
    link: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PrinterArgs {
    #[command(flatten)]
    place: Place,
    /// Initial state: ok, near-end, paper-out, cover-open, offline, jam, drawer-open.
    #[arg(long, default_value = "ok")]
    state: String,
    /// Consume input at this serial line rate.
    #[arg(long)]
    baud: Option<u32>,
    /// Run out of paper after this many bytes.
    #[arg(long)]
    paper_out_after: Option<usize>,
    /// Drop the first connection after this many bytes (unplugged mid-job).
    #[arg(long)]
    drop_after: Option<usize>,
    /// Never answer DLE EOT (a one-way link).
    #[arg(long)]
    mute: bool,
    /// Paper width for the PNG: 58 or 80.
    #[arg(long, default_value = "80")]
    paper: u8,
    /// Write capture.bin, receipt.txt and receipt.png here whenever new bytes arrive.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TerminalArgs {
    #[command(flatten)]
    place: Place,
    /// Behaviours of the next payments, comma-separated: approve, decline, decline:TEXT,
    /// slow:DURATION, nak:N, corrupt-lrc, drop-after-approve, no-answer, no-ack. Then approve.
    #[arg(long, default_value = "")]
    script: String,
    /// The terminal's ID.
    #[arg(long, default_value = "12345678")]
    terminal_id: String,
    /// LRC convention: stx (full frame), std, noext, stx-noext.
    #[arg(long, default_value = "stx")]
    lrc: String,
    /// Close the connection after every command, as Nexi terminals do.
    #[arg(long)]
    close_after_each: bool,
}

#[derive(Debug, Args)]
pub struct ScannerArgs {
    /// Make this symbolic link to the pseudo-terminal (a stable name like /dev/serial/by-id/…).
    #[arg(long)]
    link: Option<PathBuf>,
    /// AIM identifier before each label, or "none".
    #[arg(long, default_value = "]Q1")]
    aim: String,
    /// Suffix after each label: cr, lf, crlf or none.
    #[arg(long, default_value = "cr")]
    suffix: String,
    /// Line rate to pace the bytes at; 0 for none.
    #[arg(long, default_value = "9600")]
    baud: u32,
    /// Wait before the first label.
    #[arg(long, default_value = "500ms")]
    delay: String,
    /// Pause between labels.
    #[arg(long, default_value = "1s")]
    every: String,
    /// How many rounds of the payloads to send; 0 repeats until interrupted.
    #[arg(long, default_value = "1")]
    count: u32,
    /// The labels to "scan".
    #[arg(required = true)]
    payloads: Vec<String>,
}

pub async fn run(command: SimCommand) -> anyhow::Result<ExitCode> {
    match command {
        SimCommand::Printer(args) => printer(args).await,
        SimCommand::Terminal(args) => terminal(args).await,
        SimCommand::Scanner(args) => scanner(args).await,
    }
}

fn duration(text: &str) -> anyhow::Result<Duration> {
    parse_duration(text).with_context(|| format!("a duration looks like 500ms or 2s, not {text:?}"))
}

fn printer_state(name: &str) -> anyhow::Result<PrinterState> {
    let ok = PrinterState::default();
    Ok(match name {
        "ok" => ok,
        "near-end" => PrinterState {
            paper: Paper::NearEnd,
            ..ok
        },
        "paper-out" => PrinterState {
            paper: Paper::Out,
            ..ok
        },
        "cover-open" => PrinterState {
            cover_open: true,
            ..ok
        },
        "offline" => PrinterState {
            offline: true,
            ..ok
        },
        "jam" => PrinterState {
            cutter_error: true,
            ..ok
        },
        "drawer-open" => PrinterState {
            drawer_pin3_high: true,
            ..ok
        },
        other => bail!("unknown printer state {other:?}"),
    })
}

/// Waits for Ctrl-C, checking `tick` every 100 ms.
async fn until_interrupted(mut tick: impl FnMut()) {
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            _ = &mut interrupted => return,
            () = tokio::time::sleep(Duration::from_millis(100)) => tick(),
        }
    }
}

fn save(sim: &PrinterSim, dir: &Path) -> anyhow::Result<()> {
    std::fs::write(dir.join("capture.bin"), sim.received())?;
    let text = match sim.printout() {
        Ok(printout) => printout.text_lines().join("\n") + "\n",
        Err(e) => format!("cannot decode the stream: {e}\n"),
    };
    std::fs::write(dir.join("receipt.txt"), text)?;
    if let Ok(png) = sim.png() {
        std::fs::write(dir.join("receipt.png"), png)?;
    }
    Ok(())
}

async fn printer(args: PrinterArgs) -> anyhow::Result<ExitCode> {
    let config = PrinterSimConfig {
        state: printer_state(&args.state)?,
        paper_out_after: args.paper_out_after,
        drop_after: args.drop_after,
        baud: args.baud,
        mute: args.mute,
        paper_width: match args.paper {
            58 => PaperWidth::Mm58,
            80 => PaperWidth::Mm80,
            other => bail!("paper width must be 58 or 80, not {other}"),
        },
    };
    let sim = match (args.place.listen, args.place.pty) {
        (Some(addr), _) => PrinterSim::tcp(addr, config).await?,
        (None, true) => PrinterSim::pty(args.place.link.as_deref(), config)?,
        (None, false) => bail!("give --listen ADDRESS or --pty"),
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    println!("printer simulator on {}", sim.endpoint());
    let mut seen = 0;
    until_interrupted(|| {
        let received = sim.received().len();
        if received == seen {
            return;
        }
        seen = received;
        match sim.printout() {
            Ok(p) => println!(
                "received {received} bytes: {} lines, {} QR codes, {} cuts, {} status requests",
                p.text_lines().len(),
                p.qr_payloads().len(),
                p.cuts().len(),
                sim.status_requests()
            ),
            Err(e) => println!("received {received} bytes (not decodable yet: {e})"),
        }
        if let Some(dir) = &args.out
            && let Err(e) = save(&sim, dir)
        {
            eprintln!("provision: cannot save the capture: {e}");
        }
    })
    .await;
    sim.unplug();
    Ok(ExitCode::SUCCESS)
}

async fn terminal(args: TerminalArgs) -> anyhow::Result<ExitCode> {
    let script: Vec<Behaviour> = args
        .script
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<Behaviour>().map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    if args.terminal_id.len() != 8 || !args.terminal_id.bytes().all(|b| b.is_ascii_digit()) {
        bail!("the terminal ID must be 8 digits");
    }
    let config = TerminalSimConfig {
        terminal_id: args.terminal_id.clone(),
        lrc: match args.lrc.as_str() {
            "stx" => LrcFold::Everything,
            "std" => LrcFold::Message,
            "noext" => LrcFold::MessageEtx,
            "stx-noext" => LrcFold::StxMessage,
            other => bail!("unknown LRC mode {other:?}"),
        },
        close_after_each: args.close_after_each,
        ..TerminalSimConfig::default()
    };
    let sim = match (args.place.listen, args.place.pty) {
        (Some(addr), _) => TerminalSim::tcp(addr, config).await?,
        (None, true) => TerminalSim::pty(args.place.link.as_deref(), config)?,
        (None, false) => bail!("give --listen ADDRESS or --pty"),
    };
    sim.script(script);
    println!(
        "card terminal simulator {} on {}",
        args.terminal_id,
        sim.endpoint()
    );
    let mut shown = 0;
    until_interrupted(|| {
        let log = sim.log();
        for event in log.iter().skip(shown) {
            match event {
                SimEvent::Received(code) => println!("received {code}"),
                SimEvent::Executed {
                    code,
                    approved,
                    stan,
                } => println!(
                    "executed {code}: {} STAN {stan:06}",
                    if *approved { "approved" } else { "declined" }
                ),
                SimEvent::NakReceived => println!("NAK received"),
                SimEvent::NakSent => println!("NAK sent"),
                SimEvent::Dropped => println!("connection dropped"),
            }
        }
        shown = log.len();
    })
    .await;
    sim.stop();
    Ok(ExitCode::SUCCESS)
}

async fn scanner(args: ScannerArgs) -> anyhow::Result<ExitCode> {
    let config = ScannerSimConfig {
        aim: (args.aim != "none").then(|| args.aim.clone()),
        suffix: match args.suffix.as_str() {
            "cr" => b"\r".to_vec(),
            "lf" => b"\n".to_vec(),
            "crlf" => b"\r\n".to_vec(),
            "none" => Vec::new(),
            other => bail!("suffix must be cr, lf, crlf or none, not {other:?}"),
        },
        baud: (args.baud > 0).then_some(args.baud),
    };
    let (delay, every) = (duration(&args.delay)?, duration(&args.every)?);
    let mut sim = ScannerSim::new(args.link.as_deref(), config)?;
    let path = sim
        .device_path()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    println!("scanner simulator on {path}");
    let sending = async {
        tokio::time::sleep(delay).await;
        let mut round = 0;
        while args.count == 0 || round < args.count {
            round += 1;
            for payload in &args.payloads {
                sim.scan(payload.as_bytes()).await?;
                println!("sent {payload}");
                tokio::time::sleep(every).await;
            }
        }
        // Stay plugged in until interrupted.
        std::future::pending::<()>().await;
        anyhow::Ok(())
    };
    tokio::select! {
        result = sending => result?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}
