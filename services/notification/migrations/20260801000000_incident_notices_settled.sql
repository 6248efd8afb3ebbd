-- When every notice of the incident was first found in a final state with
-- the member list complete ("settled", as GetIncidentProgress says). Set by
-- the metrics scrape that first finds it so, cleared when notices are
-- queued again (RetryFailedNotices): a scrape then counts the notices of
-- only the incidents not settled, or settled within
-- METRICS_INCIDENT_LINGER_SECONDS, instead of every incident ever.
ALTER TABLE incidents ADD COLUMN notices_settled_at timestamptz;
