//! GitHub REST through octocrab: one [`GithubApi`] (one `octocrab::Octocrab`) per process for
//! every request Mergecast makes to GitHub, and [`GithubClient`] on top of it for the App's own
//! identity (app JWT, installation tokens shared through Redis).
//!
//! What octocrab does and does not do for us here:
//! - transport, connection pool, TLS (rustls, ring), connect/read/write timeouts, tracing spans;
//! - no retries: built with `RetryConfig::None` (its default re-sends failed requests, POSTs
//!   included). We retry deliberately: a 401 re-mints a token once; rate limits are the caller's
//!   decision ([`GithubError::RateLimited`], [`GithubError::SecondaryLimit`]);
//! - no authentication: see [`GithubApi::new`] for why we attach `Authorization` ourselves;
//! - raw responses (`_get_with_headers`, `execute`): we need `ETag` (a 304 is free against the
//!   rate limit), `x-ratelimit-*` and `Link`, which octocrab's typed helpers drop.
//!
//! Every URL we are handed (a path, or a `Link` from a previous page) is checked against the API
//! base before anything is sent: a URL on another scheme, host or port is refused, so a token or
//! JWT never leaves for a host that is not the configured API.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, StatusCode, Uri};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::service::middleware::retry::RetryConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use redis::aio::ConnectionManager;
use serde_json::Value;
use sqlx::PgPool;
use thiserror::Error;

use super::app_auth::{InstallationToken, LocalLocks, REFRESH_MARGIN};
use crate::config::AppKey;
use crate::config::GithubAppConfig;
use crate::ids::InstallationId;
use crate::lock::RedisLock;
use crate::store::installations::{self, InstallationStatus};

/// How long establishing a connection to GitHub may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or write on an open connection may stall.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one whole request (sending, waiting, reading the body) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Failures talking to GitHub, sorted by what the caller should do about them.
#[derive(Debug, Error)]
pub enum GithubError {
    #[error("network: {0}")]
    Http(#[source] octocrab::Error),
    #[error("no complete answer from GitHub within {0:?}")]
    Timeout(Duration),
    #[error("GitHub answered {status} for {method} {path}: {message}")]
    Status {
        status: u16,
        method: String,
        path: String,
        message: String,
    },
    /// A URL (typically a `Link` to the next page) that is not on the API base's scheme, host and
    /// port; nothing was sent to it.
    #[error("refusing to request {url}: not on the GitHub API at {base}")]
    ForeignUrl { url: String, base: String },
    #[error("not a usable URL: {0}")]
    BadUrl(String),
    #[error("cannot build the GitHub client: {0}")]
    Build(String),
    #[error("rate limit exhausted until {reset}")]
    RateLimited { reset: DateTime<Utc> },
    #[error("secondary rate limit: retry after {retry_after:?}")]
    SecondaryLimit { retry_after: Duration },
    #[error("installation {0} is {1}; its token is not used")]
    InstallationUnavailable(InstallationId, InstallationStatus),
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
    /// The `rel="next"` URL of the `Link` header, absolute, as GitHub sent it. It is checked
    /// against the API base only when requested (a foreign one then fails without being sent).
    pub next: Option<String>,
    pub rate: Option<RateLimit>,
}

impl Response {
    pub fn not_modified(&self) -> bool {
        self.status == StatusCode::NOT_MODIFIED
    }
}

/// The configured API base (`GITHUB_API_URL`): where requests may go.
#[derive(Debug)]
struct ApiBase {
    /// As configured, without a trailing slash: `https://api.github.com`,
    /// `https://ghe.example/api/v3`.
    url: String,
    origin: Origin,
    /// `""` for api.github.com, `/api/v3` for GitHub Enterprise Server.
    prefix: String,
}

/// Scheme, host and port (the default port filled in), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        Some(Self {
            host: uri.host()?.to_ascii_lowercase(),
            port: uri.port_u16().unwrap_or(default_port),
            scheme,
        })
    }

    fn base_uri(&self) -> String {
        format!("{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The one HTTP client to GitHub in a process: the REST API (`GITHUB_API_URL`) and the web host
/// for OAuth (`GITHUB_WEB_URL`). It needs no App identity: admin sign-in uses it with a user's
/// token. Cheap to clone (shared connection pool).
#[derive(Clone)]
pub struct GithubApi {
    octocrab: Octocrab,
    base: Arc<ApiBase>,
    web_url: Arc<str>,
}

impl std::fmt::Debug for GithubApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApi")
            .field("api_url", &self.base.url)
            .field("web_url", &self.web_url)
            .finish()
    }
}

/// A credential to attach to one request.
enum Credential<'a> {
    /// An app JWT (`Bearer`).
    AppJwt(&'a str),
    /// An installation access token (`token`).
    Installation(&'a str),
    /// A user's OAuth access token (`Bearer`).
    User(&'a str),
    /// The OAuth app's client id and secret (HTTP Basic), for the app-token endpoints.
    Basic { user: &'a str, password: &'a str },
}

impl Credential<'_> {
    fn header(&self) -> Result<HeaderValue, GithubError> {
        let value = match self {
            Credential::AppJwt(jwt) => format!("Bearer {jwt}"),
            Credential::Installation(token) => format!("token {token}"),
            Credential::User(token) => format!("Bearer {token}"),
            Credential::Basic { user, password } => {
                format!("Basic {}", BASE64.encode(format!("{user}:{password}")))
            }
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| GithubError::BadUrl("credential is not a valid header value".into()))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// What a path segment keeps unencoded: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What came back, before it is judged.
struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl GithubApi {
    /// Builds the process's octocrab client for `api_url` (`GITHUB_API_URL`) and `web_url`
    /// (`GITHUB_WEB_URL`). Must run inside the Tokio runtime (octocrab spawns its dispatcher).
    ///
    /// The `Octocrab` is built **without authentication**, and each request carries the
    /// `Authorization` we attach (app JWT `Bearer`, installation `token`, user OAuth `Bearer`):
    /// octocrab attaches its own credential only to api.github.com or host-less URIs (so a GitHub
    /// Enterprise Server or the fake GitHub in tests would get none), and its installation-token
    /// handling keeps tokens in process memory, while ours are minted once per installation
    /// across all processes and shared through Redis ([`GithubClient::installation_token`]).
    ///
    /// `base_uri` is the API's origin only (scheme, host, port); the path prefix of a GitHub
    /// Enterprise Server (`/api/v3`) is joined by us ([`GithubApi::url`]). octocrab's base-URI
    /// layer prefixes its base path to every request path that does not already start with it,
    /// absolute URLs to other hosts included, so with `/api/v3` in `base_uri` the OAuth exchange
    /// on `https://HOST/login/oauth/access_token` would go to `/api/v3/login/oauth/...`.
    pub fn new(api_url: &str, web_url: &str) -> Result<Self, GithubError> {
        let api_url = api_url.trim().trim_end_matches('/').to_owned();
        let uri: Uri = api_url
            .parse()
            .map_err(|_| GithubError::Build(format!("GITHUB_API_URL {api_url:?} is not a URL")))?;
        let origin = Origin::of(&uri).ok_or_else(|| {
            GithubError::Build(format!("GITHUB_API_URL {api_url:?} is not an http(s) URL"))
        })?;
        if uri.query().is_some() {
            return Err(GithubError::Build(format!(
                "GITHUB_API_URL {api_url:?} must not have a query"
            )));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        let octocrab = Octocrab::builder()
            .base_uri(origin.base_uri())
            .map_err(|e| GithubError::Build(format!("base URI: {e}")))?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(IO_TIMEOUT))
            .set_write_timeout(Some(IO_TIMEOUT))
            .build()
            .map_err(|e| GithubError::Build(e.to_string()))?;
        let web_url = web_url.trim().trim_end_matches('/');
        let web: Uri = web_url
            .parse()
            .map_err(|_| GithubError::Build(format!("GITHUB_WEB_URL {web_url:?} is not a URL")))?;
        if Origin::of(&web).is_none() {
            return Err(GithubError::Build(format!(
                "GITHUB_WEB_URL {web_url:?} is not an http(s) URL"
            )));
        }
        Ok(Self {
            octocrab,
            base: Arc::new(ApiBase {
                url: api_url,
                origin,
                prefix,
            }),
            web_url: web_url.into(),
        })
    }

    /// `GITHUB_API_URL`, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.base.url
    }

    /// `GITHUB_WEB_URL` (OAuth), without a trailing slash.
    pub fn web_url(&self) -> &str {
        &self.web_url
    }

    /// An absolute URL for `path` (absolute URLs, e.g. from `Link`, pass through unchecked;
    /// they are checked when requested).
    pub fn url(&self, path: &str) -> String {
        if is_absolute(path) {
            path.to_owned()
        } else {
            format!("{}{}", self.base.url, path)
        }
    }

    /// The path and query to request for `target` (a path below the API base, or an absolute URL
    /// on the API base's scheme, host and port). Anything else is refused.
    fn route(&self, target: &str) -> Result<String, GithubError> {
        if !is_absolute(target) {
            if !target.starts_with('/') {
                return Err(GithubError::BadUrl(target.to_owned()));
            }
            return Ok(format!("{}{}", self.base.prefix, target));
        }
        let uri: Uri = target
            .parse()
            .map_err(|_| GithubError::BadUrl(target.to_owned()))?;
        if Origin::of(&uri).as_ref() != Some(&self.base.origin) {
            return Err(GithubError::ForeignUrl {
                url: target.to_owned(),
                base: self.base.url.clone(),
            });
        }
        Ok(uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()))
    }

    /// Sends one request through octocrab (never retried) and reads the whole body, within
    /// [`REQUEST_TIMEOUT`].
    async fn exchange(
        &self,
        method: Method,
        uri: String,
        headers: HeaderMap,
        body: Option<RequestBody>,
    ) -> Result<RawResponse, GithubError> {
        let work = async {
            let response = if method == Method::GET && body.is_none() {
                self.octocrab._get_with_headers(uri, Some(headers)).await
            } else {
                let mut builder = http::Request::builder().method(method).uri(uri);
                for (name, value) in &headers {
                    builder = builder.header(name, value);
                }
                match body {
                    Some(RequestBody::Json(json)) => {
                        match self.octocrab.build_request(builder, Some(&json)) {
                            Ok(request) => self.octocrab.execute(request).await,
                            Err(e) => Err(e),
                        }
                    }
                    Some(RequestBody::Form(form)) => {
                        let request = builder
                            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(form)
                            .map_err(|e| GithubError::BadUrl(e.to_string()))?;
                        self.octocrab.execute(request).await
                    }
                    None => match self.octocrab.build_request(builder, None::<&()>) {
                        Ok(request) => self.octocrab.execute(request).await,
                        Err(e) => Err(e),
                    },
                }
            }
            .map_err(GithubError::Http)?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(GithubError::Http)?.to_bytes();
            Ok(RawResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| GithubError::Timeout(REQUEST_TIMEOUT))?
    }

    /// One REST request to `target` (checked by [`GithubApi::route`]) as `credential`.
    async fn rest(
        &self,
        method: Method,
        target: &str,
        credential: &Credential<'_>,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Result<(RawResponse, String), GithubError> {
        let route = self.route(target)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(header::AUTHORIZATION, credential.header()?);
        if let Some(etag) = etag
            && let Ok(value) = HeaderValue::from_str(etag)
        {
            headers.insert(header::IF_NONE_MATCH, value);
        }
        let raw = self
            .exchange(method, route.clone(), headers, body.map(RequestBody::Json))
            .await?;
        Ok((raw, route))
    }

    /// GET `path` with a user's OAuth token (admin sign-in: `/user`, memberships).
    pub async fn get_as_user(&self, token: &str, path: &str) -> Result<Response, GithubError> {
        let (raw, route) = self
            .rest(Method::GET, path, &Credential::User(token), None, None)
            .await?;
        judge(&Method::GET, &route, raw, None)
    }

    /// Revokes a user's OAuth token once we are done with it: `DELETE
    /// /applications/{client_id}/token` with the client id and secret as HTTP Basic and the token
    /// in the JSON body (https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token;
    /// 204 on success, 422 for a token GitHub does not know).
    pub async fn revoke_oauth_token(
        &self,
        client_id: &str,
        client_secret: &str,
        access_token: &str,
    ) -> Result<(), GithubError> {
        let path = format!(
            "/applications/{}/token",
            utf8_percent_encode(client_id, PATH_SEGMENT)
        );
        let credential = Credential::Basic {
            user: client_id,
            password: client_secret,
        };
        let body = serde_json::json!({ "access_token": access_token });
        let (raw, route) = self
            .rest(Method::DELETE, &path, &credential, None, Some(body))
            .await?;
        judge(&Method::DELETE, &route, raw, None).map(drop)
    }

    /// POSTs to `path` with no credential at all and no body (the manifest conversion, which
    /// GitHub authorises by the code in its path); the JSON answer of a 2xx.
    pub async fn post_without_credentials(&self, path: &str) -> Result<Value, GithubError> {
        let route = self.route(path)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        let raw = self
            .exchange(Method::POST, route.clone(), headers, None)
            .await?;
        let response = judge(&Method::POST, &route, raw, None)?;
        Ok(response.body.unwrap_or(Value::Null))
    }

    /// Exchanges an OAuth `code` for a user token: `POST {GITHUB_WEB_URL}/login/oauth/access_token`
    /// (form-encoded, JSON answer). GitHub answers 200 with `error` when it refuses; the JSON is
    /// returned as is.
    pub async fn exchange_oauth_code(&self, form: &[(&str, &str)]) -> Result<Value, GithubError> {
        let url = format!("{}/login/oauth/access_token", self.web_url);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let raw = self
            .exchange(
                Method::POST,
                url,
                headers,
                Some(RequestBody::Form(form_encode(form))),
            )
            .await?;
        if !raw.status.is_success() {
            return Err(GithubError::Status {
                status: raw.status.as_u16(),
                method: "POST".into(),
                path: "/login/oauth/access_token".into(),
                message: String::new(),
            });
        }
        Ok(serde_json::from_slice(&raw.body)?)
    }
}

enum RequestBody {
    Json(Value),
    Form(String),
}

fn is_absolute(target: &str) -> bool {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `application/x-www-form-urlencoded`, as browsers encode forms.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn encode(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Turns a raw response into a [`Response`] or the error the caller should act on. `sent_etag`
/// is kept as the ETag of a 304 that repeats none.
fn judge(
    method: &Method,
    route: &str,
    raw: RawResponse,
    sent_etag: Option<&str>,
) -> Result<Response, GithubError> {
    let RawResponse {
        status,
        headers,
        body,
    } = raw;
    let rate = rate_limit(&headers);
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Response {
            status,
            body: None,
            etag: header_string(&headers, header::ETAG.as_str()).or(sent_etag.map(str::to_owned)),
            next: None,
            rate,
        });
    }
    if status.is_success() {
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)?
        };
        return Ok(Response {
            status,
            body: Some(body),
            etag: header_string(&headers, header::ETAG.as_str()),
            next: next_link(&headers),
            rate,
        });
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
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
    Err(GithubError::Status {
        status: status.as_u16(),
        method: method.to_string(),
        path: route.split('?').next().unwrap_or(route).to_owned(),
        message,
    })
}

/// The App's identity on top of [`GithubApi`]: app JWTs and installation tokens. Present only
/// when `GITHUB_APP_ID` and the private key are configured. Cheap to clone.
#[derive(Clone)]
pub struct GithubClient {
    api: GithubApi,
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
            .field("api", &self.api)
            .field("app_id", &self.app_id)
            .finish()
    }
}

impl GithubClient {
    pub fn new(
        api: GithubApi,
        config: &GithubAppConfig,
        redis: ConnectionManager,
        prefix: &str,
        pool: PgPool,
    ) -> Self {
        Self {
            api,
            app_id: config.app_id,
            key: config.private_key.clone(),
            redis,
            prefix: prefix.into(),
            locks: LocalLocks::default(),
            pool,
        }
    }

    /// The shared HTTP client underneath.
    pub fn api(&self) -> &GithubApi {
        &self.api
    }

    /// An absolute URL for `path` (absolute URLs, e.g. from `Link`, pass through).
    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
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
        // Refuse a foreign URL before a JWT is signed or a token minted for it.
        self.api.route(path)?;
        let mut retried_auth = false;
        loop {
            let (raw, route) = match auth {
                Auth::App => {
                    let jwt = self.key.sign(self.app_id, Utc::now())?;
                    let credential = Credential::AppJwt(&jwt);
                    self.api
                        .rest(method.clone(), path, &credential, etag, body.clone())
                        .await?
                }
                Auth::Installation(id) => {
                    let token = self.installation_token(id).await?;
                    let credential = Credential::Installation(&token.token);
                    self.api
                        .rest(method.clone(), path, &credential, etag, body.clone())
                        .await?
                }
            };
            // A token revoked or expired early: mint a fresh one, once.
            if raw.status == StatusCode::UNAUTHORIZED
                && !retried_auth
                && let Auth::Installation(id) = auth
            {
                retried_auth = true;
                self.forget_token(id).await?;
                continue;
            }
            return judge(&method, &route, raw, etag);
        }
    }

    fn token_key(&self, id: InstallationId) -> String {
        token_keys(&self.prefix, id)[0].clone()
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
        let status = installations::status(&self.pool, id).await?;
        if let Some(status) = status.filter(|s| *s != InstallationStatus::Active) {
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
        let lock_key = token_keys(&self.prefix, id)[1].clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let mut conn = self.redis.clone();
            let acquired =
                RedisLock::try_acquire(&mut conn, lock_key.clone(), Duration::from_secs(15))
                    .await?;
            if let Some(lock) = acquired {
                let minted = self.mint(id).await;
                lock.release(&mut conn).await?;
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

/// The Redis keys of an installation's token: the cached token and its minting lock.
pub fn token_keys(prefix: &str, id: InstallationId) -> [String; 2] {
    [
        format!("{prefix}:gh:token:{}", id.0),
        format!("{prefix}:gh:token-lock:{}", id.0),
    ]
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

    #[tokio::test]
    async fn routes_stay_on_the_api_base() {
        let api = GithubApi::new("https://GHE.example/api/v3/", "https://ghe.example").unwrap();
        assert_eq!(api.api_url(), "https://GHE.example/api/v3");
        assert_eq!(api.route("/app").unwrap(), "/api/v3/app");
        // A `Link` keeps its own path (GitHub includes the prefix) and query.
        assert_eq!(
            api.route("https://ghe.example/api/v3/orgs/o/members?page=2")
                .unwrap(),
            "/api/v3/orgs/o/members?page=2"
        );
        assert_eq!(
            api.route("https://ghe.example:443/api/v3/x?a=1").unwrap(),
            "/api/v3/x?a=1"
        );
        for foreign in [
            "https://ghe.example:8443/api/v3/orgs/o/members?page=2",
            "http://ghe.example/api/v3/orgs/o/members?page=2",
            "https://evil.example/api/v3/orgs/o/members?page=2",
            "https://ghe.example.evil.example/api/v3/x",
        ] {
            assert!(
                matches!(api.route(foreign), Err(GithubError::ForeignUrl { .. })),
                "{foreign} must be refused"
            );
        }
        assert!(matches!(api.route("app"), Err(GithubError::BadUrl(_))));

        let dotcom = GithubApi::new("https://api.github.com", "https://github.com").unwrap();
        assert_eq!(
            dotcom.route("/repos/o/r/pulls?page=2").unwrap(),
            "/repos/o/r/pulls?page=2"
        );
        assert!(matches!(
            dotcom.route("https://github.com/repos/o/r"),
            Err(GithubError::ForeignUrl { .. })
        ));
        let local = GithubApi::new("http://127.0.0.1:8080", "http://127.0.0.1:8080").unwrap();
        assert!(local.route("http://127.0.0.1:8080/app?x=1").is_ok());
        assert!(matches!(
            local.route("http://127.0.0.1:8081/app"),
            Err(GithubError::ForeignUrl { .. })
        ));
    }

    #[tokio::test]
    async fn refuses_bad_bases() {
        assert!(matches!(
            GithubApi::new("ftp://x", "https://github.com"),
            Err(GithubError::Build(_))
        ));
        assert!(matches!(
            GithubApi::new("https://api.github.com", "not a url"),
            Err(GithubError::Build(_))
        ));
    }

    /// What a loopback server saw: (method, path and query, authorization, content type, body).
    type Seen =
        Arc<std::sync::Mutex<Vec<(String, String, Option<String>, Option<String>, String)>>>;

    /// A server answering 500 to every POST and `{"ok":true}` to everything else.
    async fn recording_server() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let header = |name: header::HeaderName| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                    };
                    log.lock().unwrap().push((
                        method.to_string(),
                        uri.path_and_query().unwrap().to_string(),
                        header(header::AUTHORIZATION),
                        header(header::CONTENT_TYPE),
                        String::from_utf8_lossy(&body).into_owned(),
                    ));
                    let status =
                        if method == Method::POST && uri.path() != "/login/oauth/access_token" {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        };
                    (status, axum::Json(serde_json::json!({ "ok": true })))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }

    /// How octocrab joins our routes to its base: the GHES prefix once, Link paths as they are,
    /// the web host without the prefix; our Authorization as given; a failed POST sent once.
    #[tokio::test]
    async fn requests_go_where_we_say_through_octocrab() {
        let (url, seen) = recording_server().await;
        let api = GithubApi::new(&format!("{url}/api/v3"), &url).unwrap();
        api.get_as_user("gho_user", "/user").await.unwrap();
        api.get_as_user(
            "gho_user",
            &format!("{url}/api/v3/orgs/o/members?per_page=1&page=2"),
        )
        .await
        .unwrap();
        let token = api
            .exchange_oauth_code(&[("client_id", "id"), ("code", "a b")])
            .await
            .unwrap();
        assert_eq!(token["ok"], true);
        let err = api
            .rest(
                Method::POST,
                "/app/hook/deliveries/1/attempts",
                &Credential::AppJwt("jwt"),
                None,
                None,
            )
            .await
            .map(|(raw, route)| judge(&Method::POST, &route, raw, None));
        assert!(matches!(
            err,
            Ok(Err(GithubError::Status { status: 500, .. }))
        ));

        let seen = seen.lock().unwrap().clone();
        let summary: Vec<(&str, &str, Option<&str>)> = seen
            .iter()
            .map(|(m, p, a, _, _)| (m.as_str(), p.as_str(), a.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("GET", "/api/v3/user", Some("Bearer gho_user")),
                (
                    "GET",
                    "/api/v3/orgs/o/members?per_page=1&page=2",
                    Some("Bearer gho_user")
                ),
                ("POST", "/login/oauth/access_token", None),
                (
                    "POST",
                    "/api/v3/app/hook/deliveries/1/attempts",
                    Some("Bearer jwt")
                ),
            ],
            "the POST answered 500 is not re-sent"
        );
        assert_eq!(
            seen[2].3.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(seen[2].4, "client_id=id&code=a+b");
    }

    /// The token revocation: DELETE on the API base, the client's HTTP Basic, the token only in
    /// the JSON body.
    #[tokio::test]
    async fn revokes_a_user_token_with_the_clients_basic_auth() {
        let (url, seen) = recording_server().await;
        let api = GithubApi::new(&format!("{url}/api/v3"), &url).unwrap();
        api.revoke_oauth_token("Iv1.id", "s3cret", "gho_user")
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        let (method, path, auth, content_type, body) = &seen[0];
        assert_eq!(method, "DELETE");
        assert_eq!(path, "/api/v3/applications/Iv1.id/token");
        let basic = format!("Basic {}", BASE64.encode("Iv1.id:s3cret"));
        assert_eq!(auth.as_deref(), Some(basic.as_str()));
        assert_eq!(content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body, serde_json::json!({ "access_token": "gho_user" }));
    }

    /// Why `base_uri` is the origin only: with a path in it, octocrab prefixes that path to
    /// absolute URLs on other hosts too (the OAuth exchange on the GHES web host would break).
    #[tokio::test]
    async fn octocrab_prefixes_its_base_path_to_absolute_urls() {
        let (url, seen) = recording_server().await;
        let octocrab = Octocrab::builder()
            .base_uri(format!("{url}/api/v3"))
            .unwrap()
            .add_retry_config(RetryConfig::None)
            .build()
            .unwrap();
        octocrab
            ._get(format!("{url}/login/oauth/access_token"))
            .await
            .unwrap();
        assert_eq!(
            seen.lock().unwrap()[0].1,
            "/api/v3/login/oauth/access_token",
            "octocrab no longer rewrites absolute URLs: GithubApi could take the full base"
        );
    }

    #[test]
    fn encodes_forms() {
        assert_eq!(
            form_encode(&[("code", "a b&c"), ("redirect_uri", "https://x/y?z=1")]),
            "code=a+b%26c&redirect_uri=https%3A%2F%2Fx%2Fy%3Fz%3D1"
        );
    }
}
