-- The transactional outbox: a service writes the events it emits here, in the
-- same transaction as the change they announce; the relay publishes pending
-- rows to RabbitMQ with confirms and marks them published.
CREATE TABLE IF NOT EXISTS candor_outbox (
    id           bigserial   PRIMARY KEY,
    -- The AMQP message_id; consumers use it to recognise a redelivery.
    message_id   uuid        NOT NULL UNIQUE,
    routing_key  text        NOT NULL,
    -- Protobuf full name, sent as the AMQP `type` property.
    message_type text,
    content_type text        NOT NULL DEFAULT 'application/x-protobuf',
    payload      bytea       NOT NULL,
    -- W3C trace context (traceparent, tracestate) captured at enqueue time.
    headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    -- Failed publish attempts and the last reason, for operators.
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);

-- The relay reads pending rows in id order.
CREATE INDEX IF NOT EXISTS candor_outbox_pending
    ON candor_outbox (id) WHERE published_at IS NULL;

-- The relay deletes published rows past their retention.
CREATE INDEX IF NOT EXISTS candor_outbox_published_at
    ON candor_outbox (published_at) WHERE published_at IS NOT NULL;
