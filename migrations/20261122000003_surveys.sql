-- The Slack survey flow: one survey per merged pull request, one participant row per person
-- asked (author or reviewer). Every Slack message is keyed by (survey, person, kind) so it is
-- sent at most once; answers are recorded once (the first click wins).

ALTER TABLE members
    ADD COLUMN slack_mapping_source TEXT CHECK (slack_mapping_source IN ('manual', 'email')),
    ADD COLUMN slack_unmapped_reason TEXT,
    ADD COLUMN slack_tz TEXT,
    ADD COLUMN slack_tz_offset INTEGER,
    ADD COLUMN opted_out_at TIMESTAMPTZ;

CREATE TABLE surveys (
    id                  BIGSERIAL PRIMARY KEY,
    installation_id     BIGINT NOT NULL,
    pull_request_id     BIGINT NOT NULL UNIQUE,
    repository_id       BIGINT NOT NULL,
    repository_full_name TEXT NOT NULL,
    number              INTEGER NOT NULL,
    title               TEXT NOT NULL,
    html_url            TEXT,
    author_github_id    BIGINT,
    author_login        TEXT,
    merged_at           TIMESTAMPTZ,
    status              TEXT NOT NULL CHECK (status IN ('waiting_for_slack', 'open', 'revealed', 'closed', 'skipped')),
    skip_reason         TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    remind_at           TIMESTAMPTZ NOT NULL,
    closes_at           TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ,
    last_error          TEXT
);
CREATE INDEX surveys_installation ON surveys (installation_id, created_at DESC);
CREATE INDEX surveys_open ON surveys (closes_at) WHERE status IN ('open', 'waiting_for_slack', 'revealed');

CREATE TABLE survey_participants (
    survey_id           BIGINT NOT NULL REFERENCES surveys (id),
    github_id           BIGINT NOT NULL,
    login               TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('author', 'reviewer')),
    slack_user_id       TEXT,
    -- Why this person is not asked (unmapped, opted out, inactive, ...); NULL when asked.
    skip_reason         TEXT,
    dm_channel          TEXT,
    message_ts          TEXT,
    -- When the DM may be sent (the recipient's working hours).
    send_after          TIMESTAMPTZ,
    asked_at            TIMESTAMPTZ,
    reminded_at         TIMESTAMPTZ,
    -- Author: none | a_little | a_lot. Reviewer: yes | no (guess of AI use).
    answer              TEXT,
    -- Reviewer's quality rating: 1..3.
    quality             SMALLINT,
    answered_at         TIMESTAMPTZ,
    revealed_at         TIMESTAMPTZ,
    last_error          TEXT,
    PRIMARY KEY (survey_id, github_id)
);
CREATE INDEX survey_participants_slack ON survey_participants (slack_user_id);

-- Every Slack message we send, keyed so it is sent once: 'ask', 'remind', 'reveal', 'closed',
-- 'confirm' (the chat.update after a click); per survey and person, or per week for the board.
CREATE TABLE slack_messages (
    key                 TEXT PRIMARY KEY,
    survey_id           BIGINT,
    github_id           BIGINT,
    kind                TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'failed')),
    channel             TEXT,
    ts                  TEXT,
    error               TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at             TIMESTAMPTZ
);

-- Interaction payloads received (Slack may retry): one row per action id, the first one wins.
CREATE TABLE slack_interactions (
    id                  TEXT PRIMARY KEY,
    survey_id           BIGINT,
    slack_user_id       TEXT,
    action              TEXT NOT NULL,
    value               TEXT,
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome             TEXT
);
