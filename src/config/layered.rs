//! Where each setting comes from: the environment, or what the first-run setup page stored in
//! Postgres. The environment wins, per group of variables that only make sense together (an app
//! id from one source and its private key from the other would never sign a valid JWT), and the
//! setup page shows which source each group has.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Groups of variables the setup page may store; each group is read whole from one source.
pub const GROUPS: &[&[&str]] = &[
    &[
        "GITHUB_APP_ID",
        "GITHUB_APP_SLUG",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_PRIVATE_KEY_PATH",
    ],
    &["GITHUB_WEBHOOK_SECRET"],
    &["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"],
    &["SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"],
    &["SLACK_SIGNING_SECRET"],
    &["ADMIN_PASSWORD_HASH"],
    &["SESSION_SECRET"],
    &["PUBLIC_URL"],
];

/// Where a group's values were read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Environment,
    Stored,
    Unset,
}

/// The environment as a lookup (tests hand in a map instead of the process environment).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the setup page needs to see the configuration as it is now (the environment the process
/// started with) and to have a change applied at once (`notify` wakes the reload loop; other
/// processes notice the stored version change within seconds).
#[derive(Clone)]
pub struct Reload {
    pub env: Env,
    pub notify: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reload")
    }
}

/// The process environment.
pub fn process_env() -> Env {
    Arc::new(|name| std::env::var(name).ok())
}

/// The environment over the stored values.
#[derive(Clone)]
pub struct Layered {
    env: Env,
    stored: BTreeMap<&'static str, String>,
}

fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn group_of(name: &str) -> Option<&'static [&'static str]> {
    GROUPS.iter().copied().find(|g| g.contains(&name))
}

impl Layered {
    pub fn new(env: Env, stored: BTreeMap<&'static str, String>) -> Self {
        Self { env, stored }
    }

    fn env_has_group(&self, group: &[&str]) -> bool {
        group.iter().any(|n| present((self.env)(n)).is_some())
    }

    /// The value of `name`: the environment's, or the stored one when the environment sets
    /// nothing of its group.
    pub fn get(&self, name: &str) -> Option<String> {
        match group_of(name) {
            Some(group) if !self.env_has_group(group) => self.stored.get(name).cloned(),
            _ => (self.env)(name),
        }
    }

    /// Where `name`'s group comes from.
    pub fn source(&self, name: &str) -> Source {
        let group = group_of(name).unwrap_or(&[]);
        if self.env_has_group(group) || (group.is_empty() && present((self.env)(name)).is_some()) {
            Source::Environment
        } else if group.iter().any(|n| self.stored.contains_key(n)) {
            Source::Stored
        } else {
            Source::Unset
        }
    }

    /// The source of every group, keyed by its first variable.
    pub fn sources(&self) -> BTreeMap<&'static str, Source> {
        GROUPS.iter().map(|g| (g[0], self.source(g[0]))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        let map: BTreeMap<&str, &str> = pairs.iter().copied().collect();
        Arc::new(move |n| map.get(n).map(|v| v.to_string()))
    }

    #[test]
    fn the_environment_wins_per_group() {
        let stored = BTreeMap::from([
            ("GITHUB_APP_ID", "7".to_string()),
            ("GITHUB_PRIVATE_KEY", "stored-pem".to_string()),
            ("GITHUB_WEBHOOK_SECRET", "stored-secret".to_string()),
        ]);
        let l = Layered::new(
            env(&[("GITHUB_PRIVATE_KEY_PATH", "/k.pem")]),
            stored.clone(),
        );
        assert_eq!(
            l.get("GITHUB_APP_ID"),
            None,
            "the group is the environment's"
        );
        assert_eq!(l.get("GITHUB_PRIVATE_KEY"), None);
        assert_eq!(l.get("GITHUB_PRIVATE_KEY_PATH").as_deref(), Some("/k.pem"));
        assert_eq!(
            l.get("GITHUB_WEBHOOK_SECRET").as_deref(),
            Some("stored-secret")
        );
        assert_eq!(l.source("GITHUB_APP_ID"), Source::Environment);
        assert_eq!(l.source("GITHUB_WEBHOOK_SECRET"), Source::Stored);
        assert_eq!(l.source("SLACK_CLIENT_ID"), Source::Unset);
        let l = Layered::new(env(&[("DATABASE_URL", "postgres://x")]), stored);
        assert_eq!(l.get("GITHUB_APP_ID").as_deref(), Some("7"));
        assert_eq!(l.get("DATABASE_URL").as_deref(), Some("postgres://x"));
        assert_eq!(l.get("GITHUB_PRIVATE_KEY").as_deref(), Some("stored-pem"));
    }
}
