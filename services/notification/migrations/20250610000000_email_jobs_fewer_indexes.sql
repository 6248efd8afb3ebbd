-- The sender changes every job twice (claimed: SENDING; then SENT). An
-- update that changes an indexed value (including one an index predicate
-- reads) adds an entry to every index of the table, and at 100,000 jobs
-- that index churn was most of PostgreSQL's work. So:

-- Two indexes no query needs (incident filters use the
-- (incident_id, account_id) unique index).
DROP INDEX IF EXISTS email_jobs_incident_state;
DROP INDEX IF EXISTS email_jobs_incident_sent;

-- Only SendEmail jobs carry an idempotency key; a partial index keeps the
-- breach notices (all NULL) out of it.
CREATE UNIQUE INDEX email_jobs_idempotency ON email_jobs (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE email_jobs DROP CONSTRAINT email_jobs_idempotency_key_key;

-- The due index reads `claimable` rather than `state`, and no index reads
-- `state`, `updated_at` or `sent_at`: SENDING -> SENT then changes no
-- indexed value and can be a HOT update (no index entries), given room on
-- the page, which the lower fillfactor keeps. Finding jobs abandoned while
-- SENDING (every 30 s at most) scans the table instead of an index.
ALTER TABLE email_jobs ADD COLUMN claimable boolean GENERATED ALWAYS AS (state = 'queued') STORED;
DROP INDEX email_jobs_due;
CREATE INDEX email_jobs_due ON email_jobs (priority, next_attempt_at) WHERE claimable;
DROP INDEX email_jobs_sending;
ALTER TABLE email_jobs SET (fillfactor = 70);
