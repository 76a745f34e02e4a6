//! The delivery log: one row per GitHub delivery id, with status, attempts, last error and the
//! raw body (kept for the retention period so a delivery can be replayed).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};

/// What a delivery row is created from (the job carries all of it).
#[derive(Debug, Clone, Copy)]
pub struct NewDelivery<'a> {
    pub id: &'a str,
    pub event: &'a str,
    pub action: Option<&'a str>,
    pub installation_id: Option<i64>,
    pub hook_id: Option<i64>,
    pub received_at: DateTime<Utc>,
    pub headers: &'a Value,
    pub body: &'a str,
}

/// Processing states a delivery row can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Processed,
    Ignored,
    Failed,
    Dead,
    Rejected,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Processed => "processed",
            Status::Ignored => "ignored",
            Status::Failed => "failed",
            Status::Dead => "dead",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Status::Queued,
            "processed" => Status::Processed,
            "ignored" => Status::Ignored,
            "failed" => Status::Failed,
            "dead" => Status::Dead,
            "rejected" => Status::Rejected,
            _ => return None,
        })
    }

    /// Done for good: a redelivery of such a delivery must have no second effect.
    pub fn is_final_success(self) -> bool {
        matches!(self, Status::Processed | Status::Ignored)
    }
}

/// What `claim` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No row yet: it was inserted already marked processed (one attempt, processed now), as
    /// the run will most often end, so that a run that applies the event writes the row once.
    /// Nobody sees it before the transaction commits; a run that ends otherwise `finish`es it,
    /// and a failed run rolls it back.
    Inserted,
    /// A row was there (an earlier failed attempt, a replay, a rejected body): it is locked
    /// now, in this status; the run ends with `finish`.
    Existing(Status),
}

/// Creates the row if absent and locks it for this transaction, or locks the row that exists.
/// Concurrent runs of one delivery serialize here, and the loser sees it already processed.
///
/// Why insert it as processed: a row inserted as `queued` and updated to `processed` at the
/// end cost every delivery a second heap tuple and a second entry in each of the log's indexes
/// (`status` is indexed, so the update cannot be HOT): about a tenth of Postgres's work per
/// delivery in `bench/worker_throughput` (BENCHMARKS.md, issue 14).
pub async fn claim(db: impl PgExecutor<'_>, d: NewDelivery<'_>) -> Result<Claim, sqlx::Error> {
    // `xmax = 0` holds for a row this statement inserted, not for one it updated on conflict.
    let (status, inserted): (String, bool) = sqlx::query_as(
        r#"INSERT INTO deliveries (id, event, action, installation_id, hook_id, status, attempts,
               processed_at, received_at, headers, body)
           VALUES ($1, $2, $3, $4, $5, 'processed', 1, now(), $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET updated_at = now(),
               body = COALESCE(deliveries.body, EXCLUDED.body), body_pruned_at = NULL
           RETURNING status, (xmax = 0) AS inserted"#,
    )
    .bind(d.id)
    .bind(d.event)
    .bind(d.action)
    .bind(d.installation_id)
    .bind(d.hook_id)
    .bind(d.received_at)
    .bind(d.headers)
    .bind(d.body)
    .fetch_one(db)
    .await?;
    Ok(if inserted {
        Claim::Inserted
    } else {
        Claim::Existing(Status::parse(&status).unwrap_or(Status::Queued))
    })
}

/// Ends a run of a claimed delivery other than "inserted as processed, and processed":
/// processed or ignored (with the reason when ignored).
pub async fn finish(
    db: impl PgExecutor<'_>,
    id: &str,
    claim: Claim,
    status: Status,
    note: Option<&str>,
) -> Result<(), sqlx::Error> {
    let sql = match claim {
        // The attempt and its time are on the row already.
        Claim::Inserted => "UPDATE deliveries SET status = $2, last_error = $3 WHERE id = $1",
        Claim::Existing(_) => {
            r#"UPDATE deliveries SET status = $2, attempts = attempts + 1, processed_at = now(),
                   last_error = $3, updated_at = now() WHERE id = $1"#
        }
    };
    sqlx::query(sql)
        .bind(id)
        .bind(status.as_str())
        .bind(note)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt outside the rolled-back transaction; returns the attempts so far.
/// `dead` marks it as given up (kept, with its body, for `deliveries replay`).
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    d: NewDelivery<'_>,
    error: &str,
    dead: bool,
) -> Result<i32, sqlx::Error> {
    let status = if dead { Status::Dead } else { Status::Failed };
    let (attempts,): (i32,) = sqlx::query_as(
        r#"INSERT INTO deliveries (id, event, action, installation_id, hook_id, status, attempts,
               last_error, received_at, headers, body)
           VALUES ($1, $2, $3, $4, $5, $9, 1, $10, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET
               status = CASE WHEN deliveries.status IN ('processed', 'ignored') THEN deliveries.status ELSE $9 END,
               attempts = deliveries.attempts + 1, last_error = $10,
               body = COALESCE(deliveries.body, EXCLUDED.body), updated_at = now()
           RETURNING attempts"#,
    )
    .bind(d.id)
    .bind(d.event)
    .bind(d.action)
    .bind(d.installation_id)
    .bind(d.hook_id)
    .bind(d.received_at)
    .bind(d.headers)
    .bind(d.body)
    .bind(status.as_str())
    .bind(error)
    .fetch_one(db)
    .await?;
    Ok(attempts)
}

/// Records a delivery whose signature was valid but whose body was unusable.
pub async fn record_rejected(
    db: impl PgExecutor<'_>,
    d: NewDelivery<'_>,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        r#"INSERT INTO deliveries (id, event, action, installation_id, hook_id, status, attempts,
               last_error, received_at, processed_at, headers, body)
           VALUES ($1, $2, $3, $4, $5, 'rejected', 0, $9, $6, now(), $7, $8)
           ON CONFLICT (id) DO NOTHING"#,
    )
    .bind(d.id)
    .bind(d.event)
    .bind(d.action)
    .bind(d.installation_id)
    .bind(d.hook_id)
    .bind(d.received_at)
    .bind(d.headers)
    .bind(d.body)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// A stored delivery, as needed to replay it.
#[derive(Debug, Clone, FromRow)]
pub struct StoredDelivery {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    pub hook_id: Option<i64>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub headers: Value,
    pub body: Option<String>,
}

pub async fn get(db: impl PgExecutor<'_>, id: &str) -> Result<Option<StoredDelivery>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT id, event, action, installation_id, hook_id, status, attempts, last_error,
               received_at, processed_at, headers, body FROM deliveries WHERE id = $1"#,
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Puts a delivery back to `queued` before it is re-enqueued by an operator's replay.
pub async fn mark_requeued(db: impl PgExecutor<'_>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE deliveries SET status = 'queued', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Drops raw bodies past the retention period (the row and its outcome stay). Returns rows pruned.
pub async fn prune_bodies(
    db: impl PgExecutor<'_>,
    older_than: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let res = sqlx::query(
        r#"UPDATE deliveries SET body = NULL, body_pruned_at = now()
           WHERE id IN (SELECT id FROM deliveries WHERE received_at < $1 AND body IS NOT NULL LIMIT 5000)"#,
    )
    .bind(older_than)
    .execute(db)
    .await?;
    Ok(res.rows_affected())
}

/// Whether the delivery was applied (or deliberately ignored): a redelivery would add nothing.
pub async fn is_done(db: impl PgExecutor<'_>, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1 AND status IN ('processed', 'ignored'))",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

// Admin page reads

impl TryFrom<String> for Status {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or_else(|| format!("unknown delivery status {s:?}"))
    }
}

impl Status {
    /// Every status, in the order the admin page's filter offers them.
    pub const ALL: [Status; 6] = [
        Status::Queued,
        Status::Processed,
        Status::Ignored,
        Status::Failed,
        Status::Dead,
        Status::Rejected,
    ];

    /// Gave up or is waiting for a retry: an operator may queue it again.
    pub fn is_replayable(self) -> bool {
        matches!(self, Status::Failed | Status::Dead)
    }

    /// Never applied and given up on or waiting for a retry: worth asking GitHub to send again.
    /// An applied (or ignored, queued, rejected) delivery is not, and costs no GitHub request.
    pub fn is_redeliverable(self) -> bool {
        matches!(self, Status::Failed | Status::Dead)
    }
}

/// How many deliveries of one status.
#[derive(Debug, FromRow)]
pub struct StatusCount {
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub count: i64,
}

/// Deliveries of the last 24 hours in `scope` (all when `None`) by status.
pub async fn admin_counts_by_status(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
) -> Result<Vec<StatusCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT status, count(*) AS count FROM deliveries WHERE received_at > now() - interval '24 hours'
         AND ($1::bigint[] IS NULL OR installation_id = ANY($1)) GROUP BY status ORDER BY status",
    )
    .bind(scope)
    .fetch_all(db)
    .await
}

/// A delivery as the admin list shows it.
#[derive(Debug, FromRow)]
pub struct AdminDeliveryRow {
    pub id: String,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub status: Status,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Filters of the admin delivery list.
#[derive(Debug, Default)]
pub struct AdminDeliveryFilter<'a> {
    pub event: Option<&'a str>,
    pub action: Option<&'a str>,
    pub status: Option<Status>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset cursor: rows strictly older than (received_at, id).
    pub before: Option<(DateTime<Utc>, String)>,
}

/// Deliveries in `scope` (all when `None`) matching `f`, newest first, at most `limit`.
pub async fn admin_list(
    db: impl PgExecutor<'_>,
    scope: Option<&[i64]>,
    f: &AdminDeliveryFilter<'_>,
    limit: i64,
) -> Result<Vec<AdminDeliveryRow>, sqlx::Error> {
    let (before_at, before_id) = match &f.before {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    sqlx::query_as(
        r#"SELECT id, event, action, installation_id, status, attempts, last_error, received_at
           FROM deliveries
           WHERE ($1::bigint[] IS NULL OR installation_id = ANY($1))
             AND ($2::text IS NULL OR event = $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::text IS NULL OR status = $4)
             AND ($5::timestamptz IS NULL OR received_at >= $5)
             AND ($6::timestamptz IS NULL OR received_at < $6)
             AND ($7::timestamptz IS NULL OR (received_at, id) < ($7, $8))
           ORDER BY received_at DESC, id DESC LIMIT $9"#,
    )
    .bind(scope)
    .bind(f.event)
    .bind(f.action)
    .bind(f.status.map(Status::as_str))
    .bind(f.from)
    .bind(f.to)
    .bind(before_at)
    .bind(before_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// When GitHub was last asked to redeliver `guid`: (hook delivery id, requested at).
pub async fn redelivery_request(
    db: impl PgExecutor<'_>,
    guid: &str,
) -> Result<Option<(i64, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as("SELECT hook_delivery_id, requested_at FROM redelivery_requests WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

/// Records an admin's request that GitHub redeliver `guid` (a repeat updates the time).
pub async fn record_redelivery_request(
    db: impl PgExecutor<'_>,
    guid: &str,
    hook_delivery_id: i64,
    event: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO redelivery_requests (guid, hook_delivery_id, event) VALUES ($1, $2, $3)
         ON CONFLICT (guid) DO UPDATE SET hook_delivery_id = $2, requested_at = now()",
    )
    .bind(guid)
    .bind(hook_delivery_id)
    .bind(event)
    .execute(db)
    .await?;
    Ok(())
}
