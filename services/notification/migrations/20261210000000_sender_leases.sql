-- Sender leases: each running sender holds a lease it renews every third of
-- SENDER_LEASE_SECONDS; the jobs it claims record the lease
-- (`email_jobs.claimed_by`). When a lease lapses (its replica died or lost
-- the database), any replica's reaper deletes it and queues its SENDING
-- jobs again, counted as possibly re-sent: seconds after a crash instead of
-- SENDING_STALE_SECONDS.
CREATE TABLE sender_leases (
    lease_id uuid PRIMARY KEY,
    -- Who holds it, for operators: `hostname/pid`.
    holder text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    renewed_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Which jobs a lease claimed, one row per claim (up to a few hundred job
-- ids), so the reaper finds a dead lease's jobs by primary key. An index on
-- `email_jobs` (claimed_by) WHERE state = 'sending' would find them too, but
-- an index whose predicate reads `state` makes every claim and every SENT a
-- non-HOT update (a new entry in each of the table's indexes), which
-- 20251201000000_email_queue.sql removed. A claim inserts one row here; its
-- replica deletes the row once every job of it has an outcome.
CREATE TABLE sender_claims (
    lease_id uuid NOT NULL,
    -- Counts the lease's claims, from 1.
    claim_number bigint NOT NULL,
    job_ids uuid[] NOT NULL,
    PRIMARY KEY (lease_id, claim_number)
);
-- A claim's ids (16 bytes each, up to 256: 4 KiB) stay in the row rather
-- than in TOAST chunks; random ids do not compress.
ALTER TABLE sender_claims ALTER COLUMN job_ids SET STORAGE MAIN;

-- The lease a job was last claimed under; outcomes are written only while
-- the job is still SENDING under the lease it was claimed under. Not
-- indexed (see above), so claiming and recording stay HOT updates. NULL for
-- jobs claimed before this migration, which keep the SENDING_STALE_SECONDS
-- rule.
ALTER TABLE email_jobs ADD COLUMN claimed_by uuid;
