//! Authentication as GitHub checks it: RS256 app JWTs within GitHub's time limits
//! (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app)
//! and installation tokens that expire and die with a suspended installation.

use std::collections::HashSet;

use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Validation, decode};
use serde_json::Value;

use super::http::{Reply, Server};
use super::model::Model;
use super::{JWT_EXP_SKEW_SECS, JWT_IAT_SKEW_SECS, JWT_MAX_LIFETIME_SECS};

impl Server {
    /// GitHub's checks on an app JWT; the error is the message GitHub would give.
    pub(super) fn verify_jwt(&self, headers: &HeaderMap, now: i64) -> Result<(), &'static str> {
        const UNDECODABLE: &str = "A JSON web token could not be decoded";
        let Some((scheme, jwt)) = credentials(headers) else {
            return Err(UNDECODABLE);
        };
        if scheme != "bearer" {
            return Err(UNDECODABLE);
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims = HashSet::new();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = decode::<Value>(jwt, &self.key, &validation)
            .map_err(|_| UNDECODABLE)?
            .claims;
        let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
            return Err("'Issued at' and 'Expiration time' claims must be integers");
        };
        if exp <= now - JWT_EXP_SKEW_SECS {
            return Err(
                "'Expiration time' claim ('exp') must be a numeric value representing the \
                 future time at which the assertion expires",
            );
        }
        if exp > now + JWT_MAX_LIFETIME_SECS + JWT_EXP_SKEW_SECS {
            return Err("'Expiration time' claim ('exp') is too far in the future");
        }
        if iat > now + JWT_IAT_SKEW_SECS {
            return Err(
                "'Issued at' claim ('iat') must be an Integer representing the time that the \
                 assertion was issued",
            );
        }
        let issuer_ok = match &claims["iss"] {
            Value::Number(n) => n.as_i64() == Some(self.app_id),
            Value::String(s) => s.parse::<i64>().ok() == Some(self.app_id),
            _ => false,
        };
        if !issuer_ok {
            return Err("Integration not found");
        }
        Ok(())
    }
}

/// The `Authorization` header as (lower-case scheme, credential).
pub(super) fn credentials(headers: &HeaderMap) -> Option<(String, &str)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    Some((scheme.to_ascii_lowercase(), credential.trim()))
}

/// The installation behind an installation token, or the refusal to send (and log).
pub(super) fn installation_of(
    model: &Model,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<i64, (Reply, Option<i64>)> {
    let bad = || {
        (
            Reply::error(StatusCode::UNAUTHORIZED, "Bad credentials"),
            None,
        )
    };
    let Some((scheme, credential)) = credentials(headers) else {
        return Err((
            Reply::error(StatusCode::UNAUTHORIZED, "Requires authentication"),
            None,
        ));
    };
    if scheme != "token" && scheme != "bearer" {
        return Err(bad());
    }
    let Some(token) = model.tokens.get(credential) else {
        return Err(bad());
    };
    if now >= token.expires_at {
        return Err(bad());
    }
    let id = token.installation_id;
    match model.installations.iter().find(|i| i.id == id) {
        None => Err(bad()),
        Some(i) if i.suspended => Err((
            Reply::error(
                StatusCode::FORBIDDEN,
                "This installation has been suspended",
            ),
            Some(id),
        )),
        Some(_) => Ok(id),
    }
}
