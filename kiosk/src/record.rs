//! What the journal's entries mean: the typed records the agent writes.
//!
//! The journal itself ([`crate::journal`]) stores opaque `(kind, JSON body)` pairs; this module
//! gives them their types. Flow events and effect intents are the bulk of it; staff logins, sync
//! batches and cash closings complete the audit trail. The `kind` text (`event.started`,
//! `intent.charge`, `login`…) is derived from the record so that the journal reads well with a
//! plain `sqlite3` shell; only the JSON body is authoritative.

use channel_api::Timestamp;
use serde::{Deserialize, Serialize};

use crate::flow::{Effect, Event, FlowId};
use crate::journal::{Entry, JournalError};

/// A daily cash closing, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosingRecord {
    /// The day closed (`YYYY-MM-DD`, local time).
    pub day: String,
    /// The clerk.
    pub operator: String,
    /// Cash counted in the drawer, cents.
    pub counted_cents: u64,
    /// Cash the journal says should be there, cents.
    pub expected_cents: u64,
    /// Card total of the day, cents.
    pub card_cents: u64,
    /// Number of payments of the day.
    pub payments: u32,
    /// What the adapter's records say: `agree`, `mismatch` or `unavailable`.
    pub adapter: String,
    /// The adapter's cash total for this station's payments of the day, when it answered.
    pub adapter_cash_cents: Option<u64>,
    /// The adapter's card total, when it answered.
    pub adapter_card_cents: Option<u64>,
    /// The adapter's revision number of this closing, when it answered.
    #[serde(default)]
    pub adapter_revision: Option<u32>,
    /// What differs, one line each (`missing_at_adapter <key>`, `missing_at_device <key>`,
    /// `amount <key> <device cents> <adapter cents>`), when the adapter disagreed.
    #[serde(default)]
    pub adapter_differences: Vec<String>,
}

/// One journal entry, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// An event fed to a flow (written before the flow acts on it).
    Event {
        /// The flow.
        flow: FlowId,
        /// The event.
        event: Box<Event>,
    },
    /// An effect about to run (written before it runs).
    Intent {
        /// The flow.
        flow: FlowId,
        /// The effect.
        effect: Effect,
        /// For a card charge: the terminal's last transaction number before it, which lets a
        /// later "last result" tell a new transaction from an old one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        marker: Option<String>,
        /// For a print: the exact bytes sent to the printer, base64.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        document: Option<String>,
    },
    /// A batch of offline payments about to be forwarded, in this order.
    SyncBatch {
        /// The flows.
        flows: Vec<FlowId>,
    },
    /// A clerk logged in.
    Login {
        /// Who.
        operator: String,
    },
    /// A login was refused (wrong PIN or unknown operator).
    LoginFailed {
        /// Who it claimed to be.
        operator: String,
    },
    /// A clerk logged out.
    Logout {
        /// Who.
        operator: String,
    },
    /// The daily cash closing.
    Closing(ClosingRecord),
    /// Staff's resolution of a flow's exception reached the adapter (or was refused by it:
    /// `error` holds the code; it is not sent again).
    ResolutionReported {
        /// The flow.
        flow: FlowId,
        /// The adapter's error code, when it refused.
        #[serde(default)]
        error: Option<String>,
    },
    /// The closing report was printed (or not).
    ClosingPrinted {
        /// The day.
        day: String,
        /// The printer's error code, if it failed.
        error: Option<String>,
        /// The bytes sent, base64.
        document: Option<String>,
    },
    /// The adapter's managed settings now in force (see `crate::settings`).
    SettingsApplied {
        /// Their version.
        version: u64,
        /// What they set.
        settings: channel_api::fleet::DeviceSettings,
    },
}

impl Record {
    /// An event record.
    pub fn event(flow: FlowId, event: Event) -> Record {
        Record::Event {
            flow,
            event: Box::new(event),
        }
    }

    /// The `kind` column: readable, not authoritative.
    pub fn kind(&self) -> String {
        match self {
            Record::Event { event, .. } => format!("event.{}", event.name()),
            Record::Intent { effect, .. } => format!("intent.{}", effect.name()),
            Record::SyncBatch { .. } => "sync_batch".into(),
            Record::Login { .. } => "login".into(),
            Record::LoginFailed { .. } => "login_failed".into(),
            Record::Logout { .. } => "logout".into(),
            Record::Closing(_) => "closing".into(),
            Record::ClosingPrinted { .. } => "closing_printed".into(),
            Record::SettingsApplied { .. } => "settings_applied".into(),
            Record::ResolutionReported { .. } => "resolution_reported".into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Read an entry back.
    pub fn parse(entry: &Entry) -> Result<Record, JournalError> {
        serde_json::from_str(&entry.body).map_err(|e| JournalError::Unreadable {
            seq: entry.seq,
            reason: e.to_string(),
        })
    }
}

/// A typed entry with its position and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Position in the journal.
    pub seq: u64,
    /// When it was written.
    pub at: Timestamp,
    /// The record.
    pub record: Record,
}

/// Every entry of `entries`, typed.
pub fn read_all(entries: &[Entry]) -> Result<Vec<Stored>, JournalError> {
    entries
        .iter()
        .map(|e| {
            Ok(Stored {
                seq: e.seq,
                at: e.at,
                record: Record::parse(e)?,
            })
        })
        .collect()
}
