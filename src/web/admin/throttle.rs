//! Rate limits of password sign-in, kept in Redis (a fixed window per key) so they hold across
//! web processes and expire on their own.

use super::AdminError;
use crate::web::AppState;

/// Attempts allowed per client IP and per account in [`WINDOW_SECS`].
pub const MAX_ATTEMPTS: i64 = 5;
/// Length of the rate-limit window.
pub const WINDOW_SECS: u64 = 15 * 60;

/// Counts an attempt against `key`; `Throttled` once over the limit.
pub async fn count_attempt(state: &AppState, key: &str) -> Result<(), AdminError> {
    let key = format!("{}:admin:login:{key}", state.admin.prefix);
    let mut conn = state.queues.connection();
    let (n,): (i64,) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(&key)
        .arg(0)
        .arg("EX")
        .arg(WINDOW_SECS)
        .arg("NX")
        .ignore()
        .cmd("INCR")
        .arg(&key)
        .query_async(&mut conn)
        .await?;
    if n > MAX_ATTEMPTS {
        Err(AdminError::Throttled)
    } else {
        Ok(())
    }
}
