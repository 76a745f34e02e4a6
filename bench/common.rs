//! Setup shared by the benchmarks: a freshly created database, a configuration from a list of
//! variables, and removal of a run's Redis keys (by prefix, never FLUSHDB: Redis is shared).
#![allow(dead_code)]

use mergecast::config::Config;

/// Postgres server URL without a database (`BENCH_POSTGRES` overrides).
pub fn server_url() -> String {
    std::env::var("BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Drops and recreates database `name`; returns its URL.
pub async fn recreate_database(name: &str) -> String {
    let admin = sqlx::PgPool::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("postgres");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop database");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create database");
    format!("{}/{name}", server_url())
}

/// A configuration from `vars` (anything unset takes its default, but metrics listen on a free
/// loopback port, not the fixed default one).
pub fn config(vars: &[(&str, String)]) -> Config {
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
            .or_else(|| (k == "METRICS_ADDR").then(|| "127.0.0.1:0".into()))
    })
    .expect("bench configuration")
}

/// Deletes every key under `prefix` (and its apalis registry entries).
pub async fn delete_keys(conn: &mut redis::aio::ConnectionManager, prefix: &str) {
    if let Err(e) = mergecast::queue::purge::purge_prefix(conn, prefix).await {
        eprintln!("cleaning Redis keys under {prefix}: {e}");
    }
}
