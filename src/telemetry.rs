//! Structured logs through tracing: text for people, JSON lines (`LOG_FORMAT=json`) for shippers.
//!
//! No secret reaches a log line at any level: secrets live in types whose `Debug` is redacted
//! (config, tokens), and request headers are never logged. `tests/secrets.rs` runs a full flow
//! through [`install`] at `trace` for every crate and searches the output for each secret.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// Installs the global subscriber on stdout; `RUST_LOG` overrides the default `info` filter.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    install(format, filter, ansi, std::io::stdout);
}

/// Installs the global subscriber with `filter`, writing to `writer`, with colours only when
/// `ansi` (what [`init`] does with stdout, colours only on a terminal; tests capture the
/// output). False if a global subscriber was installed already.
pub fn install<W>(format: LogFormat, filter: EnvFilter, ansi: bool, writer: W) -> bool
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    }
    .is_ok()
}
