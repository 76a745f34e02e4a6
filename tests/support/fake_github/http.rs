//! The fake's HTTP loop: every request is authenticated, rate limited (primary and secondary
//! limits, as https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
//! documents), routed, given a weak `ETag` (a matching `If-None-Match` gets a free 304) and
//! logged in [`Model::requests`].

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::Utc;
use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::auth::{credentials, installation_of};
use super::model::{Model, RateLimit, RequestLog};
use super::paging::{Ctx, Query};
use super::routes::Route;
use super::{DOCS_URL, RATE_DOCS_URL, lock};

pub(super) struct Server {
    pub(super) url: String,
    pub(super) app_id: i64,
    pub(super) key: DecodingKey,
    pub(super) model: Arc<Mutex<Model>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    App,
    Installation(i64),
}

/// One answer before it becomes an HTTP response.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Option<Vec<u8>>,
    pub(super) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(super) fn json(status: StatusCode, body: &Value) -> Self {
        Self {
            status,
            body: Some(serde_json::to_vec(body).expect("serialize JSON")),
            headers: Vec::new(),
        }
    }

    pub(super) fn ok(body: &Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub(super) fn error(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            &json!({ "message": message, "documentation_url": DOCS_URL }),
        )
    }

    pub(super) fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Not Found")
    }

    pub(super) fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub(super) fn with_rate(self, rate: &RateLimit) -> Self {
        self.header("x-ratelimit-limit", rate.limit)
            .header("x-ratelimit-remaining", rate.remaining)
            .header(
                "x-ratelimit-used",
                rate.limit.saturating_sub(rate.remaining),
            )
            .header("x-ratelimit-reset", rate.reset)
            .header("x-ratelimit-resource", "core")
    }

    pub(super) fn into_response(self) -> Response {
        let mut response = Response::builder()
            .status(self.status)
            .header("x-github-request-id", uuid::Uuid::new_v4().to_string())
            .header("x-github-api-version-selected", "2022-11-28");
        if self.body.is_some() {
            response = response.header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        }
        for (name, value) in self.headers {
            response = response.header(name, value);
        }
        response
            .body(Body::from(self.body.unwrap_or_default()))
            .expect("valid response")
    }
}

pub(super) async fn handle(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let reply = {
        let mut model = lock(&server.model);
        let (reply, installation_id) = server.process(&mut model, &method, &uri, &headers);
        model.requests.push(RequestLog {
            method: method.to_string(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_string(), |pq| pq.to_string()),
            status: reply.status.as_u16(),
            installation_id,
        });
        reply
    };
    reply.into_response()
}

impl Server {
    /// Authenticates, applies the rate limits and caching rules, and runs the route; returns the
    /// reply and the installation to log it under.
    pub(super) fn process(
        &self,
        model: &mut Model,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> (Reply, Option<i64>) {
        if model.require_user_agent && !headers.contains_key(header::USER_AGENT) {
            let message = "Request forbidden by administrative rules. Please make sure your \
                           request has a User-Agent header \
                           (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).";
            return (Reply::error(StatusCode::FORBIDDEN, message), None);
        }
        if model.unavailable {
            return (
                Reply::error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"),
                None,
            );
        }
        let Some(route) = Route::parse(method, uri.path()) else {
            return (Reply::not_found(), None);
        };
        // https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user
        // lists 403 (not 401) for this endpoint; a request without credentials gets it.
        if matches!(route, Route::OrgMembership(..)) && credentials(headers).is_none() {
            return (
                Reply::error(StatusCode::FORBIDDEN, "Requires authentication"),
                None,
            );
        }
        let now = Utc::now();
        let caller = if route.takes_jwt() {
            match self.verify_jwt(headers, now.timestamp()) {
                Ok(()) => Caller::App,
                Err(message) => return (Reply::error(StatusCode::UNAUTHORIZED, message), None),
            }
        } else {
            match installation_of(model, headers, now) {
                Ok(id) => Caller::Installation(id),
                Err(refusal) => return refusal,
            }
        };
        let logged = match caller {
            Caller::App => None,
            Caller::Installation(id) => Some(id),
        };

        let rate = model.rate_for(caller, now.timestamp()).clone();
        if let Some(refusal) = secondary_limit(model, caller) {
            return (refusal.with_rate(&rate), logged);
        }
        if rate.remaining == 0 {
            let message = match caller {
                Caller::App => format!("API rate limit exceeded for app ID {}.", self.app_id),
                Caller::Installation(id) => {
                    format!("API rate limit exceeded for installation ID {id}.")
                }
            };
            let body = json!({ "message": message, "documentation_url": RATE_DOCS_URL });
            return (
                Reply::json(StatusCode::FORBIDDEN, &body).with_rate(&rate),
                logged,
            );
        }

        let query = Query::parse(uri.query());
        let link_origin = model.link_origin.clone();
        let cx = Ctx {
            base: &self.url,
            link_base: link_origin.as_deref().unwrap_or(&self.url),
            app_id: self.app_id,
            path: uri.path(),
            query: &query,
            now,
            per_page_max: model.per_page_max,
        };
        let mut reply = route.run(model, &cx, caller);

        if *method == Method::GET && reply.status == StatusCode::OK {
            let body = reply.body.as_deref().unwrap_or_default();
            let etag = format!("W/\"{}\"", hex::encode(Sha256::digest(body)));
            reply = if etag_matches(headers, &etag) {
                Reply {
                    status: StatusCode::NOT_MODIFIED,
                    body: None,
                    headers: Vec::new(),
                }
            } else {
                reply
            };
            reply = reply.header("etag", etag);
        }

        // A 304 is free (GitHub's rule); everything else that got this far costs one request.
        let rate = model.rate_for(caller, now.timestamp());
        if reply.status != StatusCode::NOT_MODIFIED {
            rate.remaining = rate.remaining.saturating_sub(1);
        }
        let rate = rate.clone();
        (reply.with_rate(&rate), logged)
    }
}

/// Spends one hit of the secondary limit, if one is armed and this is an installation request.
pub(super) fn secondary_limit(model: &mut Model, caller: Caller) -> Option<Reply> {
    if caller == Caller::App {
        return None;
    }
    let limit = model.secondary_limit.as_mut()?;
    if limit.remaining_hits == 0 {
        model.secondary_limit = None;
        return None;
    }
    limit.remaining_hits -= 1;
    let status = StatusCode::from_u16(limit.status).unwrap_or(StatusCode::FORBIDDEN);
    let retry_after = limit.retry_after_secs;
    if limit.remaining_hits == 0 {
        model.secondary_limit = None;
    }
    let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you \
                   try again. If you reach out to GitHub Support for help, please include the \
                   request ID.";
    let body = json!({ "message": message, "documentation_url": RATE_DOCS_URL });
    Some(Reply::json(status, &body).header("retry-after", retry_after))
}

/// Weak comparison of `If-None-Match` against the current ETag, as GitHub does.
pub(super) fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag))
}
