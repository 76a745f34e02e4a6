-- When the member's public profile (name, public email) was last read. Members added by
-- webhooks (`organization`, `membership`) arrive without one; every sync reads the profiles of
-- a bounded number of members with no email that were never read or not for a week.
ALTER TABLE members ADD COLUMN email_checked_at TIMESTAMPTZ;
