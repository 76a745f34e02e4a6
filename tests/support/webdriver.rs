//! A real browser for tests: headless Chromium driven over WebDriver (chromedriver, spawned on
//! a free port, its whole process group killed when dropped) through fantoccini, and
//! screenshots under `target/screenshots/`. `scripts/services.sh` installs both from Debian.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::wait_until;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver child process, killed when dropped.
pub struct Driver {
    child: tokio::process::Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    pub async fn start() -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            // Its own process group, so the browsers it starts die with it even if a test panics.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {CHROMEDRIVER} ({e}); run scripts/services.sh to install it")
            });
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        wait_until("chromedriver to answer", Duration::from_secs(20), || {
            let status = status.clone();
            async move {
                reqwest::get(&status)
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        let profile =
            std::env::temp_dir().join(format!("mergecast-chromium-{}", uuid::Uuid::new_v4()));
        Self {
            child,
            url,
            profile,
        }
    }

    pub async fn browser(&self) -> Client {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                    format!("--user-data-dir={}", self.profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("capabilities are an object")
        };
        // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("WebDriver session")
    }

    pub async fn stop(self) {
        // Dropping kills chromedriver's whole process group.
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            // chromedriver and every Chromium process it started share this group.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub async fn shot(c: &Client, name: &str) -> Vec<u8> {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(screenshots_dir().join(format!("{name}.png")), &png).expect("write screenshot");
    png
}

/// Clicks the element `css` finds.
pub async fn submit_in(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .expect("click");
}

/// Waits until the browser shows `path` (a click's navigation finishes on its own time).
pub async fn wait_path(c: &Client, path: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let url = c.current_url().await.expect("url");
        if url.path() == path {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            let source = c.source().await.unwrap_or_default();
            panic!("the browser did not reach {path}: at {url}: {source}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
