//! Secrets stored in Postgres, always sealed (`config::seal`): the only writer takes the clear
//! value and a keyring, so no code path can store a secret in clear, and without a key nothing is
//! stored at all ([`SecretError::NoKey`], whose message says which variable to set).
//!
//! Each value is sealed for its own row (`installation:<id>:<name>` or `app:<name>` as associated
//! data): a sealed value copied into another row does not open there.

use sqlx::{PgExecutor, PgPool, Row};

use crate::config::seal::{Keyring, SealError};
use crate::ids::InstallationId;

/// Whose secret it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretOwner {
    /// The GitHub App itself (its credentials from the manifest flow).
    App,
    Installation(InstallationId),
}

impl SecretOwner {
    fn column(self) -> i64 {
        match self {
            SecretOwner::App => 0,
            SecretOwner::Installation(id) => id.0,
        }
    }

    fn from_column(value: i64) -> Self {
        match value {
            0 => SecretOwner::App,
            id => SecretOwner::Installation(InstallationId(id)),
        }
    }
}

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretName {
    GithubPrivateKey,
    GithubWebhookSecret,
    GithubClientSecret,
    SlackBotToken,
    SlackSigningSecret,
    SlackClientSecret,
    /// The key signing admin session cookies and CSRF tokens, when `SESSION_SECRET` is unset.
    SessionSecret,
}

impl SecretName {
    pub const ALL: [SecretName; 7] = [
        SecretName::GithubPrivateKey,
        SecretName::GithubWebhookSecret,
        SecretName::GithubClientSecret,
        SecretName::SlackBotToken,
        SecretName::SlackSigningSecret,
        SecretName::SlackClientSecret,
        SecretName::SessionSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecretName::GithubPrivateKey => "github_private_key",
            SecretName::GithubWebhookSecret => "github_webhook_secret",
            SecretName::GithubClientSecret => "github_client_secret",
            SecretName::SlackBotToken => "slack_bot_token",
            SecretName::SlackSigningSecret => "slack_signing_secret",
            SecretName::SlackClientSecret => "slack_client_secret",
            SecretName::SessionSecret => "session_secret",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == text)
    }
}

/// The associated data a value is sealed with: the row it belongs to.
fn context(owner: SecretOwner, name: SecretName) -> String {
    match owner {
        SecretOwner::App => format!("app:{}", name.as_str()),
        SecretOwner::Installation(id) => format!("installation:{}:{}", id.0, name.as_str()),
    }
}

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "refusing to store a secret without an encryption key: set MERGECAST_ENCRYPTION_KEY \
         (mergecast secrets generate-key prints one)"
    )]
    NoKey,
    #[error("stored secret {name} of {owner:?} does not open: {source}")]
    Open {
        owner: SecretOwner,
        name: &'static str,
        source: SealError,
    },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Seals `plain` and stores it as `owner`'s `name`, replacing any earlier value.
pub async fn put(
    db: impl PgExecutor<'_>,
    keyring: Option<&Keyring>,
    owner: SecretOwner,
    name: SecretName,
    plain: &[u8],
) -> Result<(), SecretError> {
    let keyring = keyring.ok_or(SecretError::NoKey)?;
    let sealed = keyring.seal(&context(owner, name), plain);
    sqlx::query(
        r#"INSERT INTO sealed_secrets (installation_id, name, sealed, key_id)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (installation_id, name) DO UPDATE SET
               sealed = EXCLUDED.sealed, key_id = EXCLUDED.key_id, updated_at = now()"#,
    )
    .bind(owner.column())
    .bind(name.as_str())
    .bind(sealed)
    .bind(keyring.current_id())
    .execute(db)
    .await?;
    Ok(())
}

/// Opens `owner`'s `name`, if stored. A stored value with no key to open it is an error, never
/// "absent".
pub async fn get(
    db: impl PgExecutor<'_>,
    keyring: Option<&Keyring>,
    owner: SecretOwner,
    name: SecretName,
) -> Result<Option<Vec<u8>>, SecretError> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT sealed FROM sealed_secrets WHERE installation_id = $1 AND name = $2",
    )
    .bind(owner.column())
    .bind(name.as_str())
    .fetch_optional(db)
    .await?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let keyring = keyring.ok_or(SecretError::Open {
        owner,
        name: name.as_str(),
        source: SealError::NoKey,
    })?;
    keyring
        .open(&context(owner, name), &sealed)
        .map(Some)
        .map_err(|source| SecretError::Open {
            owner,
            name: name.as_str(),
            source,
        })
}

/// Deletes `owner`'s `name` (a Slack workspace disconnected, say); true if there was one.
pub async fn delete(
    db: impl PgExecutor<'_>,
    owner: SecretOwner,
    name: SecretName,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM sealed_secrets WHERE installation_id = $1 AND name = $2")
        .bind(owner.column())
        .bind(name.as_str())
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Rows re-sealed per transaction by [`rotate`].
const ROTATE_BATCH: i64 = 100;

/// Re-seals every value not sealed by the keyring's current key (`mergecast secrets rotate`), in
/// batches, each row locked while it is re-sealed so a concurrent `put` is never overwritten
/// with an older value. Returns how many rows were re-sealed. A value no configured key opens
/// stops the rotation with an error naming it (nothing is lost: it stays as it was). Names
/// this version does not know (written by a newer one) are left alone.
pub async fn rotate(pool: &PgPool, keyring: &Keyring) -> Result<u64, SecretError> {
    let current = keyring.current_id();
    let mut resealed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query(
            r#"SELECT installation_id, name, sealed FROM sealed_secrets
               WHERE key_id <> $1 AND name = ANY($3)
               ORDER BY installation_id, name
               LIMIT $2
               FOR UPDATE SKIP LOCKED"#,
        )
        .bind(&current)
        .bind(ROTATE_BATCH)
        .bind(SecretName::ALL.map(SecretName::as_str).to_vec())
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(resealed);
        }
        for row in rows {
            let owner = SecretOwner::from_column(row.get("installation_id"));
            let name_text: String = row.get("name");
            // The query selects known names only.
            let Some(name) = SecretName::parse(&name_text) else {
                continue;
            };
            let sealed: Vec<u8> = row.get("sealed");
            let ctx = context(owner, name);
            let plain = keyring
                .open(&ctx, &sealed)
                .map_err(|source| SecretError::Open {
                    owner,
                    name: name.as_str(),
                    source,
                })?;
            sqlx::query(
                r#"UPDATE sealed_secrets SET sealed = $1, key_id = $2, updated_at = now()
                   WHERE installation_id = $3 AND name = $4"#,
            )
            .bind(keyring.seal(&ctx, &plain))
            .bind(&current)
            .bind(owner.column())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
            resealed += 1;
        }
        tx.commit().await?;
    }
}
