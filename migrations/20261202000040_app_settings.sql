-- What the first-run setup page stores (src/store/app_settings.rs): the operator's password hash,
-- the public URL, the GitHub App's id, slug and OAuth client id from the manifest flow, the Slack
-- app's client id. Secrets (private key, webhook secret, client secrets, Slack signing secret,
-- session key) are NOT here: they go sealed into sealed_secrets (installation_id 0).
-- Environment variables, where set, win over these (src/config/layered.rs).
CREATE TABLE app_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row: bumped in the same transaction as every change to app_settings or to the app's
-- sealed secrets, so every process notices a change (it polls this) and reloads its
-- configuration.
CREATE TABLE app_settings_version (
    id         BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO app_settings_version (id, version) VALUES (true, 0);

-- The one-time setup code (only its SHA-256; the code itself is printed in the log at start
-- while no operator password is configured) and the manifest flow's pending `state`s.
CREATE TABLE setup_codes (
    id          BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    code_sha256 BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE manifest_states (
    state_sha256 BYTEA PRIMARY KEY,
    session_hash TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
