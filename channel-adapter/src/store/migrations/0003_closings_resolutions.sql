-- Schema version 3: the devices' daily cash closings, and how staff resolved exceptions.
-- Closings: one row per revision: a device may close a day again with other data (a late payment, a
-- recount); every revision is kept. The request and the answer are kept as sent, so a resend of
-- the same closing gets the same answer even after more payments arrived.
CREATE TABLE closings (
    device_id     INTEGER NOT NULL REFERENCES devices (id),
    day           TEXT    NOT NULL CHECK (length(day) = 10),   -- Italian calendar day, YYYY-MM-DD
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    request_json  TEXT    NOT NULL,                            -- channel_api::ClosingRequest
    response_json TEXT    NOT NULL,                            -- channel_api::Closing
    verdict       TEXT    NOT NULL CHECK (verdict IN ('agree', 'mismatch')),
    recorded_at   INTEGER NOT NULL,
    PRIMARY KEY (device_id, day, revision)
) STRICT;

-- How the staff resolved a payment in an exception state (channel_api::PaymentResolution):
-- a resolved payment leaves the operators' work list. A refund also moves refund_due to
-- refunded; the other resolutions leave the state as the Nodo left it.
ALTER TABLE payments ADD COLUMN resolution_json TEXT;
ALTER TABLE payments ADD COLUMN resolved_at INTEGER;
