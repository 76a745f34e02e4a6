-- "Don't ask me again" follows the person, not one org's member row: a person in two orgs, or an
-- outside collaborator with no member row at all, is not asked again anywhere. An org admin can
-- still re-enable their own org's member row from the admin page.
CREATE TABLE person_opt_outs (
    github_id       BIGINT PRIMARY KEY,
    opted_out_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- An org admin asking someone back (the admin page's opt-out toggle) wins, in that org only,
-- over an earlier "Don't ask me again".
ALTER TABLE members ADD COLUMN opted_in_by_admin_at TIMESTAMPTZ;
