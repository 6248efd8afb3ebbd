-- Due jobs are found in a queue table of their own, so that nothing the
-- sender changes in `email_jobs` is indexed.
--
-- The due index used to live on `email_jobs` (`WHERE claimable`): claiming
-- a job (queued -> sending) changed what that index reads, so every claim
-- was a non-HOT update, writing a new entry into each of the table's other
-- indexes (primary key, (incident, account), account, listing). That index
-- churn, and the B-tree clean-up it set off, was most of PostgreSQL's work
-- per message. Now a claim deletes the job's queue row and updates the job
-- in place: neither `state`, `attempts`, `updated_at`, `next_attempt_at`
-- nor `sent_at` is indexed, so both the claim and SENT are HOT updates
-- whenever the page has room, which the lower fillfactor keeps.
--
-- A queue row is a hint, `email_jobs.state` the truth: a claim takes only
-- jobs still QUEUED, and drops the rows of jobs that are not (suppressed
-- after a deactivation), so nothing else has to delete them.
CREATE TABLE email_queue (
    job_id uuid NOT NULL,
    -- 0 = transactional (first), 1 = breach notice; as email_jobs.priority.
    priority smallint NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    incident_id text,
    -- A breach notice queued before its incident's forum thread link was
    -- known: released (due at once) when the link arrives.
    awaiting_thread boolean NOT NULL DEFAULT false
);
CREATE INDEX email_queue_due ON email_queue (priority, next_attempt_at);

INSERT INTO email_queue (job_id, priority, next_attempt_at, incident_id, awaiting_thread)
SELECT j.job_id, j.priority, j.next_attempt_at, j.incident_id,
       j.kind = 'breach_notice' AND j.attempts = 0
           AND NOT EXISTS (SELECT 1 FROM incident_threads t WHERE t.incident_id = j.incident_id)
FROM email_jobs j
WHERE j.state = 'queued';

DROP INDEX email_jobs_due;
ALTER TABLE email_jobs DROP COLUMN claimable;
-- Room on each page for the two new versions of its jobs (claim, SENT).
ALTER TABLE email_jobs SET (fillfactor = 45);
