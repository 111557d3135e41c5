-- Schema version 4: the fleet. Enrolled devices with key-pair credentials, one-time enrollment
-- codes, managed device configuration, heartbeat health, and the administrators and operators
-- of the fleet view. The text values in CHECK constraints are pinned by tests.

-- Where a device stands and how it authenticates. A device enrolled with a key pair keeps
-- all-zero bearer salt and hash (the columns are NOT NULL since version 1); auth.rs refuses a
-- bearer credential for it whatever the hash.
ALTER TABLE devices ADD COLUMN location TEXT NOT NULL DEFAULT '';
ALTER TABLE devices ADD COLUMN credential_kind TEXT NOT NULL DEFAULT 'secret'
    CHECK (credential_kind IN ('secret', 'key_pair'));
ALTER TABLE devices ADD COLUMN public_key BLOB CHECK (public_key IS NULL OR length(public_key) = 32);
ALTER TABLE devices ADD COLUMN enrolled_at INTEGER;
ALTER TABLE devices ADD COLUMN hostname TEXT;
ALTER TABLE devices ADD COLUMN agent_version TEXT;
ALTER TABLE devices ADD COLUMN last_heartbeat_at INTEGER;
ALTER TABLE devices ADD COLUMN health_json TEXT;           -- channel_api::fleet::DeviceHealth
ALTER TABLE devices ADD COLUMN applied_config_version INTEGER;

CREATE INDEX devices_by_comune ON devices (comune, id);

-- One-time enrollment codes `IIII-SSSS-SSSS`: the first group is the lookup id, the secret
-- groups are kept only as a salted SHA-256. A code ends used, burnt (too many wrong secrets)
-- or expired.
CREATE TABLE enrollment_codes (
    id              TEXT    PRIMARY KEY CHECK (length(id) = 4),
    secret_salt     BLOB    NOT NULL CHECK (length(secret_salt) = 16),
    secret_hash     BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    comune          TEXT    NOT NULL CHECK (length(comune) = 11),
    location        TEXT    NOT NULL CHECK (length(location) BETWEEN 1 AND 200),
    kind            TEXT    NOT NULL CHECK (kind IN ('kiosk', 'counter')),
    created_by      TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    burnt_at        INTEGER,
    used_at         INTEGER,
    device_id       INTEGER REFERENCES devices (id)
) STRICT;

-- Published settings (channel_api::fleet::DeviceSettings) for a whole comune or one device.
-- Versions come from one counter, so a device's effective version (the highest of its comune's
-- and its own) only ever grows.
CREATE TABLE device_configs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    comune        TEXT    CHECK (comune IS NULL OR length(comune) = 11),
    device_id     INTEGER REFERENCES devices (id),
    version       INTEGER NOT NULL UNIQUE CHECK (version > 0),
    settings_json TEXT    NOT NULL,
    published_by  TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    CHECK ((comune IS NULL) <> (device_id IS NULL))
) STRICT;

CREATE UNIQUE INDEX device_configs_comune ON device_configs (comune) WHERE comune IS NOT NULL;
CREATE UNIQUE INDEX device_configs_device ON device_configs (device_id) WHERE device_id IS NOT NULL;

-- People using the fleet view and the admin API: a bearer token (`cu1.<id>.<hex>`, stored as
-- salted SHA-256 like device credentials), a role, and the comuni they serve.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'operator')),
    all_comuni  INTEGER NOT NULL CHECK (all_comuni IN (0, 1)),
    token_salt  BLOB    NOT NULL CHECK (length(token_salt) = 16),
    token_hash  BLOB    NOT NULL CHECK (length(token_hash) = 32),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

CREATE TABLE user_comuni (
    user_id INTEGER NOT NULL REFERENCES users (id),
    comune  TEXT    NOT NULL CHECK (length(comune) = 11),
    PRIMARY KEY (user_id, comune)
) STRICT;
