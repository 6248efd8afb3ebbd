-- Whether each frozen affected member had a password (a hash, set or
-- imported) when the incident was recorded: their breach notice claims the
-- password hash was taken only then, and gives the password steps only
-- then (AffectedAccount.held_data_classes). NULL for members frozen before
-- this column existed: not known, so their notices claim every class, as
-- they did before.
ALTER TABLE incident_accounts ADD COLUMN had_password_hash boolean;
