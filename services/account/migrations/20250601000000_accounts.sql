-- Members, their credentials and sessions.
CREATE TABLE accounts (
    account_id          uuid        PRIMARY KEY,
    -- Normalized address (trimmed, domain lower-cased); NULL when the account
    -- has none (some imported members) or was deactivated (erased).
    email               text,
    -- NULL once deactivated (erased).
    display_name        text,
    -- Role numbers of candor.account.v1.Role, ascending, no duplicates.
    roles               smallint[]  NOT NULL DEFAULT '{}',
    joined_at           timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    deactivated_at      timestamptz,
    -- argon2id PHC string, or for an imported legacy hash not yet upgraded the
    -- hex HMAC-SHA-256 (LEGACY_HASH_KEY) of the legacy digest. NULL: none.
    password_hash       text,
    -- candor.account.v1.LegacyHashAlgorithm when password_hash is a wrapped
    -- legacy hash; NULL for argon2id.
    legacy_algorithm    smallint,
    -- The legacy salt (for bcrypt: "<cost>$<22-character salt>").
    legacy_salt         text,
    -- candor.account.v1.PasswordState.
    password_state      smallint    NOT NULL DEFAULT 1,
    -- When the member last set a password themselves (change or reset).
    password_changed_at timestamptz
);

-- Case-insensitive uniqueness; lookups use the same expression.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email)) WHERE email IS NOT NULL;
-- The affected-set selection scans by join date.
CREATE INDEX accounts_joined_at ON accounts (joined_at);

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash  bytea       PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (account_id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_live_by_account ON sessions (account_id) WHERE revoked_at IS NULL;

-- Single-use tokens: password change (after a forced change), password reset,
-- deactivation confirmation.
CREATE TABLE account_tokens (
    token_hash     bytea       PRIMARY KEY,
    account_id     uuid        NOT NULL REFERENCES accounts (account_id),
    -- 1 password change, 2 password reset, 3 deactivation.
    purpose        smallint    NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    -- Set when a later token of the same purpose replaced this one.
    superseded_at  timestamptz
);
CREATE INDEX account_tokens_open ON account_tokens (account_id, purpose)
    WHERE used_at IS NULL AND superseded_at IS NULL;

-- Throttling state shared by every replica: failed logins (growing delays)
-- and windowed request counters, keyed by e.g. "login-account:<email>".
CREATE TABLE throttles (
    key               text        PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    hits              integer     NOT NULL DEFAULT 0,
    blocked_until     timestamptz
);
