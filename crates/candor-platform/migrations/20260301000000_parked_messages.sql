-- Incident parking: a message about an incident this service has not
-- recorded yet (a `breach.accounts_affected` batch that overtook its
-- `breach.reported`) is kept here, as it arrived, and handed to the
-- service's own handler once the incident is recorded. See
-- candor_platform::parking.
CREATE TABLE IF NOT EXISTS candor_parked_messages (
    id           bigserial   PRIMARY KEY,
    -- The incident the message waits for.
    incident_id  text        NOT NULL,
    -- What makes two deliveries the same message (the batch sequence of an
    -- AccountsAffected batch): a redelivery is parked once.
    dedup_key    text        NOT NULL,
    -- The message as it arrived.
    routing_key  text        NOT NULL,
    content_type text,
    message_type text,
    message_id   text,
    -- The publisher's broker user (checked by the consumer before parking).
    user_id      text,
    -- Text headers (trace context and the like), as a JSON object.
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    body         bytea       NOT NULL,
    -- Expiry counts from here (PARKED_MESSAGE_TTL_SECONDS).
    parked_at    timestamptz NOT NULL DEFAULT now(),
    -- A drain's lease: rows claimed by a drain still running are skipped by
    -- the others; a crashed drain's lease runs out.
    claim_token  uuid,
    claimed_until timestamptz,
    UNIQUE (incident_id, dedup_key)
);

-- The sweep looks for the oldest parked rows first.
CREATE INDEX IF NOT EXISTS candor_parked_messages_parked_at
    ON candor_parked_messages (parked_at);
