//! One Redis lock with an owner and an expiry, for work that must run once across processes
//! (minting an installation token, one catch-up sync per installation), and [`Budget`]s: counted
//! allowances per window, for work that may run only so often across processes (an admin's
//! requests to GitHub, which spend the rate limit every installation shares).
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

    /// Whether anybody holds `key` now.
    pub async fn is_held(
        conn: &mut ConnectionManager,
        key: &str,
    ) -> Result<bool, redis::RedisError> {
        redis::cmd("EXISTS").arg(key).query_async(conn).await
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

/// At most `limit` spends per `window` under `key` (a fixed window that starts at the first
/// spend and expires on its own). Spend several at once with [`Budget::spend_all`].
#[derive(Debug, Clone)]
pub struct Budget {
    pub key: String,
    pub limit: u32,
    pub window: Duration,
}

/// What [`Budget::spend_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// One was spent from every budget.
    Granted,
    /// Nothing was spent: some budget is used up for this long still.
    Wait(Duration),
}

/// Checks every budget, then spends one from each only when none is used up; otherwise answers
/// the longest remaining window (PTTL) in ms. One script, so processes never interleave. A
/// counter found without an expiry (never written by us) gets its window.
const SPEND_ALL: &str = r"
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl < 1 then ttl = 1 end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  end
end
return 0
";

impl Budget {
    pub fn new(key: String, limit: u32, window: Duration) -> Self {
        Self { key, limit, window }
    }

    /// How long until this budget allows a spend again (`None`: it allows one now). Spends nothing.
    pub async fn wait(
        &self,
        conn: &mut ConnectionManager,
    ) -> Result<Option<Duration>, redis::RedisError> {
        let (used, ttl): (Option<u64>, i64) = redis::pipe()
            .cmd("GET")
            .arg(&self.key)
            .cmd("PTTL")
            .arg(&self.key)
            .query_async(conn)
            .await?;
        Ok((used.unwrap_or(0) >= u64::from(self.limit))
            .then(|| Duration::from_millis(u64::try_from(ttl).unwrap_or(0).max(1))))
    }

    /// Spends one from each of `budgets`, or from none when any is used up.
    pub async fn spend_all(
        conn: &mut ConnectionManager,
        budgets: &[Budget],
    ) -> Result<Spend, redis::RedisError> {
        let script = redis::Script::new(SPEND_ALL);
        let mut invocation = script.prepare_invoke();
        for b in budgets {
            invocation
                .key(&b.key)
                .arg(b.limit)
                .arg(b.window.as_millis().max(1) as u64);
        }
        let wait_ms: u64 = invocation.invoke_async(conn).await?;
        Ok(match wait_ms {
            0 => Spend::Granted,
            ms => Spend::Wait(Duration::from_millis(ms)),
        })
    }
}
