-- Survey settings per installation (the admin page's "Settings"), and who changed what, when.
--
-- A row is created from the process's environment (SURVEY_*, SLACK_LEADERBOARD_CHANNEL) the
-- first time an installation's settings are read; from then on the row is what counts, and a
-- later change of the environment does not rewrite it. `version` is the optimistic lock: a save
-- names the version it was edited from and is refused when another save came first.
CREATE TABLE org_settings (
    installation_id          BIGINT PRIMARY KEY REFERENCES installations (id) ON DELETE CASCADE,
    survey_enabled           BOOLEAN NOT NULL,
    -- Local working hours of recipients, minutes since midnight: [start, end).
    work_start_minute        INTEGER NOT NULL CHECK (work_start_minute BETWEEN 0 AND 1439),
    work_end_minute          INTEGER NOT NULL CHECK (work_end_minute BETWEEN 1 AND 1440),
    -- Monday = 0 ... Sunday = 6.
    working_days             SMALLINT[] NOT NULL,
    remind_after_secs        BIGINT NOT NULL CHECK (remind_after_secs > 0),
    ttl_secs                 BIGINT NOT NULL CHECK (ttl_secs > remind_after_secs),
    -- [{"id": repository id, "name": "owner/repo" as shown when chosen}]
    excluded_repositories    JSONB NOT NULL DEFAULT '[]'::jsonb,
    excluded_labels          TEXT[] NOT NULL DEFAULT '{}',
    bot_logins               TEXT[] NOT NULL DEFAULT '{}',
    leaderboard_channel_id   TEXT,
    leaderboard_channel_name TEXT,
    -- The board of last week is posted from this weekday (UTC) on, Monday = 0.
    leaderboard_day          SMALLINT NOT NULL CHECK (leaderboard_day BETWEEN 0 AND 6),
    version                  BIGINT NOT NULL DEFAULT 1,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who saved last: 'operator' or a GitHub login (NULL: still the defaults).
    updated_by_kind          TEXT CHECK (updated_by_kind IN ('operator', 'github')),
    updated_by_login         TEXT,
    CHECK (work_start_minute < work_end_minute)
);

-- One row per field a save changed, written in the save's own transaction.
CREATE TABLE org_settings_audit (
    id              BIGSERIAL PRIMARY KEY,
    installation_id BIGINT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    actor_kind      TEXT NOT NULL CHECK (actor_kind IN ('operator', 'github')),
    actor_login     TEXT,
    field           TEXT NOT NULL,
    old_value       TEXT NOT NULL,
    new_value       TEXT NOT NULL,
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX org_settings_audit_installation ON org_settings_audit (installation_id, changed_at DESC, id DESC);
