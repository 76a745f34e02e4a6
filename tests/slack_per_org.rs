//! Slack per org: each installation is surveyed through the workspace its admin added Mergecast
//! to ("Add to Slack": Slack's OAuth v2 against the fake Slack, our own `state`), never through
//! another org's; until then, and after Slack says the app was uninstalled or its token
//! revoked, its surveys wait and nobody is passed over; clicks are routed by the workspace they
//! come from. Asserted in Postgres and on the fake Slack's workspaces.

mod support;

use chrono::Utc;
use mergecast::ids::InstallationId;
use mergecast::store::slack_workspaces::{self, WorkspaceStatus};
use mergecast::store::surveys::SurveyStatus;
use sqlx::PgPool;
use support::browser::Browser;
use support::fake_slack::{Workspace, events};
use support::scenario::{
    INSTALLATION, MONA, OPERATOR_PASSWORD, OTHER_INSTALLATION, Person, Scenario,
};

const TEAM_A: &str = "T0ORGA0001";
const TEAM_B: &str = "T0ORGB0002";
const TOKEN_A: &str = "xoxb-workspace-a-token";
const TOKEN_B: &str = "xoxb-workspace-b-token";

/// Mona's user id in a workspace (a person has one per workspace).
fn mona_in(team: &str) -> String {
    format!("UMONA{}", &team[team.len() - 2..])
}

/// A workspace with mona in it, under her id there.
fn workspace(s: &Scenario, team: &str, name: &str, token: &str) -> Workspace {
    let w = s.slack.add_workspace(team, name, token);
    w.with(|m| {
        m.add_user(&mona_in(team), MONA.slack_email, MONA.tz, MONA.tz_offset);
    });
    w
}

fn dms(w: &Workspace, user: &str) -> usize {
    w.with(|m| m.messages_to(user).len())
}

async fn started(pool: PgPool) -> Scenario {
    Scenario::builder(pool)
        // Ticks only when the test runs one.
        .env("SURVEY_TICK_MS", "3600000")
        .slack_per_org()
        .start()
        .await
}

async fn workspace_row(s: &Scenario, installation: i64) -> slack_workspaces::Workspace {
    slack_workspaces::get(s.pool(), InstallationId(installation))
        .await
        .expect("read")
        .expect("a workspace row")
}

/// Merges a PR of `author` in the first org and waits for its survey to be created.
async fn merged_survey(s: &Scenario, author: Person) -> (support::scenario::github::PrRef, i64) {
    let pr = s.open_pr(author).await;
    s.merge(pr).await;
    let v = s.survey_until(pr, "a survey", |_| true).await;
    (pr, v.id())
}

#[sqlx::test]
async fn each_org_is_surveyed_through_its_own_workspace(pool: PgPool) {
    let s = started(pool).await;
    let a = workspace(&s, TEAM_A, "Org A", TOKEN_A);
    let b = workspace(&s, TEAM_B, "Org B", TOKEN_B);
    let elsewhere = s.install_other_org().await;

    // Before any workspace: the merge's survey waits; nothing is sent anywhere.
    let (first, _) = merged_survey(&s, MONA).await;
    let waiting = s.survey(first).await;
    assert_eq!(waiting.status(), SurveyStatus::WaitingForSlack);
    s.tick_at(Utc::now()).await;
    assert_eq!(s.slack.with(|m| m.count_calls("chat.postMessage")), 0);

    // Org A adds Mergecast to workspace A: its token is sealed, the row says who and what.
    let landing = s.add_to_slack(INSTALLATION, TEAM_A).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Added to Slack"), "{}", landing.body);
    assert!(landing.body.contains("Org A"), "{}", landing.body);
    let row = workspace_row(&s, INSTALLATION).await;
    assert_eq!(row.team_id, TEAM_A);
    assert_eq!(row.status, WorkspaceStatus::Connected);
    assert_eq!(row.connected_by, "operator");
    for scope in ["chat:write", "im:write", "users:read", "users:read.email"] {
        assert!(row.scopes.split(',').any(|s| s == scope), "{}", row.scopes);
    }
    let in_clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sealed_secrets WHERE position($1::bytea IN sealed) > 0",
    )
    .bind(TOKEN_A.as_bytes())
    .fetch_one(s.pool())
    .await
    .expect("count");
    assert_eq!(in_clear, 0, "the bot token is stored sealed");
    assert_eq!(
        s.app.count("SELECT count(*) FROM slack_oauth_states").await,
        0,
        "the state was used up"
    );

    // The waiting survey goes out through workspace A only.
    s.tick_at(Utc::now()).await;
    s.until("mona asked in workspace A", || async {
        dms(&a, &mona_in(TEAM_A)) == 1
    })
    .await;
    assert_eq!(dms(&b, &mona_in(TEAM_B)), 0);
    assert_eq!(
        s.slack.with(|m| m.count_calls("chat.postMessage")),
        0,
        "not the default workspace"
    );
    s.survey_until(first, "open", |v| v.status() == SurveyStatus::Open)
        .await;

    // Org B, in workspace B: its merge asks mona there, under her id in B.
    s.add_to_slack(OTHER_INSTALLATION, TEAM_B).await;
    let in_b = s.open_pr_in(elsewhere, MONA).await;
    s.merge(in_b).await;
    s.until("mona asked in workspace B", || async {
        dms(&b, &mona_in(TEAM_B)) == 1
    })
    .await;
    assert_eq!(dms(&a, &mona_in(TEAM_A)), 1, "nothing more in A");
    s.stop().await;
}

#[sqlx::test]
async fn clicks_are_routed_by_their_workspace(pool: PgPool) {
    let s = started(pool).await;
    let a = workspace(&s, TEAM_A, "Org A", TOKEN_A);
    let _b = workspace(&s, TEAM_B, "Org B", TOKEN_B);
    s.add_to_slack(INSTALLATION, TEAM_A).await;
    let (pr, survey) = merged_survey(&s, MONA).await;
    s.until("mona asked", || async { dms(&a, &mona_in(TEAM_A)) == 1 })
        .await;

    // The same button, from workspace B (where the survey's org is not): refused.
    assert_eq!(
        s.click_from(TEAM_B, &mona_in(TEAM_A), "ai_a_lot", survey)
            .await,
        200,
        "acknowledged to Slack"
    );
    s.until("the click from B was handled", || async {
        s.interactions()
            .await
            .iter()
            .any(|i| i.outcome.as_deref() == Some("OtherWorkspace"))
    })
    .await;
    let v = s.survey(pr).await;
    assert_eq!(v.participant(MONA).and_then(|p| p.answer.clone()), None);

    // From workspace A: recorded, and the DM in A is updated.
    s.click_from(TEAM_A, &mona_in(TEAM_A), "ai_a_lot", survey)
        .await;
    s.survey_until(pr, "mona's answer", |v| {
        v.participant(MONA).is_some_and(|p| p.answer.is_some())
    })
    .await;
    s.until("her DM in A updated", || async {
        a.with(|m| m.count_calls("chat.update")) >= 1
    })
    .await;
    s.stop().await;
}

#[sqlx::test]
async fn an_uninstall_disconnects_the_org_and_its_surveys_wait_until_it_is_added_again(
    pool: PgPool,
) {
    let s = started(pool).await;
    let a = workspace(&s, TEAM_A, "Org A", TOKEN_A);
    s.add_to_slack(INSTALLATION, TEAM_A).await;

    // Slack checks the endpoint first; unsigned requests are refused.
    let (status, body) = s
        .slack_event(&events::url_verification(
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        ))
        .await;
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let unsigned = s
        .app
        .client
        .post(s.app.url("/slack/events"))
        .header("content-type", "application/json")
        .body(events::app_uninstalled(TEAM_A, "A0FAKEAPP1").to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 401);
    assert_eq!(
        workspace_row(&s, INSTALLATION).await.status,
        WorkspaceStatus::Connected
    );

    // The app is uninstalled from workspace A (twice: Slack retries): disconnected, token gone.
    for _ in 0..2 {
        let (status, _) = s
            .slack_event(&events::app_uninstalled(TEAM_A, "A0FAKEAPP1"))
            .await;
        assert_eq!(status, 200);
    }
    let row = workspace_row(&s, INSTALLATION).await;
    assert_eq!(row.status, WorkspaceStatus::Disconnected);
    assert_eq!(row.disconnected_reason.as_deref(), Some("app_uninstalled"));
    assert_eq!(
        s.app
            .count("SELECT count(*) FROM sealed_secrets WHERE name = 'slack_bot_token'")
            .await,
        0
    );

    // A merge now waits, asking nobody and passing nobody over.
    let (pr, _) = merged_survey(&s, MONA).await;
    s.tick_at(Utc::now()).await;
    let v = s.survey(pr).await;
    assert_eq!(v.status(), SurveyStatus::WaitingForSlack);
    assert!(v.participants.iter().all(|p| p.skip_reason.is_none()));
    assert_eq!(a.with(|m| m.count_calls("chat.postMessage")), 0);

    // Added again: the waiting survey goes out.
    s.add_to_slack(INSTALLATION, TEAM_A).await;
    s.tick_at(Utc::now()).await;
    s.until("mona asked after the org came back", || async {
        dms(&a, &mona_in(TEAM_A)) == 1
    })
    .await;
    s.stop().await;
}

#[sqlx::test]
async fn a_revoked_token_disconnects_the_org_instead_of_passing_people_over(pool: PgPool) {
    let s = started(pool).await;
    let a = workspace(&s, TEAM_A, "Org A", TOKEN_A);
    s.add_to_slack(INSTALLATION, TEAM_A).await;
    a.with(|m| m.revoke_bot_token());

    let (pr, _) = merged_survey(&s, MONA).await;
    s.until("the org disconnected", || async {
        slack_workspaces::get(s.pool(), InstallationId(INSTALLATION))
            .await
            .ok()
            .flatten()
            .is_some_and(|w| w.status == WorkspaceStatus::Disconnected)
    })
    .await;
    let row = workspace_row(&s, INSTALLATION).await;
    assert_eq!(row.disconnected_reason.as_deref(), Some("token_refused"));
    let v = s.survey(pr).await;
    let mona = v.participant(MONA).expect("mona takes part");
    assert_eq!(mona.skip_reason, None, "nobody is passed over");
    assert_eq!(mona.asked_at, None);
    assert_eq!(dms(&a, &mona_in(TEAM_A)), 0);
    s.tick_at(Utc::now()).await;
    assert_eq!(
        a.with(|m| m.count_calls("users.lookupByEmail")),
        1,
        "no more calls with the revoked token"
    );

    // `tokens_revoked` naming another bot user changes nothing; naming ours disconnects.
    s.add_to_slack(INSTALLATION, TEAM_A).await;
    let bot = a.with(|m| m.bot_user_id.clone());
    s.slack_event(&events::tokens_revoked(
        TEAM_A,
        "A0FAKEAPP1",
        &["UOTHERBOT"],
    ))
    .await;
    assert_eq!(
        workspace_row(&s, INSTALLATION).await.status,
        WorkspaceStatus::Connected
    );
    s.slack_event(&events::tokens_revoked(TEAM_A, "A0FAKEAPP1", &[&bot]))
        .await;
    let row = workspace_row(&s, INSTALLATION).await;
    assert_eq!(row.status, WorkspaceStatus::Disconnected);
    assert_eq!(row.disconnected_reason.as_deref(), Some("tokens_revoked"));
    s.stop().await;
}

#[sqlx::test]
async fn add_to_slack_refuses_a_state_it_did_not_give_this_session(pool: PgPool) {
    let s = started(pool).await;
    let _a = workspace(&s, TEAM_A, "Org A", TOKEN_A);

    // Cancelled on Slack's page: nothing connected.
    let mut operator = Browser::new(&s.app);
    operator.sign_in_operator(OPERATOR_PASSWORD).await;
    let page = s
        .add_to_slack_as(&mut operator, INSTALLATION, TEAM_A, "deny")
        .await;
    assert!(page.body.contains("cancelled"), "{}", page.body);
    assert!(
        slack_workspaces::get(s.pool(), InstallationId(INSTALLATION))
            .await
            .expect("read")
            .is_none()
    );

    // A callback started by one session and finished in another (a login CSRF): refused, and
    // the state is spent.
    let callback = s
        .slack_consent(&mut operator, INSTALLATION, TEAM_A, "allow")
        .await;
    let mut other = Browser::new(&s.app);
    other.sign_in_operator(OPERATOR_PASSWORD).await;
    let refused = other.get(&callback).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let replayed = operator.get(&callback).await;
    assert_eq!(replayed.status, 400, "single use");
    // No state, or one we never gave: refused.
    let forged = operator
        .get("/admin/slack/oauth/callback?code=x&state=0123")
        .await;
    assert_eq!(forged.status, 400);
    assert!(
        slack_workspaces::get(s.pool(), InstallationId(INSTALLATION))
            .await
            .expect("read")
            .is_none()
    );
    // Not signed in: to the sign-in page, nothing exchanged.
    let anonymous = Browser::new(&s.app).get(&callback).await;
    assert_eq!(anonymous.location.as_deref(), Some("/admin/login"));
    s.stop().await;
}
