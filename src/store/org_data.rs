//! The org owns its data: which tables hold an installation's rows, and the SQL that exports
//! them and deletes them.
//!
//! [`ORG_TABLES`] is the one list of every table with rows of an installation, in the order
//! the purge deletes them (children before the rows they reference). A test
//! (`tests/org_data.rs`) reads `information_schema` and fails when a table of the schema is in
//! none of [`ORG_TABLES`], [`KEPT_TABLES`] and [`GLOBAL_TABLES`], or when a table with an
//! installation column (or a link to an org table) is called global: a new table must be added
//! here before it can ship. To add one, append an [`OrgTable`] before the tables its rows
//! reference.
//!
//! The purge deletes at most `batch` rows per statement, each statement its own short
//! transaction, so a 10,000-member org never holds long locks; it starts again from the first
//! table after a crash (tables already emptied cost one indexed query each). Last, the
//! installation row becomes a tombstone: id, status `deleted` and dates, nothing else, so a late
//! webhook or a catch-up cannot bring the org back (see `queue::org_data`).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::{PgExecutor, PgPool};

use crate::ids::InstallationId;

/// What the purge does with a table's rows of the installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Deleted in batches.
    Delete,
    /// The installation row itself: emptied to a tombstone (id, status, dates), never deleted.
    Tombstone,
}

/// What the org's data download holds of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Every column.
    All,
    /// Every column but these.
    Without(&'static [&'static str]),
    /// Nothing, for this reason.
    No(&'static str),
}

/// A table with rows of an installation.
#[derive(Debug, Clone, Copy)]
pub struct OrgTable {
    pub name: &'static str,
    /// The SQL condition that finds installation `$1`'s rows, on alias `t`.
    pub scope: &'static str,
    /// The columns the export orders by (the primary key).
    pub key: &'static str,
    pub purge: Purge,
    pub export: Export,
}

const fn table(name: &'static str, key: &'static str, export: Export) -> OrgTable {
    OrgTable {
        name,
        scope: "t.installation_id = $1",
        key,
        purge: Purge::Delete,
        export,
    }
}

const SURVEY_ROWS: &str =
    "t.survey_id IN (SELECT s.id FROM surveys s WHERE s.installation_id = $1)";

/// Every table with rows of an installation, in purge order (a table before the tables its
/// rows reference). The export writes them in this order too.
pub const ORG_TABLES: &[OrgTable] = &[
    OrgTable {
        name: "slack_interactions",
        scope: SURVEY_ROWS,
        key: "id",
        purge: Purge::Delete,
        export: Export::All,
    },
    // Survey messages, and the weekly board's (keyed `leaderboard:<installation>:<week>`).
    OrgTable {
        name: "slack_messages",
        scope: "t.survey_id IN (SELECT s.id FROM surveys s WHERE s.installation_id = $1) \
                OR (t.survey_id IS NULL AND t.key LIKE 'leaderboard:' || $1::text || ':%')",
        key: "key",
        purge: Purge::Delete,
        export: Export::All,
    },
    OrgTable {
        name: "survey_participants",
        scope: SURVEY_ROWS,
        key: "survey_id, github_id",
        purge: Purge::Delete,
        export: Export::All,
    },
    table("surveys", "id", Export::All),
    table("merged_pull_requests", "pull_request_id", Export::All),
    table("reviews", "id", Export::All),
    table("pull_requests", "id", Export::All),
    table("issues", "id", Export::All),
    table("team_members", "team_id, github_id", Export::All),
    table("team_repositories", "team_id, repository_id", Export::All),
    table("copilot_seats", "github_id", Export::All),
    table("teams", "id", Export::All),
    table(
        "repository_collaborators",
        "repository_id, github_id",
        Export::All,
    ),
    table("outside_people", "github_id", Export::All),
    table("members", "github_id", Export::All),
    table("sync_watermarks", "repository_id, kind", Export::All),
    table("sync_runs", "id", Export::All),
    table(
        "github_etags",
        "url",
        Export::No("a cache of GitHub's pages (what they held is in the other tables)"),
    ),
    OrgTable {
        name: "redelivery_requests",
        scope: "t.guid IN (SELECT d.id FROM deliveries d WHERE d.installation_id = $1)",
        key: "guid",
        purge: Purge::Delete,
        export: Export::All,
    },
    // Raw bodies are GitHub's copies of what the other tables hold (and pruned after
    // DELIVERY_RETENTION_DAYS); the log rows are exported without them.
    table("deliveries", "received_at, id", Export::Without(&["body"])),
    // A session that may see this installation (an org admin's sign-in) ends with it.
    OrgTable {
        name: "admin_sessions",
        scope: "$1 = ANY(t.installation_ids)",
        key: "id_hash",
        purge: Purge::Delete,
        export: Export::No("sign-in sessions (credentials)"),
    },
    table(
        "sealed_secrets",
        "name",
        Export::No("secrets (sealed tokens are never shown)"),
    ),
    table(
        "slack_oauth_states",
        "state_hash",
        Export::No("pending \"Add to Slack\" sign-ins (single-use credentials)"),
    ),
    table("slack_workspaces", "installation_id", Export::All),
    table("org_settings_audit", "id", Export::All),
    table("org_settings", "installation_id", Export::All),
    table("repositories", "id", Export::All),
    OrgTable {
        name: "installations",
        scope: "t.id = $1",
        key: "id",
        purge: Purge::Tombstone,
        export: Export::All,
    },
];

/// Tables that name an installation but are kept after the purge, and why.
pub const KEPT_TABLES: &[(&str, &str)] = &[(
    "installation_deletion_requests",
    "the record of who asked for deletion and when: installation id, `operator` or a numeric \
     GitHub user id, times; nothing of the org's own data",
)];

/// Tables that hold no installation's rows, and why.
pub const GLOBAL_TABLES: &[(&str, &str)] = &[
    ("_sqlx_migrations", "the schema's version"),
    ("app_checkpoints", "app-wide progress markers"),
    (
        "app_settings",
        "the deployment's own configuration from the setup page",
    ),
    (
        "app_settings_version",
        "the configuration version processes poll",
    ),
    ("setup_codes", "the one-time setup code's hash"),
    ("manifest_states", "pending GitHub App registrations"),
    (
        "person_opt_outs",
        "a person's own \"Don't ask me again\", honoured in every org they are in",
    ),
    (
        "revoked_authorizations",
        "people who revoked the app's authorization (app-wide)",
    ),
];

/// The org table named `name`.
pub fn org_table(name: &str) -> Option<&'static OrgTable> {
    ORG_TABLES.iter().find(|t| t.name == name)
}

/// A table of the schema as the coverage check sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SchemaTable {
    pub name: String,
    pub columns: Vec<String>,
    /// Tables its foreign keys reference.
    pub references: Vec<String>,
}

/// Every base table of the `public` schema with its columns and the tables it references.
pub async fn schema_tables(db: impl PgExecutor<'_>) -> Result<Vec<SchemaTable>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT t.table_name::text AS name,
                  ARRAY(SELECT c.column_name::text FROM information_schema.columns c
                        WHERE c.table_schema = 'public' AND c.table_name = t.table_name
                        ORDER BY c.ordinal_position) AS columns,
                  ARRAY(SELECT DISTINCT ccu.table_name::text
                        FROM information_schema.table_constraints tc
                        JOIN information_schema.constraint_column_usage ccu
                          ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
                        WHERE tc.table_schema = 'public' AND tc.table_name = t.table_name
                          AND tc.constraint_type = 'FOREIGN KEY') AS "references"
           FROM information_schema.tables t
           WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           ORDER BY t.table_name"#,
    )
    .fetch_all(db)
    .await
}

/// Column names that tie a row to an installation, directly or through an org table's row.
const LINK_COLUMNS: &[&str] = &[
    "installation_id",
    "installation_ids",
    "survey_id",
    "team_id",
    "pull_request_id",
];

/// What is wrong with the table lists against `schema`: tables in no list, tables in two,
/// listed tables that do not exist, and tables called global that name an installation or
/// reference an org table. Empty when the lists cover the schema.
pub fn coverage_problems(schema: &[SchemaTable]) -> Vec<String> {
    let mut problems = Vec::new();
    let org = |n: &str| ORG_TABLES.iter().any(|t| t.name == n);
    let kept = |n: &str| KEPT_TABLES.iter().any(|(t, _)| *t == n);
    let global = |n: &str| GLOBAL_TABLES.iter().any(|(t, _)| *t == n);
    for t in schema {
        let n = t.name.as_str();
        match (org(n), kept(n), global(n)) {
            (false, false, false) => problems.push(format!(
                "table {n} is in none of store::org_data's ORG_TABLES, KEPT_TABLES, GLOBAL_TABLES"
            )),
            (true, false, false) | (false, true, false) | (false, false, true) => {}
            _ => problems.push(format!("table {n} is in more than one list")),
        }
        if global(n) {
            if let Some(c) = t
                .columns
                .iter()
                .find(|c| LINK_COLUMNS.contains(&c.as_str()))
            {
                problems.push(format!(
                    "table {n} is listed as global but has column {c}: its rows belong to an installation"
                ));
            }
            if let Some(r) = t.references.iter().find(|r| org(r)) {
                problems.push(format!(
                    "table {n} is listed as global but references org table {r}"
                ));
            }
        }
    }
    let names: Vec<&str> = ORG_TABLES
        .iter()
        .map(|t| t.name)
        .chain(KEPT_TABLES.iter().map(|(t, _)| *t))
        .chain(GLOBAL_TABLES.iter().map(|(t, _)| *t))
        .collect();
    for n in names {
        if !schema.iter().any(|t| t.name == n) {
            problems.push(format!("listed table {n} does not exist"));
        }
    }
    // A table must come before every org table it references (FK-safe delete order).
    for (i, t) in ORG_TABLES.iter().enumerate() {
        let Some(s) = schema.iter().find(|s| s.name == t.name) else {
            continue;
        };
        for r in &s.references {
            if let Some(j) = ORG_TABLES.iter().position(|o| o.name == r.as_str())
                && j < i
                && r != t.name
            {
                problems.push(format!(
                    "{} references {r} but is deleted after it: move it up in ORG_TABLES",
                    t.name
                ));
            }
        }
    }
    problems
}

// Lifecycle

/// Whether work may be done for an installation, as the delivery worker and the survey flow
/// ask it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Not known yet (an event may create it).
    Unknown,
    Active,
    /// Paused until `unsuspend`.
    Suspended,
    /// Nothing is done any more; `purging` once its rows are being (or were) deleted.
    Deleted {
        purging: bool,
    },
}

#[derive(sqlx::FromRow)]
struct GateRow {
    status: super::installations::InstallationStatus,
    purging: bool,
}

/// Installation `id`'s gate. Inside a transaction, call [`hold_gate`] first so a purge cannot
/// start until the transaction ends.
pub async fn gate(db: impl PgExecutor<'_>, id: i64) -> Result<Gate, sqlx::Error> {
    use super::installations::InstallationStatus as S;
    let row: Option<GateRow> = sqlx::query_as(
        "SELECT status, purge_started_at IS NOT NULL AS purging FROM installations WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        None => Gate::Unknown,
        Some(GateRow {
            status: S::Active, ..
        }) => Gate::Active,
        Some(GateRow {
            status: S::Suspended,
            ..
        }) => Gate::Suspended,
        Some(GateRow {
            status: S::Deleted,
            purging,
        }) => Gate::Deleted { purging },
    })
}

/// Takes the installation's gate lock (shared, until the transaction ends; an in-memory
/// advisory lock, no row is written). The purge takes it exclusively to mark its start, so
/// it waits for every transaction that read the gate before, and every later one sees it.
pub async fn hold_gate(db: impl PgExecutor<'_>, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Who asked for deletion from the admin page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    Operator,
    /// An org admin, by numeric GitHub user id.
    Github(i64),
}

/// "Delete now": the installation is deleted at once (all work stops), its purge is due now
/// whatever the grace, and the request is recorded. One transaction. False when it is unknown
/// or already purged.
pub async fn request_deletion(
    pool: &PgPool,
    id: i64,
    by: Requester,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let res = sqlx::query(
        r#"UPDATE installations SET status = 'deleted', deleted_at = COALESCE(deleted_at, $2),
               purge_requested_at = COALESCE(purge_requested_at, $2), updated_at = now()
           WHERE id = $1 AND purged_at IS NULL"#,
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    let (kind, github_id) = match by {
        Requester::Operator => ("operator", None),
        Requester::Github(user) => ("github", Some(user)),
    };
    sqlx::query(
        r#"INSERT INTO installation_deletion_requests
               (installation_id, requested_by_kind, requested_by_github_id, requested_at)
           VALUES ($1, $2, $3, $4)"#,
    )
    .bind(id)
    .bind(kind)
    .bind(github_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// A recorded "Delete now".
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeletionRequest {
    pub installation_id: i64,
    pub requested_by_kind: String,
    pub requested_by_github_id: Option<i64>,
    pub requested_at: DateTime<Utc>,
    pub purged_at: Option<DateTime<Utc>>,
}

/// The deletion requests of installation `id`, oldest first.
pub async fn deletion_requests(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Vec<DeletionRequest>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT installation_id, requested_by_kind, requested_by_github_id, requested_at, purged_at
           FROM installation_deletion_requests WHERE installation_id = $1 ORDER BY id"#,
    )
    .bind(id)
    .fetch_all(db)
    .await
}

/// Deleted installations whose rows are due for deletion at `now`: deleted at least `grace`
/// ago, or asked for from the admin page; not purged yet. Oldest first, at most `limit`.
pub async fn due_for_purge(
    db: impl PgExecutor<'_>,
    now: DateTime<Utc>,
    grace: std::time::Duration,
    limit: i64,
) -> Result<Vec<InstallationId>, sqlx::Error> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let cutoff = now
        .checked_sub_signed(grace)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let ids: Vec<i64> = sqlx::query_scalar(
        r#"SELECT id FROM installations
           WHERE status = 'deleted' AND purged_at IS NULL
             AND (purge_requested_at IS NOT NULL OR COALESCE(deleted_at, updated_at) <= $1)
           ORDER BY COALESCE(deleted_at, updated_at), id LIMIT $2"#,
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(ids.into_iter().map(InstallationId).collect())
}

/// Marks the purge of deleted installation `id` started (once), waiting for every transaction
/// that holds its gate (see [`hold_gate`]). False when it is not deleted or already purged.
pub async fn start_purge(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let res = sqlx::query(
        r#"UPDATE installations SET purge_started_at = COALESCE(purge_started_at, now())
           WHERE id = $1 AND status = 'deleted' AND purged_at IS NULL"#,
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(res.rows_affected() == 1)
}

/// Deletes at most `batch` of installation `id`'s rows of `table` in one statement (its own
/// transaction when `db` is the pool); returns how many.
pub async fn delete_batch(
    db: impl PgExecutor<'_>,
    table: &OrgTable,
    id: i64,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "DELETE FROM {name} WHERE ctid = ANY(ARRAY(SELECT t.ctid FROM {name} t WHERE {scope} LIMIT $2))",
        name = table.name,
        scope = table.scope,
    );
    let res = sqlx::query(&sql).bind(id).bind(batch).execute(db).await?;
    Ok(res.rows_affected())
}

/// Empties the installation row to a tombstone: id, status `deleted` and its dates stay; the
/// account (login, id, type), permissions, events and every other column go. Also marks its
/// deletion requests done.
pub async fn tombstone(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let res = sqlx::query(
        r#"UPDATE installations SET account_login = '', account_id = NULL, account_type = NULL,
               target_type = NULL, repository_selection = NULL, permissions = '{}'::jsonb,
               events = '[]'::jsonb, suspended_by = NULL, gh_created_at = NULL,
               copilot_status = NULL, copilot_reason = NULL, copilot_checked_at = NULL,
               purged_at = COALESCE(purged_at, now()), updated_at = now()
           WHERE id = $1 AND status = 'deleted'"#,
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE installation_deletion_requests SET purged_at = now() WHERE installation_id = $1 AND purged_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(res.rows_affected() == 1)
}

/// What one purge deleted, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted: Vec<(&'static str, u64)>,
    pub statements: u64,
}

impl PurgeReport {
    pub fn total(&self) -> u64 {
        self.deleted.iter().map(|(_, n)| n).sum()
    }
}

/// Deletes every row of deleted installation `id` in [`ORG_TABLES`] order, `batch` rows per
/// statement, then leaves the tombstone, then looks once more at every table (a straggler
/// written while the purge ran is removed too). `None` when `id` is not deleted (nothing done).
pub async fn purge(pool: &PgPool, id: i64, batch: i64) -> Result<Option<PurgeReport>, sqlx::Error> {
    if !start_purge(pool, id).await? {
        return Ok(None);
    }
    let mut report = PurgeReport::default();
    for pass in 0..2 {
        for table in ORG_TABLES.iter().filter(|t| t.purge == Purge::Delete) {
            let mut total = 0;
            loop {
                let n = delete_batch(pool, table, id, batch).await?;
                report.statements += 1;
                total += n;
                if n < batch as u64 {
                    break;
                }
            }
            if total > 0 {
                report.deleted.push((table.name, total));
            }
        }
        if pass == 0 {
            tombstone(pool, id).await?;
        }
    }
    Ok(Some(report))
}

/// How many rows of installation `id` each org table holds (the tombstone counts as 0 rows of
/// the org once purged).
pub async fn row_counts(db: &PgPool, id: i64) -> Result<Vec<(&'static str, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ORG_TABLES.len());
    for table in ORG_TABLES {
        let extra = if table.purge == Purge::Tombstone {
            " AND t.purged_at IS NULL"
        } else {
            ""
        };
        let sql = format!(
            "SELECT count(*) FROM {} t WHERE ({}){extra}",
            table.name, table.scope
        );
        let n: i64 = sqlx::query_scalar(&sql).bind(id).fetch_one(db).await?;
        out.push((table.name, n));
    }
    Ok(out)
}

/// A purged installation's tombstone as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tombstone {
    pub id: i64,
    pub status: super::installations::InstallationStatus,
    pub account_login: String,
    pub account_id: Option<i64>,
    pub account_type: Option<String>,
    pub permissions: serde_json::Value,
    pub suspended_by: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub purged_at: Option<DateTime<Utc>>,
}

pub async fn tombstone_of(
    db: impl PgExecutor<'_>,
    id: i64,
) -> Result<Option<Tombstone>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, status, account_login, account_id, account_type, permissions, suspended_by,
                  deleted_at, purged_at
           FROM installations WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Deletes one logged delivery (a late delivery of an installation being purged is not kept).
pub async fn forget_delivery(db: impl PgExecutor<'_>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deliveries WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

// Export

/// The columns of `table` the export writes, in the table's order.
pub async fn export_columns(
    db: impl PgExecutor<'_>,
    table: &OrgTable,
) -> Result<Vec<String>, sqlx::Error> {
    let columns: Vec<String> = sqlx::query_scalar(
        r#"SELECT column_name::text FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position"#,
    )
    .bind(table.name)
    .fetch_all(db)
    .await?;
    Ok(match table.export {
        Export::All => columns,
        Export::Without(omit) => columns
            .into_iter()
            .filter(|c| !omit.contains(&c.as_str()))
            .collect(),
        Export::No(_) => Vec::new(),
    })
}

/// The export query of each org table, built once from the static list: `$1` the
/// installation, `$2` the columns left out.
static EXPORT_SQL: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    ORG_TABLES
        .iter()
        .map(|t| {
            (
                t.name,
                format!(
                    "SELECT (to_jsonb(t) - $2::text[])::text FROM {name} t WHERE {scope} ORDER BY {key}",
                    name = t.name,
                    scope = t.scope,
                    key = t.key,
                ),
            )
        })
        .collect()
});

/// Installation `id`'s rows of `table`, each one JSON object as text (the exported columns;
/// times RFC 3339, JSONB columns as JSON, arrays as arrays), ordered by the table's key, read
/// from a cursor. Nothing for a table the export leaves out.
pub fn export_rows<'e>(
    db: impl PgExecutor<'e> + 'e,
    table: &OrgTable,
    id: i64,
) -> BoxStream<'e, Result<String, sqlx::Error>> {
    let omit: Vec<String> = match table.export {
        Export::All => Vec::new(),
        Export::Without(omit) => omit.iter().map(|c| (*c).to_owned()).collect(),
        Export::No(_) => return Box::pin(futures::stream::empty()),
    };
    let Some((_, sql)) = EXPORT_SQL.iter().find(|(name, _)| *name == table.name) else {
        return Box::pin(futures::stream::empty());
    };
    sqlx::query_scalar(sql.as_str())
        .bind(id)
        .bind(omit)
        .fetch(db)
}

// A person's own answers

/// What "Delete my answers" deleted: answers and guesses, and quality ratings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Authors' answers and reviewers' guesses.
    pub answers: u64,
    /// Reviewers' quality ratings.
    pub ratings: u64,
}

impl Erased {
    pub fn total(self) -> u64 {
        self.answers + self.ratings
    }

    fn encode(self) -> String {
        format!("{} {}", self.answers, self.ratings)
    }

    fn decode(s: &str) -> Option<Self> {
        let (a, r) = s.split_once(' ')?;
        Some(Self {
            answers: a.parse().ok()?,
            ratings: r.parse().ok()?,
        })
    }
}

/// "Delete my answers" (click `click_id` of Slack user `slack_user_id`): deletes person
/// `github_id`'s answers, guesses and ratings in every survey of installation `installation`,
/// and the logged clicks that recorded them (a click's action names the answer), in one
/// transaction. Nobody else's answers change, and `revealed_at` stays (a reveal already sent is
/// not sent again). Idempotent per click: the counts are stored on the click's own log row
/// (`slack_interactions.value`), so a retried job gets the first run's counts back; another
/// click finds nothing left and gets zeros.
pub async fn erase_answers(
    pool: &PgPool,
    installation: i64,
    github_id: i64,
    slack_user_id: &str,
    click_id: &str,
) -> Result<Erased, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let stored: Option<Option<String>> =
        sqlx::query_scalar("SELECT value FROM slack_interactions WHERE id = $1 FOR UPDATE")
            .bind(click_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(done) = stored.flatten().as_deref().and_then(Erased::decode) {
        tx.commit().await?;
        return Ok(done);
    }
    let (answers, ratings): (i64, i64) = sqlx::query_as(
        r#"WITH old AS (
             SELECT p.survey_id, p.github_id, p.answer, p.quality FROM survey_participants p
             JOIN surveys s ON s.id = p.survey_id
             WHERE s.installation_id = $1 AND p.github_id = $2
               AND (p.answer IS NOT NULL OR p.quality IS NOT NULL)
             FOR UPDATE OF p
           ), erased AS (
             UPDATE survey_participants p SET answer = NULL, quality = NULL, answered_at = NULL,
                    answer_click_id = NULL, quality_click_id = NULL
             FROM old WHERE p.survey_id = old.survey_id AND p.github_id = old.github_id
             RETURNING p.survey_id
           )
           SELECT count(*) FILTER (WHERE old.answer IS NOT NULL),
                  count(*) FILTER (WHERE old.quality IS NOT NULL)
           FROM old"#,
    )
    .bind(installation)
    .bind(github_id)
    .fetch_one(&mut *tx)
    .await?;
    // The clicks that recorded them, and the "already recorded" notes keyed by their action.
    sqlx::query(
        r#"DELETE FROM slack_interactions
           WHERE slack_user_id = $2 AND action <> 'delete_my_answers'
             AND survey_id IN (SELECT id FROM surveys WHERE installation_id = $1)"#,
    )
    .bind(installation)
    .bind(slack_user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        r#"DELETE FROM slack_messages
           WHERE kind = 'already' AND github_id = $2
             AND survey_id IN (SELECT id FROM surveys WHERE installation_id = $1)"#,
    )
    .bind(installation)
    .bind(github_id)
    .execute(&mut *tx)
    .await?;
    let erased = Erased {
        answers: answers as u64,
        ratings: ratings as u64,
    };
    sqlx::query("UPDATE slack_interactions SET value = $2 WHERE id = $1")
        .bind(click_id)
        .bind(erased.encode())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(erased)
}

/// Person `github_id`'s answers, guesses and ratings stored in installation `installation`:
/// (survey id, answer, quality), by survey.
pub async fn answers_of(
    db: impl PgExecutor<'_>,
    installation: i64,
    github_id: i64,
) -> Result<Vec<(i64, Option<String>, Option<i16>)>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT p.survey_id, p.answer, p.quality FROM survey_participants p
           JOIN surveys s ON s.id = p.survey_id
           WHERE s.installation_id = $1 AND p.github_id = $2
             AND (p.answer IS NOT NULL OR p.quality IS NOT NULL)
           ORDER BY p.survey_id"#,
    )
    .bind(installation)
    .bind(github_id)
    .fetch_all(db)
    .await
}

/// A read-only transaction on one snapshot, so an export's tables agree with each other.
pub async fn read_snapshot(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
