//! Slack: the Web API client (one per workspace, `clients` picks an installation's), request
//! signatures, interaction and Events API payloads, and Block Kit messages.
//!
//! Web API calls go through slack-morphism's typed API (`client`), messages are its Block Kit
//! models (`messages`). Its raw `ok:false` codes, its 429 `retry_after` and message `metadata`
//! are all reachable through its types, so nothing is lost by not hand-writing HTTP.
//!
//! Request signatures stay ours (`signature`), deliberately: slack-morphism's `hyper` feature
//! compiles its own verifier in anyway (with sha2 0.11 / hmac 0.13 beside the 0.12 pair our
//! GitHub verifier uses), so using it would save no dependency; ours shares the GitHub
//! webhook verifier's hmac/sha2/subtle, takes the clock as a parameter (deterministic tests of
//! the five-minute replay window), and its `sign` is what the test harness and tools sign with.

pub mod client;
pub mod clients;
pub mod events;
pub mod interactions;
pub mod messages;
pub mod signature;
