//! The admin pages and their actions. Handlers are thin: session, scope, query, render.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::queries::{self, DeliveryFilter, PAGE};
use super::session::{Admin, Session};
use super::{AdminError, charts, csrf_field, page};
use crate::ids::InstallationId;
use crate::queue::requeue::{self, RequeueError};
use crate::web::AppState;

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

pub(super) fn scope(s: &Session) -> Option<&[i64]> {
    s.scope.as_deref()
}

pub(super) fn notice(n: &Option<String>) -> Markup {
    html! { @if let Some(n) = n { p.notice role="status" { (n) } } }
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    pub(super) notice: Option<String>,
}

fn pager(base: &str, page_no: i64, more: bool) -> Markup {
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager {
            @if page_no > 0 { a href=(format!("{base}{sep}page={}", page_no - 1)) { "← Newer" } }
            @if more { a href=(format!("{base}{sep}page={}", page_no + 1)) { "More →" } }
        }
    }
}

/// `GET /admin`: is it working?
pub async fn overview(
    State(state): State<AppState>,
    Admin(s): Admin,
) -> Result<Response, AdminError> {
    let pg = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
        .is_ok();
    let redis = state.queues.ping().await.is_ok();
    let deliveries = state.queues.delivery_depth().await.ok();
    let merged = state.queues.merged_depth().await.ok();
    // New jobs enter the scheduled set and move to the ready list when due: the oldest job is
    // the earlier of the oldest ready one and the earliest scheduled one.
    let age = state.queues.delivery_age().await.unwrap_or_default();
    let oldest_job = match (age.oldest_ready, age.next_scheduled) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let by_status = queries::deliveries_by_status(&state.pool, scope(&s)).await?;
    let failures = queries::deliveries(
        &state.pool,
        scope(&s),
        &DeliveryFilter {
            status: Some("dead"),
            ..Default::default()
        },
        10,
    )
    .await?;
    let failed = queries::deliveries(
        &state.pool,
        scope(&s),
        &DeliveryFilter {
            status: Some("failed"),
            ..Default::default()
        },
        10,
    )
    .await?;
    let installations = queries::installations(&state.pool, scope(&s), 0).await?;
    let ok = |b: bool| if b { "ok" } else { "unavailable" };
    let body = html! {
        section.cards {
            div.card class=(if pg { "good" } else { "bad" }) { h2 { "Postgres" } p.big { (ok(pg)) } }
            div.card class=(if redis { "good" } else { "bad" }) { h2 { "Redis" } p.big { (ok(redis)) } }
            div.card {
                h2 { "Delivery queue" }
                @if let Some(d) = deliveries {
                    p.big { (d.ready + d.scheduled) " waiting" }
                    p { (d.ready) " ready · " (d.scheduled) " scheduled (new or retrying)" }
                } @else { p { "unknown" } }
                p { "oldest job: " (when(oldest_job)) }
            }
            div.card {
                h2 { "Survey queue" }
                @if let Some(d) = merged { p.big { (d.ready + d.scheduled) " waiting" } p { (d.ready) " ready · " (d.scheduled) " scheduled" } } @else { p { "unknown" } }
            }
        }
        h2 { "Deliveries, last 24 hours" }
        @if by_status.is_empty() { p { "None." } } @else {
            table { thead { tr { th { "Status" } th.num { "Count" } } }
                tbody { @for (status, n) in &by_status { tr {
                    td { a href=(format!("/admin/deliveries?status={status}")) { span class=(format!("tag {status}")) { (status) } } }
                    td.num { (n) } } } } }
        }
        h2 { "Failures" }
        @if failures.is_empty() && failed.is_empty() { p { "No failed or dead deliveries." } } @else {
            (delivery_table(failures.iter().chain(failed.iter())))
        }
        h2 { "Catch-up per installation" }
        (installation_table(&s, &installations[..installations.len().min(PAGE as usize)], false))
    };
    Ok(page(&s, "overview", "Overview", body).into_response())
}

fn delivery_table<'a>(rows: impl Iterator<Item = &'a queries::DeliveryRow>) -> Markup {
    html! {
        div.scroll { table {
            thead { tr { th { "Received" } th { "Event" } th { "Status" } th.num { "Attempts" } th { "Error" } } }
            tbody { @for d in rows { tr {
                td { a href=(format!("/admin/deliveries/{}", urlencode(&d.id))) { (when(Some(d.received_at))) } }
                td { (d.event) @if let Some(a) = &d.action { "." (a) } }
                td { span class=(format!("tag {}", d.status)) { (d.status) } }
                td.num { (d.attempts) }
                td.error { (d.last_error.as_deref().unwrap_or("")) }
            } } }
        } }
    }
}

fn installation_table(s: &Session, rows: &[queries::InstallationRow], actions: bool) -> Markup {
    html! {
        @if rows.is_empty() { p { "No installations." } } @else {
        div.scroll { table {
            thead { tr { th { "Org" } th { "Status" } th.num { "Repos" } th.num { "Members" } th { "Last sync" } th { "Result" } th { "Figures" }
                @if actions { th {} } } }
            tbody { @for i in rows { tr {
                td { a href=(format!("/admin/members?installation={}", i.id)) { (i.account_login) } }
                td { span class=(format!("tag {}", i.status)) { (i.status) } }
                td.num { (i.repositories) } td.num { (i.members) }
                td { (when(i.run_started)) }
                td { @if let Some(st) = &i.run_status { span class=(format!("tag {st}")) { (st) } } @else { "never" }
                     @if let Some(e) = &i.run_error { div.error { (e) } } }
                td.small { @if i.run_status.is_some() {
                    (i.created.unwrap_or(0)) " new · " (i.updated.unwrap_or(0)) " updated · "
                    (i.deactivated.unwrap_or(0)) " deactivated · " (i.api_calls.unwrap_or(0)) " calls ("
                    (i.not_modified.unwrap_or(0)) " cached)" } }
                @if actions { td { form method="post" action=(format!("/admin/installations/{}/sync", i.id)) {
                    (csrf_field(s)) button type="submit" { "Sync now" } } } }
            } } }
        } } }
    }
}

/// `GET /admin/installations`.
pub async fn installations(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let page_no = q.page.unwrap_or(0).max(0);
    let mut rows = queries::installations(&state.pool, scope(&s), page_no * PAGE).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let body = html! {
        (notice(&q.notice))
        @if state.admin.syncer.is_none() { p.hint { "The GitHub App identity is not configured: \"Sync now\" is unavailable." } }
        (installation_table(&s, &rows, true))
        (pager("/admin/installations", page_no, more))
    };
    Ok(page(&s, "installations", "Installations", body).into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn installation_in_scope(state: &AppState, s: &Session, id: i64) -> Result<(), AdminError> {
    if !s.allows(id) {
        return Err(AdminError::NotFound);
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM installations WHERE id = $1)")
            .bind(id)
            .fetch_one(&state.pool)
            .await?;
    if exists {
        Ok(())
    } else {
        Err(AdminError::NotFound)
    }
}

/// `POST /admin/installations/{id}/sync`: starts a catch-up in the background (never calls
/// GitHub on this request).
pub async fn sync_now(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    installation_in_scope(&state, &s, id).await?;
    let Some(syncer) = state.admin.syncer.clone() else {
        return Err(AdminError::BadRequest(
            "The GitHub App identity is not configured.".into(),
        ));
    };
    tokio::spawn(async move {
        match syncer.sync_installation(InstallationId(id)).await {
            Ok(outcome) => tracing::info!(installation = id, ?outcome, "admin: sync now"),
            Err(e) => tracing::warn!(installation = id, error = %e, "admin: sync now failed"),
        }
    });
    Ok(Redirect::to("/admin/installations?notice=Sync+started").into_response())
}

#[derive(Deserialize, Default)]
pub struct MembersQuery {
    #[serde(default)]
    installation: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    unmapped: Option<String>,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /admin/members`: search, active, Slack mapping, opt-out.
pub async fn members(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<MembersQuery>,
) -> Result<Response, AdminError> {
    let installation = q
        .installation
        .as_deref()
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<i64>().map_err(|_| AdminError::NotFound))
        .transpose()?;
    if let Some(id) = installation {
        installation_in_scope(&state, &s, id).await?;
    }
    let search = q.q.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let unmapped = q.unmapped.as_deref().is_some_and(|v| !v.is_empty());
    let page_no = q.page.unwrap_or(0).max(0);
    let mut rows = queries::members(
        &state.pool,
        scope(&s),
        installation,
        search,
        unmapped,
        page_no * PAGE,
    )
    .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let orgs = queries::installations(&state.pool, scope(&s), 0).await?;
    let mut base = format!(
        "/admin/members?installation={}&q={}",
        installation.map(|i| i.to_string()).unwrap_or_default(),
        urlencode(search.unwrap_or(""))
    );
    if unmapped {
        base.push_str("&unmapped=1");
    }
    let body = html! {
        (notice(&q.notice))
        form.filters method="get" action="/admin/members" {
            label { "Org " select name="installation" {
                option value="" { "all" }
                @for o in &orgs { option value=(o.id) selected[installation == Some(o.id)] { (o.account_login) } } } }
            label { "Search " input type="search" name="q" value=(search.unwrap_or("")) placeholder="login or name"; }
            label.check { input type="checkbox" name="unmapped" value="1" checked[unmapped]; " without Slack" }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p { "No members match." } } @else {
        div.scroll { table.members {
            thead { tr { th { "Login" } th { "Org" } th { "Active" } th { "Slack" } th { "Opted out" } } }
            tbody { @for m in &rows {
                @let action = format!("/admin/members/{}/{}", m.installation_id, m.github_id);
                tr id=(format!("m-{}-{}", m.installation_id, m.github_id)) {
                td { strong { (m.login) } @if let Some(n) = &m.name { div.small { (n) } } }
                td { (m.account_login) }
                td { form method="post" action=(action) { (csrf_field(&s))
                    input type="hidden" name="action" value="toggle_active";
                    button.toggle type="submit" name="go" value="1" aria-pressed=(m.active) { @if m.active { "active" } @else { "inactive" } } } }
                td { form.inline method="post" action=(action) { (csrf_field(&s))
                    input type="hidden" name="action" value="slack";
                    input type="text" name="slack_user_id" value=(m.slack_user_id.as_deref().unwrap_or("")) placeholder="U0123ABC" size="11" aria-label=(format!("Slack user id of {}", m.login));
                    button type="submit" { "Save" } }
                    @if let Some(src) = &m.slack_mapping_source { div.small { "mapped: " (src) } }
                    @if m.slack_user_id.is_none() { @if let Some(r) = &m.slack_unmapped_reason { div.small.error { "unmapped: " (r) } } } }
                td { form method="post" action=(action) { (csrf_field(&s))
                    input type="hidden" name="action" value="toggle_opt_out";
                    button.toggle type="submit" aria-pressed=(m.opted_out) { @if m.opted_out { "opted out" } @else { "no" } } } }
            } } }
        } } }
        (pager(&base, page_no, more))
    };
    Ok(page(&s, "members", "Members", body).into_response())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) action: String,
    #[serde(default)]
    pub(super) slack_user_id: Option<String>,
}

impl MemberForm {
    /// The Slack user id typed in (`None` when cleared), refused unless it looks like one.
    pub(super) fn slack_id(&self) -> Result<Option<&str>, AdminError> {
        let id = self
            .slack_user_id
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty());
        match id {
            Some(id) if !valid_slack_id(id) => Err(AdminError::BadRequest(
                "A Slack user id looks like U0123ABCD.".into(),
            )),
            other => Ok(other),
        }
    }
}

/// Slack user ids look like `U0123ABCD` (or `W...` on Enterprise Grid).
fn valid_slack_id(id: &str) -> bool {
    (id.starts_with('U') || id.starts_with('W'))
        && (3..=20).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `POST /admin/members/{installation}/{github_id}`: toggle active / opt-out, or map Slack.
pub async fn member_update(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path((installation, github_id)): Path<(i64, i64)>,
    Form(form): Form<MemberForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    if !s.allows(installation) {
        return Err(AdminError::NotFound);
    }
    let result = match form.action.as_str() {
        "toggle_active" => {
            sqlx::query(
                "UPDATE members SET active = NOT active,
                    state = CASE WHEN active THEN 'inactive' ELSE 'active' END,
                    inactive_since = CASE WHEN active THEN now() ELSE NULL END, updated_at = now()
                 WHERE installation_id = $1 AND github_id = $2",
            )
            .bind(installation)
            .bind(github_id)
            .execute(&state.pool)
            .await?
        }
        "toggle_opt_out" => {
            sqlx::query(
                "UPDATE members SET opted_out = NOT opted_out,
                    opted_out_at = CASE WHEN opted_out THEN NULL ELSE now() END,
                    opted_in_by_admin_at = CASE WHEN opted_out THEN now() ELSE NULL END, updated_at = now()
                 WHERE installation_id = $1 AND github_id = $2",
            )
            .bind(installation)
            .bind(github_id)
            .execute(&state.pool)
            .await?
        }
        "slack" => {
            let id = form.slack_id()?;
            sqlx::query(
                "UPDATE members SET slack_user_id = $3,
                    slack_mapping_source = CASE WHEN $3::text IS NULL THEN NULL ELSE 'manual' END,
                    slack_unmapped_reason = CASE WHEN $3::text IS NULL THEN 'cleared by an admin' ELSE NULL END,
                    updated_at = now()
                 WHERE installation_id = $1 AND github_id = $2",
            )
            .bind(installation)
            .bind(github_id)
            .bind(id)
            .execute(&state.pool)
            .await?
        }
        _ => return Err(AdminError::BadRequest("Unknown action.".into())),
    };
    if result.rows_affected() == 0 {
        return Err(AdminError::NotFound);
    }
    tracing::info!(installation, github_id, action = %form.action, "admin: member updated");
    Ok(Redirect::to(&format!(
        "/admin/members?installation={installation}&notice=Saved#m-{installation}-{github_id}"
    ))
    .into_response())
}

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

/// Accepts `2026-11-22`, `2026-11-22T10:30` (the browser's datetime-local) or RFC 3339.
fn parse_time(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, AdminError> {
    let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        return Ok(Some(t.and_utc()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(AdminError::BadRequest(format!(
        "Cannot read the time {raw:?}."
    )))
}

const STATUSES: [&str; 6] = [
    "queued",
    "processed",
    "ignored",
    "failed",
    "dead",
    "rejected",
];

/// `GET /admin/deliveries`: filter by event, action, status and time; keyset pages.
pub async fn deliveries(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Response, AdminError> {
    let nonempty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (event, action, status) = (nonempty(&q.event), nonempty(&q.action), nonempty(&q.status));
    let before = match nonempty(&q.before) {
        Some(cursor) => {
            let (at, id) = cursor
                .split_once('|')
                .ok_or_else(|| AdminError::BadRequest("Bad page cursor.".into()))?;
            let at = parse_time(Some(at))?
                .ok_or_else(|| AdminError::BadRequest("Bad page cursor.".into()))?;
            Some((at, id.to_owned()))
        }
        None => None,
    };
    let filter = DeliveryFilter {
        event: event.as_deref(),
        action: action.as_deref(),
        status: status.as_deref(),
        from: parse_time(q.from.as_deref())?,
        to: parse_time(q.to.as_deref())?,
        before,
    };
    let mut rows = queries::deliveries(&state.pool, scope(&s), &filter, PAGE + 1).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = rows.last().filter(|_| more).map(|last| {
        format!(
            "/admin/deliveries?event={}&action={}&status={}&from={}&to={}&before={}",
            urlencode(event.as_deref().unwrap_or("")),
            urlencode(action.as_deref().unwrap_or("")),
            urlencode(status.as_deref().unwrap_or("")),
            urlencode(q.from.as_deref().unwrap_or("")),
            urlencode(q.to.as_deref().unwrap_or("")),
            urlencode(&format!("{}|{}", last.received_at.to_rfc3339(), last.id))
        )
    });
    let body = html! {
        form.filters method="get" action="/admin/deliveries" {
            label { "Event " input type="text" name="event" value=(event.as_deref().unwrap_or("")) placeholder="pull_request" size="14"; }
            label { "Action " input type="text" name="action" value=(action.as_deref().unwrap_or("")) placeholder="closed" size="10"; }
            label { "Status " select name="status" {
                option value="" { "any" }
                @for st in STATUSES { option value=(st) selected[status.as_deref() == Some(st)] { (st) } } } }
            label { "From (UTC) " input type="datetime-local" name="from" value=(q.from.as_deref().unwrap_or("")); }
            label { "To (UTC) " input type="datetime-local" name="to" value=(q.to.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        @if rows.is_empty() { p { "No deliveries match." } } @else { (delivery_table(rows.iter())) }
        nav.pager { @if let Some(next) = next { a href=(next) { "Older →" } } }
    };
    Ok(page(&s, "deliveries", "Deliveries", body).into_response())
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

async fn delivery_in_scope(
    state: &AppState,
    s: &Session,
    id: &str,
) -> Result<crate::store::deliveries::StoredDelivery, AdminError> {
    let d = crate::store::deliveries::get(&state.pool, id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let visible = match d.installation_id {
        Some(i) => s.allows(i),
        None => s.is_operator(),
    };
    if visible {
        Ok(d)
    } else {
        Err(AdminError::NotFound)
    }
}

/// `GET /admin/deliveries/{id}`: headers, payload, attempts, errors and actions.
pub async fn delivery(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let d = delivery_in_scope(&state, &s, &id).await?;
    let redelivery: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT hook_delivery_id, requested_at FROM redelivery_requests WHERE guid = $1",
    )
    .bind(&d.id)
    .fetch_optional(&state.pool)
    .await?;
    let headers: Vec<(String, String)> = match &d.headers {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !secret_header(k))
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string()),
                )
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
    let replayable = matches!(d.status.as_str(), "failed" | "dead") && d.body.is_some();
    let body = html! {
        (notice(&q.notice))
        dl.facts {
            dt { "Delivery" } dd { code { (d.id) } }
            dt { "Event" } dd { (d.event) @if let Some(a) = &d.action { "." (a) } }
            dt { "Status" } dd { span class=(format!("tag {}", d.status)) { (d.status) } }
            dt { "Installation" } dd { (d.installation_id.map(|i| i.to_string()).unwrap_or_else(|| "—".into())) }
            dt { "Received" } dd { (when(Some(d.received_at))) }
            dt { "Processed" } dd { (when(d.processed_at)) }
            dt { "Attempts" } dd { (d.attempts) }
            dt { "Last error" } dd.error { (d.last_error.as_deref().unwrap_or("—")) }
            dt { "Redelivery" } dd { @match &redelivery {
                Some((hook, at)) => { "requested " (when(Some(*at))) " (hook delivery " (hook) ")" }
                None => { "never requested" } } }
        }
        div.actions {
            @if replayable {
                form method="post" action=(format!("/admin/deliveries/{}/replay", urlencode(&d.id))) { (csrf_field(&s)) button type="submit" { "Replay" } }
            }
            @if state.admin.github.is_some() {
                form method="post" action=(format!("/admin/deliveries/{}/redeliver", urlencode(&d.id))) { (csrf_field(&s)) button type="submit" { "Ask GitHub to redeliver" } }
            }
        }
        h2 { "Headers" }
        div.scroll { table { tbody { @for (k, v) in &headers { tr { th { (k) } td { code { (v) } } } } } } }
        h2 { "Payload" }
        @match &payload { Some(p) => { pre.payload { (p) } } None => { p { "Pruned after the retention period." } } }
    };
    Ok(page(&s, "deliveries", &format!("Delivery {}", d.event), body).into_response())
}

/// `POST /admin/deliveries/{id}/replay`: queue a failed or dead delivery again.
pub async fn replay(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let d = delivery_in_scope(&state, &s, &id).await?;
    if !matches!(d.status.as_str(), "failed" | "dead") {
        return Err(AdminError::BadRequest(
            "Only failed or dead deliveries are replayed.".into(),
        ));
    }
    match requeue::requeue_logged(&state.pool, &state.queues, &d.id).await {
        Ok(previous) => {
            tracing::info!(delivery = %d.id, %previous, "admin: delivery replayed");
            Ok(Redirect::to(&format!(
                "/admin/deliveries/{}?notice=Queued+again",
                urlencode(&d.id)
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

/// `POST /admin/deliveries/{id}/redeliver`: in the background, find GitHub's hook delivery for
/// this guid and ask GitHub to send it again; recorded in `redelivery_requests`.
pub async fn redeliver(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let d = delivery_in_scope(&state, &s, &id).await?;
    let Some(client) = state.admin.github.clone() else {
        return Err(AdminError::BadRequest(
            "The GitHub App identity is not configured.".into(),
        ));
    };
    let pool = state.pool.clone();
    let guid = d.id.clone();
    tokio::spawn(async move {
        if let Err(e) = ask_redelivery(&client, &pool, &guid).await {
            tracing::warn!(delivery = %guid, error = %e, "admin: redelivery request failed");
        }
    });
    Ok(Redirect::to(&format!(
        "/admin/deliveries/{}?notice=Asked+GitHub+to+redeliver",
        urlencode(&d.id)
    ))
    .into_response())
}

/// Why a manual redelivery request did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RedeliverError {
    #[error(transparent)]
    Github(#[from] crate::github::client::GithubError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("unexpected GitHub payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("GitHub no longer lists delivery {0} (it keeps three days)")]
    NotListed(String),
}

/// Finds the newest hook delivery with `guid` (pages of `/app/hook/deliveries`) and posts an
/// attempt; records it.
pub async fn ask_redelivery(
    client: &crate::github::client::GithubClient,
    pool: &sqlx::PgPool,
    guid: &str,
) -> Result<i64, RedeliverError> {
    use crate::github::client::Auth;
    use crate::sync::redelivery;
    use octocrab::models::hooks::Delivery;
    let mut url = Some(client.url("/app/hook/deliveries?per_page=100"));
    let mut found: Option<(i64, Option<String>)> = None;
    let mut pages = 0;
    while let Some(current) = url.take() {
        pages += 1;
        let response = client.get(Auth::App, &current, None).await?;
        let list: Vec<Delivery> = serde_json::from_value(response.body.unwrap_or(Value::Null))?;
        if let Some(hit) = list.iter().find(|d| d.guid == guid) {
            found = Some((hit.id.0 as i64, redelivery::event_name(hit)));
            break;
        }
        url = if pages < 30 { response.next } else { None };
    }
    let Some((hook_id, event)) = found else {
        return Err(RedeliverError::NotListed(guid.to_owned()));
    };
    client
        .post(
            Auth::App,
            &format!("/app/hook/deliveries/{hook_id}/attempts"),
            None,
        )
        .await?;
    sqlx::query(
        "INSERT INTO redelivery_requests (guid, hook_delivery_id, event) VALUES ($1, $2, $3)
         ON CONFLICT (guid) DO UPDATE SET hook_delivery_id = $2, requested_at = now()",
    )
    .bind(guid)
    .bind(hook_id)
    .bind(event)
    .execute(pool)
    .await?;
    tracing::info!(delivery = guid, hook_id, "admin: asked GitHub to redeliver");
    Ok(hook_id)
}

#[derive(Deserialize, Default)]
pub struct SurveysQuery {
    #[serde(default)]
    before: Option<i64>,
}

/// `GET /admin/surveys`: per merged PR, who was asked and who answered (never what).
pub async fn surveys(
    State(state): State<AppState>,
    Admin(s): Admin,
    Query(q): Query<SurveysQuery>,
) -> Result<Response, AdminError> {
    let mut rows = queries::surveys(&state.pool, scope(&s), q.before).await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let body = html! {
        p.hint { "Individual answers are shown only to the survey's participants, in Slack." }
        @if rows.is_empty() { p { "No surveys yet." } } @else {
        div.scroll { table {
            thead { tr { th { "Pull request" } th { "Merged" } th { "Status" } th.num { "Asked" } th.num { "Answered" } th.num { "Revealed" } th { "Slack errors" } } }
            tbody { @for r in &rows { tr {
                td { a href=(format!("/admin/surveys/{}", r.id)) { (r.repository_full_name) "#" (r.number) } div.small { (r.title) } }
                td { (when(r.merged_at)) }
                td { span class=(format!("tag {}", r.status)) { (r.status) } }
                td.num { (r.asked) } td.num { (r.answered) } td.num { (r.revealed) }
                td.error { @if r.errors > 0 { (r.errors) } @if let Some(e) = &r.last_error { " " (e) } }
            } } }
        } } }
        nav.pager { @if more { @if let Some(last) = rows.last() { a href=(format!("/admin/surveys?before={}", last.id)) { "Older →" } } } }
    };
    Ok(page(&s, "surveys", "Surveys", body).into_response())
}

/// `GET /admin/surveys/{id}`.
pub async fn survey(
    State(state): State<AppState>,
    Admin(s): Admin,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    let r = queries::survey(&state.pool, scope(&s), id)
        .await?
        .ok_or(AdminError::NotFound)?;
    let people = queries::participants(&state.pool, r.id).await?;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let body = html! {
        p { @if let Some(u) = &r.html_url { a href=(u) rel="noopener noreferrer" { (r.repository_full_name) "#" (r.number) } } @else { (r.repository_full_name) "#" (r.number) }
            " · " (r.title) }
        p { "Status " span class=(format!("tag {}", r.status)) { (r.status) } " · merged " (when(r.merged_at)) }
        @if let Some(e) = &r.last_error { p.error { (e) } }
        div.scroll { table {
            thead { tr { th { "Person" } th { "Role" } th { "Asked" } th { "Answered" } th { "Revealed" } th { "Not asked because" } th { "Slack error" } } }
            tbody { @for p in &people { tr {
                td { (p.login) } td { (p.role) } td { (yes(p.asked)) } td { (yes(p.answered)) } td { (yes(p.revealed)) }
                td { (p.skip_reason.as_deref().unwrap_or("")) } td.error { (p.last_error.as_deref().unwrap_or("")) }
            } } }
        } }
    };
    Ok(page(&s, "surveys", &format!("Survey #{}", r.id), body).into_response())
}

/// A share, or "withheld" when too few people are behind it (never 0).
fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| WITHHELD.into())
}

/// A count, or "withheld" when too few people are behind it (never 0).
fn count(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| WITHHELD.into())
}

/// What a figure with fewer than three people behind it shows.
const WITHHELD: &str = "withheld";

/// `GET /admin/stats`: weekly aggregates (each with at least three people behind it).
pub async fn stats(State(state): State<AppState>, Admin(s): Admin) -> Result<Response, AdminError> {
    let weeks = queries::weekly_stats(&state.pool, scope(&s)).await?;
    let series = |f: fn(&queries::WeekStats) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        weeks
            .iter()
            .map(|w| (w.week.format("%m-%d").to_string(), f(w)))
            .collect()
    };
    let body = html! {
        p.hint { "Per week of merge. A figure needs at least " (queries::MIN_PEOPLE) " people behind it; otherwise it shows n/a. "
            a href="/admin/stats.csv" download { "Download CSV" } }
        @if weeks.is_empty() { p { "No surveys in the last 26 weeks." } } @else {
            div.charts {
                (charts::percent_bars("Response rate", &series(|w| w.response_rate)))
                (charts::percent_bars("AI-assisted PRs (author: a little or a lot)", &series(|w| w.ai_share)))
                (charts::percent_bars("Reviewers' guess accuracy", &series(|w| w.guess_accuracy)))
            }
            div.scroll { table {
                thead { tr { th { "Week of" } th.num { "Surveys" } th.num { "Asked" } th.num { "Answered" } th.num { "Response rate" } th.num { "AI-assisted" } th.num { "Guess accuracy" } } }
                tbody { @for w in &weeks { tr {
                    td { (w.week.format("%Y-%m-%d")) } td.num { (w.surveys) } td.num { (count(w.asked)) } td.num { (count(w.answered)) }
                    td.num { (pct(w.response_rate)) } td.num { (pct(w.ai_share)) } td.num { (pct(w.guess_accuracy)) }
                } } }
            } }
        }
    };
    Ok(page(&s, "stats", "Stats", body).into_response())
}

/// `GET /admin/stats.csv`: the weekly aggregates (no individual answers).
pub async fn stats_csv(
    State(state): State<AppState>,
    Admin(s): Admin,
) -> Result<Response, AdminError> {
    let weeks = queries::weekly_stats(&state.pool, scope(&s)).await?;
    let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut csv = String::from(
        "week,surveys,asked,answered,response_rate,ai_assisted_share,guess_accuracy\n",
    );
    for w in &weeks {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            w.week.format("%Y-%m-%d"),
            w.surveys,
            w.asked.map(|v| v.to_string()).unwrap_or_default(),
            w.answered.map(|v| v.to_string()).unwrap_or_default(),
            f(w.response_rate),
            f(w.ai_share),
            f(w.guess_accuracy)
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"mergecast-survey-stats.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}
