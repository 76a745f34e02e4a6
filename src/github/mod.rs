//! Everything that speaks GitHub's language: webhook signatures and the event payloads.

pub mod events;
pub mod signature;
