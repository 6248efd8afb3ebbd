-- Delivery reports (issue 18): what a mail provider says about an email
-- after its SMTP server accepted it. A hard bounce makes a SENT job
-- BOUNCED, a complaint COMPLAINED (both put the address on the suppression
-- list); a soft bounce queues it again up to SOFT_BOUNCE_MAX_RETRIES times,
-- then counts as a hard bounce. Applied in one place,
-- `store::reports::record_delivery_report`.

-- The two new final states. (Re-adding the CHECK validates it against every
-- row once; the old values all pass.)
ALTER TABLE email_jobs DROP CONSTRAINT email_jobs_state_check;
ALTER TABLE email_jobs ADD CONSTRAINT email_jobs_state_check
    CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'suppressed', 'bounced', 'complained'));

-- The last report applied to the job, for operators (Delivery.report_kind,
-- delivery_report, reported_at) and the soft bounces counted against
-- SOFT_BOUNCE_MAX_RETRIES. None is indexed: the sender's updates stay HOT.
-- `soft_bounces` with a constant default is added without a table rewrite.
ALTER TABLE email_jobs
    ADD COLUMN report_kind text CHECK (report_kind IN ('hard_bounce', 'soft_bounce', 'complaint')),
    ADD COLUMN delivery_report text CHECK (char_length(delivery_report) <= 1000),
    ADD COLUMN reported_at timestamptz,
    ADD COLUMN soft_bounces integer NOT NULL DEFAULT 0 CHECK (soft_bounces >= 0);

-- A report that names only the recipient applies to the most recent email
-- sent to that address. The address never changes once the job is created
-- (except when a deactivation erases it), so this index costs the sender
-- nothing (its updates stay HOT); it costs an entry per job created.
-- Lower-cased, as the suppression list compares addresses.
CREATE INDEX email_jobs_recipient ON email_jobs (lower(to_address)) WHERE to_address <> '';

-- Every report recorded, by its source's identifier: a report delivered
-- twice (a provider's webhook retried, a DSN read again) changes nothing
-- the second time. Reports that matched no job are not recorded (NOT_FOUND:
-- the sender may try again once the job exists).
CREATE TABLE delivery_reports (
    -- `dsn`, `arf`, `ses`, `sendgrid`, or a RecordDeliveryReport caller's
    -- own source name ([a-z0-9._-]{1,64}).
    source text NOT NULL,
    -- The report's identifier at its source, 1..=200 printable ASCII.
    report_id text NOT NULL,
    -- The job it matched. (No foreign key: jobs are never deleted, and the
    -- key's trigger would run on each of the sender's updates of the job.)
    job_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint')),
    -- Whether it changed the job (false: the job was not SENT, e.g. already
    -- BOUNCED, or not yet sent).
    applied boolean NOT NULL,
    -- The job's state after the report.
    resulting_state text NOT NULL,
    -- When the provider observed it (the time it was received when the
    -- report did not say).
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, report_id)
);
CREATE INDEX delivery_reports_job ON delivery_reports (job_id);

-- Why an address is suppressed: refused by the SMTP server (5xx, as before),
-- a hard bounce (or soft bounces past the limit) reported after acceptance,
-- or a complaint. `reason` keeps the text (the reply, or the report's detail).
ALTER TABLE suppressed_addresses
    ADD COLUMN cause text NOT NULL DEFAULT 'refused'
        CHECK (cause IN ('refused', 'bounced', 'complained'));

-- A breach notice's content (what was held about the member, never a
-- secret) is kept once SENT: a soft bounce may queue the notice again, and
-- it must be worded the same. A transactional email's content (it may hold
-- a secret link) is still erased once sent, so a soft bounce cannot queue
-- it again.
COMMENT ON COLUMN email_jobs.content IS
    'SendEmail: the email''s content (may hold a secret link), erased once the job is final or SENT. Breach notice: what was held about the member, {"held_data_classes": [...]}, erased once the job is final other than SENT.';

-- SUPPRESSION_REASON_NO_EMAIL_ADDRESS (3): breach notices of members without
-- an email address are created SUPPRESSED with `to_address` ''.
COMMENT ON COLUMN email_jobs.suppression_reason IS
    '1 = address suppressed, 2 = account deactivated, 3 = no email address (breach notices only).';
