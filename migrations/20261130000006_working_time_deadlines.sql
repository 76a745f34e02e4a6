-- When a participant's one reminder is due, counted in working time from their ask (their zone,
-- working days only, landing inside working hours). Surveys close after the same kind of
-- clock: `closes_at` grows to cover every participant's TTL from their own ask.
ALTER TABLE survey_participants ADD COLUMN remind_due_at TIMESTAMPTZ;
