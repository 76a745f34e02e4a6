//! Deleting everything under one key prefix. Tests and benchmarks share one Redis server and
//! never FLUSHDB, so each removes its own prefix when done: its keys, and its queues' entries in
//! apalis' global queue registry (which is why this lives with the queue code). SCAN, never KEYS,
//! so a large server is not blocked.

use redis::aio::ConnectionLike;

/// apalis-redis registers every queue's worker set in this shared sorted set.
const APALIS_QUEUE_REGISTRY: &str = "core:apalis:queues:list";

async fn keys_under(
    conn: &mut impl ConnectionLike,
    prefix: &str,
    mut each_page: impl FnMut(Vec<String>) -> Option<Vec<String>>,
) -> Result<(), redis::RedisError> {
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if let Some(doomed) = each_page(keys).filter(|k| !k.is_empty()) {
            redis::cmd("UNLINK")
                .arg(&doomed)
                .query_async::<()>(conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Deletes every key starting with `prefix` and the registry entries of its queues; returns how
/// many keys were still there when it checked again (0 unless something kept writing).
pub async fn purge_prefix(
    conn: &mut impl ConnectionLike,
    prefix: &str,
) -> Result<usize, redis::RedisError> {
    keys_under(conn, prefix, Some).await?;
    let registered: Vec<String> = redis::cmd("ZRANGE")
        .arg(APALIS_QUEUE_REGISTRY)
        .arg(0)
        .arg(-1)
        .query_async(conn)
        .await?;
    let ours: Vec<&String> = registered
        .iter()
        .filter(|m| m.starts_with(prefix))
        .collect();
    if !ours.is_empty() {
        redis::cmd("ZREM")
            .arg(APALIS_QUEUE_REGISTRY)
            .arg(&ours)
            .query_async::<()>(conn)
            .await?;
    }
    let mut left = 0;
    keys_under(conn, prefix, |keys| {
        left += keys.len();
        None
    })
    .await?;
    Ok(left)
}
