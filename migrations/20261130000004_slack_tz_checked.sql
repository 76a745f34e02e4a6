-- When the member's Slack time zone was last read: it is read again after a week, so someone
-- mapped while travelling does not keep that zone forever.
ALTER TABLE members ADD COLUMN slack_tz_checked_at TIMESTAMPTZ;
