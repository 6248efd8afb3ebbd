-- Why a job FAILED, as far as retrying it goes (RetryFailedNotices queues
-- again only 'retries_exhausted'):
--   retries_exhausted  transient failures (unreachable server, 4xx,
--                      timeouts) until SEND_MAX_ATTEMPTS
--   refused            a 5xx reply; the address is suppressed
--   unsendable         the email could not be built, or the client refused it
-- NULL unless the job is FAILED. Not indexed: the sender's updates stay HOT.
ALTER TABLE email_jobs ADD COLUMN failure_class text
    CHECK (failure_class IN ('retries_exhausted', 'refused', 'unsendable'));

-- Jobs that failed before the column existed, classified by the reason the
-- sender wrote: "gave up after N attempts: …" after retries, "permanent
-- error (5xx): …" from lettre for a refusal, anything else unsendable.
UPDATE email_jobs SET failure_class = CASE
        WHEN last_error LIKE 'gave up after %' THEN 'retries_exhausted'
        WHEN last_error LIKE 'permanent error%' THEN 'refused'
        ELSE 'unsendable'
    END
WHERE state = 'failed';
