//! The `mergecast` binary: the only place `anyhow` and process exit codes live.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mergecast::app::{self, Role, Services};
use mergecast::config::Config;
use mergecast::config::seal::Keyring;
use mergecast::export::{self, Format};
use mergecast::ids::InstallationId;
use mergecast::queue::requeue;
use mergecast::store;
use mergecast::{replay, telemetry};

/// mimalloc instead of glibc's malloc: the webhook path allocates and frees per request on
/// every tokio thread, and glibc's arenas cost about a tenth of its CPU (BENCHMARKS.md, issue 14).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "mergecast",
    version,
    about = "GitHub App: signed webhooks -> Redis -> Postgres"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and/or the workers until SIGTERM/SIGINT.
    Serve {
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Send fixture bodies to a webhook endpoint, signed as GitHub does, with fresh delivery ids.
    Replay {
        /// A fixture file (sent as the event its directory is named after, as in
        /// `fixtures/github/examples/<event>/<action>.json`), or a directory of them.
        path: PathBuf,
        /// Base URL of Mergecast (or the full webhook URL).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Webhook secret to sign with (defaults to the first of GITHUB_WEBHOOK_SECRET).
        #[arg(long)]
        secret: Option<String>,
    },
    /// Run the catch-up once: list installations, redeliver failed deliveries, sync each
    /// installation (or only `--installation ID`).
    Sync {
        #[arg(long)]
        installation: Option<i64>,
    },
    /// Inspect and re-run logged deliveries.
    Deliveries {
        #[command(subcommand)]
        command: DeliveriesCommand,
    },
    /// Secrets stored in Postgres (sealed under MERGECAST_ENCRYPTION_KEY).
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    /// Export data as files.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Admin page helpers.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Read a password from stdin and print its argon2 hash for ADMIN_PASSWORD_HASH.
    HashPassword,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Print a fresh random key for MERGECAST_ENCRYPTION_KEY (32 bytes, base64).
    GenerateKey,
    /// Re-seal every stored secret under MERGECAST_ENCRYPTION_KEY (the keys in
    /// MERGECAST_ENCRYPTION_KEY_OLD still open what they sealed); afterwards the old keys may go.
    Rotate,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// The people × teams table: one row per active member and team they are on, with their
    /// Copilot seat (columns in the README). Needs only DATABASE_URL.
    People {
        #[arg(long)]
        installation: i64,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The org's own data, as the admin page's download: every table in one JSON document, or
    /// one table (`--table`) as CSV. Needs only DATABASE_URL.
    Org {
        #[arg(long)]
        installation: i64,
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
        /// The table, for CSV (e.g. `members`).
        #[arg(long)]
        table: Option<String>,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// Queue a logged delivery again (e.g. a dead one after a fix), with its original id and body.
    Replay { id: String },
}

fn config_or_exit() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| {
        eprintln!("mergecast: configuration error: {e}");
        ExitCode::from(2)
    })
}

/// DATABASE_URL, or `None` after saying it is missing (for commands that need only Postgres).
fn database_url() -> Option<String> {
    let url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("mergecast: configuration error: DATABASE_URL is required but not set");
    }
    url
}

/// Streams an export into `out` (chunk by chunk, as the rows come); returns the rows.
async fn write_export(
    (mut rx, task): (
        tokio::sync::mpsc::Receiver<Result<bytes::Bytes, export::ExportError>>,
        tokio::task::JoinHandle<Option<u64>>,
    ),
    out: impl tokio::io::AsyncWrite + Unpin,
) -> anyhow::Result<u64> {
    use tokio::io::AsyncWriteExt;
    let mut out = tokio::io::BufWriter::new(out);
    while let Some(chunk) = rx.recv().await {
        out.write_all(&chunk?).await?;
    }
    out.flush().await?;
    out.into_inner().shutdown().await?;
    task.await?
        .ok_or_else(|| anyhow::anyhow!("the export stopped early"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mergecast: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { role } => {
            let config = match config_or_exit() {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            telemetry::init(config.log_format);
            let pool = store::connect(&config.database_url, config.database_max_connections)
                .await
                .map_err(|e| anyhow::anyhow!("cannot connect to Postgres (DATABASE_URL): {e}"))?;
            store::migrate(&pool).await?;
            let (tx, rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                app::termination_signal().await;
                tracing::info!("shutdown requested: finishing in-flight work");
                let _ = tx.send(true);
            });
            let env = mergecast::config::layered::process_env();
            match app::serve(env, pool, role, app::Listeners::default(), rx).await {
                Err(app::StartError::Config(e)) => {
                    eprintln!("mergecast: configuration error: {e}");
                    return Ok(ExitCode::from(2));
                }
                other => other?,
            }
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let Some(url) = database_url() else {
                return Ok(ExitCode::from(2));
            };
            let pool = store::connect(&url, 2).await?;
            store::migrate(&pool).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { path, url, secret } => {
            let secret = secret.or_else(|| {
                std::env::var("GITHUB_WEBHOOK_SECRET")
                    .ok()
                    .and_then(|s| s.split(',').next().map(|s| s.trim().to_owned()))
                    .filter(|s| !s.is_empty())
            });
            let Some(secret) = secret else {
                eprintln!(
                    "mergecast: configuration error: --secret or GITHUB_WEBHOOK_SECRET is required"
                );
                return Ok(ExitCode::from(2));
            };
            let refused = replay::run(&path, &url, &secret).await?;
            Ok(if refused == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Sync { installation } => {
            let config = match config_or_exit() {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            telemetry::init(config.log_format);
            let services = Services::connect(config).await?;
            let Some(catch_up) = services.catch_up() else {
                eprintln!("mergecast: configuration error: GITHUB_APP_ID is required but not set");
                return Ok(ExitCode::from(2));
            };
            let targets = match installation {
                Some(id) => {
                    catch_up.discover_installations().await?;
                    vec![InstallationId(id)]
                }
                None => {
                    let ids = catch_up.discover_installations().await?;
                    let report = catch_up.redeliver_failed().await?;
                    println!(
                        "redelivery: examined {} deliveries, asked GitHub to redeliver {} ({} API calls)",
                        report.examined, report.requested, report.api_calls
                    );
                    ids
                }
            };
            let mut failed = false;
            for id in targets {
                match catch_up.sync_installation(id).await {
                    Ok(outcome) => println!("installation {}: {outcome:?}", id.0),
                    Err(e) => {
                        failed = true;
                        println!("installation {}: error: {e}", id.0);
                    }
                }
            }
            Ok(if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Export { command } => {
            let (installation, output) = match &command {
                ExportCommand::People {
                    installation,
                    output,
                    ..
                }
                | ExportCommand::Org {
                    installation,
                    output,
                    ..
                } => (*installation, output.clone()),
            };
            let what = match &command {
                ExportCommand::People { format, .. } => Err(*format),
                ExportCommand::Org {
                    format: Format::Json,
                    ..
                } => Ok(export::OrgData::Json),
                ExportCommand::Org {
                    format: Format::Csv,
                    table,
                    ..
                } => match table
                    .as_deref()
                    .and_then(store::org_data::org_table)
                    .filter(|t| export::exported_tables().any(|e| e.name == t.name))
                {
                    Some(t) => Ok(export::OrgData::Csv(t)),
                    None => {
                        let names: Vec<&str> = export::exported_tables().map(|t| t.name).collect();
                        eprintln!("mergecast: CSV needs --table, one of: {}", names.join(", "));
                        return Ok(ExitCode::from(2));
                    }
                },
            };
            let Some(url) = database_url() else {
                return Ok(ExitCode::from(2));
            };
            let pool = store::connect(&url, 2).await?;
            if !store::installations::exists(&pool, installation).await? {
                eprintln!("mergecast: no installation {installation}");
                return Ok(ExitCode::from(2));
            }
            let out: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &output {
                Some(path) => Box::new(
                    tokio::fs::File::create(path)
                        .await
                        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?,
                ),
                None => Box::new(tokio::io::stdout()),
            };
            let stream = match what {
                Err(format) => export::spawn_people(pool, installation, format),
                Ok(what) => export::spawn_org_data(pool, installation, what),
            };
            let rows = write_export(stream, out).await?;
            if output.is_some() {
                eprintln!("exported {rows} rows");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            command: AdminCommand::HashPassword,
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                eprintln!("mergecast: no password on stdin");
                return Ok(ExitCode::from(2));
            }
            let hash = mergecast::config::hash_password(password)
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
            println!("{hash}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Secrets {
            command: SecretsCommand::GenerateKey,
        } => {
            println!("{}", Keyring::generate_key());
            Ok(ExitCode::SUCCESS)
        }
        Command::Secrets {
            command: SecretsCommand::Rotate,
        } => {
            let env =
                |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            let Some(url) = env("DATABASE_URL") else {
                eprintln!("mergecast: configuration error: DATABASE_URL is required but not set");
                return Ok(ExitCode::from(2));
            };
            let keyring = match Keyring::from_lookup(&env) {
                Ok(Some(keyring)) => keyring,
                Ok(None) => {
                    eprintln!(
                        "mergecast: configuration error: MERGECAST_ENCRYPTION_KEY is required but not set"
                    );
                    return Ok(ExitCode::from(2));
                }
                Err(e) => {
                    eprintln!("mergecast: configuration error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let pool = store::connect(&url, 2).await?;
            store::migrate(&pool).await?;
            let resealed = store::secrets::rotate(&pool, &keyring).await?;
            println!(
                "re-sealed {resealed} secrets under key {}",
                keyring.current_id()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Deliveries {
            command: DeliveriesCommand::Replay { id },
        } => {
            let config = match config_or_exit() {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let services = Services::connect(config).await?;
            let previous = requeue::requeue_logged(&services.pool, &services.queues, &id).await?;
            println!("delivery {id} queued again (was {previous})");
            Ok(ExitCode::SUCCESS)
        }
    }
}
