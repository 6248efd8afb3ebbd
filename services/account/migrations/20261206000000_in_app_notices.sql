-- Every affected member reached (API 1.1.0): members without an email
-- address are affected too (frozen with email ''), and a member whose
-- emailed notice did not reach them is told in the product.

-- How many of the frozen affected set had no email address, counted at
-- freezing (the erasure at deactivation also empties `email` later).
ALTER TABLE incidents ADD COLUMN affected_without_email bigint NOT NULL DEFAULT 0;

-- The freeze raises the in-app notices of the members without an email
-- through this index instead of reading back the whole frozen set; only
-- those rows (and rows erased at deactivation) are in it, so the million
-- inserts of a large freeze pay one comparison each.
CREATE INDEX incident_accounts_without_email
    ON incident_accounts (incident_id) WHERE email = '';

-- A member's notice about an incident kept in the product: raised at the
-- freeze for a member without an email address, or by the first
-- `notification.notice_undelivered` for them; later reports update `reason`.
CREATE TABLE incident_notices (
    incident_id     text        NOT NULL,
    account_id      uuid        NOT NULL,
    -- candor.events.v1.UndeliveredReason of the latest report.
    reason          smallint    NOT NULL,
    raised_at       timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    PRIMARY KEY (incident_id, account_id)
);
-- ListNotices and Login's pending count read one member's notices.
CREATE INDEX incident_notices_by_account ON incident_notices (account_id, raised_at DESC);

-- Each incident's forum thread (`forum.incident_thread_opened`), which may
-- arrive before the incident is recorded here: no reference to incidents.
CREATE TABLE incident_threads (
    incident_id text        PRIMARY KEY,
    thread_id   uuid        NOT NULL,
    url         text        NOT NULL,
    opened_at   timestamptz NOT NULL
);
