//! The process's log, kept in memory for tests that must read what an operator reads there (the
//! one-time setup code). Installs the one global subscriber of the test binary on first use.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

/// The log of this test binary (info and above, no colours).
pub fn log() -> Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        captured
    })
    .clone()
}

/// The newest setup code the app listening on `addr` printed (waits for it).
pub async fn setup_code(addr: SocketAddr) -> String {
    let marker = format!("http://{addr}/admin/setup and enter the one-time setup code ");
    let mut code = String::new();
    super::wait_until("the setup code in the log", Duration::from_secs(10), || {
        let text = log().text();
        let found = text.rfind(&marker).map(|at| {
            text[at + marker.len()..]
                .chars()
                .take(14)
                .collect::<String>()
        });
        if let Some(found) = &found {
            code = found.clone();
        }
        let ok = found.is_some();
        async move { ok }
    })
    .await;
    code
}
