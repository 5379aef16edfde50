-- mod_authn_apikey key store, SQLite 3.  Created by "htapikey init".
-- Times are Unix seconds (UTC); NULL means "none".  Only the SHA-256 (or
-- HMAC-SHA-256) digest of a key is stored, as 64 lower-case hex digits.
CREATE TABLE IF NOT EXISTS apikey (
    id          VARCHAR(64)   NOT NULL PRIMARY KEY,
    digest      CHAR(64)      NOT NULL UNIQUE,
    owner       VARCHAR(255)  NOT NULL,
    name        VARCHAR(255),
    scopes      VARCHAR(1024) NOT NULL DEFAULT '',
    status      VARCHAR(16)   NOT NULL DEFAULT 'active',
    created     BIGINT        NOT NULL,
    updated     BIGINT        NOT NULL,
    expires     BIGINT,
    not_before  BIGINT,
    -- Restrictions, comma-separated; NULL means none.
    allow_ip      VARCHAR(1024),
    allow_referer VARCHAR(1024),
    allow_method  VARCHAR(1024),
    -- Rotation: the key that replaces this one, and when this one stops.
    grace_until   BIGINT,
    replaced_by   VARCHAR(64),
    -- Limits: "20/s" and a burst, "100000/month"; NULL: the location's.
    rate          VARCHAR(32),
    burst         BIGINT,
    quota         VARCHAR(32),
    -- Bandwidth for mod_ratelimit: "512KiB/s"; NULL: none of the key's.
    bandwidth     VARCHAR(32),
    -- Application restrictions, comma-separated; NULL means none: Android
    -- "package[:sha1-cert]", iOS bundle ids, and the SHA-256 fingerprints
    -- of TLS client certificates (lower-case hex).
    allow_android VARCHAR(1024),
    allow_ios     VARCHAR(1024),
    allow_cert    VARCHAR(1024)
);
CREATE INDEX IF NOT EXISTS apikey_owner ON apikey (owner);
-- A change marker: htapikey bumps "version" with every change it makes.
CREATE TABLE IF NOT EXISTS apikey_meta (
    name        VARCHAR(64)   NOT NULL PRIMARY KEY,
    value       BIGINT        NOT NULL
);
INSERT OR IGNORE INTO apikey_meta (name, value) VALUES ('version', 0);
-- Cluster-wide quotas (AuthAPIKeyQuotaStore dbd): the units of a key's
-- quota that the servers of a fleet have claimed in a period, one row per
-- key and period.  period is the module's number for it (its kind and
-- index); expires is its end (Unix seconds), after which the row may go.
CREATE TABLE IF NOT EXISTS apikey_quota (
    key_id      VARCHAR(64)   NOT NULL,
    period      BIGINT        NOT NULL,
    claimed     BIGINT        NOT NULL DEFAULT 0,
    expires     BIGINT        NOT NULL,
    PRIMARY KEY (key_id, period)
);
-- Usage (AuthAPIKeyUsageSync): requests a key made per UTC day, admitted
-- and refused, and when it was last used, one row per key, day and node
-- (the server that counted them; see AuthAPIKeyUsageNode).  day is days
-- since 1970-01-01 UTC; last_used is Unix seconds.  A node only ever adds to
-- its own rows, so the nodes of a fleet never contend; readers sum over
-- nodes.
CREATE TABLE IF NOT EXISTS apikey_usage (
    key_id      VARCHAR(64)   NOT NULL,
    day         BIGINT        NOT NULL,
    node        VARCHAR(255)  NOT NULL,
    admitted    BIGINT        NOT NULL DEFAULT 0,
    refused     BIGINT        NOT NULL DEFAULT 0,
    last_used   BIGINT        NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day, node)
);
-- The audit trail: a row for every change htapikey makes (create, update,
-- rotate, revoke, disable, enable, delete, import), in the change's own
-- transaction.  fields names the columns set, comma-separated: never a key,
-- never a digest.
CREATE TABLE IF NOT EXISTS apikey_audit (
    id          INTEGER       PRIMARY KEY AUTOINCREMENT,
    time        BIGINT        NOT NULL,
    os_user     VARCHAR(255)  NOT NULL,
    host        VARCHAR(255)  NOT NULL,
    key_id      VARCHAR(64),
    action      VARCHAR(16)   NOT NULL,
    fields      VARCHAR(1024) NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS apikey_audit_key ON apikey_audit (key_id);
