//! Survey settings per installation (`org_settings`) and their audit log
//! (`org_settings_audit`).
//!
//! One row per installation, created from the process's defaults (the `SURVEY_*` and
//! `SLACK_LEADERBOARD_CHANNEL` environment variables, handed in by the domain) the first time
//! the installation's settings are read; after that the row is what counts, and a later change
//! of the environment never rewrites it. A save is optimistic: it names the `version` it was
//! edited from, and is refused (`SaveOutcome::Stale`) when another save came first, so two
//! admins saving at once never lose an update silently. Each changed field is written to the
//! audit log in the save's own transaction; a save that changes nothing writes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgExecutor, PgPool};

/// A repository excluded from surveys: by id (a rename keeps it excluded), with the name it had
/// when chosen, for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedRepository {
    pub id: i64,
    pub name: String,
}

/// The settings as stored (plain values; the domain types them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRecord {
    pub survey_enabled: bool,
    pub work_start_minute: i32,
    pub work_end_minute: i32,
    /// Monday = 0.
    pub working_days: Vec<i16>,
    pub remind_after_secs: i64,
    pub ttl_secs: i64,
    pub excluded_repositories: Vec<ExcludedRepository>,
    pub excluded_labels: Vec<String>,
    pub bot_logins: Vec<String>,
    pub leaderboard_channel_id: Option<String>,
    pub leaderboard_channel_name: Option<String>,
    /// Monday = 0.
    pub leaderboard_day: i16,
}

/// Who changed the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The operator (password sign-in).
    Operator,
    /// An org admin, by GitHub login.
    Github(String),
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::Operator => "operator",
            Actor::Github(_) => "github",
        }
    }

    fn login(&self) -> Option<&str> {
        match self {
            Actor::Operator => None,
            Actor::Github(login) => Some(login),
        }
    }

    fn from_columns(kind: Option<&str>, login: Option<String>) -> Option<Self> {
        match (kind?, login) {
            ("github", Some(login)) => Some(Actor::Github(login)),
            _ => Some(Actor::Operator),
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Operator => f.write_str("operator"),
            Actor::Github(login) => f.write_str(login),
        }
    }
}

/// The stored row: the settings, their version and who saved them last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSettings {
    pub settings: SettingsRecord,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// `None` while the row still holds the defaults it was created with.
    pub updated_by: Option<Actor>,
}

#[derive(FromRow)]
struct Row {
    survey_enabled: bool,
    work_start_minute: i32,
    work_end_minute: i32,
    working_days: Vec<i16>,
    remind_after_secs: i64,
    ttl_secs: i64,
    excluded_repositories: Json<Vec<ExcludedRepository>>,
    excluded_labels: Vec<String>,
    bot_logins: Vec<String>,
    leaderboard_channel_id: Option<String>,
    leaderboard_channel_name: Option<String>,
    leaderboard_day: i16,
    version: i64,
    updated_at: DateTime<Utc>,
    updated_by_kind: Option<String>,
    updated_by_login: Option<String>,
}

impl From<Row> for StoredSettings {
    fn from(r: Row) -> Self {
        Self {
            settings: SettingsRecord {
                survey_enabled: r.survey_enabled,
                work_start_minute: r.work_start_minute,
                work_end_minute: r.work_end_minute,
                working_days: r.working_days,
                remind_after_secs: r.remind_after_secs,
                ttl_secs: r.ttl_secs,
                excluded_repositories: r.excluded_repositories.0,
                excluded_labels: r.excluded_labels,
                bot_logins: r.bot_logins,
                leaderboard_channel_id: r.leaderboard_channel_id,
                leaderboard_channel_name: r.leaderboard_channel_name,
                leaderboard_day: r.leaderboard_day,
            },
            version: r.version,
            updated_at: r.updated_at,
            updated_by: Actor::from_columns(r.updated_by_kind.as_deref(), r.updated_by_login),
        }
    }
}

const COLUMNS: &str = "survey_enabled, work_start_minute, work_end_minute, working_days, \
     remind_after_secs, ttl_secs, excluded_repositories, excluded_labels, bot_logins, \
     leaderboard_channel_id, leaderboard_channel_name, leaderboard_day, version, updated_at, \
     updated_by_kind, updated_by_login";

/// The settings of `installation`, if its row exists.
pub async fn get(
    db: impl PgExecutor<'_>,
    installation: i64,
) -> Result<Option<StoredSettings>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM org_settings WHERE installation_id = $1"
    ))
    .bind(installation)
    .fetch_optional(db)
    .await?;
    Ok(row.map(StoredSettings::from))
}

/// Creates `installation`'s row from `defaults` unless it exists (or the installation is not
/// known: then nothing is stored and the caller uses the defaults as they are). The
/// `excluded_repository_names` (`owner/repo`, lower case) become the installation's stored
/// repositories of those names; names it does not have are not carried over. Returns whether a
/// row was created.
pub async fn create_if_missing(
    db: impl PgExecutor<'_>,
    installation: i64,
    defaults: &SettingsRecord,
    excluded_repository_names: &[String],
) -> Result<bool, sqlx::Error> {
    let res = sqlx::query(
        r#"INSERT INTO org_settings (installation_id, survey_enabled, work_start_minute,
               work_end_minute, working_days, remind_after_secs, ttl_secs, excluded_repositories,
               excluded_labels, bot_logins, leaderboard_channel_id, leaderboard_channel_name,
               leaderboard_day)
           SELECT i.id, $2, $3, $4, $5, $6, $7,
                  COALESCE((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'name', r.full_name)
                                             ORDER BY lower(r.full_name), r.id)
                            FROM repositories r
                            WHERE r.installation_id = i.id AND lower(r.full_name) = ANY($8)),
                           '[]'::jsonb),
                  $9, $10, $11, $12, $13
           FROM installations i WHERE i.id = $1
           ON CONFLICT (installation_id) DO NOTHING"#,
    )
    .bind(installation)
    .bind(defaults.survey_enabled)
    .bind(defaults.work_start_minute)
    .bind(defaults.work_end_minute)
    .bind(&defaults.working_days)
    .bind(defaults.remind_after_secs)
    .bind(defaults.ttl_secs)
    .bind(excluded_repository_names)
    .bind(&defaults.excluded_labels)
    .bind(&defaults.bot_logins)
    .bind(&defaults.leaderboard_channel_id)
    .bind(&defaults.leaderboard_channel_name)
    .bind(defaults.leaderboard_day)
    .execute(db)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// One field a save changed, as the audit log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

/// How a save ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Stored under this new version, with one audit row per change.
    Saved { version: i64, changes: usize },
    /// Nothing differed: no write, no audit row, the version stays.
    Unchanged,
    /// Another save came first: the stored version is `current`, not the one edited from.
    Stale { current: i64 },
    /// The installation has no settings row.
    Missing,
}

/// Saves `new` over `installation`'s settings if they are still at `expected_version`: locks
/// the row, compares, lets `diff` name the changed fields, and writes the row and one audit row
/// per change in one transaction.
pub async fn save(
    pool: &PgPool,
    installation: i64,
    expected_version: i64,
    new: &SettingsRecord,
    actor: &Actor,
    diff: impl FnOnce(&SettingsRecord, &SettingsRecord) -> Vec<FieldChange>,
) -> Result<SaveOutcome, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM org_settings WHERE installation_id = $1 FOR UPDATE"
    ))
    .bind(installation)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = current.map(StoredSettings::from) else {
        return Ok(SaveOutcome::Missing);
    };
    if current.version != expected_version {
        return Ok(SaveOutcome::Stale {
            current: current.version,
        });
    }
    let changes = diff(&current.settings, new);
    if changes.is_empty() {
        return Ok(SaveOutcome::Unchanged);
    }
    let version: i64 = sqlx::query_scalar(
        r#"UPDATE org_settings SET survey_enabled = $2, work_start_minute = $3,
               work_end_minute = $4, working_days = $5, remind_after_secs = $6, ttl_secs = $7,
               excluded_repositories = $8, excluded_labels = $9, bot_logins = $10,
               leaderboard_channel_id = $11, leaderboard_channel_name = $12,
               leaderboard_day = $13, version = version + 1, updated_at = now(),
               updated_by_kind = $14, updated_by_login = $15
           WHERE installation_id = $1 RETURNING version"#,
    )
    .bind(installation)
    .bind(new.survey_enabled)
    .bind(new.work_start_minute)
    .bind(new.work_end_minute)
    .bind(&new.working_days)
    .bind(new.remind_after_secs)
    .bind(new.ttl_secs)
    .bind(Json(&new.excluded_repositories))
    .bind(&new.excluded_labels)
    .bind(&new.bot_logins)
    .bind(&new.leaderboard_channel_id)
    .bind(&new.leaderboard_channel_name)
    .bind(new.leaderboard_day)
    .bind(actor.kind())
    .bind(actor.login())
    .fetch_one(&mut *tx)
    .await?;
    for change in &changes {
        sqlx::query(
            r#"INSERT INTO org_settings_audit (installation_id, actor_kind, actor_login, field,
                   old_value, new_value)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(installation)
        .bind(actor.kind())
        .bind(actor.login())
        .bind(change.field)
        .bind(&change.old)
        .bind(&change.new)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(SaveOutcome::Saved {
        version,
        changes: changes.len(),
    })
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub actor: Actor,
    pub field: String,
    pub old_value: String,
    pub new_value: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct AuditRow {
    actor_kind: String,
    actor_login: Option<String>,
    field: String,
    old_value: String,
    new_value: String,
    changed_at: DateTime<Utc>,
}

/// `installation`'s audit log, newest first, at most `limit` rows.
pub async fn audit(
    db: impl PgExecutor<'_>,
    installation: i64,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        r#"SELECT actor_kind, actor_login, field, old_value, new_value, changed_at
           FROM org_settings_audit WHERE installation_id = $1
           ORDER BY changed_at DESC, id DESC LIMIT $2"#,
    )
    .bind(installation)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            actor: Actor::from_columns(Some(&r.actor_kind), r.actor_login)
                .unwrap_or(Actor::Operator),
            field: r.field,
            old_value: r.old_value,
            new_value: r.new_value,
            changed_at: r.changed_at,
        })
        .collect())
}
