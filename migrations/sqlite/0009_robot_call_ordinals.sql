-- The robot rate limit looks up one earlier call instead of counting a
-- minute of calls (a count grew with the limit: at a raised limit of
-- thousands a minute, every call scanned thousands of rows). Accepted calls
-- are numbered per robot; a call is over the limit when the accepted call
-- `limit` numbers back is less than a minute old. Calls logged before this
-- migration have no number and do not count.
ALTER TABLE robots ADD COLUMN accepted_calls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE robot_calls ADD COLUMN ordinal BIGINT;
CREATE INDEX robot_calls_ordinal ON robot_calls (robot_id, ordinal);
