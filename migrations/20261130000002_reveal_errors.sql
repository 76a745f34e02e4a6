-- A reveal Slack refused for good (deactivated account, missing scope...): that participant is
-- passed over with the reason, and everyone else still gets theirs.
ALTER TABLE survey_participants ADD COLUMN reveal_error TEXT;
