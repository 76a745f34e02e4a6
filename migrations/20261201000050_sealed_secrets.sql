-- Secrets Mergecast stores itself (the GitHub App's credentials from the manifest flow, each
-- installation's Slack bot token), sealed with XChaCha20-Poly1305 under MERGECAST_ENCRYPTION_KEY
-- (src/config/seal.rs). Never a secret in clear: `sealed` is version ‖ key id ‖ nonce ‖
-- ciphertext ‖ tag, and `key_id` repeats the key id so rotation finds what is left to re-seal.
-- `installation_id` 0 is the app itself; rows of an installation go with its data on deletion.
CREATE TABLE sealed_secrets (
    installation_id BIGINT NOT NULL,
    name            TEXT NOT NULL,
    sealed          BYTEA NOT NULL,
    key_id          TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_id, name)
);
CREATE INDEX sealed_secrets_key ON sealed_secrets (key_id);
