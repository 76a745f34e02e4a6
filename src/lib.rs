//! Mergecast: a GitHub App that verifies signed webhooks, queues them durably in Redis and
//! applies them idempotently to Postgres.

pub mod app;
pub mod apply;
pub mod config;
pub mod export;
pub mod github;
pub mod ids;
pub mod lock;
pub mod metrics;
pub mod queue;
pub mod replay;
pub mod slack;
pub mod store;
pub mod survey;
pub mod sync;
pub mod telemetry;
pub mod web;
