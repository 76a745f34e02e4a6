//! `mergecast replay`: sends fixture bodies to a webhook endpoint signed exactly as GitHub signs
//! them, each with a fresh delivery id. A development tool, and the benchmark's client.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::github::signature;

/// Why a replay could not run at all (individual refusals are reported per file).
#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no .json fixtures under {0}")]
    Empty(PathBuf),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
}

/// One fixture ready to send: the event name is the name of the file's directory, as in GitHub's
/// examples (`fixtures/github/examples/pull_request/closed.json` is a `pull_request` delivery).
#[derive(Debug, Clone)]
pub struct Fixture {
    pub path: PathBuf,
    pub event: String,
    pub body: Vec<u8>,
}

/// Loads a fixture file, or every `*.json` in a directory and its subdirectories one level down
/// (so `fixtures/github/examples` sends every example; `installation/created` first and
/// `installation/deleted` last, the rest by path).
pub fn load(path: &Path) -> Result<Vec<Fixture>, ReplayError> {
    let read_err = |source| ReplayError::Read {
        path: path.to_owned(),
        source,
    };
    let mut paths = if path.is_dir() {
        let mut v = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let p = entry.map_err(read_err)?.path();
            if p.is_dir() {
                for inner in std::fs::read_dir(&p).map_err(read_err)? {
                    let inner = inner.map_err(read_err)?.path();
                    if inner.extension().is_some_and(|e| e == "json") {
                        v.push(inner);
                    }
                }
            } else if p.extension().is_some_and(|e| e == "json") {
                v.push(p);
            }
        }
        v
    } else {
        vec![path.to_owned()]
    };
    paths.sort_by_key(|p| {
        let event = event_of(p);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (
            !(event == "installation" && name.starts_with("created")),
            event == "installation" && name.starts_with("deleted"),
            event != "installation",
            p.clone(),
        )
    });
    if paths.is_empty() {
        return Err(ReplayError::Empty(path.to_owned()));
    }
    paths
        .into_iter()
        .map(|p| {
            let body = std::fs::read(&p).map_err(|source| ReplayError::Read {
                path: p.clone(),
                source,
            })?;
            let event = event_of(&p);
            Ok(Fixture {
                path: p,
                event,
                body,
            })
        })
        .collect()
}

/// The event a fixture is sent as: the name of its directory.
fn event_of(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Where to POST: a bare base URL gets GitHub's webhook path appended.
pub fn endpoint(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/webhooks/github") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/webhooks/github")
    }
}

/// Sends one fixture as a fresh delivery; returns the HTTP status and the delivery id used.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    fixture: &Fixture,
    delivery_id: Option<String>,
) -> Result<(u16, String), reqwest::Error> {
    let id = delivery_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/mergecast-replay")
        .header("x-github-event", &fixture.event)
        .header("x-github-delivery", &id)
        .header(
            "x-hub-signature-256",
            signature::sign(secret.as_bytes(), &fixture.body),
        )
        .body(fixture.body.clone())
        .send()
        .await?;
    Ok((response.status().as_u16(), id))
}

/// Replays every fixture once, in order, printing one line each. Returns how many were refused.
pub async fn run(path: &Path, url: &str, secret: &str) -> Result<usize, ReplayError> {
    let fixtures = load(path)?;
    let client = reqwest::Client::new();
    let url = endpoint(url);
    let mut refused = 0;
    for fixture in &fixtures {
        match send(&client, &url, secret, fixture, None).await {
            Ok((status, id)) => {
                if !(200..300).contains(&status) {
                    refused += 1;
                }
                println!("{status} {id} {}", fixture.path.display());
            }
            Err(e) => {
                refused += 1;
                println!("ERR {} {}", fixture.path.display(), e.without_url());
            }
        }
    }
    Ok(refused)
}
