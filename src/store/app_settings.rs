//! The deployment's own configuration as the first-run setup page stored it: plain values in
//! `app_settings`, secrets sealed in `sealed_secrets` (owner [`SecretOwner::App`]). Every change
//! bumps one version row in the same transaction, which each process polls to reload.
//!
//! Values are keyed by the environment variable they stand in for, so the configuration is read
//! the same way whichever source a value comes from (`config::layered`: the environment wins).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool, Postgres, Row, Transaction};

use super::secrets::{self, SecretError, SecretName, SecretOwner};
use crate::config::layered::{Env, Layered};
use crate::config::seal::Keyring;
use crate::config::{Config, ConfigError};

/// Why the configuration could not be put together.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The configuration this process runs with now: the environment over what the setup page
/// stored. With an encryption key and no `SESSION_SECRET` in the environment, a session key is
/// generated once and stored sealed, so admin sign-in and the setup page work from the first
/// start without one more variable.
pub async fn current_config(pool: &PgPool, env: &Env) -> Result<Config, LoadError> {
    let from_env = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
    let keyring = Keyring::from_lookup(&from_env)?;
    if let Some(keyring) = &keyring
        && from_env("SESSION_SECRET").is_none()
    {
        let mut bytes = [0u8; 32];
        chacha20poly1305::aead::rand_core::RngCore::fill_bytes(
            &mut chacha20poly1305::aead::OsRng,
            &mut bytes,
        );
        ensure_session_secret(pool, keyring, hex::encode(bytes).as_bytes()).await?;
    }
    let stored = load(pool, keyring.as_ref()).await?;
    Ok(Config::from_layered(&Layered::new(env.clone(), stored))?)
}

/// A plain (non-secret) value the setup page stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    PublicUrl,
    AdminPasswordHash,
    GithubAppId,
    GithubAppSlug,
    GithubClientId,
    SlackClientId,
}

impl Setting {
    pub const ALL: [Setting; 6] = [
        Setting::PublicUrl,
        Setting::AdminPasswordHash,
        Setting::GithubAppId,
        Setting::GithubAppSlug,
        Setting::GithubClientId,
        Setting::SlackClientId,
    ];

    /// The environment variable this value stands in for.
    pub fn variable(self) -> &'static str {
        match self {
            Setting::PublicUrl => "PUBLIC_URL",
            Setting::AdminPasswordHash => "ADMIN_PASSWORD_HASH",
            Setting::GithubAppId => "GITHUB_APP_ID",
            Setting::GithubAppSlug => "GITHUB_APP_SLUG",
            Setting::GithubClientId => "GITHUB_CLIENT_ID",
            Setting::SlackClientId => "SLACK_CLIENT_ID",
        }
    }
}

/// The environment variable an app-level secret stands in for (the Slack bot token is per
/// installation, never app-level).
pub fn secret_variable(name: SecretName) -> Option<&'static str> {
    Some(match name {
        SecretName::GithubPrivateKey => "GITHUB_PRIVATE_KEY",
        SecretName::GithubWebhookSecret => "GITHUB_WEBHOOK_SECRET",
        SecretName::GithubClientSecret => "GITHUB_CLIENT_SECRET",
        SecretName::SlackSigningSecret => "SLACK_SIGNING_SECRET",
        SecretName::SlackClientSecret => "SLACK_CLIENT_SECRET",
        SecretName::SessionSecret => "SESSION_SECRET",
        SecretName::SlackBotToken => return None,
    })
}

/// Everything stored, keyed by environment variable name, secrets opened.
pub async fn load(
    pool: &PgPool,
    keyring: Option<&Keyring>,
) -> Result<BTreeMap<&'static str, String>, SecretError> {
    let rows = sqlx::query("SELECT name, value FROM app_settings")
        .fetch_all(pool)
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let name: String = row.get("name");
        if let Some(setting) = Setting::ALL.into_iter().find(|s| s.variable() == name) {
            out.insert(setting.variable(), row.get("value"));
        }
    }
    for name in SecretName::ALL {
        let Some(variable) = secret_variable(name) else {
            continue;
        };
        if let Some(plain) = secrets::get(pool, keyring, SecretOwner::App, name).await? {
            out.insert(variable, String::from_utf8_lossy(&plain).into_owned());
        }
    }
    Ok(out)
}

/// The configuration version every process compares with the one it runs.
pub async fn version(db: impl PgExecutor<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT version FROM app_settings_version")
        .fetch_one(db)
        .await
}

/// Stores `values` and sealed `secrets` and bumps the version, all in one transaction: a
/// process reloading sees all of them or none.
pub async fn save(
    pool: &PgPool,
    keyring: Option<&Keyring>,
    values: &[(Setting, &str)],
    sealed: &[(SecretName, &[u8])],
) -> Result<(), SecretError> {
    if !sealed.is_empty() && keyring.is_none() {
        return Err(SecretError::NoKey);
    }
    let mut tx = pool.begin().await?;
    for (setting, value) in values {
        sqlx::query(
            r#"INSERT INTO app_settings (name, value) VALUES ($1, $2)
               ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"#,
        )
        .bind(setting.variable())
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    for (name, plain) in sealed {
        secrets::put(&mut *tx, keyring, SecretOwner::App, *name, plain).await?;
    }
    bump(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

async fn bump(tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE app_settings_version SET version = version + 1, updated_at = now()")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The stored session key, created from `candidate` when none is stored yet (several processes
/// starting at once agree on the first one written).
pub async fn ensure_session_secret(
    pool: &PgPool,
    keyring: &Keyring,
    candidate: &[u8],
) -> Result<Vec<u8>, SecretError> {
    let name = SecretName::SessionSecret;
    if let Some(existing) = secrets::get(pool, Some(keyring), SecretOwner::App, name).await? {
        return Ok(existing);
    }
    let mut tx = pool.begin().await?;
    // Serialise concurrent starters on the version row, then look again.
    sqlx::query("SELECT version FROM app_settings_version FOR UPDATE")
        .execute(&mut *tx)
        .await?;
    if let Some(existing) = secrets::get(&mut *tx, Some(keyring), SecretOwner::App, name).await? {
        tx.commit().await?;
        return Ok(existing);
    }
    secrets::put(&mut *tx, Some(keyring), SecretOwner::App, name, candidate).await?;
    tx.commit().await?;
    Ok(candidate.to_vec())
}

fn sha256(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// Records the one-time setup code (its hash only), replacing any earlier one.
pub async fn set_setup_code(db: impl PgExecutor<'_>, code: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO setup_codes (id, code_sha256) VALUES (true, $1)
           ON CONFLICT (id) DO UPDATE SET code_sha256 = EXCLUDED.code_sha256, created_at = now()"#,
    )
    .bind(sha256(code))
    .execute(db)
    .await?;
    Ok(())
}

/// The hash of the current setup code, if one is pending.
pub async fn setup_code_hash(db: impl PgExecutor<'_>) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar("SELECT code_sha256 FROM setup_codes")
        .fetch_optional(db)
        .await
}

/// The hash a submitted setup code is compared with (in constant time, by the caller).
pub fn setup_code_digest(code: &str) -> Vec<u8> {
    sha256(code.trim())
}

/// Sets the operator's password hash and ends the setup code, in one transaction: the code
/// works once.
pub async fn set_operator_password(
    pool: &PgPool,
    code_hash: &[u8],
    password_hash: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let used = sqlx::query("DELETE FROM setup_codes WHERE code_sha256 = $1")
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
    if used.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        r#"INSERT INTO app_settings (name, value) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"#,
    )
    .bind(Setting::AdminPasswordHash.variable())
    .bind(password_hash)
    .execute(&mut *tx)
    .await?;
    bump(&mut tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Remembers a manifest flow's `state` (its hash) for the session that started it.
pub async fn put_manifest_state(
    db: impl PgExecutor<'_>,
    state: &str,
    session_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO manifest_states (state_sha256, session_hash) VALUES ($1, $2)")
        .bind(sha256(state))
        .bind(session_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Uses up `state`: true when it was issued to `session_hash` within the last hour (GitHub's
/// manifest code lives one hour too). A state works once.
pub async fn take_manifest_state(
    db: impl PgExecutor<'_>,
    state: &str,
    session_hash: &str,
) -> Result<bool, sqlx::Error> {
    let taken: Option<String> = sqlx::query_scalar(
        r#"DELETE FROM manifest_states WHERE state_sha256 = $1
           RETURNING CASE WHEN created_at > now() - interval '1 hour' THEN session_hash END"#,
    )
    .bind(sha256(state))
    .fetch_optional(db)
    .await?
    .flatten();
    Ok(taken.as_deref() == Some(session_hash))
}
