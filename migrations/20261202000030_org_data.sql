-- The org owns its data: an installation deleted on GitHub (or by its admin from the admin page)
-- stops all work at once, and after DELETION_GRACE_DAYS (at once when asked from the admin page)
-- every row of it is deleted in batches (`store::org_data`). The installation row stays as a
-- tombstone without personal data (id, status, dates) so that a late webhook or a catch-up can
-- never bring the org's data back.

-- When an admin asked for deletion now (no grace), when the purge started (from then on a
-- late delivery of this installation is not even logged), and when it finished.
ALTER TABLE installations
    ADD COLUMN purge_requested_at TIMESTAMPTZ,
    ADD COLUMN purge_started_at   TIMESTAMPTZ,
    ADD COLUMN purged_at          TIMESTAMPTZ;
CREATE INDEX installations_purge_due ON installations (deleted_at) WHERE status = 'deleted' AND purged_at IS NULL;

-- "Delete now" requests from the admin page: who asked (operator, or an org admin's numeric
-- GitHub user id: no login, name or email) and when. Kept after the purge as the record of the
-- request; it holds nothing of the org's own data.
CREATE TABLE installation_deletion_requests (
    id                      BIGSERIAL PRIMARY KEY,
    installation_id         BIGINT NOT NULL,
    requested_by_kind       TEXT NOT NULL CHECK (requested_by_kind IN ('operator', 'github')),
    requested_by_github_id  BIGINT,
    requested_at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    purged_at               TIMESTAMPTZ
);
CREATE INDEX installation_deletion_requests_installation ON installation_deletion_requests (installation_id);

-- The purge deletes per installation in batches of at most 1,000 rows: every table it deletes
-- from needs an index that finds an installation's rows without a scan.
CREATE INDEX IF NOT EXISTS reviews_installation ON reviews (installation_id);
CREATE INDEX IF NOT EXISTS merged_pull_requests_installation ON merged_pull_requests (installation_id);
CREATE INDEX IF NOT EXISTS repository_collaborators_installation ON repository_collaborators (installation_id);
CREATE INDEX IF NOT EXISTS sync_watermarks_installation ON sync_watermarks (installation_id);
CREATE INDEX IF NOT EXISTS team_repositories_installation ON team_repositories (installation_id);
CREATE INDEX IF NOT EXISTS slack_messages_survey ON slack_messages (survey_id);
CREATE INDEX IF NOT EXISTS slack_interactions_survey ON slack_interactions (survey_id);
