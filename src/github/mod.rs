//! Everything that speaks GitHub's language: webhook signatures, the event payloads, and the REST
//! API (one octocrab client per process, `client`).

pub mod app_auth;
pub mod client;
pub mod copilot;
pub mod events;
pub mod manifest;
pub mod records;
pub mod rest;
pub mod signature;
