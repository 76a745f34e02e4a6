//! The first-run setup page (`/admin/setup`, where `/` sends a new deployment): the one-time
//! setup code from the log and the operator's password first, then each step's state (done,
//! missing, failing with the reason) with the form that completes it: the GitHub App from its
//! manifest, installing it on an org, the Slack app, and each org's Slack and settings.
//!
//! Before the password exists the page is guarded by the setup code (checked in constant time,
//! failures throttled like sign-in) and the double-submit CSRF cookie; afterwards only the
//! operator's session reaches it. What it stores goes through `store::app_settings` (secrets
//! sealed; without an encryption key nothing secret is stored and the page says so) and is
//! applied at once by reloading the process's configuration (`app::serve`).

use std::sync::Arc;

use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::login::{form_and_ip, pending_session, secret};
use crate::config::layered::Source;
use crate::config::{AppKey, Config, hash_password};
use crate::github::client::{Auth, GithubClient};
use crate::github::manifest::{self, Owner};
use crate::store::admin_sessions::SessionKind;
use crate::store::app_settings::{self, Setting};
use crate::store::installations;
use crate::store::secrets::{SecretError, SecretName};
use crate::web::AppState;
use crate::web::admin::session::{self, Session, random_token};
use crate::web::admin::views::setup::{self as view, Step, StepState};
use crate::web::admin::{AdminError, csrf, throttle};

/// The throttle's account name for setup-code attempts.
const SETUP: &str = "setup";
/// The shortest operator password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The configuration as stored now (not as this process last loaded it: a change made a moment
/// ago shows at once).
async fn current(state: &AppState) -> Result<Arc<Config>, AdminError> {
    match &state.admin.reload {
        Some(reload) => app_settings::current_config(&state.pool, &reload.env)
            .await
            .map(Arc::new)
            .map_err(|e| AdminError::BadRequest(format!("configuration: {e}"))),
        None => Ok(state.admin.app_config.clone()),
    }
}

fn reload(state: &AppState) {
    if let Some(reload) = &state.admin.reload {
        reload.notify.notify_one();
    }
}

/// The operator's session, or the response that sends the browser to sign in.
async fn operator(state: &AppState, headers: &HeaderMap) -> Result<Session, Response> {
    let Some(secret) = state.admin.config.session_secret.as_deref() else {
        return Err(Redirect::to("/admin/setup").into_response());
    };
    match session::from_headers(&state.pool, secret, headers).await {
        Ok(Some(s)) if s.kind == SessionKind::Operator => Ok(s),
        Ok(_) => Err(Redirect::to("/admin/login").into_response()),
        Err(e) => Err(AdminError::from(e).into_response()),
    }
}

/// The signed-in operator (the setup steps after the password are the operator's alone).
pub struct Operator(Session);

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        operator(state, &parts.headers).await.map(Operator)
    }
}

/// `GET /`: a new deployment goes to setup, a configured one to the admin pages.
pub async fn root(State(state): State<AppState>) -> Result<Response, AdminError> {
    let config = current(&state).await?;
    let target = if config.admin.password_hash.is_none() {
        "/admin/setup"
    } else {
        "/admin"
    };
    Ok(Redirect::to(target).into_response())
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    notice: Option<String>,
}

/// `GET /admin/setup`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, AdminError> {
    let config = current(&state).await?;
    if config.admin.password_hash.is_none() {
        return Ok(first_form(&config, &headers, None, StatusCode::OK));
    }
    let s = match operator(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let steps = steps(&state, &config).await?;
    let notice = q.notice.as_deref().and_then(view::notice);
    Ok(view::page(&s, &steps, notice).into_response())
}

/// The code-and-password form (or, with no key to sign its cookie, why there is none).
fn first_form(
    config: &Config,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let key_missing = config.keyring.is_none();
    let Some(secret) = config.admin.session_secret.as_deref() else {
        return (status, view::needs_key()).into_response();
    };
    let (token, cookie) = csrf::issue(secret, headers, config.admin.secure_cookies());
    let mut response = (status, view::first(&token, key_missing, error)).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/setup/password`: the setup code and the operator's new password; on success
/// the browser is signed in as the operator and sent back to the setup page.
pub async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, AdminError> {
    let (ip, form) = form_and_ip::<PasswordForm>(request).await?;
    let config = current(&state).await?;
    if config.admin.password_hash.is_some() {
        return Ok(Redirect::to("/admin/login").into_response());
    }
    csrf::check(secret(&state), &headers, &form.csrf)?;
    throttle::check(&state, SETUP, &ip).await?;
    let refuse =
        |message: &str| first_form(&config, &headers, Some(message), StatusCode::BAD_REQUEST);
    let digest = app_settings::setup_code_digest(&form.code.to_ascii_uppercase());
    let stored = app_settings::setup_code_hash(&state.pool).await?;
    let matches = stored
        .as_deref()
        .is_some_and(|s| bool::from(s.ct_eq(&digest)));
    if !matches {
        throttle::record_failure(&state, SETUP, &ip).await?;
        tracing::warn!(%ip, "setup: wrong setup code");
        return Ok(refuse(
            "That is not the setup code. Use the newest one printed in the server log.",
        ));
    }
    if form.password.chars().count() < MIN_PASSWORD_CHARS {
        return Ok(refuse(&format!(
            "Choose a password of at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    if form.password != form.confirm {
        return Ok(refuse("The two passwords differ."));
    }
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AdminError::BadRequest(format!("hashing failed: {e}")))?
        .map_err(|e| AdminError::BadRequest(format!("hashing failed: {e}")))?;
    if !app_settings::set_operator_password(&state.pool, &digest, &hash).await? {
        // Another browser used the code a moment ago.
        return Ok(Redirect::to("/admin/login").into_response());
    }
    throttle::clear(&state, SETUP, &ip).await?;
    tracing::info!("setup: operator password set");
    reload(&state);
    let pending = pending_session(&state, &headers).await?;
    super::login::signed_in_to(
        &state,
        pending.as_ref(),
        SessionKind::Operator,
        Some("operator"),
        "/admin/setup",
    )
    .await
}

#[derive(Deserialize)]
pub struct GithubForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    public_url: String,
    #[serde(default)]
    org: String,
}

/// `POST /admin/setup/github`: the manifest, with this deployment's URLs, in a form the
/// operator's browser posts to GitHub (with a `state` bound to this session, checked on return).
pub async fn github(
    State(state): State<AppState>,
    Operator(s): Operator,
    Form(form): Form<GithubForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let config = current(&state).await?;
    if config.keyring.is_none() {
        return Err(secret_error(SecretError::NoKey));
    }
    let public_url = match (&config.admin.public_url, config.sources.get("PUBLIC_URL")) {
        (Some(url), Some(Source::Environment)) => url.clone(),
        _ => manifest::check_public_url(&form.public_url)
            .map_err(|e| AdminError::BadRequest(e.to_string()))?,
    };
    let owner = Owner::parse(&form.org).map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let manifest =
        manifest::manifest(&public_url).map_err(|e| AdminError::BadRequest(e.to_string()))?;
    if config.sources.get("PUBLIC_URL") != Some(&Source::Environment) {
        app_settings::save(
            &state.pool,
            config.keyring.as_ref(),
            &[(Setting::PublicUrl, &public_url)],
            &[],
        )
        .await
        .map_err(secret_error)?;
    }
    let flow_state = random_token();
    app_settings::put_manifest_state(&state.pool, &flow_state, &s.id_hash).await?;
    let action = manifest::creation_url(state.admin.github_api.web_url(), &owner, &flow_state);
    Ok(view::post_manifest(&action, &manifest.to_string()).into_response())
}

#[derive(Deserialize)]
pub struct RegisteredQuery {
    code: Option<String>,
    state: Option<String>,
}

/// `GET /admin/setup/github/registered?code&state`: GitHub sends the browser back here after
/// creating the app; the code is exchanged for the app's credentials, which are stored (secrets
/// sealed) and applied.
pub async fn registered(
    State(state): State<AppState>,
    Operator(s): Operator,
    Query(q): Query<RegisteredQuery>,
) -> Result<Response, AdminError> {
    let (Some(code), Some(flow_state)) = (q.code, q.state) else {
        return Err(AdminError::BadRequest(
            "GitHub sent no code and state back.".into(),
        ));
    };
    if !app_settings::take_manifest_state(&state.pool, &flow_state, &s.id_hash).await? {
        tracing::warn!("setup: manifest callback with an unknown, used or expired state");
        return Err(AdminError::BadRequest(
            "This registration was not started from this session, was already used, or is \
             more than an hour old. Start again from the setup page."
                .into(),
        ));
    }
    let config = current(&state).await?;
    let app = manifest::convert(&state.admin.github_api, &code)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "setup: manifest conversion failed");
            AdminError::BadRequest(format!("GitHub did not hand over the new app: {e}"))
        })?;
    AppKey::from_pem(&app.pem)
        .map_err(|e| AdminError::BadRequest(format!("GitHub's private key: {e}")))?;
    let id = app.id.to_string();
    app_settings::save(
        &state.pool,
        config.keyring.as_ref(),
        &[
            (Setting::GithubAppId, &id),
            (Setting::GithubAppSlug, &app.slug),
            (Setting::GithubClientId, &app.client_id),
        ],
        &[
            (SecretName::GithubPrivateKey, app.pem.as_bytes()),
            (
                SecretName::GithubWebhookSecret,
                app.webhook_secret.as_bytes(),
            ),
            (SecretName::GithubClientSecret, app.client_secret.as_bytes()),
        ],
    )
    .await
    .map_err(secret_error)?;
    tracing::info!(app_id = app.id, slug = %app.slug, "setup: GitHub App registered from the manifest");
    reload(&state);
    Ok(Redirect::to("/admin/setup?notice=app-registered").into_response())
}

#[derive(Deserialize)]
pub struct SlackForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    signing_secret: String,
}

/// A Slack credential as typed: trimmed, non-empty, printable ASCII without spaces.
fn slack_value(name: &str, raw: &str) -> Result<String, AdminError> {
    let value = raw.trim();
    if value.is_empty() || value.len() > 200 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminError::BadRequest(format!(
            "{name}: paste it from the Slack app's Basic Information page."
        )));
    }
    Ok(value.to_owned())
}

/// `POST /admin/setup/slack`: the Slack app's client id, client secret and signing secret
/// ("Add to Slack" and the signed Slack endpoints need them).
pub async fn slack(
    State(state): State<AppState>,
    Operator(s): Operator,
    Form(form): Form<SlackForm>,
) -> Result<Response, AdminError> {
    s.check_csrf(&form.csrf)?;
    let config = current(&state).await?;
    if [
        config.sources.get("SLACK_CLIENT_ID"),
        config.sources.get("SLACK_SIGNING_SECRET"),
    ]
    .contains(&Some(&Source::Environment))
    {
        return Err(AdminError::BadRequest(
            "The Slack app is configured by environment variables, which win; change them there."
                .into(),
        ));
    }
    let client_id = slack_value("Client ID", &form.client_id)?;
    let client_secret = slack_value("Client Secret", &form.client_secret)?;
    let signing_secret = slack_value("Signing Secret", &form.signing_secret)?;
    app_settings::save(
        &state.pool,
        config.keyring.as_ref(),
        &[(Setting::SlackClientId, &client_id)],
        &[
            (SecretName::SlackClientSecret, client_secret.as_bytes()),
            (SecretName::SlackSigningSecret, signing_secret.as_bytes()),
        ],
    )
    .await
    .map_err(secret_error)?;
    tracing::info!("setup: Slack app credentials stored");
    reload(&state);
    Ok(Redirect::to("/admin/setup?notice=slack-saved").into_response())
}

fn secret_error(e: SecretError) -> AdminError {
    match e {
        SecretError::Database(db) => AdminError::Database(db),
        SecretError::NoKey => {
            tracing::error!("setup: {e}");
            AdminError::BadRequest(e.to_string())
        }
        other => {
            tracing::error!(error = %other, "setup: stored secret");
            AdminError::BadRequest("A stored secret does not open with the configured keys.".into())
        }
    }
}

fn source_note(config: &Config, group: &str) -> Option<&'static str> {
    match config.sources.get(group) {
        Some(Source::Environment) => Some("from environment variables, which win over this page"),
        Some(Source::Stored) => Some("stored by this page"),
        _ => None,
    }
}

/// Whether the app's own credentials work: `GET /app` with its JWT.
async fn check_app(client: &GithubClient) -> Result<(), String> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client.get(Auth::App, "/app", None),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("GitHub did not answer within 10 s".into()),
    }
}

/// Every step of setup with its state.
async fn steps(state: &AppState, config: &Config) -> Result<Vec<Step>, AdminError> {
    let mut steps = Vec::new();
    steps.push(Step {
        title: "Encryption key",
        state: match &config.keyring {
            Some(k) => StepState::Done(format!("MERGECAST_ENCRYPTION_KEY is set (key {}).", k.current_id())),
            None => StepState::Missing(
                "Set MERGECAST_ENCRYPTION_KEY (mergecast secrets generate-key prints one) and restart: without it nothing secret is stored.".into(),
            ),
        },
        note: None,
        form: view::StepForm::None,
    });
    steps.push(Step {
        title: "Operator password",
        state: StepState::Done("Set.".into()),
        note: source_note(config, "ADMIN_PASSWORD_HASH"),
        form: view::StepForm::None,
    });
    let web = state.admin.github_api.web_url().to_owned();
    let app_state = match &config.github_app {
        None => StepState::Missing("No GitHub App yet.".into()),
        Some(app) => {
            let client = GithubClient::new(
                state.admin.github_api.clone(),
                app,
                state.queues.connection(),
                &config.queue_prefix,
                state.pool.clone(),
            );
            let name = app.slug.clone().unwrap_or_else(|| app.app_id.to_string());
            match check_app(&client).await {
                Ok(()) => StepState::Done(format!("App {name} (id {}).", app.app_id)),
                Err(reason) => StepState::Failing(format!(
                    "App {name} (id {}): GitHub refuses its credentials: {reason}",
                    app.app_id
                )),
            }
        }
    };
    let registered = config.github_app.is_some();
    steps.push(Step {
        title: "GitHub App",
        state: app_state,
        note: source_note(config, "GITHUB_APP_ID"),
        form: if registered {
            view::StepForm::None
        } else {
            view::StepForm::RegisterApp {
                public_url: config.admin.public_url.clone().unwrap_or_default(),
                public_url_fixed: config.sources.get("PUBLIC_URL") == Some(&Source::Environment),
                web_url: web.clone(),
            }
        },
    });
    let installed = installations::admin_list(&state.pool, None, 100, 0).await?;
    let active: Vec<(i64, String)> = installed
        .iter()
        .filter(|i| i.status == installations::InstallationStatus::Active.as_str())
        .map(|i| (i.id, i.account_login.clone()))
        .collect();
    let install_link = config
        .github_app
        .as_ref()
        .and_then(|a| a.slug.as_ref())
        .map(|slug| format!("{web}/apps/{slug}/installations/new"));
    steps.push(Step {
        title: "Install on an org",
        state: if active.is_empty() {
            StepState::Missing("Not installed on any org yet.".into())
        } else {
            StepState::Done(format!("Installed on {} org(s).", active.len()))
        },
        note: None,
        form: view::StepForm::Install {
            link: install_link,
            installations: active.clone(),
        },
    });
    let slack_state = match &config.slack {
        None => StepState::Missing("No Slack app credentials yet.".into()),
        Some(s) if s.oauth.is_none() => StepState::Missing(
            "Signing secret set, but no OAuth client id and secret: \"Add to Slack\" cannot run."
                .into(),
        ),
        Some(_) => StepState::Done("Signing secret and OAuth client set.".into()),
    };
    steps.push(Step {
        title: "Slack app",
        state: slack_state,
        note: source_note(config, "SLACK_CLIENT_ID")
            .or_else(|| source_note(config, "SLACK_SIGNING_SECRET")),
        form: if config.sources.get("SLACK_CLIENT_ID") == Some(&Source::Environment) {
            view::StepForm::None
        } else {
            view::StepForm::SlackApp {
                public_url: config.admin.public_url.clone().unwrap_or_default(),
            }
        },
    });
    let mut without_slack = Vec::new();
    for (id, login) in &active {
        let connected = match &state.admin.survey.slack {
            None => false,
            Some(clients) => clients
                .for_installation(crate::ids::InstallationId(*id))
                .await
                .is_ok_and(|c| c.is_some()),
        };
        if !connected {
            without_slack.push(login.as_str());
        }
    }
    steps.push(Step {
        title: "Slack and settings per org",
        state: if active.is_empty() {
            StepState::Missing("Install the app on an org first.".into())
        } else if !without_slack.is_empty() {
            StepState::Missing(format!(
                "Not in Slack yet (its surveys wait): {}. Open its Slack page and press \"Add to Slack\".",
                without_slack.join(", ")
            ))
        } else {
            StepState::Done(
                "Every org surveys through a Slack workspace; each org's settings are on its page."
                    .into(),
            )
        },
        note: None,
        form: view::StepForm::PerOrg {
            installations: active,
        },
    });
    Ok(steps)
}
