-- Login attempts are reserved before the password is verified (one
-- statement increments the counter and says whether the attempt may go on),
-- so concurrent guesses cannot all be evaluated. `refused` records whether
-- the last reservation found the key blocked: the upsert's RETURNING sees
-- only the new row, and PostgreSQL before 18 has no RETURNING OLD.
ALTER TABLE throttles ADD COLUMN refused boolean NOT NULL DEFAULT false;
