-- Schema version 1 of the channel adapter's store.
-- Times are milliseconds since the Unix epoch (UTC); amounts are integer euro cents.
-- The text values in CHECK constraints are pinned by tests: changing one needs a new migration.

-- Registered stations. The credential is a 256-bit random token; only a salted SHA-256 of it is
-- kept (see auth.rs for why a fast hash is right here).
CREATE TABLE devices (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    comune          TEXT    NOT NULL CHECK (length(comune) = 11),
    kind            TEXT    NOT NULL CHECK (kind IN ('kiosk', 'counter')),
    credential_salt BLOB    NOT NULL CHECK (length(credential_salt) = 16),
    credential_hash BLOB    NOT NULL CHECK (length(credential_hash) = 32),
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    last_seen_at    INTEGER
) STRICT;

-- One row per payment attempt opened by a device (or taken offline).
CREATE TABLE payments (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order (offline forwarding)
    id                   TEXT    NOT NULL UNIQUE,            -- public, opaque
    device_id            INTEGER NOT NULL REFERENCES devices (id),
    comune               TEXT    NOT NULL,                   -- the device's comune: visibility
    client_key           TEXT    NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN (
                             'activating', 'activation_failed', 'active', 'outcome_pending',
                             'confirmed', 'cancelled', 'late_accepted', 'refund_due', 'refunded',
                             'needs_attention', 'offline_queued')),
    notice_number        TEXT    NOT NULL CHECK (length(notice_number) = 18),
    creditor_fiscal_code TEXT    NOT NULL CHECK (length(creditor_fiscal_code) = 11),
    amount_cents         INTEGER NOT NULL CHECK (amount_cents >= 0),
    fee_cents            INTEGER NOT NULL CHECK (fee_cents >= 0),
    tender               TEXT    NOT NULL CHECK (tender IN ('card', 'cash')),
    offline              INTEGER NOT NULL DEFAULT 0 CHECK (offline IN (0, 1)),
    activate_key         TEXT,              -- Nodo idempotency key of the current activation
    payment_token        TEXT UNIQUE,
    token_expires_at     INTEGER,
    iuv                  TEXT,
    creditor_name        TEXT,
    description          TEXT,
    outcome_json         TEXT,              -- what the device reported (channel_api::ReportedOutcome)
    error_code           TEXT,              -- channel_api::ErrorCode of a failure or exception
    error_detail         TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (device_id, client_key)
) STRICT;

CREATE INDEX payments_by_comune ON payments (comune, seq DESC);
CREATE INDEX payments_by_state ON payments (state);

-- The journal of Nodo calls: a row is written before the request is sent and completed when
-- the answer (or its absence) is known. A row left unfinished means the process stopped
-- mid-call: recovery resends the same request with the same idempotency key.
CREATE TABLE nodo_calls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_id      TEXT REFERENCES payments (id),   -- NULL for a verify
    primitive       TEXT    NOT NULL,                -- the SOAPAction
    idempotency_key TEXT,
    request_xml     TEXT    NOT NULL,                -- with the channel password redacted
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    result          TEXT CHECK (result IN ('ok', 'ko', 'no_answer', 'http_status', 'bad_answer')),
    fault_code      TEXT,
    http_status     INTEGER,
    action          TEXT,                            -- pagopa::fault::Action code
    response_xml    TEXT,
    detail          TEXT,
    CHECK ((finished_at IS NULL) = (result IS NULL))
) STRICT;

CREATE INDEX nodo_calls_by_payment ON nodo_calls (payment_id);
CREATE INDEX nodo_calls_open ON nodo_calls (id) WHERE finished_at IS NULL;

-- The outcome outbox: exactly one sendPaymentOutcome per payment (the primary key), sent with
-- the same idempotency key until the Nodo gives an application-level answer.
CREATE TABLE outcome_outbox (
    payment_id      TEXT    PRIMARY KEY REFERENCES payments (id),
    outcome         TEXT    NOT NULL CHECK (outcome IN ('OK', 'KO')),
    idempotency_key TEXT    NOT NULL UNIQUE,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_action     TEXT
) STRICT;

CREATE INDEX outcome_outbox_due ON outcome_outbox (next_attempt_at) WHERE delivered_at IS NULL;
