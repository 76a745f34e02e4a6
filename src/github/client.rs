//! GitHub REST over reqwest: app JWT or installation-token auth on every request (including
//! every `Link` page, so GitHub Enterprise Server works), ETags, rate-limit headers, and no
//! automatic retries (a POST is never sent twice by accident).
//!
//! reqwest rather than octocrab: octocrab 0.54 drops auth on `Link` pages off api.github.com,
//! re-sends POSTs through its retry layer, and hides the response headers we need for ETags and
//! rate limits; the typed models it offers we have in `events` already.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use redis::aio::ConnectionManager;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use thiserror::Error;

use super::app_auth::{AppKey, InstallationToken, LocalLocks, REFRESH_MARGIN};
use crate::config::GithubAppConfig;
use crate::ids::InstallationId;

/// Failures talking to GitHub, sorted by what the caller should do about them.
#[derive(Debug, Error)]
pub enum GithubError {
    #[error("network: {0}")]
    Http(#[from] reqwest::Error),
    #[error("GitHub answered {status} for {method} {path}: {message}")]
    Status {
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    #[error("rate limit exhausted until {reset}")]
    RateLimited { reset: DateTime<Utc> },
    #[error("secondary rate limit: retry after {retry_after:?}")]
    SecondaryLimit { retry_after: Duration },
    #[error("installation {0} is {1}; its token is not used")]
    InstallationUnavailable(InstallationId, String),
    #[error("cannot sign the app JWT: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("unexpected response body: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("timed out waiting for another process to mint a token")]
    MintTimeout,
}

/// Who a request is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The app itself (JWT): app installations, hook deliveries, token minting.
    App,
    /// An installation (its access token): everything inside the org.
    Installation(InstallationId),
}

/// The rate-limit window a response reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub remaining: u32,
    pub reset: DateTime<Utc>,
}

/// A response: `body` is `None` for 304 Not Modified.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub next: Option<String>,
    pub rate: Option<RateLimit>,
}

impl Response {
    pub fn not_modified(&self) -> bool {
        self.status == StatusCode::NOT_MODIFIED
    }
}

/// One shared client per process: holds the HTTP connection pool and the token single-flight.
#[derive(Clone)]
pub struct GithubClient {
    http: reqwest::Client,
    api_url: Arc<str>,
    app_id: i64,
    key: AppKey,
    redis: ConnectionManager,
    prefix: Arc<str>,
    locks: LocalLocks,
    pool: PgPool,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl GithubClient {
    pub fn new(
        config: &GithubAppConfig,
        redis: ConnectionManager,
        prefix: &str,
        pool: PgPool,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("mergecast/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            api_url: config.api_url.clone().into(),
            app_id: config.app_id,
            key: config.private_key.clone(),
            redis,
            prefix: prefix.into(),
            locks: LocalLocks::default(),
            pool,
        }
    }

    /// An absolute URL for `path` (absolute URLs, e.g. from `Link`, pass through).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{}", self.api_url, path)
        }
    }

    /// GET with an optional ETag; 304 comes back as a `Response` without a body.
    pub async fn get(
        &self,
        auth: Auth,
        path: &str,
        etag: Option<&str>,
    ) -> Result<Response, GithubError> {
        self.send(Method::GET, auth, path, etag, None).await
    }

    /// POST, sent once (never retried automatically; the caller decides).
    pub async fn post(
        &self,
        auth: Auth,
        path: &str,
        body: Option<Value>,
    ) -> Result<Response, GithubError> {
        self.send(Method::POST, auth, path, None, body).await
    }

    async fn send(
        &self,
        method: Method,
        auth: Auth,
        path: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<Response, GithubError> {
        let url = self.url(path);
        let mut retried_auth = false;
        loop {
            let authorization = match auth {
                Auth::App => format!("Bearer {}", self.key.sign(self.app_id, Utc::now())?),
                Auth::Installation(id) => {
                    format!("token {}", self.installation_token(id).await?.token)
                }
            };
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(header::ACCEPT, "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28")
                .header(header::AUTHORIZATION, authorization);
            if let Some(etag) = etag {
                request = request.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let rate = rate_limit(&headers);
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Response {
                    status,
                    body: None,
                    etag: header_string(&headers, header::ETAG.as_str())
                        .or(etag.map(str::to_owned)),
                    next: None,
                    rate,
                });
            }
            let bytes = response.bytes().await?;
            if status.is_success() {
                let body = if bytes.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&bytes)?
                };
                return Ok(Response {
                    status,
                    body: Some(body),
                    etag: header_string(&headers, header::ETAG.as_str()),
                    next: next_link(&headers),
                    rate,
                });
            }
            let message = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            // A token revoked or expired early: mint a fresh one, once.
            if status == StatusCode::UNAUTHORIZED
                && !retried_auth
                && let Auth::Installation(id) = auth
            {
                retried_auth = true;
                self.forget_token(id).await?;
                continue;
            }
            if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
                if let Some(retry_after) =
                    header_string(&headers, "retry-after").and_then(|s| s.parse::<u64>().ok())
                {
                    return Err(GithubError::SecondaryLimit {
                        retry_after: Duration::from_secs(retry_after),
                    });
                }
                if let Some(rate) = rate.filter(|r| r.remaining == 0) {
                    return Err(GithubError::RateLimited { reset: rate.reset });
                }
                if status == StatusCode::TOO_MANY_REQUESTS
                    || message
                        .to_ascii_lowercase()
                        .contains("secondary rate limit")
                {
                    // GitHub: without retry-after, wait at least a minute.
                    return Err(GithubError::SecondaryLimit {
                        retry_after: Duration::from_secs(60),
                    });
                }
            }
            return Err(GithubError::Status {
                status: status.as_u16(),
                method: method.to_string(),
                path: path_of(&url),
                message,
            });
        }
    }

    fn token_key(&self, id: InstallationId) -> String {
        format!("{}:gh:token:{}", self.prefix, id.0)
    }

    async fn cached_token(
        &self,
        id: InstallationId,
    ) -> Result<Option<InstallationToken>, GithubError> {
        let mut conn = self.redis.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.token_key(id))
            .query_async(&mut conn)
            .await?;
        Ok(raw
            .and_then(|r| serde_json::from_str::<InstallationToken>(&r).ok())
            .filter(|t| {
                t.expires_at - Utc::now()
                    > chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default()
            }))
    }

    async fn forget_token(&self, id: InstallationId) -> Result<(), GithubError> {
        let mut conn = self.redis.clone();
        redis::cmd("DEL")
            .arg(self.token_key(id))
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// The installation's token: from the shared cache, or minted once across all processes.
    /// Refused for installations we know to be suspended or deleted.
    pub async fn installation_token(
        &self,
        id: InstallationId,
    ) -> Result<InstallationToken, GithubError> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM installations WHERE id = $1")
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(status) = status.filter(|s| s != "active") {
            self.forget_token(id).await?;
            return Err(GithubError::InstallationUnavailable(id, status));
        }
        if let Some(token) = self.cached_token(id).await? {
            return Ok(token);
        }
        let local = self.locks.for_installation(id.0).await;
        let _guard = local.lock().await;
        if let Some(token) = self.cached_token(id).await? {
            return Ok(token);
        }
        let lock_key = format!("{}:gh:token-lock:{}", self.prefix, id.0);
        let owner = uuid::Uuid::new_v4().to_string();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mut conn = self.redis.clone();
            let acquired: Option<String> = redis::cmd("SET")
                .arg(&lock_key)
                .arg(&owner)
                .arg("NX")
                .arg("PX")
                .arg(15_000)
                .query_async(&mut conn)
                .await?;
            if acquired.is_some() {
                let minted = self.mint(id).await;
                release_lock(&mut conn, &lock_key, &owner).await?;
                return minted;
            }
            if let Some(token) = self.cached_token(id).await? {
                return Ok(token);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(GithubError::MintTimeout);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn mint(&self, id: InstallationId) -> Result<InstallationToken, GithubError> {
        let path = format!("/app/installations/{}/access_tokens", id.0);
        // Boxed: minting is itself a request, and requests may need a token (async recursion).
        let response = Box::pin(self.post(Auth::App, &path, None)).await?;
        let token: InstallationToken =
            serde_json::from_value(response.body.unwrap_or(Value::Null))?;
        let ttl = (token.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default()
            .saturating_sub(REFRESH_MARGIN);
        if !ttl.is_zero() {
            let mut conn = self.redis.clone();
            redis::cmd("SET")
                .arg(self.token_key(id))
                .arg(serde_json::to_string(&token)?)
                .arg("PX")
                .arg(ttl.as_millis() as u64)
                .query_async::<()>(&mut conn)
                .await?;
        }
        tracing::info!(installation = id.0, expires_at = %token.expires_at, "minted installation token");
        Ok(token)
    }
}

/// Deletes a Redis lock only if we still own it.
pub async fn release_lock(
    conn: &mut ConnectionManager,
    key: &str,
    owner: &str,
) -> Result<(), redis::RedisError> {
    let script = redis::Script::new(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
    );
    script.key(key).arg(owner).invoke_async::<i64>(conn).await?;
    Ok(())
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_owned)
}

fn rate_limit(headers: &HeaderMap) -> Option<RateLimit> {
    let remaining = header_string(headers, "x-ratelimit-remaining")?
        .parse()
        .ok()?;
    let reset = header_string(headers, "x-ratelimit-reset")?
        .parse::<i64>()
        .ok()?;
    Some(RateLimit {
        remaining,
        reset: Utc.timestamp_opt(reset, 0).single()?,
    })
}

/// The `rel="next"` URL of a `Link` header (absolute, as GitHub sends it).
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = header_string(headers, "link")?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn path_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_owned()))
        .unwrap_or_else(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_link() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://ghe.example/api/v3/orgs/o/members?page=2>; rel=\"next\", <https://ghe.example/api/v3/orgs/o/members?page=3>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://ghe.example/api/v3/orgs/o/members?page=2")
        );
        h.insert(
            "link",
            HeaderValue::from_static("<https://x/a?page=1>; rel=\"prev\""),
        );
        assert_eq!(next_link(&h), None);
    }
}
