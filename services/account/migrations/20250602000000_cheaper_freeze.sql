-- Freezing a large incident writes a million rows into incident_accounts and
-- updates as many accounts in one transaction; measured on 1M members (see
-- BENCHMARKS.md), these three cost more than the writes themselves.

-- The foreign key check ran once per inserted row (about 5 s per million).
-- incident_accounts is only written by the freeze, in the transaction that
-- records its incident, so the reference cannot dangle.
ALTER TABLE incident_accounts DROP CONSTRAINT incident_accounts_incident_id_fkey;

-- Only the erasure at deactivation looked rows up by account alone; it now
-- goes through the primary key per incident (incidents are few).
DROP INDEX incident_accounts_by_account;

-- Every password invalidation is a non-HOT update that also wrote this index
-- (about 3.5 s per million). The affected set of a large incident is a
-- sequential scan anyway, and a small one costs one scan of accounts.
DROP INDEX accounts_joined_at;
