//! The delivery log: the filtered list, one delivery, and its two actions (replay it from our
//! stored body; ask GitHub to send it again, within the budgets of `sync::manual_redelivery`).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::{CsrfForm, PageQuery, scope};
use crate::ids::InstallationId;
use crate::queue::requeue::{self, RequeueError};
use crate::store::deliveries::{self, AdminDeliveryFilter, Status, StoredDelivery};
use crate::sync::manual_redelivery::{self, Outcome, RedeliverError};
use crate::web::AppState;
use crate::web::admin::AdminError;
use crate::web::admin::params::{self, Notice, PAGE, nonempty, urlencode};
use crate::web::admin::session::{Admin, Session};
use crate::web::admin::views::{self, deliveries::DeliveryFilters, deliveries::Detail};

#[derive(Deserialize, Default)]
pub struct DeliveriesQuery {
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

/// `GET /admin/deliveries`: filter by event, action, status and time; keyset pages.
pub async fn list(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Response, AdminError> {
    let shown = DeliveryFilters {
        event: nonempty(q.event.as_deref()),
        action: nonempty(q.action.as_deref()),
        status: params::delivery_status(q.status.as_deref())?,
        from: q.from.as_deref(),
        to: q.to.as_deref(),
    };
    let filter = AdminDeliveryFilter {
        event: shown.event,
        action: shown.action,
        status: shown.status,
        from: params::parse_time(q.from.as_deref())?,
        to: params::parse_time(q.to.as_deref())?,
        before: params::delivery_cursor(q.before.as_deref())?,
    };
    let mut rows = deliveries::admin_list(&state.pool, scope(&s), &filter, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = rows
        .last()
        .filter(|_| more)
        .map(|last| shown.next_url(&params::write_delivery_cursor(last.received_at, &last.id)));
    let body = views::deliveries::list(&shown, &rows, next.as_deref());
    Ok(views::page(&s, "deliveries", "Deliveries", body).into_response())
}

/// Header names never shown, whatever is stored.
fn secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "signature",
        "authorization",
        "token",
        "secret",
        "cookie",
        "key",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The delivery and its status, or 404 unless the session may see it (one without an
/// installation only the operator sees).
async fn delivery_in_scope(
    state: &AppState,
    s: &Session,
    id: &str,
) -> Result<(StoredDelivery, Status), AdminError> {
    let d = deliveries::get(&state.pool, id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let visible = match d.installation_id {
        Some(i) => s.allows(i),
        None => s.is_operator(),
    };
    if !visible {
        return Err(AdminError::NotFound);
    }
    let status = Status::parse(&d.status).ok_or_else(|| {
        AdminError::Database(sqlx::Error::Decode(
            format!("unknown delivery status {:?}", d.status).into(),
        ))
    })?;
    Ok((d, status))
}

/// `GET /admin/deliveries/{id}`: headers, payload, attempts, errors and actions.
pub async fn detail(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let (d, status) = delivery_in_scope(&state, &s, &id).await?;
    let redelivery = deliveries::redelivery_request(&state.pool, &d.id).await?;
    let headers: Vec<(String, String)> = match &d.headers {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !secret_header(k))
            .map(|(k, v)| {
                let v = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                (k.clone(), v)
            })
            .collect(),
        _ => Vec::new(),
    };
    let payload = d.body.as_deref().map(|b| {
        serde_json::from_str::<Value>(b)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| b.to_owned())
    });
    let body = views::deliveries::detail(
        &s,
        &Detail {
            delivery: &d,
            status,
            headers: &headers,
            payload: payload.as_deref(),
            redelivery,
            replayable: status.is_replayable() && d.body.is_some(),
            can_redeliver: state.admin.github.is_some() && status.is_redeliverable(),
            flash: q.notice(),
        },
    );
    Ok(views::page(&s, "deliveries", &format!("Delivery {}", d.event), body).into_response())
}

/// `POST /admin/deliveries/{id}/replay`: queue a failed or dead delivery again.
pub async fn replay(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let (d, status) = delivery_in_scope(&state, &s, &id).await?;
    if !status.is_replayable() {
        return Err(AdminError::BadRequest(
            "Only failed or dead deliveries are replayed.".into(),
        ));
    }
    match requeue::requeue_logged(&state.pool, &state.queues, &d.id).await {
        Ok(previous) => {
            tracing::info!(delivery = %d.id, %previous, "admin: delivery replayed");
            Ok(Redirect::to(&format!(
                "/admin/deliveries/{}?notice={}",
                urlencode(&d.id),
                Notice::QueuedAgain.code()
            ))
            .into_response())
        }
        Err(RequeueError::NotFound(_)) => Err(AdminError::NotFound),
        Err(RequeueError::BodyPruned(_)) => Err(AdminError::BadRequest(
            "The body was pruned after the retention period.".into(),
        )),
        Err(RequeueError::Database(e)) => Err(e.into()),
        Err(RequeueError::Queue(e)) => Err(AdminError::BadRequest(format!("Redis: {e}"))),
    }
}

/// `POST /admin/deliveries/{id}/redeliver`: ask GitHub to send this failed or dead delivery again
/// (see `sync::manual_redelivery`: at most one POST and three page reads, within budgets); the
/// redirect's notice says what came of it.
pub async fn redeliver(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let (d, status) = delivery_in_scope(&state, &s, &id).await?;
    let Some(client) = state.admin.github.as_ref() else {
        return Err(AdminError::BadRequest(
            "The GitHub App identity is not configured.".into(),
        ));
    };
    let mut redis = state.queues.connection();
    let budgets = manual_redelivery::Budgets {
        redis: &mut redis,
        prefix: &state.admin.prefix,
    };
    let target = manual_redelivery::Target {
        guid: &d.id,
        installation: d.installation_id.map(InstallationId),
        status,
    };
    let notice = match manual_redelivery::ask_redelivery(client, &state.pool, budgets, target).await
    {
        Ok(Outcome::Requested { .. }) => Notice::RedeliveryRequested,
        Ok(Outcome::NotRedeliverable) => Notice::RedeliveryNotNeeded,
        Ok(Outcome::Cooldown(wait)) => Notice::waiting(Notice::RedeliveryCooldown, wait),
        Ok(Outcome::NotListed) => Notice::RedeliveryNotListed,
        Err(RedeliverError::Database(e)) => return Err(e.into()),
        Err(RedeliverError::Redis(e)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(delivery = %d.id, error = %e, "admin: redelivery request failed");
            Notice::RedeliveryFailed
        }
    };
    Ok(Redirect::to(&format!(
        "/admin/deliveries/{}?{}",
        urlencode(&d.id),
        notice.query()
    ))
    .into_response())
}
