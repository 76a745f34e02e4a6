-- Mergecast core schema: GitHub state mirrored per installation, and the delivery log.
-- Rows are never hard-deleted by event processing: removals set flags and timestamps.
-- `gh_updated_at` columns hold GitHub's own `updated_at`; an update carrying an older one is ignored.

CREATE TABLE installations (
    id                  BIGINT PRIMARY KEY,
    account_id          BIGINT,
    account_login       TEXT NOT NULL,
    account_type        TEXT,
    target_type         TEXT,
    repository_selection TEXT,
    permissions         JSONB NOT NULL DEFAULT '{}'::jsonb,
    events              JSONB NOT NULL DEFAULT '[]'::jsonb,
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deleted')),
    suspended_at        TIMESTAMPTZ,
    suspended_by        TEXT,
    deleted_at          TIMESTAMPTZ,
    gh_created_at       TIMESTAMPTZ,
    gh_updated_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX installations_account_login ON installations (lower(account_login));

CREATE TABLE repositories (
    id                  BIGINT PRIMARY KEY,
    installation_id     BIGINT NOT NULL REFERENCES installations (id),
    full_name           TEXT NOT NULL,
    name                TEXT NOT NULL,
    private             BOOLEAN NOT NULL DEFAULT false,
    default_branch      TEXT,
    active              BOOLEAN NOT NULL DEFAULT true,
    removed_at          TIMESTAMPTZ,
    gh_updated_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX repositories_installation ON repositories (installation_id);

CREATE TABLE members (
    installation_id     BIGINT NOT NULL REFERENCES installations (id),
    github_id           BIGINT NOT NULL,
    login               TEXT NOT NULL,
    name                TEXT,
    email               TEXT,
    user_type           TEXT,
    role                TEXT,
    state               TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'invited', 'inactive')),
    active              BOOLEAN NOT NULL DEFAULT true,
    inactive_since      TIMESTAMPTZ,
    slack_user_id       TEXT,
    opted_out           BOOLEAN NOT NULL DEFAULT false,
    -- When the membership fact we hold was observed (delivery receipt time or sync time); older facts lose.
    membership_observed_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, github_id)
);
CREATE INDEX members_login ON members (installation_id, lower(login));

CREATE TABLE teams (
    id                  BIGINT PRIMARY KEY,
    installation_id     BIGINT NOT NULL REFERENCES installations (id),
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    privacy             TEXT,
    permission          TEXT,
    parent_id           BIGINT,
    deleted_at          TIMESTAMPTZ,
    observed_at         TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX teams_installation ON teams (installation_id);

CREATE TABLE team_members (
    team_id             BIGINT NOT NULL REFERENCES teams (id),
    github_id           BIGINT NOT NULL,
    installation_id     BIGINT NOT NULL,
    login               TEXT NOT NULL,
    active              BOOLEAN NOT NULL DEFAULT true,
    observed_at         TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, github_id)
);

CREATE TABLE team_repositories (
    team_id             BIGINT NOT NULL REFERENCES teams (id),
    repository_id       BIGINT NOT NULL,
    installation_id     BIGINT NOT NULL,
    permission          TEXT,
    active              BOOLEAN NOT NULL DEFAULT true,
    observed_at         TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, repository_id)
);

CREATE TABLE pull_requests (
    id                  BIGINT PRIMARY KEY,
    installation_id     BIGINT NOT NULL,
    repository_id       BIGINT NOT NULL,
    repository_full_name TEXT NOT NULL,
    number              INTEGER NOT NULL,
    title               TEXT NOT NULL,
    state               TEXT NOT NULL,
    draft               BOOLEAN NOT NULL DEFAULT false,
    locked              BOOLEAN NOT NULL DEFAULT false,
    author_id           BIGINT,
    author_login        TEXT,
    author_type         TEXT,
    html_url            TEXT,
    head_ref            TEXT,
    head_sha            TEXT,
    base_ref            TEXT,
    merged              BOOLEAN NOT NULL DEFAULT false,
    merged_at           TIMESTAMPTZ,
    merged_by_login     TEXT,
    merge_commit_sha    TEXT,
    labels              JSONB NOT NULL DEFAULT '[]'::jsonb,
    assignees           JSONB NOT NULL DEFAULT '[]'::jsonb,
    requested_reviewers JSONB NOT NULL DEFAULT '[]'::jsonb,
    requested_teams     JSONB NOT NULL DEFAULT '[]'::jsonb,
    milestone           TEXT,
    auto_merge          BOOLEAN NOT NULL DEFAULT false,
    additions           INTEGER,
    deletions           INTEGER,
    changed_files       INTEGER,
    gh_created_at       TIMESTAMPTZ,
    gh_updated_at       TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (repository_id, number)
);
CREATE INDEX pull_requests_installation ON pull_requests (installation_id, gh_updated_at DESC);

CREATE TABLE reviews (
    id                  BIGINT PRIMARY KEY,
    pull_request_id     BIGINT NOT NULL,
    installation_id     BIGINT NOT NULL,
    reviewer_id         BIGINT,
    reviewer_login      TEXT,
    reviewer_type       TEXT,
    state               TEXT NOT NULL,
    body                TEXT,
    commit_id           TEXT,
    html_url            TEXT,
    submitted_at        TIMESTAMPTZ,
    dismissed_at        TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reviews_pull_request ON reviews (pull_request_id);

CREATE TABLE issues (
    id                  BIGINT PRIMARY KEY,
    installation_id     BIGINT NOT NULL,
    repository_id       BIGINT NOT NULL,
    repository_full_name TEXT NOT NULL,
    number              INTEGER NOT NULL,
    title               TEXT NOT NULL,
    state               TEXT NOT NULL,
    state_reason        TEXT,
    locked              BOOLEAN NOT NULL DEFAULT false,
    pinned              BOOLEAN NOT NULL DEFAULT false,
    author_id           BIGINT,
    author_login        TEXT,
    html_url            TEXT,
    labels              JSONB NOT NULL DEFAULT '[]'::jsonb,
    assignees           JSONB NOT NULL DEFAULT '[]'::jsonb,
    milestone           TEXT,
    issue_type          TEXT,
    deleted_at          TIMESTAMPTZ,
    transferred_to      TEXT,
    gh_created_at       TIMESTAMPTZ,
    gh_updated_at       TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX issues_installation ON issues (installation_id, gh_updated_at DESC);

-- Users who revoked their authorization of the app (github_app_authorization.revoked).
CREATE TABLE revoked_authorizations (
    github_user_id      BIGINT PRIMARY KEY,
    login               TEXT NOT NULL,
    revoked_at          TIMESTAMPTZ NOT NULL
);

-- One row per merged pull request: the guard that makes `PullRequestMerged` fire exactly once,
-- and an outbox (enqueued_at NULL until the job is durably in Redis).
CREATE TABLE merged_pull_requests (
    pull_request_id     BIGINT PRIMARY KEY,
    installation_id     BIGINT NOT NULL,
    repository_id       BIGINT NOT NULL,
    number              INTEGER NOT NULL,
    merged_at           TIMESTAMPTZ,
    source              TEXT NOT NULL,
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    enqueued_at         TIMESTAMPTZ
);
CREATE INDEX merged_pull_requests_pending ON merged_pull_requests (recorded_at) WHERE enqueued_at IS NULL;

CREATE TABLE deliveries (
    id                  TEXT PRIMARY KEY,
    event               TEXT NOT NULL,
    action              TEXT,
    installation_id     BIGINT,
    hook_id             BIGINT,
    status              TEXT NOT NULL CHECK (status IN ('queued', 'processed', 'ignored', 'failed', 'dead', 'rejected')),
    attempts            INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    received_at         TIMESTAMPTZ NOT NULL,
    processed_at        TIMESTAMPTZ,
    headers             JSONB NOT NULL DEFAULT '{}'::jsonb,
    body                TEXT,
    body_pruned_at      TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_received ON deliveries (received_at DESC);
CREATE INDEX deliveries_installation_received ON deliveries (installation_id, received_at DESC);
CREATE INDEX deliveries_status_received ON deliveries (status, received_at DESC);
CREATE INDEX deliveries_event_received ON deliveries (event, received_at DESC);

-- Outside collaborators and members added to a repository (`member` events).
CREATE TABLE repository_collaborators (
    repository_id       BIGINT NOT NULL,
    github_id           BIGINT NOT NULL,
    installation_id     BIGINT NOT NULL,
    login               TEXT NOT NULL,
    permission          TEXT,
    active              BOOLEAN NOT NULL DEFAULT true,
    observed_at         TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repository_id, github_id)
);
