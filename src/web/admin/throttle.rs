//! Rate limits of password sign-in, kept in Redis (a fixed window per key) so they hold across
//! web processes and expire on their own.
//!
//! Only failures count, and they count per (account, client address): an attacker guessing from
//! one address locks out that address, never the operator signing in from another, and a
//! successful sign-in clears its address's counter.

use super::AdminError;
use crate::web::AppState;

/// Failed attempts allowed per (account, client address) in [`WINDOW_SECS`].
pub const MAX_FAILURES: i64 = 5;
/// Length of the rate-limit window.
pub const WINDOW_SECS: u64 = 15 * 60;

/// The Redis key of `account`'s failures from `address`.
fn key(state: &AppState, account: &str, address: &str) -> String {
    format!(
        "{}:admin:login:fail:{account}:{address}",
        state.admin.prefix
    )
}

/// `Throttled` when `account` has failed [`MAX_FAILURES`] times from `address` in the window.
/// Counts nothing: call it before checking the password.
pub async fn check(state: &AppState, account: &str, address: &str) -> Result<(), AdminError> {
    let mut conn = state.queues.connection();
    let failures: Option<i64> = redis::cmd("GET")
        .arg(key(state, account, address))
        .query_async(&mut conn)
        .await?;
    if failures.unwrap_or(0) >= MAX_FAILURES {
        Err(AdminError::Throttled)
    } else {
        Ok(())
    }
}

/// Counts a failed attempt (the window starts at the first failure).
pub async fn record_failure(
    state: &AppState,
    account: &str,
    address: &str,
) -> Result<(), AdminError> {
    let key = key(state, account, address);
    let mut conn = state.queues.connection();
    let () = redis::pipe()
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
        .ignore()
        .query_async(&mut conn)
        .await?;
    Ok(())
}

/// Clears `account`'s failures from `address` after a successful sign-in.
pub async fn clear(state: &AppState, account: &str, address: &str) -> Result<(), AdminError> {
    let mut conn = state.queues.connection();
    let () = redis::cmd("DEL")
        .arg(key(state, account, address))
        .query_async(&mut conn)
        .await?;
    Ok(())
}
