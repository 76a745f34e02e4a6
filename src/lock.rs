//! One Redis lock with an owner and an expiry, for work that must run once across processes
//! (minting an installation token, one catch-up sync per installation).
//!
//! `SET key owner NX PX ttl` takes it; release deletes the key only while it still holds our
//! owner token, so a lock that expired and was taken by another process is never released by us.
//! A crashed holder's lock simply expires.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// A held lock; release it with [`RedisLock::release`] (dropping it lets it expire instead).
#[derive(Debug)]
pub struct RedisLock {
    key: String,
    owner: String,
}

impl RedisLock {
    /// Takes `key` for `ttl` if nobody holds it.
    pub async fn try_acquire(
        conn: &mut ConnectionManager,
        key: String,
        ttl: Duration,
    ) -> Result<Option<Self>, redis::RedisError> {
        let owner = uuid::Uuid::new_v4().to_string();
        let acquired: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .query_async(conn)
            .await?;
        Ok(acquired.map(|_| Self { key, owner }))
    }

    /// Deletes the lock only if we still own it.
    pub async fn release(self, conn: &mut ConnectionManager) -> Result<(), redis::RedisError> {
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        script
            .key(&self.key)
            .arg(&self.owner)
            .invoke_async::<i64>(conn)
            .await?;
        Ok(())
    }
}
