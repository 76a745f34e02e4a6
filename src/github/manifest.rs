//! Registering the GitHub App from its manifest (`app-manifest.yml`, the one source of what the
//! app asks for): the manifest with this deployment's URLs filled in, where the browser posts it,
//! and the code-for-credentials exchange GitHub offers afterwards.
//!
//! Flow (https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest):
//! the browser POSTs a form field `manifest` (JSON) to `{web}/settings/apps/new?state=…` (a
//! personal account) or `{web}/organizations/{org}/settings/apps/new?state=…`; after the user
//! confirms, GitHub redirects to the manifest's `redirect_url` with `code` and `state`; within an
//! hour, `POST {api}/app-manifests/{code}/conversions` (no credentials) returns the app's id,
//! slug, private key, webhook secret and OAuth client id and secret (201).

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::client::{GithubApi, GithubError};

/// The manifest as committed; its host `mergecast.example.com` stands for the public URL.
const MANIFEST_YAML: &str = include_str!("../../app-manifest.yml");
const PLACEHOLDER: &str = "https://mergecast.example.com";

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("app-manifest.yml is not valid: {0}")]
    Yaml(String),
    #[error("the public URL must be an http(s) URL without a path, query or fragment")]
    PublicUrl,
    #[error("the organization login may hold only letters, digits and -")]
    Org,
    #[error(transparent)]
    Github(#[from] GithubError),
    #[error("GitHub's conversion answer lacks {0}")]
    Incomplete(&'static str),
}

/// Who will own the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The signed-in GitHub user's personal account.
    Personal,
    /// An organization (by login) the user administers.
    Organization(String),
}

impl Owner {
    /// `org` empty → personal account; else an org login, checked.
    pub fn parse(org: &str) -> Result<Self, ManifestError> {
        let org = org.trim();
        if org.is_empty() {
            return Ok(Owner::Personal);
        }
        if !org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || org.len() > 39 {
            return Err(ManifestError::Org);
        }
        Ok(Owner::Organization(org.to_owned()))
    }
}

/// `public_url` trimmed of a trailing slash, if it is a bare http(s) origin.
pub fn check_public_url(public_url: &str) -> Result<String, ManifestError> {
    let url = public_url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or(ManifestError::PublicUrl)?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '"', '<', '>']) {
        return Err(ManifestError::PublicUrl);
    }
    Ok(url.to_owned())
}

/// Replaces the placeholder origin in every string of `value`.
fn fill(value: &mut Value, public_url: &str) {
    match value {
        Value::String(s) if s.starts_with(PLACEHOLDER) => {
            *s = format!("{public_url}{}", &s[PLACEHOLDER.len()..]);
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, public_url)),
        Value::Object(map) => map.values_mut().for_each(|v| fill(v, public_url)),
        _ => {}
    }
}

/// The manifest JSON for this deployment.
pub fn manifest(public_url: &str) -> Result<Value, ManifestError> {
    let public_url = check_public_url(public_url)?;
    let mut value: Value =
        serde_yaml_ng::from_str(MANIFEST_YAML).map_err(|e| ManifestError::Yaml(e.to_string()))?;
    fill(&mut value, &public_url);
    Ok(value)
}

/// Where the browser posts the manifest (with `state` in the query, as GitHub documents).
pub fn creation_url(web_url: &str, owner: &Owner, state: &str) -> String {
    let web_url = web_url.trim_end_matches('/');
    let state = percent_encoding::utf8_percent_encode(state, percent_encoding::NON_ALPHANUMERIC);
    match owner {
        Owner::Personal => format!("{web_url}/settings/apps/new?state={state}"),
        Owner::Organization(org) => {
            format!("{web_url}/organizations/{org}/settings/apps/new?state={state}")
        }
    }
}

/// What the conversion returns and we keep. `Debug` shows no secret.
#[derive(Clone, Deserialize)]
pub struct AppCredentials {
    pub id: i64,
    pub slug: String,
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    pub pem: String,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub owner: Option<AppOwner>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AppOwner {
    pub login: String,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// `POST /app-manifests/{code}/conversions`: the new app's credentials (GitHub answers 201; an
/// unknown, used or expired code is 404, a bad one 422).
pub async fn convert(api: &GithubApi, code: &str) -> Result<AppCredentials, ManifestError> {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let path = format!("/app-manifests/{code}/conversions");
    let body = api.post_without_credentials(&path).await?;
    for field in [
        "id",
        "slug",
        "pem",
        "webhook_secret",
        "client_id",
        "client_secret",
    ] {
        if body.get(field).is_none_or(Value::is_null) {
            return Err(ManifestError::Incomplete(field));
        }
    }
    serde_json::from_value(body).map_err(|_| ManifestError::Incomplete("a well-formed app"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_gets_this_deployments_urls() {
        let m = manifest("https://mc.example.org/").unwrap();
        assert_eq!(m["url"], "https://mc.example.org");
        assert_eq!(
            m["hook_attributes"]["url"],
            "https://mc.example.org/webhooks/github"
        );
        assert_eq!(
            m["redirect_url"],
            "https://mc.example.org/admin/setup/github/registered"
        );
        assert_eq!(
            m["callback_urls"][0],
            "https://mc.example.org/admin/oauth/callback"
        );
        assert_eq!(m["default_permissions"]["pull_requests"], "read");
        assert!(m["default_events"].as_array().unwrap().len() >= 7);
        assert!(!m.to_string().contains("example.com"));
        assert!(manifest("ftp://x").is_err());
        assert!(manifest("https://x/path").is_err());
    }

    #[test]
    fn creation_urls_for_github_and_enterprise_server() {
        assert_eq!(
            creation_url("https://github.com", &Owner::Personal, "s1"),
            "https://github.com/settings/apps/new?state=s1"
        );
        assert_eq!(
            creation_url(
                "https://ghe.example.com/",
                &Owner::parse("acme").unwrap(),
                "s2"
            ),
            "https://ghe.example.com/organizations/acme/settings/apps/new?state=s2"
        );
        assert!(Owner::parse("bad/org").is_err());
        assert_eq!(Owner::parse("  ").unwrap(), Owner::Personal);
    }
}
