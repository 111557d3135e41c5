-- Schema version 2: the outbox worker's bookkeeping.
-- Every payment whose money was taken has an outcome_outbox row: online payments get it when
-- the device reports the outcome, offline payments when they are queued (their activation is
-- the worker's first step). Rows are delivered per device in arrival order.

-- The payment's device and arrival order, copied so that a device's next entry is one index
-- lookup (the worker asks for it after every delivery).
ALTER TABLE outcome_outbox ADD COLUMN device_id INTEGER;
ALTER TABLE outcome_outbox ADD COLUMN seq INTEGER;
UPDATE outcome_outbox SET
    device_id = (SELECT p.device_id FROM payments p WHERE p.id = outcome_outbox.payment_id),
    seq = (SELECT p.seq FROM payments p WHERE p.id = outcome_outbox.payment_id);
-- When the last attempt started, and how it failed (for operators).
ALTER TABLE outcome_outbox ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE outcome_outbox ADD COLUMN last_error TEXT;
-- Set when the Nodo's answer needs a human (ALERT): no automatic attempt until an operator
-- resets the entry (`channel-adapter outbox reset`).
ALTER TABLE outcome_outbox ADD COLUMN parked_at INTEGER;

-- The queues: pending entries per device in arrival order.
CREATE INDEX outcome_outbox_queue ON outcome_outbox (device_id, seq)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
