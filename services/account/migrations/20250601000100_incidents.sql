-- Breach incidents and their frozen affected sets.
CREATE TABLE incidents (
    incident_id                    text        PRIMARY KEY,
    -- The BreachReported as first accepted (binary protobuf); a later event
    -- with the same id must encode identically.
    event                          bytea       NOT NULL,
    affected_joined_before         timestamptz NOT NULL,
    password_reset_scope           smallint    NOT NULL,
    recorded_at                    timestamptz NOT NULL DEFAULT now(),
    affected_accounts              bigint      NOT NULL,
    batch_count                    integer     NOT NULL,
    passwords_invalidated          bigint      NOT NULL,
    other_accounts_change_required bigint      NOT NULL,
    sessions_revoked               bigint      NOT NULL,
    -- Resume cursor: batches 1..=batches_enqueued are in the outbox.
    batches_enqueued               integer     NOT NULL DEFAULT 0,
    -- When EnumerationCompleted was enqueued (its completed_at).
    completed_at                   timestamptz,
    -- Outbox message id of EnumerationCompleted.
    completed_message_id           uuid
);

CREATE TABLE incident_accounts (
    incident_id    text        NOT NULL REFERENCES incidents (incident_id),
    account_id     uuid        NOT NULL,
    -- Copies as frozen at recording (erased if the member deactivates).
    email          text        NOT NULL,
    display_name   text        NOT NULL,
    joined_at      timestamptz NOT NULL,
    -- Assigned at freezing: 500 accounts per batch in account_id order.
    batch_sequence integer     NOT NULL,
    PRIMARY KEY (incident_id, account_id)
);
CREATE INDEX incident_accounts_by_batch
    ON incident_accounts (incident_id, batch_sequence, account_id);
CREATE INDEX incident_accounts_by_account ON incident_accounts (account_id);

-- The outbox message of each AccountsAffected batch, to report which batches
-- the broker confirmed.
CREATE TABLE incident_batches (
    incident_id    text    NOT NULL REFERENCES incidents (incident_id),
    batch_sequence integer NOT NULL,
    message_id     uuid    NOT NULL,
    PRIMARY KEY (incident_id, batch_sequence)
);
