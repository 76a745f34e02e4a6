//! Every environment variable Mergecast reads, parsed and validated once at start-up, so a
//! misconfiguration stops the process with one line naming the variable (exit code 2).

use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

mod admin;
mod app_key;
pub mod layered;
pub mod seal;

pub use admin::{AdminConfig, OAuthClient, hash_password, verify_password};
pub use app_key::{AppKey, BadKey};

/// A missing or invalid variable; the message names it and never echoes its value (it may be a secret).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{0} is required but not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Log output shape: human text for development, JSON lines for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Webhook secrets: several may be active at once so a secret can be rotated without downtime.
#[derive(Clone)]
pub struct WebhookSecrets(Vec<Vec<u8>>);

impl WebhookSecrets {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(secrets: I) -> Self {
        Self(secrets.into_iter().map(|s| s.as_ref().to_vec()).collect())
    }

    /// No secret yet: the GitHub App is not registered (first run).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(Vec::as_slice)
    }
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets([{} redacted])", self.0.len())
    }
}

/// The GitHub App identity and catch-up settings; absent when `GITHUB_APP_ID` is unset (then
/// Mergecast only ingests webhooks and never calls GitHub).
#[derive(Debug, Clone)]
pub struct GithubAppConfig {
    pub app_id: i64,
    /// `GITHUB_APP_SLUG`: the app's URL name (its install page is
    /// `{GITHUB_WEB_URL}/apps/{slug}/installations/new`); set by the manifest flow.
    pub slug: Option<String>,
    pub private_key: AppKey,
    pub sync_interval: Duration,
    /// Merged PRs found by catch-up trigger surveys only if merged this recently.
    pub merged_window: Duration,
    /// Below this many remaining requests an installation's sync pauses until the window resets.
    pub rate_limit_reserve: u32,
    /// How far back the first sync of a repository reads pull requests and issues.
    pub initial_lookback: Duration,
}

/// Settings shared by every role (web, worker, CLI).
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub redis_url: String,
    pub webhook_secrets: WebhookSecrets,
    pub bind_addr: SocketAddr,
    /// Where `/metrics` (and only it) is served (`METRICS_ADDR`): loopback by default, so the
    /// counters are not public on the webhook address.
    pub metrics_addr: SocketAddr,
    pub log_format: LogFormat,
    /// Prefix of every Redis key we own; lets several deployments (or tests) share one Redis.
    pub queue_prefix: String,
    pub worker_concurrency: usize,
    pub delivery_max_attempts: u32,
    /// First retry delay of a failed delivery; doubles per failure up to five minutes.
    pub delivery_retry_base: Duration,
    pub delivery_retention: Duration,
    /// `WEBHOOK_DEDUPE_WINDOW_SECS`: how long Redis remembers an accepted delivery id, so the
    /// same delivery arriving again is answered 200 without being queued. Later duplicates are
    /// queued and found already applied in the delivery log (Postgres dedupes for good).
    pub dedupe_window: Duration,
    /// How long a deleted installation's data is kept before it is purged
    /// (`DELETION_GRACE_DAYS`, 0 = at the next purge run).
    pub deletion_grace: Duration,
    pub database_max_connections: u32,
    /// Heartbeat of queue workers; a worker silent for 3 heartbeats is dead and its jobs run again.
    pub worker_heartbeat: Duration,
    /// How long the webhook endpoint waits for Redis before answering 503.
    pub redis_timeout: Duration,
    /// `GITHUB_API_URL`: `https://api.github.com`, or `https://HOST/api/v3` for GitHub
    /// Enterprise Server; no trailing slash.
    pub github_api_url: String,
    /// `GITHUB_WEB_URL`: where OAuth sign-in lives (`https://github.com`, or the GHES host).
    pub github_web_url: String,
    pub github_app: Option<GithubAppConfig>,
    /// Present when `SLACK_SIGNING_SECRET` is set; without it surveys wait for Slack.
    pub slack: Option<SlackConfig>,
    pub survey: SurveyConfig,
    /// How often reminders, expiry, delayed asks and the leaderboard are checked.
    pub survey_tick: Duration,
    /// Admin sign-in (operator password, GitHub OAuth, session key).
    pub admin: AdminConfig,
    /// `MERGECAST_ENCRYPTION_KEY` (and older keys): seals secrets stored in Postgres. Without
    /// it, nothing secret is stored at all.
    pub keyring: Option<seal::Keyring>,
    /// Where each group of settable variables came from (environment, setup page, unset),
    /// keyed by the group's first variable (`layered::GROUPS`).
    pub sources: std::collections::BTreeMap<&'static str, layered::Source>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let database_url = required("DATABASE_URL")?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(invalid(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        let redis_url = required("REDIS_URL")?;
        if !(redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(invalid(
                "REDIS_URL",
                "must start with redis:// or rediss://",
            ));
        }
        // Optional: before the GitHub App is registered (first run) there is none, and the
        // webhook endpoint answers 503 until there is.
        let raw_secrets = get("GITHUB_WEBHOOK_SECRET").unwrap_or_default();
        let secrets: Vec<&str> = raw_secrets
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "0.0.0.0:8080".into())
            .parse()
            .map_err(|_| invalid("BIND_ADDR", "expected host:port, e.g. 0.0.0.0:8080"))?;
        let metrics_addr: SocketAddr = get("METRICS_ADDR")
            .unwrap_or_else(|| "127.0.0.1:9090".into())
            .trim()
            .parse()
            .map_err(|_| invalid("METRICS_ADDR", "expected host:port, e.g. 127.0.0.1:9090"))?;
        if metrics_addr == bind_addr && metrics_addr.port() != 0 {
            return Err(invalid("METRICS_ADDR", "must differ from BIND_ADDR"));
        }
        let log_format = match get("LOG_FORMAT").as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(invalid("LOG_FORMAT", "expected text or json")),
        };
        let queue_prefix = get("QUEUE_PREFIX").unwrap_or_else(|| "mergecast".into());
        if !queue_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
        {
            return Err(invalid("QUEUE_PREFIX", "use letters, digits, - _ : ."));
        }
        Ok(Self {
            database_url,
            redis_url,
            webhook_secrets: WebhookSecrets::new(secrets),
            bind_addr,
            metrics_addr,
            log_format,
            queue_prefix,
            worker_concurrency: number(&get, "WORKER_CONCURRENCY", 64, 1, 1024)? as usize,
            delivery_max_attempts: number(&get, "DELIVERY_MAX_ATTEMPTS", 8, 1, 100)? as u32,
            delivery_retry_base: Duration::from_millis(number(
                &get,
                "DELIVERY_RETRY_BASE_MS",
                2000,
                1,
                600_000,
            )?),
            delivery_retention: Duration::from_secs(
                number(&get, "DELIVERY_RETENTION_DAYS", 7, 1, 3650)? * 86_400,
            ),
            dedupe_window: Duration::from_secs(number(
                &get,
                "WEBHOOK_DEDUPE_WINDOW_SECS",
                3600,
                60,
                7 * 86_400,
            )?),
            deletion_grace: Duration::from_secs(
                number(&get, "DELETION_GRACE_DAYS", 30, 0, 3650)? * 86_400,
            ),
            database_max_connections: number(&get, "DATABASE_MAX_CONNECTIONS", 20, 1, 1000)? as u32,
            worker_heartbeat: Duration::from_secs(number(
                &get,
                "WORKER_HEARTBEAT_SECS",
                5,
                1,
                300,
            )?),
            redis_timeout: Duration::from_millis(number(
                &get,
                "REDIS_TIMEOUT_MS",
                2000,
                10,
                60_000,
            )?),
            github_api_url: github_url(&get, "GITHUB_API_URL", "https://api.github.com")?,
            github_web_url: github_url(&get, "GITHUB_WEB_URL", "https://github.com")?,
            github_app: github_app(&get)?,
            slack: slack(&get)?,
            survey: survey(&get)?,
            survey_tick: Duration::from_millis(number(
                &get,
                "SURVEY_TICK_MS",
                15_000,
                10,
                3_600_000,
            )?),
            admin: AdminConfig::from_lookup(&get)?,
            keyring: seal::Keyring::from_lookup(&get)?,
            sources: layered::GROUPS
                .iter()
                .map(|g| {
                    let set = g.iter().any(|n| get(n).is_some());
                    let source = if set {
                        layered::Source::Environment
                    } else {
                        layered::Source::Unset
                    };
                    (g[0], source)
                })
                .collect(),
        })
    }

    /// Reads the environment over what the setup page stored (the environment wins per group;
    /// `sources` says which one each group came from).
    pub fn from_layered(layers: &layered::Layered) -> Result<Self, ConfigError> {
        let mut config = Self::from_lookup(|name| layers.get(name))?;
        config.sources = layers.sources();
        Ok(config)
    }
}

/// The Slack app: its signing secret (the signed Slack endpoints), the OAuth client that adds it
/// to each org's workspace ("Add to Slack"), and the default workspace's bot token.
#[derive(Clone)]
pub struct SlackConfig {
    /// `SLACK_BOT_TOKEN`: the workspace of every installation that has not added its own.
    /// Without it, an installation's surveys wait until its org adds Mergecast to Slack.
    pub bot_token: Option<String>,
    pub signing_secret: String,
    /// `SLACK_CLIENT_ID` and `SLACK_CLIENT_SECRET`: "Add to Slack" (OAuth v2) per installation.
    pub oauth: Option<SlackOAuth>,
    /// Base of the Web API, ending in `/` (`https://slack.com/api/`); tests point it at a fake.
    pub api_url: String,
    /// `SLACK_WEB_URL`: where Slack's OAuth consent page lives (`https://slack.com`); no trailing
    /// slash.
    pub web_url: String,
    pub leaderboard_channel: Option<String>,
}

/// The Slack app's OAuth client.
#[derive(Clone)]
pub struct SlackOAuth {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for SlackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConfig")
            .field("api_url", &self.api_url)
            .field("web_url", &self.web_url)
            .field("default_workspace", &self.bot_token.is_some())
            .field("oauth", &self.oauth.as_ref().map(|o| &o.client_id))
            .field("leaderboard_channel", &self.leaderboard_channel)
            .finish_non_exhaustive()
    }
}

/// Who is asked, when, and for how long.
#[derive(Debug, Clone)]
pub struct SurveyConfig {
    pub remind_after: Duration,
    pub ttl: Duration,
    /// Local working hours of recipients, minutes since midnight: [start, end).
    pub working_hours: (u32, u32),
    /// Working days, Monday = 0.
    pub working_days: Vec<u32>,
    /// Logins never surveyed besides `type: Bot` and `[bot]` logins.
    pub bot_logins: Vec<String>,
    pub excluded_repositories: Vec<String>,
    pub excluded_labels: Vec<String>,
    /// The clock of someone whose Slack profile has no time zone at all.
    pub default_zone: chrono_tz::Tz,
}

/// Slack is configured once its signing secret is (from the environment or the setup page): a
/// bot token alone could send DMs whose clicks nobody could verify, so it needs the secret too.
fn slack(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<Option<SlackConfig>, ConfigError> {
    let bot_token = get("SLACK_BOT_TOKEN").map(|t| t.trim().to_owned());
    if bot_token.as_ref().is_some_and(|t| !t.starts_with("xox")) {
        return Err(invalid(
            "SLACK_BOT_TOKEN",
            "expected a bot token (xoxb-...)",
        ));
    }
    let oauth = match (get("SLACK_CLIENT_ID"), get("SLACK_CLIENT_SECRET")) {
        (Some(client_id), Some(client_secret)) => Some(SlackOAuth {
            client_id: client_id.trim().to_owned(),
            client_secret: client_secret.trim().to_owned(),
        }),
        (None, None) => None,
        (Some(_), None) => return Err(ConfigError::Missing("SLACK_CLIENT_SECRET")),
        (None, Some(_)) => return Err(ConfigError::Missing("SLACK_CLIENT_ID")),
    };
    let Some(signing_secret) = get("SLACK_SIGNING_SECRET") else {
        return match (&bot_token, &oauth) {
            (None, None) => Ok(None),
            _ => Err(ConfigError::Missing("SLACK_SIGNING_SECRET")),
        };
    };
    let mut api_url = get("SLACK_API_URL").unwrap_or_else(|| "https://slack.com/api/".into());
    if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
        return Err(invalid("SLACK_API_URL", "must be an http(s) URL"));
    }
    if !api_url.ends_with('/') {
        api_url.push('/');
    }
    let web_url = get("SLACK_WEB_URL").unwrap_or_else(|| "https://slack.com".into());
    if !(web_url.starts_with("https://") || web_url.starts_with("http://")) {
        return Err(invalid("SLACK_WEB_URL", "must be an http(s) URL"));
    }
    Ok(Some(SlackConfig {
        bot_token,
        signing_secret: signing_secret.trim().to_owned(),
        oauth,
        api_url,
        web_url: web_url.trim_end_matches('/').to_owned(),
        leaderboard_channel: get("SLACK_LEADERBOARD_CHANNEL"),
    }))
}

fn list(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Vec<String> {
    get(name)
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn survey(get: &impl Fn(&'static str) -> Option<String>) -> Result<SurveyConfig, ConfigError> {
    let hours = get("SURVEY_WORKING_HOURS").unwrap_or_else(|| "09:00-18:00".into());
    let parse_time = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let working_hours = hours
        .split_once('-')
        .and_then(|(a, b)| Some((parse_time(a)?, parse_time(b)?)))
        .filter(|(a, b)| a < b)
        .ok_or_else(|| {
            invalid(
                "SURVEY_WORKING_HOURS",
                "expected HH:MM-HH:MM, e.g. 09:00-18:00",
            )
        })?;
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let raw_days = list(get, "SURVEY_WORKING_DAYS", "mon,tue,wed,thu,fri");
    let mut working_days = Vec::new();
    for d in &raw_days {
        let i = DAYS
            .iter()
            .position(|x| x == d)
            .ok_or_else(|| invalid("SURVEY_WORKING_DAYS", "expected day names like mon,tue,wed"))?;
        working_days.push(i as u32);
    }
    Ok(SurveyConfig {
        remind_after: Duration::from_secs(number(
            get,
            "SURVEY_REMIND_AFTER_SECS",
            24 * 3600,
            1,
            30 * 86_400,
        )?),
        ttl: Duration::from_secs(number(get, "SURVEY_TTL_SECS", 72 * 3600, 1, 90 * 86_400)?),
        working_hours,
        working_days,
        bot_logins: list(get, "SURVEY_BOT_LOGINS", "dependabot,renovate"),
        excluded_repositories: list(get, "SURVEY_EXCLUDED_REPOSITORIES", ""),
        excluded_labels: list(get, "SURVEY_EXCLUDED_LABELS", ""),
        default_zone: get("SURVEY_DEFAULT_TIMEZONE")
            .unwrap_or_else(|| "UTC".into())
            .trim()
            .parse()
            .map_err(|_| {
                invalid(
                    "SURVEY_DEFAULT_TIMEZONE",
                    "expected an IANA time zone, e.g. Europe/Berlin",
                )
            })?,
    })
}

fn github_app(
    get: &impl Fn(&'static str) -> Option<String>,
) -> Result<Option<GithubAppConfig>, ConfigError> {
    let key_inline = get("GITHUB_PRIVATE_KEY");
    let key_path = get("GITHUB_PRIVATE_KEY_PATH");
    let Some(raw_id) = get("GITHUB_APP_ID") else {
        if key_inline.is_some() || key_path.is_some() {
            return Err(ConfigError::Missing("GITHUB_APP_ID"));
        }
        return Ok(None);
    };
    let app_id = raw_id
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid("GITHUB_APP_ID", "expected the app's numeric id"))?;
    let (name, pem) = match (key_inline, key_path) {
        (Some(pem), _) => ("GITHUB_PRIVATE_KEY", pem),
        (None, Some(path)) => {
            let pem = std::fs::read_to_string(path.trim()).map_err(|e| ConfigError::Invalid {
                name: "GITHUB_PRIVATE_KEY_PATH",
                reason: format!("cannot read the key file: {e}"),
            })?;
            ("GITHUB_PRIVATE_KEY_PATH", pem)
        }
        (None, None) => return Err(ConfigError::Missing("GITHUB_PRIVATE_KEY")),
    };
    let private_key = AppKey::from_pem(&pem).map_err(|e| invalid(name, &e.to_string()))?;
    let slug = match get("GITHUB_APP_SLUG") {
        Some(slug)
            if !slug
                .trim()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            return Err(invalid(
                "GITHUB_APP_SLUG",
                "use the app's URL name: letters, digits and -",
            ));
        }
        other => other.map(|s| s.trim().to_owned()),
    };
    Ok(Some(GithubAppConfig {
        app_id,
        slug,
        private_key,
        sync_interval: Duration::from_secs(number(get, "SYNC_INTERVAL_SECS", 900, 10, 86_400)?),
        merged_window: Duration::from_secs(
            number(get, "SYNC_MERGED_WINDOW_HOURS", 72, 1, 24 * 365)? * 3600,
        ),
        rate_limit_reserve: number(get, "SYNC_RATE_LIMIT_RESERVE", 200, 0, 100_000)? as u32,
        initial_lookback: Duration::from_secs(
            number(get, "SYNC_INITIAL_LOOKBACK_DAYS", 30, 1, 3650)? * 86_400,
        ),
    }))
}

/// An http(s) base URL without a trailing slash (checked again, strictly, when the GitHub client
/// is built at start).
fn github_url(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = get(name)
        .unwrap_or_else(|| default.into())
        .trim()
        .trim_end_matches('/')
        .to_owned();
    if !(value.starts_with("https://") || value.starts_with("http://")) || value.contains('?') {
        return Err(invalid(name, "must be an http(s) URL without a query"));
    }
    Ok(value)
}

pub(crate) fn invalid(name: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

fn number(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = get(name) else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid {
            name,
            reason: format!("expected a whole number from {min} to {max}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("DATABASE_URL", "postgres://localhost/x".to_string()),
            ("REDIS_URL", "redis://127.0.0.1/".to_string()),
            ("GITHUB_WEBHOOK_SECRET", "new, old".to_string()),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_and_secret_list() {
        let c = load(&base()).unwrap();
        assert_eq!(c.bind_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(c.metrics_addr.to_string(), "127.0.0.1:9090");
        assert_eq!(c.webhook_secrets.iter().count(), 2);
        assert!(!format!("{c:?}").contains("old"));
    }

    #[test]
    fn github_app_key_is_validated() {
        let mut v = base();
        v.insert("GITHUB_APP_ID", "123".into());
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "GITHUB_PRIVATE_KEY is required but not set"
        );
        v.insert(
            "GITHUB_PRIVATE_KEY",
            "-----BEGIN RSA PRIVATE KEY-----\\nnope\\n-----END RSA PRIVATE KEY-----".into(),
        );
        assert!(
            load(&v)
                .unwrap_err()
                .to_string()
                .starts_with("GITHUB_PRIVATE_KEY is invalid")
        );
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/keys/test-app.pem"
        ))
        .unwrap();
        v.insert("GITHUB_PRIVATE_KEY", pem.replace('\n', "\\n"));
        let config = load(&v).unwrap();
        assert_eq!(config.github_api_url, "https://api.github.com");
        let app = config.github_app.unwrap();
        assert_eq!(app.app_id, 123);
        assert!(!format!("{app:?}").contains("PRIVATE"));
    }

    #[test]
    fn missing_and_invalid_name_the_variable() {
        let mut v = base();
        v.remove("REDIS_URL");
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "REDIS_URL is required but not set"
        );
        let mut v = base();
        v.insert("BIND_ADDR", "nope".into());
        assert!(
            load(&v)
                .unwrap_err()
                .to_string()
                .starts_with("BIND_ADDR is invalid")
        );
        for bad in ["9090", "localhost:9090", "0.0.0.0:8080"] {
            let mut v = base();
            v.insert("METRICS_ADDR", bad.into());
            assert!(
                load(&v)
                    .unwrap_err()
                    .to_string()
                    .starts_with("METRICS_ADDR is invalid"),
                "{bad}"
            );
        }
        for bad in ["-1", "3651", "thirty", "1.5"] {
            let mut v = base();
            v.insert("DELETION_GRACE_DAYS", bad.into());
            assert_eq!(
                load(&v).unwrap_err().to_string(),
                "DELETION_GRACE_DAYS is invalid: expected a whole number from 0 to 3650",
                "{bad}"
            );
        }
        let mut v = base();
        v.insert("DELETION_GRACE_DAYS", "0".into());
        assert_eq!(load(&v).unwrap().deletion_grace, Duration::ZERO);
        assert_eq!(
            load(&base()).unwrap().deletion_grace,
            Duration::from_secs(30 * 86_400)
        );
        let mut v = base();
        v.insert("WORKER_CONCURRENCY", "0".into());
        assert!(
            load(&v)
                .unwrap_err()
                .to_string()
                .starts_with("WORKER_CONCURRENCY")
        );
    }

    #[test]
    fn slack_is_configured_by_its_signing_secret() {
        assert!(load(&base()).unwrap().slack.is_none());
        let mut v = base();
        v.insert("SLACK_SIGNING_SECRET", "sign".into());
        let slack = load(&v).unwrap().slack.unwrap();
        assert!(slack.bot_token.is_none() && slack.oauth.is_none());
        assert_eq!(slack.web_url, "https://slack.com");
        assert_eq!(slack.api_url, "https://slack.com/api/");
        v.insert("SLACK_CLIENT_ID", "123.456".into());
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "SLACK_CLIENT_SECRET is required but not set"
        );
        v.insert("SLACK_CLIENT_SECRET", "very-secret".into());
        v.insert("SLACK_WEB_URL", "http://127.0.0.1:9/".into());
        let slack = load(&v).unwrap().slack.unwrap();
        assert_eq!(slack.oauth.as_ref().unwrap().client_id, "123.456");
        assert_eq!(slack.web_url, "http://127.0.0.1:9");
        assert!(!format!("{slack:?}").contains("very-secret"));
        let mut v = base();
        v.insert("SLACK_BOT_TOKEN", "xoxb-1".into());
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "SLACK_SIGNING_SECRET is required but not set"
        );
    }
}
