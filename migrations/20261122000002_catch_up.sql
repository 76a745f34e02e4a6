-- Catch-up sync state: conditional-request cache, per-repository watermarks, run history,
-- and the once-only record of redelivery requests.

-- The last ETag per URL (per installation), and what that page held, so a 304 can stand in for it.
CREATE TABLE github_etags (
    installation_id     BIGINT NOT NULL,
    url                 TEXT NOT NULL,
    etag                TEXT NOT NULL,
    -- Ids the page listed (members, repositories), used when a 304 means "same as before".
    item_ids            BIGINT[] NOT NULL DEFAULT '{}',
    next_url            TEXT,
    fetched_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, url)
);

-- How far back pull requests and issues of a repository are known to be in sync.
CREATE TABLE sync_watermarks (
    repository_id       BIGINT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('pulls', 'issues', 'issues_since')),
    installation_id     BIGINT NOT NULL,
    watermark           TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (repository_id, kind)
);

CREATE TABLE sync_runs (
    id                  BIGSERIAL PRIMARY KEY,
    installation_id     BIGINT NOT NULL,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    status              TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'paused')),
    error               TEXT,
    created             INTEGER NOT NULL DEFAULT 0,
    updated             INTEGER NOT NULL DEFAULT 0,
    deactivated         INTEGER NOT NULL DEFAULT 0,
    api_calls           INTEGER NOT NULL DEFAULT 0,
    not_modified        INTEGER NOT NULL DEFAULT 0,
    paused_until        TIMESTAMPTZ
);
CREATE INDEX sync_runs_installation ON sync_runs (installation_id, started_at DESC);

-- Failed deliveries we asked GitHub to redeliver: at most once per delivery guid.
CREATE TABLE redelivery_requests (
    guid                TEXT PRIMARY KEY,
    hook_delivery_id    BIGINT NOT NULL,
    event               TEXT,
    requested_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- App-wide checkpoints (e.g. how far back hook deliveries were checked).
CREATE TABLE app_checkpoints (
    name                TEXT PRIMARY KEY,
    value               TEXT NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
