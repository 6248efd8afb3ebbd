-- Incidents as reported (`breach.reported`): the notice facts, immutable.
CREATE TABLE incidents (
    incident_id text PRIMARY KEY,
    -- The BreachReported message, binary protobuf (deterministic encoding),
    -- compared byte for byte to detect a conflicting republish.
    report bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- `forum.incident_thread_opened`; may arrive before the incident.
CREATE TABLE incident_threads (
    incident_id text PRIMARY KEY,
    thread_id uuid NOT NULL,
    thread_url text NOT NULL,
    opened_at timestamptz NOT NULL
);

-- `breach.enumeration_completed`; may arrive before the incident.
CREATE TABLE incident_enumerations (
    incident_id text PRIMARY KEY,
    affected_accounts bigint NOT NULL,
    batch_count integer NOT NULL,
    completed_at timestamptz NOT NULL
);

-- `breach.accounts_affected` batches that arrived before `breach.reported`;
-- turned into jobs (and deleted) when the incident is recorded.
CREATE TABLE parked_batches (
    incident_id text NOT NULL,
    batch_sequence integer NOT NULL,
    batch bytea NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (incident_id, batch_sequence)
);

-- `account.deactivated`: later notices for these accounts are suppressed.
CREATE TABLE deactivated_accounts (
    account_id uuid PRIMARY KEY,
    deactivated_at timestamptz NOT NULL
);

-- Addresses that failed permanently (5xx); never mailed again.
CREATE TABLE suppressed_addresses (
    address text PRIMARY KEY,
    reason text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One email job: a breach notice or a transactional email.
CREATE TABLE email_jobs (
    job_id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('breach_notice', 'password_reset', 'deactivation_confirmation', 'password_changed')),
    -- 0 = transactional (first), 1 = breach notice.
    priority smallint NOT NULL,
    incident_id text REFERENCES incidents (incident_id),
    account_id uuid,
    to_address text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    -- SendEmail only: the caller's key and a digest of its request.
    idempotency_key text UNIQUE,
    request_digest bytea,
    -- SendEmail only: the content (may hold a secret link); erased when final.
    content jsonb,
    state text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'suppressed')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    suppression_reason smallint,
    message_id text NOT NULL,
    sent_without_thread_link boolean NOT NULL DEFAULT false,
    -- Set when the job was found SENDING after a stop: it may have gone out twice.
    possibly_resent boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (incident_id, account_id)
);

CREATE INDEX email_jobs_due ON email_jobs (priority, next_attempt_at) WHERE state = 'queued';
CREATE INDEX email_jobs_sending ON email_jobs (updated_at) WHERE state = 'sending';
CREATE INDEX email_jobs_account ON email_jobs (account_id);
CREATE INDEX email_jobs_listing ON email_jobs (created_at, job_id);
CREATE INDEX email_jobs_incident_state ON email_jobs (incident_id, state);
CREATE INDEX email_jobs_incident_sent ON email_jobs (incident_id, sent_at) WHERE state = 'sent';

-- The shared send-rate token bucket: every replica draws from this row, so
-- together they respect SEND_RATE_PER_SECOND.
CREATE TABLE send_rate_bucket (
    id smallint PRIMARY KEY CHECK (id = 1),
    tokens double precision NOT NULL,
    refilled_at timestamptz NOT NULL
);
INSERT INTO send_rate_bucket (id, tokens, refilled_at) VALUES (1, 0, now());
