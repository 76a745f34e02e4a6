-- People surveyed in an org without being its members (outside collaborators): they have no
-- `members` row, so admins map them to Slack and opt them out or back in here.
CREATE TABLE outside_people (
    installation_id         BIGINT NOT NULL,
    github_id               BIGINT NOT NULL,
    login                   TEXT NOT NULL,
    slack_user_id           TEXT,
    opted_out               BOOLEAN NOT NULL DEFAULT false,
    opted_in_by_admin_at    TIMESTAMPTZ,
    first_seen_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, github_id)
);
