-- Batches that arrive before their incident are now parked by
-- candor-platform (`candor_parked_messages`, created by the platform's
-- migrations, which run first). Rows still parked by an older release move
-- there, so an upgrade of a running deployment loses none of them.
--
-- The old table kept only the account ids, so each row becomes an
-- AccountsAffected in the proto3 JSON mapping (`application/json`, which
-- every consumer accepts). The contract requires an email per account and
-- this service never reads it: the moved batches carry a placeholder under
-- the reserved `.invalid` domain (RFC 2606), and the header
-- `x-candor-parked-from` says where they came from. They are applied when
-- their incident is recorded, or dead-lettered after
-- PARKED_MESSAGE_TTL_SECONDS like any parked message.
INSERT INTO candor_parked_messages
    (incident_id, dedup_key, routing_key, content_type, message_type, headers, body, parked_at)
SELECT p.incident_id,
       p.batch_sequence::text,
       'breach.accounts_affected',
       'application/json',
       'candor.events.v1.AccountsAffected',
       jsonb_build_object('x-candor-parked-from', 'membership.parked_batches'),
       convert_to(json_build_object(
           'incidentId', p.incident_id,
           'batchSequence', p.batch_sequence,
           'accounts', (
               SELECT json_agg(json_build_object(
                          'accountId', a.account_id,
                          'email', 'parked-before-upgrade@membership.invalid')
                      ORDER BY a.account_id)
               FROM unnest(p.account_ids) AS a(account_id))
       )::text, 'UTF8'),
       p.parked_at
FROM parked_batches p
ON CONFLICT (incident_id, dedup_key) DO NOTHING;

DROP TABLE parked_batches;
