//! Slack's OAuth v2 install flow, as https://docs.slack.dev/authentication/installing-with-oauth
//! describes it, for the one Slack app the fake knows ([`super::FakeSlack::set_oauth_app`]):
//!
//! 1. The app sends the user to `GET /oauth/v2/authorize?client_id=&scope=&redirect_uri=&state=`
//!    ([`authorize_page`]): Slack checks the request and shows a consent page naming the app
//!    and the workspace, with the requested scopes (or an error page).
//! 2. The user picks a workspace and presses Allow or Cancel ([`authorize_decision`]): Slack
//!    redirects to `redirect_uri` with `code` and `state`, or with `error=access_denied` and
//!    `state`.
//! 3. The app exchanges the code for the workspace's bot token with `oauth.v2.access`
//!    ([`oauth_v2_access`], https://docs.slack.dev/reference/methods/oauth.v2.access). Codes are
//!    single use and expire ten minutes after they are issued.
//!
//! Where the docs are silent the fake is strict, and says so on each function.

use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;
use std::sync::Arc;
use url::Url;

use super::http::{Args, Params, Reply, record};
use super::{Shared, lock};

/// The app's display name on the consent page.
pub const APP_NAME: &str = "Mergecast";

/// "The temporary authorization code ... expires after ten minutes"
/// (https://docs.slack.dev/authentication/installing-with-oauth, step 3).
pub const CODE_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The bot scopes the fake knows, by Slack's names (https://docs.slack.dev/reference/scopes);
/// any other name asked for is `invalid_scope`.
pub const BOT_SCOPES: &[&str] = &[
    "app_mentions:read",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "team:read",
    "users:read",
    "users:read.email",
];

/// The OAuth side of the fake: the app, the codes handed out, the installs approved.
#[derive(Debug, Default)]
pub(super) struct OAuth {
    pub(super) app: Option<OAuthApp>,
    pub(super) codes: Vec<Code>,
    /// (team id, bot scopes) of every approved install, in order.
    pub(super) installs: Vec<(String, Vec<String>)>,
    issued: u64,
}

/// The Slack app: its credentials and the Redirect URLs registered on its "OAuth &
/// Permissions" page.
#[derive(Debug, Clone)]
pub(super) struct OAuthApp {
    pub(super) client_id: String,
    pub(super) client_secret: String,
    pub(super) redirect_urls: Vec<String>,
}

/// A temporary authorization code and what it was issued for.
#[derive(Debug, Clone)]
pub(super) struct Code {
    code: String,
    client_id: String,
    team_id: String,
    scopes: Vec<String>,
    /// As given to `/oauth/v2/authorize` (`None` when it was not given there).
    redirect_uri: Option<String>,
    issued: Instant,
    /// Added by [`super::FakeSlack::age_oauth_codes`].
    pub(super) aged: Duration,
    used: bool,
}

impl Code {
    fn expired(&self) -> bool {
        self.issued.elapsed() + self.aged >= CODE_LIFETIME
    }
}

/// The arguments of `/oauth/v2/authorize` (query string or form): the first occurrence of each,
/// an empty value counting as absent.
struct AuthorizeArgs(Vec<(String, String)>);

impl AuthorizeArgs {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// A request `/oauth/v2/authorize` accepts.
struct Checked {
    client_id: String,
    scopes: Vec<String>,
    /// As given (`None`: not given).
    redirect_uri: Option<String>,
    /// Where Slack sends the user: the given `redirect_uri`, else the first Redirect URL.
    redirect_to: String,
}

/// Checks what both steps of `/oauth/v2/authorize` check, in this order: `client_id` (unknown
/// or missing: `invalid_client_id`), `redirect_uri` (`bad_redirect_uri`, see
/// [`redirect_allowed`]; when absent Slack uses the app's first Redirect URL, and with none
/// registered that is `bad_redirect_uri` too), then the scopes: `scope` is a comma-separated
/// list of bot scopes from [`BOT_SCOPES`] (strict: no spaces, no empty names; anything else is
/// `invalid_scope`), and neither `scope` nor `user_scope` is `invalid_scope`. User tokens are
/// not modelled: any `user_scope` is refused with `fake_slack_does_not_model_user_scopes`
/// rather than pretending to grant one.
fn check(oauth: &OAuth, args: &AuthorizeArgs) -> Result<Checked, &'static str> {
    let app = oauth.app.as_ref().ok_or("invalid_client_id")?;
    let client_id = args.get("client_id").ok_or("invalid_client_id")?;
    if client_id != app.client_id {
        return Err("invalid_client_id");
    }
    let redirect_uri = args.get("redirect_uri").map(str::to_string);
    let redirect_to = match &redirect_uri {
        Some(given) => {
            if !app
                .redirect_urls
                .iter()
                .any(|registered| redirect_allowed(registered, given))
            {
                return Err("bad_redirect_uri");
            }
            given.clone()
        }
        None => app.redirect_urls.first().ok_or("bad_redirect_uri")?.clone(),
    };
    let (scope, user_scope) = (args.get("scope"), args.get("user_scope"));
    if user_scope.is_some() {
        return Err("fake_slack_does_not_model_user_scopes");
    }
    let scope = scope.ok_or("invalid_scope")?;
    let mut scopes: Vec<String> = Vec::new();
    for name in scope.split(',') {
        if !BOT_SCOPES.contains(&name) {
            return Err("invalid_scope");
        }
        if !scopes.iter().any(|s| s == name) {
            scopes.push(name.to_string());
        }
    }
    Ok(Checked {
        client_id: client_id.to_string(),
        scopes,
        redirect_uri,
        redirect_to,
    })
}

/// Whether `given` may be used as `redirect_uri` for the Redirect URL `registered`. Slack's
/// docs: the `redirect_uri` "must match" a Redirect URL configured on the app or be a
/// subdirectory of one (https://docs.slack.dev/authentication/installing-with-oauth). The fake
/// reads that strictly: same scheme, host and port, no user info or fragment, the same query
/// (usually none), and a path equal to the registered one or below it at a `/` boundary
/// (`https://a.example/slack` admits `https://a.example/slack/oauth`, never
/// `https://a.example/slackers` nor `https://a.example.evil/slack`).
pub(super) fn redirect_allowed(registered: &str, given: &str) -> bool {
    let (Ok(registered), Ok(given)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let same_origin = given.scheme() == registered.scheme()
        && given.host_str() == registered.host_str()
        && given.port_or_known_default() == registered.port_or_known_default();
    if !same_origin
        || !given.username().is_empty()
        || given.password().is_some()
        || given.fragment().is_some()
        || given.query() != registered.query()
    {
        return false;
    }
    let base = registered.path().trim_end_matches('/');
    let path = given.path();
    path == registered.path()
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `GET /oauth/v2/authorize`: the consent page, or an error page (HTTP 400) naming Slack's
/// error code (https://docs.slack.dev/authentication/installing-with-oauth, step 1). The page
/// names the app and the workspace, lists the requested scopes, offers the fake's workspaces
/// in `<select name="team">` (the `team` argument preselects one; strict: an unknown `team` is
/// `fake_slack_unknown_team`) and posts the decision back with the request's arguments in
/// hidden fields.
pub(super) async fn authorize_page(
    State(shared): State<Arc<Shared>>,
    Query(args): Query<Vec<(String, String)>>,
) -> Response {
    let args = AuthorizeArgs(args);
    let checked = match check(&lock(&shared.oauth), &args) {
        Ok(checked) => checked,
        Err(code) => return error_page(code),
    };
    let teams: Vec<(String, String)> = shared
        .workspaces()
        .iter()
        .map(|w| w.with(|m| (m.team_id.clone(), m.team_name.clone())))
        .collect();
    let selected = match args.get("team") {
        None => 0,
        Some(team) => match teams.iter().position(|(id, _)| id == team) {
            Some(i) => i,
            None => return error_page("fake_slack_unknown_team"),
        },
    };
    let workspace = escape(&teams[selected].1);
    let app = escape(APP_NAME);
    let mut options = String::new();
    for (i, (id, name)) in teams.iter().enumerate() {
        let selected = if i == selected { " selected" } else { "" };
        options += &format!(
            "<option value=\"{}\"{selected}>{}</option>",
            escape(id),
            escape(name)
        );
    }
    let scopes: String = checked
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape(s)))
        .collect();
    let mut hidden = format!(
        "<input type=\"hidden\" name=\"client_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"scope\" value=\"{}\">",
        escape(&checked.client_id),
        escape(&checked.scopes.join(","))
    );
    for name in ["redirect_uri", "state"] {
        if let Some(value) = args.get(name) {
            hidden += &format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            );
        }
    }
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <title>{app} is requesting permission to access the {workspace} Slack workspace</title>\
         </head><body>\
         <h1>{app} is requesting permission to access the <span id=\"workspace\">{workspace}</span> Slack workspace</h1>\
         <form method=\"post\" action=\"/oauth/v2/authorize\">\
         <label for=\"team\">Workspace</label> <select name=\"team\" id=\"team\">{options}</select>\
         <h2>What will {app} be able to do?</h2><ul id=\"scopes\">{scopes}</ul>\
         {hidden}\
         <button name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button> \
         <button name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>\
         </form></body></html>\n"
    ))
    .into_response()
}

/// `POST /oauth/v2/authorize` (a form): the user's decision on the consent page. The request is
/// checked again as in [`authorize_page`] (the form is the user's to edit). `decision=allow`
/// with a known `team` issues a fresh single-use code for that workspace, records the install,
/// and redirects (302) to `redirect_uri?code=...&state=...`; `decision=deny` redirects to
/// `redirect_uri?error=access_denied&state=...` (https://docs.slack.dev/authentication/installing-with-oauth:
/// "If the user denies your request, Slack redirects ... with an error parameter").
/// `state` is passed back only when it was given. Strict: no or another `decision`, or an
/// unknown `team`, is an error page (`fake_slack_no_decision`, `fake_slack_unknown_team`).
pub(super) async fn authorize_decision(
    State(shared): State<Arc<Shared>>,
    Form(args): Form<Vec<(String, String)>>,
) -> Response {
    let args = AuthorizeArgs(args);
    let mut oauth = lock(&shared.oauth);
    let checked = match check(&oauth, &args) {
        Ok(checked) => checked,
        Err(code) => return error_page(code),
    };
    let state = args.get("state");
    let mut pairs: Vec<(&str, String)> = Vec::new();
    match args.get("decision") {
        Some("deny") => pairs.push(("error", "access_denied".into())),
        Some("allow") => {
            let Some(team) = args.get("team").filter(|t| shared.workspace(t).is_some()) else {
                return error_page("fake_slack_unknown_team");
            };
            oauth.issued += 1;
            let code = format!(
                "{}.{}.{}",
                4_724_469_134u64 + oauth.issued,
                4_644_010_092_847u64 + oauth.issued,
                uuid::Uuid::new_v4().simple()
            );
            oauth.codes.push(Code {
                code: code.clone(),
                client_id: checked.client_id.clone(),
                team_id: team.to_string(),
                scopes: checked.scopes.clone(),
                redirect_uri: checked.redirect_uri.clone(),
                issued: Instant::now(),
                aged: Duration::ZERO,
                used: false,
            });
            oauth
                .installs
                .push((team.to_string(), checked.scopes.clone()));
            pairs.push(("code", code));
        }
        _ => return error_page("fake_slack_no_decision"),
    }
    if let Some(state) = state {
        pairs.push(("state", state.to_string()));
    }
    let mut location = Url::parse(&checked.redirect_to).expect("checked redirect URL");
    for (name, value) in &pairs {
        location.query_pairs_mut().append_pair(name, value);
    }
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// Slack's error page for a refused authorize request: HTTP 400, the code in the title and in
/// `<code id="error">`.
fn error_page(code: &str) -> Response {
    let code = escape(code);
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Slack: {code}</title></head>\
             <body><h1>Something went wrong when authorizing this app.</h1>\
             <p>Error details: <code id=\"error\">{code}</code></p></body></html>\n"
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `oauth.v2.access` (https://docs.slack.dev/reference/methods/oauth.v2.access): exchanges a
/// code for the workspace's bot token. No bearer token: the app authenticates with its client
/// id and secret, by HTTP Basic auth (which Slack prefers, and slack-morphism sends) or, without
/// a Basic header, as `client_id`/`client_secret` arguments. Arguments come from the query
/// string or a form body; a JSON body is not read (form-only, see [`super::reads_json_body`]).
///
/// Errors, HTTP 200 with `ok:false`, checked in this order: `invalid_client_id` (no, unknown or
/// unreadable credentials), `bad_client_secret`, `invalid_grant_type` (anything but
/// `authorization_code`: token rotation is not modelled), `invalid_code` (missing, unknown,
/// expired, already used, or issued to another client), `bad_redirect_uri` (`redirect_uri`
/// differs from the one given to `/oauth/v2/authorize`, or is given only on one side).
/// Strict where the docs are silent: a code is used up by the first exchange that names it
/// with valid credentials, even one refused with `bad_redirect_uri`. Injected failures
/// (`fail_next`, `rate_limit_next`) do not apply here.
///
/// The call is logged in the code's workspace's `calls` (the default workspace's when the code
/// is unknown), without `client_secret` and with the answered `access_token` redacted.
pub(super) fn oauth_v2_access(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    params: &Result<Params, &'static str>,
) -> Reply {
    let (reply, team) = exchange(shared, headers, params);
    let workspace = team
        .and_then(|team| shared.workspace(&team))
        .unwrap_or_else(|| shared.default_workspace());
    let mut logged = Reply {
        status: reply.status,
        body: reply.body.clone(),
        retry_after: reply.retry_after,
    };
    if logged.body.get("access_token").is_some() {
        logged.body["access_token"] = json!("<redacted>");
    }
    record(
        &mut lock(&workspace.model),
        "oauth.v2.access".into(),
        method,
        params,
        &logged,
        &["client_secret", "token"],
    );
    reply
}

/// The exchange itself, and the team of the code (for the log) once it is known.
fn exchange(
    shared: &Shared,
    headers: &HeaderMap,
    params: &Result<Params, &'static str>,
) -> (Reply, Option<String>) {
    let params = match params {
        Ok(params) => params,
        Err(code) => return (Reply::error(code), None),
    };
    let args = Args(params);
    let Some((client_id, client_secret)) = client_credentials(headers, &args) else {
        return (Reply::error("invalid_client_id"), None);
    };
    let mut oauth = lock(&shared.oauth);
    let Some(app) = oauth.app.clone() else {
        return (Reply::error("invalid_client_id"), None);
    };
    if client_id != app.client_id {
        return (Reply::error("invalid_client_id"), None);
    }
    if client_secret != app.client_secret {
        return (Reply::error("bad_client_secret"), None);
    }
    if args
        .str("grant_type")
        .is_some_and(|grant| grant != "authorization_code")
    {
        return (Reply::error("invalid_grant_type"), None);
    }
    let Some(code) = args.str("code") else {
        return (Reply::error("invalid_code"), None);
    };
    let Some(found) = oauth.codes.iter_mut().find(|c| c.code == code) else {
        return (Reply::error("invalid_code"), None);
    };
    let team = found.team_id.clone();
    if found.used || found.expired() || found.client_id != client_id {
        return (Reply::error("invalid_code"), Some(team));
    }
    found.used = true;
    if args.str("redirect_uri") != found.redirect_uri {
        return (Reply::error("bad_redirect_uri"), Some(team));
    }
    let scopes = found.scopes.join(",");
    drop(oauth);
    let Some(workspace) = shared.workspace(&team) else {
        return (Reply::error("invalid_code"), Some(team));
    };
    let body = workspace.with(|m| {
        if m.bot_token.is_empty() {
            // Installed again after the token was revoked: a new token.
            m.bot_token = format!("xoxb-{}-{}", m.team_id, uuid::Uuid::new_v4().simple());
        }
        json!({
            "access_token": m.bot_token,
            "token_type": "bot",
            "scope": scopes,
            "bot_user_id": m.bot_user_id,
            "app_id": m.app_id,
            "team": { "name": m.team_name, "id": m.team_id },
            "enterprise": null,
            "authed_user": { "id": m.installer_user_id },
            "is_enterprise_install": false,
        })
    });
    (Reply::ok(body), Some(team))
}

/// The client id and secret: from `Authorization: Basic base64(id:secret)` when that header is
/// there (an unreadable one gives `None`), else from the `client_id` and `client_secret`
/// arguments (a missing secret reads as empty, hence `bad_client_secret`).
fn client_credentials(headers: &HeaderMap, args: &Args) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim().to_string());
    match basic {
        Some(encoded) => {
            let decoded = BASE64.decode(encoded).ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (id, secret) = decoded.split_once(':')?;
            Some((id.to_string(), secret.to_string()))
        }
        None => Some((
            args.str("client_id")?,
            args.str("client_secret").unwrap_or_default(),
        )),
    }
}
