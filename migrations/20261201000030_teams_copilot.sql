-- Who is on which team (with their role, and since/until when) and who holds a Copilot seat,
-- both converged by the catch-up sync.

-- A membership ends rather than disappears: `active = false` with `left_at`. `role` comes from
-- the sync (the `membership` webhook carries none); NULL until a sync has read it.
ALTER TABLE team_members
    ADD COLUMN role      TEXT CHECK (role IN ('member', 'maintainer')),
    ADD COLUMN joined_at TIMESTAMPTZ,
    ADD COLUMN left_at   TIMESTAMPTZ;
UPDATE team_members SET left_at = observed_at WHERE NOT active AND observed_at > '-infinity';
CREATE INDEX team_members_installation ON team_members (installation_id);

-- One row per seat holder; a seat no longer listed by GitHub keeps its row with `ended_at`.
CREATE TABLE copilot_seats (
    installation_id           BIGINT NOT NULL,
    github_id                 BIGINT NOT NULL,
    login                     TEXT NOT NULL,
    plan_type                 TEXT,
    -- GitHub's `created_at` / `updated_at` of the seat assignment.
    assigned_at               TIMESTAMPTZ,
    gh_updated_at             TIMESTAMPTZ,
    pending_cancellation_date DATE,
    last_activity_at          TIMESTAMPTZ,
    last_activity_editor      TEXT,
    assigning_team_id         BIGINT,
    assigning_team_slug       TEXT,
    observed_at               TIMESTAMPTZ NOT NULL,
    ended_at                  TIMESTAMPTZ,
    PRIMARY KEY (installation_id, github_id)
);

-- Whether the last sync could read the Copilot seats, and if not, why (no permission, no plan).
ALTER TABLE installations
    ADD COLUMN copilot_status TEXT
        CHECK (copilot_status IN ('available', 'no_permission', 'no_plan', 'unavailable')),
    ADD COLUMN copilot_reason TEXT,
    ADD COLUMN copilot_checked_at TIMESTAMPTZ;
