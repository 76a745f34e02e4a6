-- The admin page: server-side sessions (the cookie holds only a signed random id; we store its
-- SHA-256) and the indexes its lists need to stay fast with millions of deliveries.

CREATE TABLE admin_sessions (
    id_hash             TEXT PRIMARY KEY,
    -- 'pending' (before sign-in: holds the CSRF token and the OAuth state), 'operator', 'github'.
    kind                TEXT NOT NULL CHECK (kind IN ('pending', 'operator', 'github')),
    login               TEXT,
    github_user_id      BIGINT,
    -- Installations this session may see; NULL means all (operator only).
    installation_ids    BIGINT[],
    csrf_token          TEXT NOT NULL,
    oauth_state         TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);

-- Keyset pagination of the delivery log (received_at, id), unfiltered and per installation.
CREATE INDEX deliveries_received_id ON deliveries (received_at DESC, id DESC);
CREATE INDEX deliveries_action_received ON deliveries (action, received_at DESC);
-- Member lists: by installation then login (search falls back to a bounded scan per org).
CREATE INDEX members_unmapped ON members (installation_id, lower(login)) WHERE slack_user_id IS NULL;
CREATE INDEX sync_runs_started ON sync_runs (started_at DESC);

-- The deliveries page's event + action filter stays an index range scan even when it matches nothing.
CREATE INDEX IF NOT EXISTS deliveries_event_action_received ON deliveries (event, action, received_at DESC);
