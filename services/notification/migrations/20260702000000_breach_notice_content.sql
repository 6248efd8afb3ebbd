-- A breach notice's job has content too now: what the account service held
-- about the member (`{"held_data_classes": [1, 3]}`, candor.events.v1
-- DataClass numbers), which decides the data classes and the password steps
-- their notice gives. NULL for a notice whose batch did not say (every class
-- of the incident). Erased, as every content, once the job is final.
COMMENT ON COLUMN email_jobs.content IS
    'SendEmail: the email''s content (may hold a secret link). Breach notice: what was held about the member, {"held_data_classes": [...]}. Erased once the job is final.';
