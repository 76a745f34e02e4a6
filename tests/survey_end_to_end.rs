//! The whole survey path against both strict fakes at once: members (with their public emails)
//! synced from the fake GitHub by the real catch-up, a review and a merge as signed webhooks,
//! people found in the fake Slack by `users.lookupByEmail` (a read method, sent as Slack reads
//! it), one DM each, signed clicks, one reveal each naming the author's answer.

mod support;

use std::time::Duration;

use chrono::Utc;
use mergecast::app::Role;
use mergecast::ids::InstallationId;
use mergecast::slack::{interactions, signature};
use serde_json::json;
use sqlx::PgPool;
use support::fake_github::{FakeGithub, InstallationAction, PullAction, ReviewAction, User};
use support::fake_slack::FakeSlack;
use support::{APP_ID, TestApp, redis_url, test_config_with, wait_until};

const TOKEN: &str = "xoxb-e2e-token";
const SIGNING_SECRET: &str = "e2e-signing-secret";
const INST: i64 = support::scenario::INSTALLATION;
const MONA: i64 = 583231;
const HUBOT: i64 = 1000001;

async fn click(app: &TestApp, user: &str, action_id: &str, survey_id: i64) -> u16 {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user },
        "container": { "type": "message" },
        "actions": [{ "action_id": action_id, "value": survey_id.to_string(),
                      "action_ts": format!("{}.{}", Utc::now().timestamp(), uuid::Uuid::new_v4().simple()) }],
    });
    let body = interactions::encode_form(&payload);
    let ts = Utc::now().timestamp().to_string();
    app.client
        .post(app.url("/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", &ts)
        .header(
            "x-slack-signature",
            signature::sign(SIGNING_SECRET, &ts, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Mergecast wired to a fake GitHub (`prepare` arranges it) and a fake Slack with mona and hubot.
async fn start(
    pool: PgPool,
    prepare: impl FnOnce(&mut support::fake_github::Model),
) -> (FakeGithub, FakeSlack, TestApp) {
    let github = FakeGithub::start(APP_ID).await;
    github.with(prepare);
    let slack = FakeSlack::start(TOKEN).await;
    slack.with(|m| {
        m.add_user("UMONA", "mona@example.com", "Europe/Berlin", 3600);
        m.add_user("UHUBOT", "hubot@example.com", "America/New_York", -5 * 3600);
    });
    let key = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/keys/test-app.pem");
    let config = test_config_with(
        &redis_url(),
        &[
            ("GITHUB_APP_ID", APP_ID.to_string()),
            ("GITHUB_PRIVATE_KEY_PATH", key.display().to_string()),
            ("GITHUB_API_URL", github.url.clone()),
            ("SYNC_RATE_LIMIT_RESERVE", "100".into()),
            ("SLACK_BOT_TOKEN", TOKEN.into()),
            ("SLACK_SIGNING_SECRET", SIGNING_SECRET.into()),
            ("SLACK_API_URL", slack.url.clone()),
            ("SURVEY_WORKING_HOURS", "00:00-24:00".into()),
            ("SURVEY_WORKING_DAYS", "mon,tue,wed,thu,fri,sat,sun".into()),
        ],
    );
    let app = TestApp::spawn_with(pool, Role::All, config).await;
    (github, slack, app)
}

/// The installation webhook, then a catch-up sync (the scheduler of `serve` may be running one
/// already; then we wait for it) until two members match `condition`.
async fn install_and_sync(github: &FakeGithub, app: &TestApp, condition: &str) {
    let installed = github.with(|m| m.installation_hook(INST, InstallationAction::Created));
    app.apply_hook(&installed).await;
    let syncer = app.services.catch_up().expect("app configured");
    syncer
        .sync_installation(InstallationId(INST))
        .await
        .expect("sync");
    let sql = format!("SELECT count(*) FROM members WHERE {condition}");
    wait_until("members synced", Duration::from_secs(20), || async {
        app.count(&sql).await == 2
    })
    .await;
}

/// hubot approves mona's pull request on hello-world (the one the model has, else a new one) and
/// merges it: both webhooks rendered by the fake GitHub's model, each applied before the next.
async fn review_and_merge(github: &FakeGithub, app: &TestApp) {
    let (review, merged) = github.with(|m| {
        let pull = match m.pulls.iter().find(|p| p.author_id == MONA) {
            Some(pull) => pull.id,
            None => {
                let repo = m.add_repo(INST, "octo-org", "hello-world").id;
                m.add_pull(repo, MONA).id
            }
        };
        let review = m.add_review(pull, HUBOT, "APPROVED").id;
        (
            m.review_hook(review, ReviewAction::Submitted),
            m.pull_hook(pull, PullAction::Merged(HUBOT)),
        )
    });
    app.apply_hook(&review).await;
    app.apply_hook(&merged).await;
}

#[sqlx::test]
async fn synced_members_are_surveyed_through_both_fakes(pool: PgPool) {
    let (github, slack, app) = start(pool, |m| {
        m.add_org_installation(INST, "octo-org");
        let mut mona = User::new(MONA, "mona");
        mona.email = Some("mona@example.com".into());
        m.add_member("octo-org", mona);
        let mut hubot = User::new(HUBOT, "hubot");
        hubot.email = Some("hubot@example.com".into());
        m.add_member("octo-org", hubot);
    })
    .await;
    // Members and their public emails come from the fake GitHub, through catch-up.
    install_and_sync(
        &github,
        &app,
        "email IN ('mona@example.com', 'hubot@example.com')",
    )
    .await;

    review_and_merge(&github, &app).await;
    let dms = |user: &str| slack.with(|m| m.messages_to(user).len());
    wait_until("one DM each", Duration::from_secs(20), || async {
        dms("UMONA") == 1 && dms("UHUBOT") == 1
    })
    .await;
    slack.with(|m| {
        let lookups = m.calls_to("users.lookupByEmail");
        assert_eq!(lookups.len(), 2);
        assert!(lookups.iter().all(|c| c.ok && c.http_method == "GET"));
    });
    let survey: i64 = sqlx::query_scalar("SELECT id FROM surveys")
        .fetch_one(&app.pool)
        .await
        .unwrap();

    assert_eq!(click(&app, "UMONA", "ai_a_lot", survey).await, 200);
    assert_eq!(click(&app, "UHUBOT", "guess_yes", survey).await, 200);
    assert_eq!(
        click(&app, "UMONA", "ai_a_lot", survey).await,
        200,
        "a repeated click"
    );
    let reveals = |user: &str| -> Vec<String> {
        slack.with(|m| {
            m.messages_to(user)
                .iter()
                .filter(|msg| msg.text.contains("reveal"))
                .map(|msg| msg.text.clone())
                .collect()
        })
    };
    wait_until("one reveal each", Duration::from_secs(20), || async {
        reveals("UMONA").len() == 1 && reveals("UHUBOT").len() == 1
    })
    .await;
    wait_until("every click handled", Duration::from_secs(20), || async {
        app.count("SELECT count(*) FROM slack_interactions WHERE outcome IS NOT NULL")
            .await
            == 3
    })
    .await;
    for user in ["UMONA", "UHUBOT"] {
        let texts = reveals(user);
        assert_eq!(texts.len(), 1, "{user}: {texts:?}");
        assert!(
            texts[0].contains("A lot"),
            "names the author's answer: {}",
            texts[0]
        );
        assert!(texts[0].contains("right"), "{}", texts[0]);
    }
    let notices = slack.with(|m| {
        m.messages
            .iter()
            .filter(|msg| msg.text.contains("already recorded"))
            .count()
    });
    assert_eq!(notices, 0, "no notice anyone did not earn");
    assert_eq!(dms("UMONA"), 2, "the ask and the reveal, nothing else");
    assert_eq!(dms("UHUBOT"), 2);
    app.stop().await;
}

/// mona's branch starts from bob's commits and mona has no public email: her Slack user is found
/// from *her own* commit (GitHub links it to her account), never from bob's first commit.
#[sqlx::test]
async fn the_author_is_found_by_their_own_commits_only(pool: PgPool) {
    const BOB: i64 = 4242;
    let (github, slack, app) = start(pool, |m| {
        m.add_org_installation(INST, "octo-org");
        m.add_member("octo-org", User::new(MONA, "mona"));
        let mut hubot = User::new(HUBOT, "hubot");
        hubot.email = Some("hubot@example.com".into());
        m.add_member("octo-org", hubot);
        m.add_user(User::new(BOB, "bob"));
        let repo = m.add_repo(INST, "octo-org", "hello-world").id;
        let pull = m.add_pull(repo, MONA);
        pull.number = 42;
        let pull = pull.id;
        for (i, (author, name, email)) in [
            (Some(BOB), "Bob", "bob@example.com"),
            (Some(BOB), "Bob", "bob@example.com"),
            (Some(MONA), "Mona", "mona@example.com"),
        ]
        .into_iter()
        .enumerate()
        {
            m.commits.push(support::fake_github::Commit {
                pull_id: pull,
                sha: format!("{i:040x}"),
                author_id: author,
                author_name: name.into(),
                author_email: email.into(),
                date: Utc::now(),
            });
        }
    })
    .await;
    slack.with(|m| {
        m.add_user("UBOB", "bob@example.com", "UTC", 0);
    });
    install_and_sync(&github, &app, "github_id IN (583231, 1000001)").await;
    review_and_merge(&github, &app).await;
    wait_until("mona's DM", Duration::from_secs(20), || async {
        slack.with(|m| m.messages_to("UMONA").len()) == 1
    })
    .await;
    assert_eq!(
        slack.with(|m| m.messages_to("UBOB").len()),
        0,
        "bob gets nothing"
    );
    let mapped: Option<String> =
        sqlx::query_scalar("SELECT slack_user_id FROM members WHERE github_id = $1")
            .bind(MONA)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(mapped.as_deref(), Some("UMONA"));
    app.stop().await;
}
