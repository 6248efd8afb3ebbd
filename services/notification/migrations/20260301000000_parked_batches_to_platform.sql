-- Batches that arrive before their incident are now parked by
-- candor-platform (`candor_parked_messages`, created by the platform's
-- migrations, which run first). Rows still parked by an older release move
-- there as the protobuf AccountsAffected they were stored as, so an upgrade
-- of a running deployment loses none of them. They are applied when their
-- incident is recorded, or dead-lettered after PARKED_MESSAGE_TTL_SECONDS.
INSERT INTO candor_parked_messages
    (incident_id, dedup_key, routing_key, content_type, message_type, headers, body, parked_at)
SELECT incident_id,
       batch_sequence::text,
       'breach.accounts_affected',
       'application/x-protobuf',
       'candor.events.v1.AccountsAffected',
       jsonb_build_object('x-candor-parked-from', 'notification.parked_batches'),
       batch,
       parked_at
FROM parked_batches
ON CONFLICT (incident_id, dedup_key) DO NOTHING;

DROP TABLE parked_batches;
