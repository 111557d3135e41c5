//! Fail points: stop the agent dead at one journaled step, so a test can kill it there.
//!
//! "A power cut at any moment must never lose or double a payment" is only believable if it is
//! tried at every moment that matters: right after each journal write, and between an effect
//! and the journaling of its result. The crash tests (`tests/crash.rs`) run the real binary with
//! `KIOSK_FAILPOINT=<name>[:<nth>]`; when the agent passes that point for the `nth` time (1 by
//! default) it writes one line `FAILPOINT <name> reached` to stderr and parks the thread that
//! reached it forever, so nothing more is journaled and no cleanup code runs; the test then
//! kills the process with SIGKILL, a genuine `kill -9` at that exact step.
//! `KIOSK_FAILPOINT=trace` instead writes `FAILPOINT <name> passed` at every point and goes on:
//! the tests enumerate the points of a flow from such a run, so a new step is covered without
//! editing them.
//!
//! The points, by name (`<what>` is the snake-case name of the event or effect, as in the
//! journal's `kind` column):
//! - `event:<event>`: an event (a person's action, a tick, a restart) was journaled, before the
//!   flow adopts it and before its effects are journaled;
//! - `intent:<effect>`: an effect's intent was journaled, before the effect starts
//!   (`intent:charge` is after the charge intent with the terminal's marker;
//!   `intent:sync_batch` after an offline batch was journaled, before it is sent);
//! - `effect-done:<effect>`: the effect ran (the adapter answered, the terminal charged, the
//!   printer printed…), before its result is journaled (`effect-done:sync_batch`: the adapter
//!   answered an offline batch);
//! - `result:<effect>`: the effect's result was journaled as an event, before the flow adopts it
//!   (`result:sync_batch` for each item of an offline batch's answer).
//!
//! Effects: `verify`, `activate`, `charge`, `last_result`, `open_drawer`, `send_outcome`,
//! `poll`, `print`. Other events: `started`, `confirmed`, `pay`, `cancel`, `void`, `more_time`,
//! `done`, `reprint`, `resolve`, `tick`, `restarted`.
//!
//! Unset, the variable costs one load of an already-initialised cell per point: it is read
//! once, at the first point.

use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::core::Output;
use crate::flow::Event;
use crate::record::Record;

/// The environment variable.
pub const VAR: &str = "KIOSK_FAILPOINT";

/// What the variable asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
    /// Nothing (the variable is unset or empty).
    Off,
    /// Report every point passed.
    Trace,
    /// Stop at the `nth` passage of `name`.
    Stop {
        /// The point.
        name: String,
        /// Which passage, from 1.
        nth: u64,
    },
}

impl Setting {
    fn parse(value: &str) -> Setting {
        let value = value.trim();
        if value.is_empty() {
            return Setting::Off;
        }
        if value == "trace" {
            return Setting::Trace;
        }
        match value.rsplit_once(':') {
            Some((name, n)) if !name.is_empty() => match n.parse::<u64>() {
                Ok(nth) if nth > 0 => Setting::Stop {
                    name: name.to_owned(),
                    nth,
                },
                _ => Setting::Stop {
                    name: value.to_owned(),
                    nth: 1,
                },
            },
            _ => Setting::Stop {
                name: value.to_owned(),
                nth: 1,
            },
        }
    }
}

static SETTING: OnceLock<Setting> = OnceLock::new();
static PASSED: AtomicU64 = AtomicU64::new(0);

fn setting() -> &'static Setting {
    SETTING.get_or_init(|| Setting::parse(&std::env::var(VAR).unwrap_or_default()))
}

/// The kind of step a point follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An event was journaled.
    Event,
    /// An effect's intent was journaled.
    Intent,
    /// An effect ran; its result is not journaled yet.
    EffectDone,
    /// An effect's result was journaled.
    Result,
}

impl Step {
    fn prefix(self) -> &'static str {
        match self {
            Step::Event => "event",
            Step::Intent => "intent",
            Step::EffectDone => "effect-done",
            Step::Result => "result",
        }
    }
}

/// The agent passes the point `<step>:<what>`: see the module documentation.
pub fn reached(step: Step, what: &str) {
    let (name, nth) = match setting() {
        Setting::Off => return,
        Setting::Trace => {
            report(step, what, "passed");
            return;
        }
        Setting::Stop { name, nth } => (name, *nth),
    };
    let matches = name
        .split_once(':')
        .is_some_and(|(p, w)| p == step.prefix() && w == what);
    if !matches || PASSED.fetch_add(1, Ordering::SeqCst) + 1 != nth {
        return;
    }
    report(step, what, "reached");
    loop {
        std::thread::park();
    }
}

fn report(step: Step, what: &str, verb: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "FAILPOINT {}:{what} {verb}", step.prefix());
    let _ = err.flush();
}

/// The point after an event `record` was journaled: `result:<effect>` for an effect's result,
/// `event:<event>` otherwise.
pub fn journaled(record: &Record) {
    let Record::Event { event, .. } = record else {
        return;
    };
    let result = match event.as_ref() {
        Event::Verified { .. } => "verify",
        Event::Activated { .. } => "activate",
        Event::Card { .. } => "charge",
        Event::LastResult { .. } => "last_result",
        Event::Drawer { .. } => "open_drawer",
        Event::Outcome { .. } => "send_outcome",
        Event::AdapterState { .. } => "poll",
        Event::Printed { .. } => "print",
        Event::Forwarded { .. } => "sync_batch",
        _ => return reached(Step::Event, event.name()),
    };
    reached(Step::Result, result);
}

/// The point after an effect ran, before its result is journaled.
pub fn effect_done(output: &Output) {
    let effect = match output {
        // Only the terminal's marker, asked before the charge intent: nothing was done yet.
        Output::ChargeReady { .. } => return,
        Output::Verified(_) => "verify",
        Output::Activated(_) => "activate",
        Output::Card(_) => "charge",
        Output::LastResult(_) => "last_result",
        Output::Drawer(_) => "open_drawer",
        Output::Outcome(_) => "send_outcome",
        Output::Polled(_) => "poll",
        Output::Printed(_) => "print",
    };
    reached(Step::EffectDone, effect);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_names_a_point_and_an_occurrence() {
        assert_eq!(Setting::parse(""), Setting::Off);
        assert_eq!(Setting::parse("trace"), Setting::Trace);
        assert_eq!(
            Setting::parse("intent:charge"),
            Setting::Stop {
                name: "intent:charge".into(),
                nth: 1
            }
        );
        assert_eq!(
            Setting::parse("result:poll:3"),
            Setting::Stop {
                name: "result:poll".into(),
                nth: 3
            }
        );
        assert_eq!(
            Setting::parse("effect-done:print:0"),
            Setting::Stop {
                name: "effect-done:print:0".into(),
                nth: 1
            }
        );
    }
}
