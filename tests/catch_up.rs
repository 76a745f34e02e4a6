//! App identity and catch-up against the fake GitHub: token minting and caching, member sync
//! over pages, conditional requests, merged PRs missed by webhooks, redelivery, rate limits.

mod support;

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use mergecast::app::{Role, Services};
use mergecast::github::client::GithubError;
use mergecast::ids::InstallationId;
use mergecast::queue::catch_up::CatchUp;
use mergecast::sync::{SyncError, SyncOutcome};
use sqlx::PgPool;
use support::fake_github::{FakeGithub, ForeignHost, InstallationAction, OrgAction, User};
use support::{APP_ID, TestApp, delete_prefix, github_config, redis_url, wait_until};

const INST: i64 = support::scenario::INSTALLATION;
const ORG: &str = "octo-org";

struct Ctx {
    github: FakeGithub,
    services: Services,
    syncer: CatchUp,
}

impl Ctx {
    /// A fake GitHub with one org installation, and Mergecast's services pointed at it.
    async fn new(pool: PgPool) -> Self {
        let github = FakeGithub::start(APP_ID).await;
        github.with(|m| {
            m.add_org_installation(INST, ORG);
        });
        let services = Services::with_pool(github_config(&redis_url(), &github.url), pool)
            .await
            .expect("services");
        let syncer = services.catch_up().expect("app configured");
        syncer.discover_installations().await.expect("discover");
        Self {
            github,
            services,
            syncer,
        }
    }

    async fn sync(&self) -> SyncOutcome {
        self.syncer
            .sync_installation(InstallationId(INST))
            .await
            .expect("sync")
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.services.pool)
            .await
            .expect(sql)
    }

    async fn cleanup(self) {
        delete_prefix(&redis_url(), &self.services.config.queue_prefix).await;
    }
}

fn done(outcome: SyncOutcome) -> mergecast::store::sync::RunCounters {
    match outcome {
        SyncOutcome::Done(c) => c,
        other => panic!("expected a finished sync, got {other:?}"),
    }
}

#[sqlx::test]
async fn discovery_lists_installations_from_github(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    let (status, login): (String, String) =
        sqlx::query_as("SELECT status, account_login FROM installations WHERE id = $1")
            .bind(INST)
            .fetch_one(&ctx.services.pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), login.as_str()), ("active", ORG));
    // An uninstalled app disappears from GitHub's list: marked deleted, never used again.
    ctx.github.with(|m| m.installations.clear());
    ctx.syncer.discover_installations().await.unwrap();
    assert_eq!(
        ctx.count("SELECT count(*) FROM installations WHERE status = 'deleted'")
            .await,
        1
    );
    assert!(matches!(ctx.sync().await, SyncOutcome::Skipped(_)));
    ctx.cleanup().await;
}

#[sqlx::test]
async fn fifty_concurrent_jobs_mint_one_token(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    let client = ctx.services.github.clone().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .installation_token(InstallationId(INST))
                .await
                .map(|t| t.token)
        });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(t) = tasks.join_next().await {
        tokens.insert(t.unwrap().unwrap());
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(ctx.github.with(|m| m.mint_count(INST)), 1);
    ctx.cleanup().await;
}

#[sqlx::test]
async fn tokens_near_expiry_are_refreshed_and_a_401_remints_once(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    let client = ctx.services.github.clone().unwrap();
    let id = InstallationId(INST);
    let first = client.installation_token(id).await.unwrap();
    assert_eq!(
        client.installation_token(id).await.unwrap().token,
        first.token,
        "cached"
    );
    assert_eq!(ctx.github.with(|m| m.mint_count(INST)), 1);

    // GitHub now hands out tokens with 4 minutes left: inside the refresh margin, so each is
    // replaced rather than used until it dies mid-sync.
    ctx.github
        .with(|m| m.token_ttl = chrono::Duration::minutes(4));
    client.installation_token(id).await.unwrap();
    ctx.github
        .with(|m| m.token_ttl = chrono::Duration::hours(1));
    // The cached (still valid per our clock) token is revoked on GitHub's side: one 401, one re-mint.
    client.installation_token(id).await.unwrap();
    let minted = ctx.github.with(|m| m.mint_count(INST));
    ctx.github.with(|m| m.expire_tokens());
    let response = client
        .get(
            mergecast::github::client::Auth::Installation(id),
            "/installation/repositories",
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status.as_u16(), 200);
    assert_eq!(ctx.github.with(|m| m.mint_count(INST)), minted + 1);
    ctx.cleanup().await;
}

#[sqlx::test]
async fn suspended_installations_get_no_token(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    sqlx::query("UPDATE installations SET status = 'suspended' WHERE id = $1")
        .bind(INST)
        .execute(&ctx.services.pool)
        .await
        .unwrap();
    let client = ctx.services.github.clone().unwrap();
    assert!(
        client
            .installation_token(InstallationId(INST))
            .await
            .is_err()
    );
    assert_eq!(ctx.github.with(|m| m.mint_count(INST)), 0);
    ctx.cleanup().await;
}

async fn seed_member(pool: &PgPool, id: i64, login: &str) {
    sqlx::query(
        "INSERT INTO members (installation_id, github_id, login, state, active, membership_observed_at) VALUES ($1, $2, $3, 'active', true, now() - interval '1 day')",
    )
    .bind(INST)
    .bind(id)
    .bind(login)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn member_sync_over_three_pages_creates_updates_deactivates(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github.with(|m| {
        for i in 0..250 {
            let mut user = User::new(5000 + i, &format!("dev{i}"));
            user.name = Some(format!("Developer {i}"));
            user.email = (i % 2 == 0).then(|| format!("dev{i}@example.com"));
            m.add_member(ORG, user);
        }
    });
    seed_member(&ctx.services.pool, 5000, "renamed-since").await; // listed under a new login
    seed_member(&ctx.services.pool, 9999, "left-the-org").await; // no longer listed

    let c = done(ctx.sync().await);
    assert_eq!((c.created, c.updated, c.deactivated), (249, 1, 1));
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE active").await,
        250
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE login = 'dev0'")
            .await,
        1
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE github_id = 9999 AND NOT active AND inactive_since IS NOT NULL").await,
        1
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE name = 'Developer 7'")
            .await,
        1
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE email = 'dev8@example.com'")
            .await,
        1
    );
    let member_pages = ctx.github.with(|m| {
        m.requests
            .iter()
            .filter(|r| r.path_and_query.starts_with("/orgs/octo-org/members"))
            .count()
    });
    assert_eq!(member_pages, 3, "100 per page, following Link");
    ctx.cleanup().await;
}

/// The `Link` refused, with nothing sent to it: the URL it named, or the error if another.
fn foreign_link(err: &SyncError) -> &str {
    match err {
        SyncError::Github(GithubError::ForeignUrl { url, .. }) => url,
        other => panic!("expected a refused foreign Link, got {other}"),
    }
}

#[sqlx::test]
async fn a_link_to_another_port_gets_no_authorization(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    let foreign = ForeignHost::start().await;
    ctx.github.with(|m| {
        m.add_repo(INST, ORG, "one");
        m.add_repo(INST, ORG, "two");
        // Listed before INST, so the first page changes (its ETag covers the body).
        m.add_org_installation(INST - 1, "second-org");
        m.add_hook_delivery("issues", Some("opened"), 502);
        m.add_hook_delivery("issues", Some("closed"), 502);
        // Every list has a second page, linked on the foreign host's port.
        m.per_page_max = 1;
        m.link_origin = Some(foreign.url.clone());
    });

    // Installation token: the repositories list.
    let err = ctx
        .syncer
        .sync_installation(InstallationId(INST))
        .await
        .expect_err("a Link to another port stops the sync");
    assert!(
        foreign_link(&err).starts_with(&format!("{}/installation/repositories?", foreign.url)),
        "{err}"
    );
    // Again, now that the first page is a 304 whose cached Link is the foreign one.
    let err = ctx
        .syncer
        .sync_installation(InstallationId(INST))
        .await
        .expect_err("still refused");
    assert!(foreign_link(&err).starts_with(&foreign.url), "{err}");
    // App JWT: the installations list and the hook deliveries.
    let err = ctx.syncer.discover_installations().await.unwrap_err();
    assert!(
        foreign_link(&err).starts_with(&format!("{}/app/installations?", foreign.url)),
        "{err}"
    );
    let err = ctx.syncer.redeliver_failed().await.unwrap_err();
    assert!(
        foreign_link(&err).starts_with(&format!("{}/app/hook/deliveries?", foreign.url)),
        "{err}"
    );

    let received = foreign.requests();
    assert!(
        received.iter().all(|r| r.authorization.is_none()),
        "a credential reached another port: {received:?}"
    );
    assert_eq!(received, Vec::new(), "nothing is sent to another port");
    // The first pages did go to GitHub, authenticated (the fake refuses anything else).
    let first_pages = ctx.github.with(|m| {
        m.requests
            .iter()
            .filter(|r| r.status == 200 || r.status == 304)
            .count()
    });
    assert!(first_pages >= 4, "{first_pages}");
    ctx.cleanup().await;
}

#[sqlx::test]
async fn a_second_sync_with_nothing_changed_makes_only_304s(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github.with(|m| {
        for i in 0..120 {
            m.add_member(ORG, User::new(7000 + i, &format!("m{i}")));
        }
        for r in 0..3 {
            let repo_id = m.add_repo(INST, ORG, &format!("repo{r}")).id;
            m.add_pull(repo_id, 7000);
            m.add_issue(repo_id, 7001);
        }
    });
    let first = done(ctx.sync().await);
    assert!(first.api_calls > 0);
    assert_eq!(ctx.count("SELECT count(*) FROM pull_requests").await, 3);
    assert_eq!(ctx.count("SELECT count(*) FROM issues").await, 3);

    ctx.github.with(|m| m.clear_requests());
    let remaining_before = ctx.github.with(|m| m.rate_remaining(INST));
    let second = done(ctx.sync().await);
    let (calls, not_modified) = ctx
        .github
        .with(|m| (m.api_calls(INST), m.count_status(INST, 304)));
    let log: Vec<String> = ctx.github.with(|m| {
        m.requests
            .iter()
            .map(|r| format!("{} {}", r.status, r.path_and_query))
            .collect()
    });
    assert!(calls > 0);
    assert_eq!(
        not_modified, calls,
        "every request of the second sync was a 304: {log:#?}"
    );
    assert_eq!(second.not_modified as usize, calls);
    assert_eq!(
        ctx.github.with(|m| m.rate_remaining(INST)),
        remaining_before,
        "304s are free"
    );
    ctx.cleanup().await;
}

#[sqlx::test]
async fn a_merged_pr_missed_by_webhooks_is_emitted_once_even_when_its_webhook_follows(
    pool: PgPool,
) {
    let ctx = Ctx::new(pool.clone()).await;
    // A PR merged an hour ago, while Mergecast was down.
    ctx.github.with(|m| {
        m.add_user(User::new(583231, "mona"));
        m.add_user(User::new(1000001, "hubot"));
        let repo = m.add_repo(INST, ORG, "hello-world");
        repo.id = 1296269;
        let pull = m.add_pull(1296269, 583231);
        pull.id = 279147437;
        pull.number = 42;
        pull.merge(Utc::now() - chrono::Duration::hours(1));
        m.add_review(279147437, 1000001, "APPROVED");
    });
    done(ctx.sync().await);
    assert_eq!(
        ctx.count("SELECT count(*) FROM merged_pull_requests WHERE source = 'sync'")
            .await,
        1
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM reviews WHERE pull_request_id = 279147437")
            .await,
        1
    );
    assert_eq!(ctx.services.queues.merged_emitted().await.unwrap(), 1);

    // The webhook arrives late (GitHub retried it): applied, but no second PullRequestMerged.
    let mut config = github_config(&redis_url(), &ctx.github.url);
    config.queue_prefix = ctx.services.config.queue_prefix.clone();
    let services = Services::with_pool(config, pool).await.unwrap();
    let app = TestApp::start(services, Role::All).await;
    let late = ctx.github.with(|m| m.merged_again_hook(279147437));
    app.apply_hook(&late).await;
    assert_eq!(
        app.count("SELECT count(*) FROM merged_pull_requests").await,
        1
    );
    assert_eq!(app.merged_jobs().await, 1);
    // And a second sync changes nothing either.
    done(ctx.sync().await);
    assert_eq!(app.merged_jobs().await, 1);
    app.stop().await;
    ctx.cleanup().await;
}

#[sqlx::test]
async fn failed_deliveries_are_redelivered_once_and_not_again(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    let (failed, ok, processed_here, recovered) = ctx.github.with(|m| {
        let failed = m.add_hook_delivery("issues", Some("opened"), 500).id;
        let ok = m.add_hook_delivery("issues", Some("edited"), 202).id;
        let here = m.add_hook_delivery("pull_request", Some("closed"), 503);
        let here = (here.id, here.guid.clone());
        let recovered = m.add_hook_delivery("issues", Some("closed"), 0);
        let (rid, rguid) = (recovered.id, recovered.guid.clone());
        let retry = m.add_hook_delivery("issues", Some("closed"), 202);
        retry.guid = rguid;
        retry.redelivery = true;
        (failed, ok, here, rid)
    });
    // One failed delivery reached us another way (GitHub's own retry) and was processed.
    sqlx::query("INSERT INTO deliveries (id, event, status, received_at) VALUES ($1, 'pull_request', 'processed', now())")
        .bind(&processed_here.1)
        .execute(&ctx.services.pool)
        .await
        .unwrap();
    let report = ctx.syncer.redeliver_failed().await.unwrap();
    assert_eq!(report.requested, 1);
    assert_eq!(
        ctx.github.with(|m| m.redelivery_requests.clone()),
        vec![failed]
    );
    let _ = (ok, recovered);

    ctx.syncer.redeliver_failed().await.unwrap();
    assert_eq!(
        ctx.github.with(|m| m.redelivery_requests.clone()),
        vec![failed],
        "asked once only"
    );
    ctx.cleanup().await;
}

#[sqlx::test]
async fn a_rate_limited_installation_pauses_and_resumes(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github.with(|m| {
        for i in 0..10 {
            m.add_member(ORG, User::new(8000 + i, &format!("r{i}")));
        }
        m.add_repo(INST, ORG, "api");
        // Below our reserve of 100, window resets in 2 s.
        m.set_rate_remaining(INST, 50, 2);
    });
    let until = match ctx.sync().await {
        SyncOutcome::Paused { until, .. } => until,
        other => panic!("expected a pause, got {other:?}"),
    };
    assert!(until > Utc::now() - chrono::Duration::seconds(1));
    let calls = ctx.github.with(|m| m.api_calls(INST));
    // While paused, nothing is spent.
    assert!(matches!(ctx.sync().await, SyncOutcome::Paused { .. }));
    assert_eq!(ctx.github.with(|m| m.api_calls(INST)), calls);
    assert!(
        mergecast::store::sync::due_installations(&ctx.services.pool, Duration::from_secs(900))
            .await
            .unwrap()
            .is_empty()
    );
    // Time itself is under test here: the scheduler picks it up again once the window resets.
    wait_until(
        "the pause ends at the reset",
        Duration::from_secs(10),
        || async {
            !mergecast::store::sync::due_installations(&ctx.services.pool, Duration::from_secs(900))
                .await
                .unwrap()
                .is_empty()
        },
    )
    .await;
    done(ctx.sync().await);
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE active").await,
        10
    );
    ctx.cleanup().await;
}

#[sqlx::test]
async fn a_secondary_rate_limit_is_waited_out(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github.with(|m| {
        m.add_member(ORG, User::new(8100, "s1"));
        m.secondary_limit = Some(support::fake_github::SecondaryLimit {
            remaining_hits: 1,
            retry_after_secs: 1,
            status: 429,
        });
    });
    done(ctx.sync().await);
    assert_eq!(
        ctx.count("SELECT count(*) FROM members WHERE active").await,
        1
    );
    assert_eq!(ctx.github.with(|m| m.count_status(INST, 429)), 1);
    ctx.cleanup().await;
}

#[sqlx::test]
async fn two_concurrent_syncs_of_one_installation_run_once(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github.with(|m| {
        for i in 0..150 {
            m.add_member(ORG, User::new(9000 + i, &format!("c{i}")));
        }
    });
    let other = ctx.syncer.clone();
    let (a, b) = tokio::join!(ctx.sync(), async {
        other.sync_installation(InstallationId(INST)).await.unwrap()
    });
    let outcomes = [a, b];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, SyncOutcome::Done(_)))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == SyncOutcome::AlreadyRunning)
            .count(),
        1
    );
    assert_eq!(ctx.count("SELECT count(*) FROM sync_runs").await, 1);
    ctx.cleanup().await;
}

/// A hire added by an `organization.member_added` webhook arrives with no email; the next sync
/// reads their public profile and stores it (once: a later sync does not read it again).
#[sqlx::test]
async fn members_added_by_webhooks_gain_their_public_email(pool: PgPool) {
    let github = FakeGithub::start(APP_ID).await;
    github.with(|m| {
        m.add_org_installation(INST, ORG);
        let mut octocat = User::new(1000002, "octocat");
        octocat.email = Some("octocat@example.com".into());
        m.add_user(octocat);
    });
    let app = TestApp::spawn_with(pool, Role::All, github_config(&redis_url(), &github.url)).await;
    let installed = github.with(|m| m.installation_hook(INST, InstallationAction::Created));
    app.apply_hook(&installed).await;
    let syncer = app.services.catch_up().expect("app configured");
    // `serve`'s scheduler may be syncing already: a finished run of our own is what counts.
    let synced = || async {
        matches!(
            syncer.sync_installation(InstallationId(INST)).await,
            Ok(SyncOutcome::Done(_))
        )
    };
    wait_until("a first sync", Duration::from_secs(20), synced).await;
    // The hire: GitHub's member list shows them, and the webhook says so.
    let hired = github.with(|m| m.org_hook(ORG, OrgAction::MemberAdded(1000002)));
    app.apply_hook(&hired).await;
    wait_until("a sync after the hire", Duration::from_secs(20), synced).await;
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM members WHERE github_id = 1000002")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(email.as_deref(), Some("octocat@example.com"));
    let profile_reads = || {
        github.with(|m| {
            m.requests
                .iter()
                .filter(|r| r.path_and_query.starts_with("/users/octocat"))
                .count()
        })
    };
    assert_eq!(profile_reads(), 1);
    wait_until("another sync", Duration::from_secs(20), synced).await;
    assert_eq!(profile_reads(), 1, "read once, not on every sync");
    app.stop().await;
}

/// Requests of the last sync to the team and Copilot lists: (status, path and query).
fn org_list_requests(github: &FakeGithub) -> Vec<(u16, String)> {
    github.with(|m| {
        m.requests
            .iter()
            .filter(|r| {
                r.path_and_query.starts_with("/orgs/octo-org/teams")
                    || r.path_and_query.starts_with("/orgs/octo-org/copilot")
            })
            .map(|r| (r.status, r.path_and_query.clone()))
            .collect()
    })
}

/// Platform (501) with Backend (502) nested in it, and Docs (503); five org members.
fn arrange_teams(github: &FakeGithub) {
    github.with(|m| {
        for i in 0..5 {
            m.add_member(ORG, User::new(8100 + i, &format!("t{i}")));
        }
        m.add_team(ORG, 501, "platform");
        m.add_team(ORG, 502, "backend");
        m.set_team_parent(502, Some(501));
        m.add_team(ORG, 503, "docs");
        m.add_team_member(501, 8100, true);
        m.add_team_member(502, 8101, true);
        m.add_team_member(502, 8102, false);
        m.add_team_member(503, 8103, false);
        m.add_team_member(503, 8104, false);
    });
}

/// (login, active, role, joined, left) of team `id`'s rows, by login.
async fn team_rows(ctx: &Ctx, id: i64) -> Vec<(String, bool, Option<String>, bool, bool)> {
    sqlx::query_as(
        r#"SELECT login, active, role, joined_at IS NOT NULL, left_at IS NOT NULL
           FROM team_members WHERE team_id = $1 ORDER BY login"#,
    )
    .bind(id)
    .fetch_all(&ctx.services.pool)
    .await
    .unwrap()
}

fn row(login: &str, active: bool, role: &str) -> (String, bool, Option<String>, bool, bool) {
    (login.into(), active, Some(role.into()), true, !active)
}

#[sqlx::test]
async fn a_sync_stores_teams_with_parents_and_members_with_roles_and_ends_what_is_gone(
    pool: PgPool,
) {
    let ctx = Ctx::new(pool).await;
    arrange_teams(&ctx.github);
    done(ctx.sync().await);
    let parent: Option<i64> = sqlx::query_scalar("SELECT parent_id FROM teams WHERE id = 502")
        .fetch_one(&ctx.services.pool)
        .await
        .unwrap();
    assert_eq!(parent, Some(501));
    assert_eq!(
        ctx.count("SELECT count(*) FROM teams WHERE deleted_at IS NULL AND slug IN ('platform', 'backend', 'docs')")
            .await,
        3
    );
    assert_eq!(
        team_rows(&ctx, 502).await,
        vec![row("t1", true, "maintainer"), row("t2", true, "member")]
    );
    // GitHub lists a parent team's members with those of its child teams.
    assert_eq!(
        team_rows(&ctx, 501).await,
        vec![
            row("t0", true, "maintainer"),
            row("t1", true, "member"),
            row("t2", true, "member"),
        ]
    );

    // t2 leaves Backend, t1 stops maintaining it, Docs is deleted.
    ctx.github.with(|m| {
        m.remove_team_member(502, 8102);
        m.add_team_member(502, 8101, false);
        m.delete_team(503);
    });
    let c = done(ctx.sync().await);
    assert_eq!(
        team_rows(&ctx, 502).await,
        vec![row("t1", true, "member"), row("t2", false, "member")]
    );
    assert_eq!(
        team_rows(&ctx, 501).await,
        vec![
            row("t0", true, "maintainer"),
            row("t1", true, "member"),
            row("t2", false, "member"),
        ]
    );
    assert_eq!(
        ctx.count("SELECT count(*) FROM teams WHERE id = 503 AND deleted_at IS NOT NULL")
            .await,
        1
    );
    // Docs' members leave it with the team; rows are kept.
    assert_eq!(
        team_rows(&ctx, 503).await,
        vec![row("t3", false, "member"), row("t4", false, "member")]
    );
    // Docs deleted and t2 out of two teams; t1's role changed.
    assert_eq!((c.deactivated, c.updated, c.created), (3, 1, 0));
    ctx.cleanup().await;
}

#[sqlx::test]
async fn a_second_sync_with_nothing_changed_gets_304s_for_teams_and_seats(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    arrange_teams(&ctx.github);
    ctx.github.with(|m| {
        m.add_copilot_seat(ORG, 8100);
    });
    done(ctx.sync().await);
    let first = org_list_requests(&ctx.github);
    // The team list, two member lists per team (all, maintainers), the seats.
    assert_eq!(first.len(), 1 + 2 * 3 + 1, "{first:#?}");
    assert!(first.iter().all(|(status, _)| *status == 200), "{first:#?}");

    ctx.github.with(|m| m.clear_requests());
    done(ctx.sync().await);
    let second = org_list_requests(&ctx.github);
    assert_eq!(second.len(), first.len(), "{second:#?}");
    assert!(
        second.iter().all(|(status, _)| *status == 304),
        "{second:#?}"
    );
    ctx.cleanup().await;
}

#[sqlx::test]
async fn copilot_seats_are_stored_with_their_fields_and_a_removed_seat_ends(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    arrange_teams(&ctx.github);
    let active_at = Utc::now() - chrono::Duration::hours(3);
    ctx.github.with(|m| {
        let seat = m.add_copilot_seat(ORG, 8100);
        seat.last_activity_at = Some(active_at.trunc_subsecs(0));
        seat.last_activity_editor = Some("vscode/1.77.3/copilot/1.86.82".into());
        seat.assigning_team_id = Some(501);
        let seat = m.add_copilot_seat(ORG, 8101);
        seat.plan_type = "enterprise".into();
        seat.pending_cancellation_date = chrono::NaiveDate::from_ymd_opt(2027, 1, 31);
    });
    done(ctx.sync().await);
    let seats = stored_seats(&ctx).await;
    assert_eq!(seats.len(), 2);
    let t0 = &seats[0];
    assert_eq!(
        (t0.login.as_str(), t0.plan_type.as_deref()),
        ("t0", Some("business"))
    );
    assert_eq!(t0.last_activity_at, Some(active_at.trunc_subsecs(0)));
    assert_eq!(
        t0.last_activity_editor.as_deref(),
        Some("vscode/1.77.3/copilot/1.86.82")
    );
    assert_eq!(
        (t0.assigning_team_id, t0.assigning_team_slug.as_deref()),
        (Some(501), Some("platform"))
    );
    assert!(t0.assigned_at.is_some() && t0.ended_at.is_none());
    let t1 = &seats[1];
    assert_eq!(t1.plan_type.as_deref(), Some("enterprise"));
    assert_eq!(
        t1.pending_cancellation_date,
        chrono::NaiveDate::from_ymd_opt(2027, 1, 31)
    );
    assert_eq!(t1.assigning_team_id, None);
    assert_eq!(
        ctx.count("SELECT count(*) FROM installations WHERE copilot_status = 'available' AND copilot_reason IS NULL").await,
        1
    );

    ctx.github.with(|m| m.remove_copilot_seat(ORG, 8101));
    done(ctx.sync().await);
    let seats = stored_seats(&ctx).await;
    assert!(seats[0].ended_at.is_none());
    assert!(seats[1].ended_at.is_some(), "t1's seat ended, row kept");
    ctx.cleanup().await;
}

async fn stored_seats(ctx: &Ctx) -> Vec<mergecast::store::copilot::SeatRow> {
    mergecast::store::copilot::seats(&ctx.services.pool, InstallationId(INST))
        .await
        .unwrap()
}

#[sqlx::test]
async fn copilot_refused_is_recorded_as_not_available_after_one_request(pool: PgPool) {
    let ctx = Ctx::new(pool).await;
    ctx.github
        .with(|m| m.installation(INST).copilot_permission = false);
    let copilot_requests = |github: &FakeGithub| {
        org_list_requests(github)
            .into_iter()
            .filter(|(_, path)| path.contains("/copilot/"))
            .map(|(status, _)| status)
            .collect::<Vec<_>>()
    };
    let status = || async {
        sqlx::query_as::<_, (Option<String>, Option<String>)>(
            "SELECT copilot_status, copilot_reason FROM installations WHERE id = $1",
        )
        .bind(INST)
        .fetch_one(&ctx.services.pool)
        .await
        .unwrap()
    };
    done(ctx.sync().await);
    assert_eq!(
        copilot_requests(&ctx.github),
        vec![403],
        "one request, no retry"
    );
    let (kind, reason) = status().await;
    assert_eq!(kind.as_deref(), Some("no_permission"));
    let reason = reason.unwrap_or_default();
    assert!(
        reason.contains("403") && reason.contains("Resource not accessible by integration"),
        "{reason}"
    );

    // Permission granted, but the org has no Copilot plan.
    ctx.github.with(|m| {
        m.installation(INST).copilot_permission = true;
        m.remove_copilot_plan(ORG);
        m.clear_requests();
    });
    done(ctx.sync().await);
    assert_eq!(copilot_requests(&ctx.github), vec![404]);
    assert_eq!(status().await.0.as_deref(), Some("no_plan"));
    ctx.cleanup().await;
}

/// A `membership.removed` webhook observed after the sync started wins over the sync's list,
/// which still showed the member: the sync does not put them back.
#[sqlx::test]
async fn a_later_membership_webhook_wins_over_the_sync(pool: PgPool) {
    use mergecast::apply::{DeliveryContext, apply};
    use mergecast::github::events::Event;
    let ctx = Ctx::new(pool).await;
    arrange_teams(&ctx.github);
    done(ctx.sync().await);
    let hook = ctx
        .github
        .with(|m| m.team_membership_hook(502, 8101, false));
    // GitHub's list has not caught up yet.
    ctx.github.with(|m| m.add_team_member(502, 8101, true));
    let event = Event::parse(hook.event, &hook.bytes()).unwrap();
    let mut conn = ctx.services.pool.acquire().await.unwrap();
    let received_at = Utc::now() + chrono::Duration::minutes(5);
    apply(&mut conn, &event, DeliveryContext { received_at })
        .await
        .unwrap();
    drop(conn);
    done(ctx.sync().await);
    assert_eq!(
        team_rows(&ctx, 502).await,
        vec![row("t1", false, "maintainer"), row("t2", true, "member")],
        "removed by the later webhook, role kept"
    );
    ctx.cleanup().await;
}
