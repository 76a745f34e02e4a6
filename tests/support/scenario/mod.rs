//! A scenario DSL for tests, in the spirit of rust-lang/bors' `BorsTester`: one in-memory model
//! of GitHub ([`FakeGithub`]'s [`Model`]) both serves the REST fake and renders the signed
//! webhooks, so what the app reads back from the API is what its webhooks said; a fake Slack
//! records the DMs and lets a person click their buttons. A test reads as a story:
//!
//! ```ignore
//! let s = Scenario::new(pool).await;
//! let pr = s.open_pr(MONA).await;
//! s.review(pr, HUBOT, ReviewState::Approved).await;
//! s.merge(pr).await;
//! s.slack().dm(MONA).click("A lot").await;
//! s.survey(pr).await.expect_status(SurveyStatus::Open);
//! ```
//!
//! Every step waits for its own effect (a webhook until its delivery is processed, a read until
//! what it waits for is there) with one deadline in [`Scenario::eventually`], so tests never
//! poll. Reads are typed and go through `mergecast::store`, never raw SQL. The people, the org
//! and its installation are the constants of [`people`], the one place tests take them from.

pub mod github;
pub mod people;
pub mod slack;
pub mod slack_org;
pub mod survey;
pub mod views;

use std::future::Future;
use std::time::Duration;

use mergecast::app::Role;
use mergecast::ids::InstallationId;
use mergecast::store::deliveries::{self, Status};
use sqlx::PgPool;

use super::fake_github::{FakeGithub, InstallationAction, Model, User, Webhook};
use super::fake_slack::FakeSlack;
use super::{APP_ID, TestApp, redis_url, test_config_with};
pub use people::*;

/// How long any one step may take before the scenario fails, naming what it waited for.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The Slack bot token and signing secret the app and the fake Slack share.
pub const SLACK_TOKEN: &str = "xoxb-scenario-token";
pub const SLACK_SIGNING_SECRET: &str = "scenario-signing-secret";
/// The Slack app's OAuth client (Slack per org).
pub const SLACK_CLIENT_ID: &str = "1111.2222";
pub const SLACK_CLIENT_SECRET: &str = "slack-client-secret-value";
/// The operator's password (Slack per org signs in to press "Add to Slack").
pub const OPERATOR_PASSWORD: &str = "scenario operator password";

/// How to start a [`Scenario`].
pub struct Builder {
    pool: PgPool,
    env: Vec<(&'static str, String)>,
    slack: bool,
    /// Slack per org ("Add to Slack") instead of one default workspace.
    slack_per_org: bool,
    catch_up: bool,
    installed: bool,
}

impl Builder {
    /// Sets a configuration variable (the scenario's own settings come after, so this wins).
    pub fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }

    /// Without `SLACK_*` settings: surveys wait for Slack.
    pub fn without_slack(mut self) -> Self {
        self.slack = false;
        self
    }

    /// Slack per org: the Slack app's OAuth client and signing secret, no default workspace
    /// (`SLACK_BOT_TOKEN` unset), the operator's sign-in and an encryption key; each org is
    /// surveyed once it is added to a workspace ([`Scenario::add_to_slack`]).
    pub fn slack_per_org(mut self) -> Self {
        self.slack_per_org = true;
        self
    }

    /// Without the GitHub App settings: no catch-up sync, only webhooks reach the app (members
    /// then have no public email).
    pub fn without_catch_up(mut self) -> Self {
        self.catch_up = false;
        self
    }

    /// The app is not installed yet: no `installation.created`, no sync.
    pub fn not_installed(mut self) -> Self {
        self.installed = false;
        self
    }

    pub async fn start(self) -> Scenario {
        let github = FakeGithub::start(APP_ID).await;
        github.with(|m| {
            m.add_org_installation(INSTALLATION, ORG);
            m.add_repo(INSTALLATION, ORG, REPO);
            for person in EVERYONE {
                if MEMBERS.contains(&person) {
                    m.add_member(ORG, person.github_user());
                } else {
                    m.add_user(person.github_user());
                }
            }
        });
        let slack = FakeSlack::start(SLACK_TOKEN).await;
        slack.with(|m| {
            for person in EVERYONE {
                if let Some(id) = person.slack_id {
                    m.add_user(id, person.slack_email, person.tz, person.tz_offset);
                }
            }
        });
        let mut vars = self.env;
        if self.slack_per_org {
            vars.extend([
                ("SLACK_BOT_TOKEN", String::new()),
                ("SLACK_CLIENT_ID", SLACK_CLIENT_ID.to_string()),
                ("SLACK_CLIENT_SECRET", SLACK_CLIENT_SECRET.to_string()),
                ("SLACK_WEB_URL", slack.web_url.clone()),
                (
                    "MERGECAST_ENCRYPTION_KEY",
                    mergecast::config::seal::Keyring::generate_key(),
                ),
                (
                    "ADMIN_PASSWORD_HASH",
                    mergecast::config::hash_password(OPERATOR_PASSWORD).expect("hash"),
                ),
                (
                    "SESSION_SECRET",
                    "0123456789abcdef0123456789abcdef-scenario".to_string(),
                ),
            ]);
        }
        if self.slack || self.slack_per_org {
            vars.extend([
                ("SLACK_BOT_TOKEN", SLACK_TOKEN.to_string()),
                ("SLACK_SIGNING_SECRET", SLACK_SIGNING_SECRET.to_string()),
                ("SLACK_API_URL", slack.url.clone()),
                ("SURVEY_WORKING_HOURS", "00:00-24:00".to_string()),
                (
                    "SURVEY_WORKING_DAYS",
                    "mon,tue,wed,thu,fri,sat,sun".to_string(),
                ),
            ]);
        }
        if self.catch_up {
            let key = super::fake_github::private_key_path();
            vars.extend([
                ("GITHUB_APP_ID", APP_ID.to_string()),
                ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
                ("GITHUB_API_URL", github.url.clone()),
                ("GITHUB_WEB_URL", github.url.clone()),
                ("SYNC_RATE_LIMIT_RESERVE", "100".into()),
            ]);
        }
        let config = test_config_with(&redis_url(), &vars);
        let app = TestApp::spawn_with(self.pool, Role::All, config).await;
        if self.slack_per_org {
            slack.set_oauth_app(
                SLACK_CLIENT_ID,
                SLACK_CLIENT_SECRET,
                &[&app.url("/admin/slack/oauth/callback")],
            );
        }
        let repo = github.with(|m| m.repos[0].id);
        let s = Scenario {
            app,
            github,
            slack,
            repo,
        };
        if self.installed {
            s.send(s.github(|m| m.installation_hook(INSTALLATION, InstallationAction::Created)))
                .await;
            if self.catch_up {
                s.catch_up().await;
            }
        }
        s
    }
}

/// The app, the fake GitHub and the fake Slack, with one org ([`ORG`]) that installed the app
/// ([`INSTALLATION`]) on one repository ([`REPO`]), and [`MEMBERS`] in it.
pub struct Scenario {
    pub app: TestApp,
    pub github: FakeGithub,
    pub slack: FakeSlack,
    /// The id of [`REPO`].
    pub repo: i64,
}

/// A webhook the app took in, and how its processing ended.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub hook: Webhook,
    pub status: Status,
}

impl Scenario {
    /// Installed, synced, with Slack: see [`Builder`] for the other shapes.
    pub async fn new(pool: PgPool) -> Self {
        Self::builder(pool).start().await
    }

    pub fn builder(pool: PgPool) -> Builder {
        Builder {
            pool,
            env: Vec::new(),
            slack: true,
            slack_per_org: false,
            catch_up: true,
            installed: true,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.app.pool
    }

    /// Runs `f` on the GitHub model (to arrange state or build a webhook).
    pub fn github<R>(&self, f: impl FnOnce(&mut Model) -> R) -> R {
        self.github.with(f)
    }

    /// Waits until `check` gives a value, or fails after [`DEADLINE`] naming `what`. The one
    /// place a scenario waits: every step that waits for an effect comes through here.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {DEADLINE:?} waiting for: {what}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// [`Scenario::eventually`] for a yes/no condition.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        self.eventually(what, || {
            let done = check();
            async move { done.await.then_some(()) }
        })
        .await
    }

    /// Signs `hook` as GitHub does, posts it under a fresh delivery id, and waits until the
    /// worker has finished with it (processed or ignored).
    pub async fn send(&self, hook: Webhook) -> Delivery {
        let id = uuid::Uuid::new_v4().to_string();
        self.deliver_as(hook, id).await
    }

    /// The same body again under a new delivery id (GitHub sends an event twice).
    pub async fn send_again(&self, delivery: &Delivery) -> Delivery {
        self.send(delivery.hook.clone()).await
    }

    /// Posts `hook` as delivery `id` and waits for its outcome.
    pub async fn deliver_as(&self, hook: Webhook, id: String) -> Delivery {
        let status = self.post(&hook, &id).await;
        assert_eq!(status, 202, "{} {:?} accepted", hook.event, hook.action());
        let status = self.delivery_outcome(&id).await;
        Delivery { id, hook, status }
    }

    /// Posts `hook` signed, without waiting; the HTTP status.
    pub async fn post(&self, hook: &Webhook, id: &str) -> u16 {
        self.app.deliver_as(hook.event, &hook.bytes(), id).await
    }

    /// Waits until delivery `id` is processed or ignored.
    pub async fn delivery_outcome(&self, id: &str) -> Status {
        self.eventually(&format!("delivery {id} processed"), || async {
            let stored = deliveries::get(self.pool(), id)
                .await
                .expect("read delivery")?;
            Status::parse(&stored.status)
                .filter(|s| matches!(s, Status::Processed | Status::Ignored))
        })
        .await
    }

    /// Runs the real catch-up for [`INSTALLATION`] against the fake GitHub and waits until every
    /// member with a public email has it stored (the scheduler may be running the same sync).
    pub async fn catch_up(&self) {
        self.catch_up_org(INSTALLATION, ORG).await;
    }

    /// [`Scenario::catch_up`] for installation `installation` on org `org`.
    pub async fn catch_up_org(&self, installation: i64, org: &str) {
        let syncer = self.app.services.catch_up().expect("GitHub App configured");
        syncer
            .sync_installation(InstallationId(installation))
            .await
            .expect("sync");
        let expected: Vec<(i64, String)> = self.github(|m| {
            m.members[org]
                .iter()
                .filter_map(|id| Some((*id, m.users[id].email.clone()?)))
                .collect()
        });
        self.until("members synced with their public emails", || async {
            let members = mergecast::store::members::all(self.pool(), installation)
                .await
                .expect("read members");
            expected.iter().all(|(id, email)| {
                members
                    .iter()
                    .any(|m| m.github_id == *id && m.email.as_deref() == Some(email))
            })
        })
        .await;
    }

    /// Stops the app and deletes its Redis keys.
    pub async fn stop(self) {
        self.app.stop().await;
    }
}

impl Person {
    /// This person as the fake GitHub knows them.
    pub fn github_user(&self) -> User {
        let mut user = if self.bot {
            User::bot(self.github_id, self.login)
        } else {
            User::new(self.github_id, self.login)
        };
        user.email = self.public_email.map(str::to_string);
        user
    }
}
