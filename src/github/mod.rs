//! Everything that speaks GitHub's language: webhook signatures and the event payloads.

pub mod app_auth;
pub mod client;
pub mod events;
pub mod redelivery;
pub mod signature;
pub mod sync;
