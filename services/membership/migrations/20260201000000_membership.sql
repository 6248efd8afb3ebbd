-- candor-membership: tiers, the append-only credit ledger, and the state of
-- each incident's compensation.
--
-- Enumerations are stored as the protobuf enum numbers of
-- candor.membership.v1 (Tier, CreditKind) and candor.events.v1
-- (CompensationKind), so no mapping table can drift from the contract.

-- One row per incident this service has heard of, from `breach.reported`
-- (the compensation) and/or `breach.enumeration_completed` (the totals);
-- either may arrive first.
CREATE TABLE incidents (
    incident_id                 text PRIMARY KEY,
    -- SHA-256 of the BreachReported as first recorded: the same incident
    -- with other content is a conflict.
    reported_fingerprint        bytea,
    reported_at                 timestamptz,
    compensation_kind           smallint,
    compensation_value          bigint,
    compensation_currency       text,
    compensation_duration_days  integer,
    compensation_description    text,
    expected_total              bigint,
    batch_count                 integer,
    enumeration_completed_at    timestamptz,
    CHECK ((reported_at IS NULL) = (compensation_kind IS NULL)),
    CHECK ((reported_at IS NULL) = (reported_fingerprint IS NULL)),
    CHECK ((enumeration_completed_at IS NULL) = (expected_total IS NULL))
);

-- The current state derived from the ledger. An account without a row is
-- FREE and open.
CREATE TABLE memberships (
    account_id  uuid PRIMARY KEY,
    tier        smallint NOT NULL CHECK (tier IN (1, 2, 3)),
    tier_since  timestamptz,
    paid_until  timestamptz,
    closed_at   timestamptz,
    CHECK ((tier = 2) = (paid_until IS NOT NULL))
);

CREATE TABLE membership_balances (
    account_id  uuid NOT NULL,
    currency    text NOT NULL,
    balance     bigint NOT NULL,
    PRIMARY KEY (account_id, currency)
);

-- The append-only ledger: rows are inserted, never updated or deleted.
CREATE TABLE credits (
    credit_id          uuid PRIMARY KEY,
    account_id         uuid NOT NULL,
    kind               smallint NOT NULL CHECK (kind BETWEEN 1 AND 5),
    value_minor_units  bigint NOT NULL CHECK (value_minor_units >= 0),
    currency           text NOT NULL,
    duration_days      integer NOT NULL DEFAULT 0,
    reason             text NOT NULL,
    incident_id        text,
    -- True for breach compensation entries; their idempotency key is
    -- "incident:<incident_id>:<account_id>", derived rather than stored.
    compensation       boolean NOT NULL DEFAULT false,
    -- GrantCredit's key; NULL for compensation entries.
    idempotency_key    text,
    voids_credit_id    uuid REFERENCES credits (credit_id),
    tier_after         smallint NOT NULL CHECK (tier_after IN (1, 2, 3)),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (compensation = (idempotency_key IS NULL)),
    CHECK (NOT compensation OR incident_id IS NOT NULL),
    CHECK ((kind = 4) = (voids_credit_id IS NOT NULL))
);

-- Exactly once per (incident, account): the guarantee of breach compensation.
-- Led by the account, it also finds an account's compensation entries, so
-- the per-account listing index below covers only the other entries: one
-- index less to maintain per compensated account.
CREATE UNIQUE INDEX credits_compensation_once
    ON credits (account_id, incident_id) WHERE compensation;
CREATE INDEX credits_granted_by_account
    ON credits (account_id, created_at DESC, credit_id DESC) WHERE NOT compensation;
CREATE UNIQUE INDEX credits_idempotency_key
    ON credits (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- An entry is voided at most once.
CREATE UNIQUE INDEX credits_voided_once
    ON credits (voids_credit_id) WHERE voids_credit_id IS NOT NULL;
CREATE INDEX credits_by_incident
    ON credits (incident_id, created_at DESC, credit_id DESC) WHERE incident_id IS NOT NULL;

-- One row per AccountsAffected batch applied, with what it did; the
-- incident's progress is the sum of these (no hot counter row).
CREATE TABLE incident_batches (
    incident_id       text NOT NULL,
    batch_sequence    integer NOT NULL,
    accounts          integer NOT NULL,
    credited          integer NOT NULL,
    already_lifetime  integer NOT NULL,
    skipped           integer NOT NULL,
    processed_at      timestamptz NOT NULL,
    PRIMARY KEY (incident_id, batch_sequence)
);

-- Batches that arrived before their incident's `breach.reported`: kept here
-- (acked) and applied when the incident is recorded, instead of burning the
-- message's retries.
CREATE TABLE parked_batches (
    incident_id     text NOT NULL,
    batch_sequence  integer NOT NULL,
    account_ids     uuid[] NOT NULL,
    parked_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, batch_sequence)
);

-- GrantCredit idempotency (as Stripe does): the first request under a key
-- and the response it got.
CREATE TABLE grant_requests (
    idempotency_key  text PRIMARY KEY,
    fingerprint      bytea NOT NULL,
    response         bytea,
    created_at       timestamptz NOT NULL DEFAULT now()
);
