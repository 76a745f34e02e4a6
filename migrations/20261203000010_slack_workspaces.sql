-- Slack per org: the workspace each installation added Mergecast to ("Add to Slack", OAuth v2),
-- and the single-use `state` of each pending "Add to Slack".
--
-- The bot token itself is not here: it is sealed in `sealed_secrets` (installation id,
-- 'slack_bot_token'). A workspace that uninstalled the app or revoked its token stays as a row
-- with status 'disconnected' and the reason, so the admin page can say why surveys wait; its
-- sealed token is deleted at once.
CREATE TABLE slack_workspaces (
    installation_id     BIGINT PRIMARY KEY REFERENCES installations (id) ON DELETE CASCADE,
    team_id             TEXT NOT NULL,
    team_name           TEXT NOT NULL,
    -- The bot user the token speaks as (`tokens_revoked` names it).
    bot_user_id         TEXT,
    scopes              TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('connected', 'disconnected')),
    disconnected_reason TEXT,
    -- 'operator' or the GitHub login of the org admin who added it.
    connected_by        TEXT NOT NULL,
    connected_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX slack_workspaces_team ON slack_workspaces (team_id);

-- Only a SHA-256 of the state is kept; it is bound to the admin session that asked for it and
-- expires after ten minutes.
CREATE TABLE slack_oauth_states (
    state_hash       TEXT PRIMARY KEY,
    installation_id  BIGINT NOT NULL REFERENCES installations (id) ON DELETE CASCADE,
    session_id_hash  TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX slack_oauth_states_installation ON slack_oauth_states (installation_id);
