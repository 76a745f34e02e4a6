//! Slack: the Web API client, request signatures, interaction payloads, and Block Kit messages.
//!
//! reqwest rather than slack-morphism: we call six Web API methods and need, per call, the raw
//! `ok:false` error code (recorded on the survey), the HTTP 429 `Retry-After`, and message
//! `metadata` (to prove a message was sent before re-sending it); with reqwest already serving
//! GitHub, one HTTP stack covers both and plain-HTTP fakes need no special connector.

pub mod client;
pub mod interactions;
pub mod messages;
pub mod signature;
