-- When a GitHub admin session last had its org memberships confirmed with GitHub. A session
-- whose check is older than twelve hours is re-checked (with the installation's token) before it
-- is used; NULL (operator and pending sessions, and GitHub sessions from before this column)
-- means never checked, so an old GitHub session is re-checked on its next request.
ALTER TABLE admin_sessions ADD COLUMN memberships_checked_at TIMESTAMPTZ;
