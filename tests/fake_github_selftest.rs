//! Checks the fake GitHub itself, so the integration tests that lean on it can trust that it
//! enforces GitHub's rules (and not just whatever the client happens to do).

#[path = "support/fake_github/mod.rs"]
mod fake_github;

use chrono::{Duration, Utc};
use fake_github::{FakeGithub, ForeignHost, SecondaryLimit, User, app_jwt, sign_jwt};
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const APP_ID: i64 = 4242;
const INSTALLATION: i64 = 77;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("mergecast-selftest")
        .build()
        .expect("client")
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ASCII header")
        .to_string()
}

/// A fake with one org installation.
async fn fake() -> FakeGithub {
    let gh = FakeGithub::start(APP_ID).await;
    gh.with(|m| {
        m.add_org_installation(INSTALLATION, "acme");
    });
    gh
}

async fn app_get(gh: &FakeGithub, path: &str, jwt: &str) -> Response {
    client()
        .get(format!("{}{path}", gh.url))
        .bearer_auth(jwt)
        .send()
        .await
        .expect("request")
}

async fn mint(gh: &FakeGithub, installation: i64) -> Response {
    client()
        .post(format!(
            "{}/app/installations/{installation}/access_tokens",
            gh.url
        ))
        .bearer_auth(app_jwt(APP_ID))
        .send()
        .await
        .expect("request")
}

async fn token(gh: &FakeGithub) -> String {
    let response = mint(gh, INSTALLATION).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("JSON");
    body["token"].as_str().expect("token").to_string()
}

async fn get(gh: &FakeGithub, path: &str, token: &str) -> Response {
    client()
        .get(format!("{}{path}", gh.url))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .expect("request")
}

async fn message(response: Response) -> String {
    let body: Value = response.json().await.expect("JSON");
    body["message"].as_str().expect("message").to_string()
}

/// A conditional GET with an installation token.
async fn get_if_none_match(gh: &FakeGithub, path: &str, token: &str, etag: &str) -> Response {
    client()
        .get(format!("{}{path}", gh.url))
        .header("authorization", format!("token {token}"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn app_jwt_is_checked_like_github() {
    let gh = fake().await;
    let now = Utc::now().timestamp();

    let response = app_get(&gh, "/app/installations", &app_jwt(APP_ID)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-resource"), "core");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["id"], INSTALLATION);
    assert_eq!(body[0]["account"]["login"], "acme");
    assert_eq!(body[0]["account"]["type"], "Organization");
    assert_eq!(body[0]["app_id"], APP_ID);
    assert_eq!(body[0]["suspended_at"], Value::Null);

    // `iss` as a number is accepted too.
    let numeric = sign_jwt(&json!({ "iat": now - 60, "exp": now + 540, "iss": APP_ID }));
    let response = app_get(&gh, "/app/installations", &numeric).await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut rejected = vec![
        (
            "exp too far ahead",
            sign_jwt(&json!({ "iat": now, "exp": now + 700, "iss": APP_ID })),
        ),
        (
            "expired",
            sign_jwt(&json!({ "iat": now - 700, "exp": now - 60, "iss": APP_ID })),
        ),
        (
            "iat in the future",
            sign_jwt(&json!({ "iat": now + 120, "exp": now + 500, "iss": APP_ID })),
        ),
        (
            "another app",
            sign_jwt(&json!({ "iat": now, "exp": now + 500, "iss": APP_ID + 1 })),
        ),
        (
            "no iat",
            sign_jwt(&json!({ "exp": now + 500, "iss": APP_ID })),
        ),
        (
            "HS256 instead of RS256",
            encode(
                &Header::default(),
                &json!({ "iat": now, "exp": now + 500, "iss": APP_ID }),
                &EncodingKey::from_secret(b"guess"),
            )
            .unwrap(),
        ),
        ("an installation token", token(&gh).await),
    ];
    // A valid JWT with one signature character changed (mid-signature, so real bits change).
    let good = app_jwt(APP_ID);
    let signature_at = good.rfind('.').unwrap() + 20;
    let mut tampered = good.into_bytes();
    tampered[signature_at] = if tampered[signature_at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    rejected.push(("tampered signature", String::from_utf8(tampered).unwrap()));

    for (why, jwt) in rejected {
        let response = app_get(&gh, "/app/installations", &jwt).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].is_string(), "{why}");
        assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
    }

    let response = client()
        .get(format!("{}/app/installations", gh.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "no credentials"
    );
}

#[tokio::test]
async fn requests_without_user_agent_are_refused() {
    let gh = fake().await;
    let response = reqwest::Client::new()
        .get(format!("{}/app/installations", gh.url))
        .bearer_auth(app_jwt(APP_ID))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn installation_tokens_are_minted_scoped_and_expire() {
    let gh = fake().await;
    gh.with(|m| {
        m.add_org_installation(88, "other");
        m.add_repo(INSTALLATION, "acme", "widgets");
        m.add_repo(88, "other", "secret");
    });

    let before = Utc::now();
    let response = mint(&gh, INSTALLATION).await;
    let after = Utc::now();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ghs_"));
    assert_eq!(body["repository_selection"], "all");
    let expires_at: chrono::DateTime<Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    // Minted at some instant between `before` and `after`, for an hour (to the second).
    let lifetime = expires_at - before;
    assert!(
        lifetime > Duration::minutes(59) && lifetime <= Duration::minutes(60) + (after - before),
        "{lifetime}"
    );
    assert_eq!(gh.with(|m| m.mint_count(INSTALLATION)), 1);

    let response = get(&gh, "/installation/repositories", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["total_count"], 1);
    assert_eq!(body["repositories"][0]["full_name"], "acme/widgets");
    assert_eq!(body["repositories"][0]["default_branch"], "main");
    // `Bearer` works for installation tokens too.
    let response = client()
        .get(format!("{}/installation/repositories", gh.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Repositories of other installations are invisible.
    let response = get(&gh, "/repos/other/secret/pulls", &token).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = get(&gh, "/installation/repositories", "ghs_nonsense").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(message(response).await, "Bad credentials");

    // Tokens die at `expires_at`.
    gh.with(|m| m.token_ttl = Duration::seconds(-1));
    let expired = self::token(&gh).await;
    let response = get(&gh, "/installation/repositories", &expired).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(message(response).await, "Bad credentials");
    gh.with(|m| m.expire_tokens());
    let response = get(&gh, "/installation/repositories", &token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Unknown and suspended installations.
    assert_eq!(mint(&gh, 999).await.status(), StatusCode::NOT_FOUND);
    gh.with(|m| m.token_ttl = Duration::hours(1));
    let live = self::token(&gh).await;
    gh.with(|m| m.installation(INSTALLATION).suspended = true);
    assert_eq!(
        mint(&gh, INSTALLATION).await.status(),
        StatusCode::FORBIDDEN
    );
    let response = get(&gh, "/installation/repositories", &live).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(gh.with(|m| m.mint_count(INSTALLATION)), 3);
}

#[tokio::test]
async fn links_can_be_pointed_at_a_foreign_host_that_records_credentials() {
    let gh = fake().await;
    let foreign = ForeignHost::start().await;
    gh.with(|m| {
        m.add_member("acme", User::new(1, "one"));
        m.add_member("acme", User::new(2, "two"));
        m.link_origin = Some(foreign.url.clone());
    });
    let token = token(&gh).await;
    let response = get(&gh, "/orgs/acme/members?per_page=1", &token).await;
    let next = format!("{}/orgs/acme/members?per_page=1&page=2", foreign.url);
    assert!(
        header(&response, "link").starts_with(&format!("<{next}>; rel=\"next\"")),
        "{}",
        header(&response, "link")
    );
    // The foreign host records what it is sent, credentials included.
    let response = client()
        .get(&next)
        .header("authorization", "token leaked")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let requests = foreign.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path_and_query,
        "/orgs/acme/members?per_page=1&page=2"
    );
    assert_eq!(requests[0].authorization.as_deref(), Some("token leaked"));
}

#[tokio::test]
async fn pagination_links_are_absolute_and_keep_the_query() {
    let gh = fake().await;
    gh.with(|m| {
        for id in 1..=250 {
            m.add_member("acme", User::new(id, &format!("user{id}")));
        }
    });
    let token = token(&gh).await;
    let base = format!("{}/orgs/acme/members", gh.url);

    let response = get(&gh, "/orgs/acme/members?per_page=100", &token).await;
    assert_eq!(
        header(&response, "link"),
        format!(
            "<{base}?per_page=100&page=2>; rel=\"next\", <{base}?per_page=100&page=3>; rel=\"last\""
        )
    );
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page.len(), 100);
    assert_eq!(page[0]["login"], "user1");
    assert_eq!(page[0]["type"], "User");

    let response = get(&gh, "/orgs/acme/members?per_page=100&page=2", &token).await;
    assert_eq!(
        header(&response, "link"),
        format!(
            "<{base}?per_page=100&page=1>; rel=\"prev\", <{base}?per_page=100&page=3>; rel=\"next\", \
             <{base}?per_page=100&page=3>; rel=\"last\", <{base}?per_page=100&page=1>; rel=\"first\""
        )
    );
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page[0]["id"], 101);

    let response = get(&gh, "/orgs/acme/members?per_page=100&page=3", &token).await;
    let link = header(&response, "link");
    assert!(!link.contains("rel=\"next\""), "{link}");
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page.len(), 50);
    assert_eq!(page[49]["login"], "user250");

    // Default 30 per page, capped at `per_page_max`.
    let response = get(&gh, "/orgs/acme/members", &token).await;
    assert!(header(&response, "link").contains(&format!("<{base}?page=9>; rel=\"last\"")));
    let response = get(&gh, "/orgs/acme/members?per_page=1000", &token).await;
    assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), 100);

    assert_eq!(
        get(&gh, "/orgs/nobody/members", &token).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn links_can_use_githubs_id_paths() {
    let gh = fake().await;
    let (org_id, repo_id) = gh.with(|m| {
        m.github_link_paths = true;
        for id in 1..=3 {
            m.add_member("acme", User::new(id, &format!("user{id}")));
        }
        let repo = m.add_repo(INSTALLATION, "acme", "widgets").id;
        for _ in 0..3 {
            m.add_pull(repo, 1);
        }
        (m.installation(INSTALLATION).account_id, repo)
    });
    let token = token(&gh).await;

    let response = get(&gh, "/orgs/acme/members?per_page=2", &token).await;
    let next = format!(
        "{}/organizations/{org_id}/members?per_page=2&page=2",
        gh.url
    );
    assert!(header(&response, "link").starts_with(&format!("<{next}>; rel=\"next\"")));
    let response = client()
        .get(&next)
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    let page: Vec<Value> = response.json().await.unwrap();
    assert_eq!(page[0]["login"], "user3");

    let response = get(&gh, "/repos/acme/widgets/pulls?per_page=2", &token).await;
    let next = format!("{}/repositories/{repo_id}/pulls?per_page=2&page=2", gh.url);
    assert!(header(&response, "link").starts_with(&format!("<{next}>; rel=\"next\"")));
    let response = client()
        .get(&next)
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), 1);
}

#[tokio::test]
async fn etag_revalidation_is_free() {
    let gh = fake().await;
    gh.with(|m| m.add_member("acme", User::new(1, "octocat")));
    let token = token(&gh).await;

    let response = get(&gh, "/orgs/acme/members", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = header(&response, "etag");
    assert!(etag.starts_with("W/\""), "{etag}");
    let remaining: u32 = header(&response, "x-ratelimit-remaining").parse().unwrap();
    assert_eq!(remaining, 4999);
    assert_eq!(header(&response, "x-ratelimit-used"), "1");

    let revalidate = || {
        client()
            .get(format!("{}/orgs/acme/members", gh.url))
            .header("authorization", format!("token {token}"))
            .header("if-none-match", &etag)
            .send()
    };
    let response = revalidate().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&response, "etag"), etag);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "4999");
    assert!(response.bytes().await.unwrap().is_empty());
    assert_eq!(gh.with(|m| m.rate_remaining(INSTALLATION)), 4999);

    // A change to the resource changes the ETag, and the full answer costs a request again.
    gh.with(|m| m.add_member("acme", User::new(2, "hubot")));
    let response = revalidate().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(&response, "etag"), etag);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "4998");
    assert_eq!(gh.with(|m| m.api_calls(INSTALLATION)), 3);
    assert_eq!(gh.with(|m| m.count_status(INSTALLATION, 304)), 1);
}

#[tokio::test]
async fn exhausted_rate_limit_is_refused_until_reset() {
    let gh = fake().await;
    let token = token(&gh).await;
    gh.with(|m| m.set_rate_remaining(INSTALLATION, 0, 600));

    let response = get(&gh, "/installation/repositories", &token).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&response, "x-ratelimit-limit"), "5000");
    let reset: i64 = header(&response, "x-ratelimit-reset").parse().unwrap();
    assert!(reset > Utc::now().timestamp() + 500);
    assert_eq!(
        message(response).await,
        format!("API rate limit exceeded for installation ID {INSTALLATION}.")
    );
    assert_eq!(gh.with(|m| m.count_status(INSTALLATION, 403)), 1);

    // Once the reset time has passed the window starts again.
    gh.with(|m| m.set_rate_remaining(INSTALLATION, 0, -1));
    let response = get(&gh, "/installation/repositories", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-ratelimit-remaining"), "4999");

    // Another installation's budget is separate.
    gh.with(|m| {
        m.add_org_installation(88, "other");
        m.set_rate_remaining(INSTALLATION, 0, 600);
    });
    let response = mint(&gh, 88).await;
    let body: Value = response.json().await.unwrap();
    let other = body["token"].as_str().unwrap();
    let response = get(&gh, "/installation/repositories", other).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn secondary_limit_answers_with_retry_after() {
    for status in [403, 429] {
        let gh = fake().await;
        let token = token(&gh).await;
        gh.with(|m| {
            m.secondary_limit = Some(SecondaryLimit {
                remaining_hits: 2,
                retry_after_secs: 7,
                status,
            })
        });
        for _ in 0..2 {
            let response = get(&gh, "/installation/repositories", &token).await;
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(header(&response, "retry-after"), "7");
            assert!(message(response).await.contains("secondary rate limit"));
        }
        let response = get(&gh, "/installation/repositories", &token).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(gh.with(|m| m.secondary_limit.clone()), None);
        assert_eq!(gh.with(|m| m.count_status(INSTALLATION, status)), 2);
    }
}

#[tokio::test]
async fn pulls_reviews_and_issues_have_githubs_shapes() {
    let gh = fake().await;
    let t0 = fake_github::now() - Duration::hours(3);
    let (open, merged) = gh.with(|m| {
        m.add_member("acme", User::new(1, "octocat"));
        m.add_member("acme", User::bot(2, "dependabot[bot]"));
        let repo = m.add_repo(INSTALLATION, "acme", "widgets").id;
        let merged = m.add_pull(repo, 1);
        merged.created_at = t0;
        let merged_id = merged.id;
        merged.merge(t0 + Duration::hours(2));
        let open = m.add_pull(repo, 2);
        open.created_at = t0 + Duration::minutes(30);
        open.updated_at = t0 + Duration::minutes(30);
        let open_number = open.number;
        m.add_review(merged_id, 2, "APPROVED");
        let issue = m.add_issue(repo, 1);
        issue.labels = vec!["bug".into()];
        issue.created_at = t0 + Duration::minutes(10);
        issue.updated_at = t0 + Duration::hours(1);
        (open_number, 1)
    });
    let token = token(&gh).await;

    // Default: open only, newest created first.
    let response = get(&gh, "/repos/acme/widgets/pulls", &token).await;
    let pulls: Vec<Value> = response.json().await.unwrap();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0]["number"], open);

    let response = get(
        &gh,
        "/repos/acme/widgets/pulls?state=all&sort=updated&direction=desc",
        &token,
    )
    .await;
    let pulls: Vec<Value> = response.json().await.unwrap();
    assert_eq!(pulls.len(), 2);
    let first = &pulls[0];
    assert_eq!(first["number"], merged, "most recently updated first");
    assert_eq!(first["state"], "closed");
    assert!(first["merged_at"].is_string());
    assert!(first["merge_commit_sha"].is_string());
    assert!(
        first.get("merged").is_none(),
        "the list shape has no `merged`"
    );
    assert_eq!(first["user"]["login"], "octocat");
    assert_eq!(first["head"]["ref"], "feature-1");
    assert_eq!(first["base"]["ref"], "main");
    assert_eq!(pulls[1]["merged_at"], Value::Null);

    let response = get(&gh, "/repos/acme/widgets/pulls/1/reviews", &token).await;
    let reviews: Vec<Value> = response.json().await.unwrap();
    assert_eq!(reviews[0]["state"], "APPROVED");
    assert_eq!(reviews[0]["user"]["type"], "Bot");
    assert!(reviews[0]["submitted_at"].is_string());
    assert_eq!(
        get(&gh, "/repos/acme/widgets/pulls/99/reviews", &token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // Issues include pull requests (marked), filtered by `since` on updated_at.
    let since = (t0 + Duration::minutes(45)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path =
        format!("/repos/acme/widgets/issues?state=all&since={since}&sort=updated&direction=desc");
    let response = get(&gh, &path, &token).await;
    let issues: Vec<Value> = response.json().await.unwrap();
    let numbers: Vec<i64> = issues
        .iter()
        .map(|i| i["number"].as_i64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        vec![1, 3],
        "the open PR was last updated before `since`"
    );
    assert!(issues[0]["pull_request"]["merged_at"].is_string());
    assert!(issues[1].get("pull_request").is_none());
    assert_eq!(issues[1]["labels"][0]["name"], "bug");
    // The same, with `since` percent-encoded as clients send it.
    let response = client()
        .get(format!("{}/repos/acme/widgets/issues", gh.url))
        .header("authorization", format!("token {token}"))
        .query(&[("state", "all"), ("since", since.as_str())])
        .send()
        .await
        .unwrap();
    assert!(response.url().query().unwrap().contains("%3A"));
    assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), 2);

    let response = get(&gh, "/users/OCTOCAT", &token).await;
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["login"], "octocat");
    assert_eq!(user["name"], Value::Null);
}

#[tokio::test]
async fn hook_deliveries_page_by_cursor_and_redeliver() {
    let gh = fake().await;
    let ids: Vec<i64> = gh.with(|m| {
        (0..5)
            .map(|n| {
                let status = if n == 2 { 500 } else { 202 };
                let delivery = m.add_hook_delivery("pull_request", Some("opened"), status);
                delivery.installation_id = Some(INSTALLATION);
                delivery.id
            })
            .collect()
    });
    let jwt = app_jwt(APP_ID);

    let mut seen = Vec::new();
    let mut next = Some(format!("{}/app/hook/deliveries?per_page=2", gh.url));
    while let Some(url) = next {
        let response = client().get(&url).bearer_auth(&jwt).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string())
            .map(|l| {
                let numbered = l.contains("&page=") || l.contains("?page=");
                assert!(!numbered, "cursor pagination, no page numbers: {l}");
                assert!(l.contains("cursor="), "{l}");
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
        let page: Vec<Value> = response.json().await.unwrap();
        seen.extend(page);
    }
    let seen_ids: Vec<i64> = seen.iter().map(|d| d["id"].as_i64().unwrap()).collect();
    let newest_first: Vec<i64> = ids.iter().rev().copied().collect();
    assert_eq!(seen_ids, newest_first);
    assert_eq!(seen[2]["status"], "Internal Server Error");
    assert_eq!(seen[0]["status"], "OK");
    assert_eq!(seen[0]["installation_id"], INSTALLATION);

    let redeliver = |id: i64| {
        client()
            .post(format!("{}/app/hook/deliveries/{id}/attempts", gh.url))
            .bearer_auth(&jwt)
            .send()
    };
    assert_eq!(
        redeliver(ids[2]).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(redeliver(-1).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(gh.with(|m| m.redelivery_requests.clone()), vec![ids[2]]);
}

/// Every webhook the model renders parses as the app's own event type for its
/// `X-GitHub-Event`, and says what the model now holds.
#[tokio::test]
async fn webhooks_rendered_from_the_model_parse_as_their_events() {
    use fake_github::{
        CollaboratorAction, InstallationAction, IssueAction, OrgAction, PullAction, ReviewAction,
        TeamAction,
    };
    use mergecast::github::events::Event;

    let gh = fake().await;
    let hooks = gh.with(|m| {
        m.add_member("acme", User::new(1, "mona"));
        m.add_user(User::new(2, "hubot"));
        let repo = m.add_repo(INSTALLATION, "acme", "widgets").id;
        let other = m.add_repo(INSTALLATION, "acme", "gadgets").id;
        let pull = m.add_pull(repo, 1).id;
        let review = m.add_review(pull, 2, "APPROVED").id;
        let issue = m.add_issue(repo, 1).id;
        m.add_team("acme", 9, "core");
        vec![
            m.installation_hook(INSTALLATION, InstallationAction::Created),
            m.installation_hook(INSTALLATION, InstallationAction::Suspend),
            m.repositories_hook(INSTALLATION, &[], &[other]),
            m.org_hook("acme", OrgAction::MemberAdded(2)),
            m.org_hook("acme", OrgAction::MemberInvited(2)),
            m.collaborator_hook(repo, 2, CollaboratorAction::Added("write".into())),
            m.team_hook(9, TeamAction::AddedToRepository(repo, "push".into())),
            m.team_membership_hook(9, 2, true),
            m.pull_hook(pull, PullAction::Labeled("bug".into())),
            m.pull_hook(pull, PullAction::Merged(2)),
            m.review_hook(review, ReviewAction::Dismissed),
            m.issue_hook(issue, IssueAction::Assigned(2)),
            m.target_renamed_hook(INSTALLATION, "acme-inc"),
            m.authorization_revoked_hook(2),
        ]
    });
    for hook in &hooks {
        let parsed = Event::parse(hook.event, &hook.bytes())
            .unwrap_or_else(|e| panic!("{} {:?}: {e}", hook.event, hook.action()));
        assert!(
            !matches!(parsed, Event::Other { .. }),
            "{} is an event the app handles",
            hook.event
        );
        match parsed {
            Event::PullRequest(e) if e.action == "closed" => {
                assert!(e.pull_request.is_merged());
                assert_eq!(e.pull_request.labels[0].name, "bug");
                assert_eq!(e.installation.map(|i| i.id), Some(INSTALLATION));
            }
            Event::PullRequestReview(e) => assert_eq!(e.review.state, "dismissed"),
            Event::Issues(e) => assert_eq!(e.issue.assignees[0].login, "hubot"),
            Event::Installation(e) if e.action == "suspend" => {
                assert!(e.installation.suspended_at.is_some())
            }
            Event::InstallationRepositories(e) => {
                assert_eq!(e.repositories_removed[0].full_name, "acme/gadgets")
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn org_membership_for_a_user_takes_that_orgs_installation_token() {
    let gh = fake().await;
    let org_id = gh.with(|m| {
        m.add_org_installation(78, "other-org");
        m.set_membership(&User::new(5, "alice"), "acme", "admin", "active");
        m.org_id("acme").unwrap()
    });
    let acme = token(&gh).await;
    let path = "/orgs/acme/memberships/alice";
    let ok = get(&gh, path, &acme).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["organization"]["id"], org_id);
    assert_eq!(body["user"]["id"], 5);
    assert_eq!(
        (body["role"].as_str(), body["state"].as_str()),
        (Some("admin"), Some("active"))
    );
    // Not a member (or no such user): 404.
    assert_eq!(
        get(&gh, "/orgs/acme/memberships/bob", &acme).await.status(),
        StatusCode::NOT_FOUND
    );
    // No credentials: 403, as documented; a bad token: 401.
    let anonymous = client()
        .get(format!("{}{path}", gh.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&gh, path, "ghs_bogus").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Another org's installation token cannot read acme's memberships.
    let other: Value = mint(&gh, 78).await.json().await.unwrap();
    let other = other["token"].as_str().unwrap();
    let refused = get(&gh, path, other).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        message(refused).await,
        "Resource not accessible by integration"
    );
    // acme renamed; its old login now belongs to another org: alice is no member there, and
    // acme's token does not reach it.
    gh.with(|m| {
        m.orgs.insert("acme-renamed".into(), org_id);
        m.orgs.insert("acme".into(), 9_001);
    });
    assert_eq!(get(&gh, path, &acme).await.status(), StatusCode::FORBIDDEN);
    let renamed = get(&gh, "/orgs/acme-renamed/memberships/alice", &acme).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    // An outage answers 503 to everything.
    gh.with(|m| m.unavailable = true);
    assert_eq!(
        get(&gh, "/orgs/acme-renamed/memberships/alice", &acme)
            .await
            .status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// Runs the OAuth web flow for the approving user; returns their access token.
async fn user_token(gh: &FakeGithub) -> String {
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = no_redirects
        .get(format!(
            "{}/login/oauth/authorize?client_id=cid&state=s",
            gh.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), StatusCode::FOUND);
    let location = header(&authorize, "location");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let exchange: Value = client()
        .post(format!("{}/login/oauth/access_token", gh.url))
        .header("accept", "application/json")
        .form(&[
            ("client_id", "cid"),
            ("client_secret", "secret"),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    exchange["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn user_memberships_name_the_org_that_holds_the_login_now() {
    let gh = fake().await;
    {
        let mut o = gh.oauth.lock().unwrap();
        (o.client_id, o.client_secret) = ("cid".into(), "secret".into());
        o.callback_url = "http://app.example/cb".into();
        o.approve_as = Some((5, "alice".into()));
    }
    // alice is a plain member of the installed acme; then acme's login passes to org 9001,
    // which alice administers.
    gh.with(|m| {
        m.set_membership(&User::new(5, "alice"), "acme", "member", "active");
        m.orgs.insert("acme".into(), 9_001);
        m.set_membership(&User::new(5, "alice"), "acme", "admin", "active");
    });
    let user = user_token(&gh).await;
    let response = client()
        .get(format!("{}/user/memberships/orgs/acme", gh.url))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["organization"]["id"], 9_001);
    assert_eq!(body["role"], "admin");
    let missing = client()
        .get(format!("{}/user/memberships/orgs/nobody", gh.url))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_tokens_are_revoked_with_the_clients_basic_auth() {
    let gh = fake().await;
    {
        let mut o = gh.oauth.lock().unwrap();
        (o.client_id, o.client_secret) = ("cid".into(), "secret".into());
        o.callback_url = "http://app.example/cb".into();
        o.approve_as = Some((5, "alice".into()));
    }
    let user = user_token(&gh).await;
    let delete = |auth: Option<(&str, &str)>, client_id: &str, token: &str| {
        let mut request = client()
            .delete(format!("{}/applications/{client_id}/token", gh.url))
            .json(&json!({ "access_token": token }));
        if let Some((id, secret)) = auth {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    assert_eq!(
        delete(None, "cid", &user).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let wrong = delete(Some(("cid", "nope")), "cid", &user).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bearer = client()
        .delete(format!("{}/applications/cid/token", gh.url))
        .bearer_auth(&user)
        .json(&json!({ "access_token": user }))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    let unknown = delete(Some(("cid", "secret")), "cid", "gho_unknown")
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(gh.oauth.lock().unwrap().revocations.is_empty());

    let done = delete(Some(("cid", "secret")), "cid", &user).await.unwrap();
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert!(done.bytes().await.unwrap().is_empty());
    {
        let o = gh.oauth.lock().unwrap();
        assert_eq!(o.revocations, vec![user.clone()]);
        assert_eq!(o.issued, vec![user.clone()]);
    }
    // The token is dead: GitHub no longer knows it.
    let me = client()
        .get(format!("{}/user", gh.url))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let again = delete(Some(("cid", "secret")), "cid", &user).await.unwrap();
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// https://docs.github.com/en/rest/teams/teams#list-teams and
/// https://docs.github.com/en/rest/teams/members#list-team-members: installation tokens only,
/// `Link` pages, ETags, nested teams with `parent`, `role` filtering, child teams' members.
#[tokio::test]
async fn teams_and_their_members_are_listed_like_github() {
    let gh = fake().await;
    gh.with(|m| {
        m.add_org_installation(88, "other");
        for i in 0..3 {
            m.add_member("acme", User::new(10 + i, &format!("u{i}")));
        }
        m.add_team("acme", 1, "platform");
        m.add_team("acme", 2, "backend");
        m.set_team_parent(2, Some(1));
        m.add_team("other", 3, "theirs");
        m.add_team_member(1, 10, true);
        m.add_team_member(2, 11, false);
        m.add_team_member(2, 12, true);
    });
    let token = token(&gh).await;

    let response = get(&gh, "/orgs/acme/teams?per_page=1", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "link").contains("page=2"));
    let etag = header(&response, "etag");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["slug"], "platform");
    assert_eq!(body[0]["parent"], Value::Null);
    let revalidated = get_if_none_match(&gh, "/orgs/acme/teams?per_page=1", &token, &etag).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let body: Value = get(&gh, "/orgs/acme/teams?page=2&per_page=1", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body[0]["slug"], "backend");
    assert_eq!(body[0]["parent"]["id"], 1);
    assert_eq!(body[0]["parent"]["slug"], "platform");

    let logins = |body: Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|u| u["login"].as_str().unwrap().to_string())
            .collect()
    };
    let members = |path: &'static str| {
        let (gh, token) = (&gh, &token);
        async move { logins(get(gh, path, token).await.json().await.unwrap()) }
    };
    assert_eq!(
        members("/orgs/acme/teams/backend/members").await,
        ["u1", "u2"]
    );
    assert_eq!(
        members("/orgs/acme/teams/backend/members?role=maintainer").await,
        ["u2"]
    );
    assert_eq!(
        members("/orgs/acme/teams/backend/members?role=member").await,
        ["u1"]
    );
    // Child teams' members are listed with the parent's.
    assert_eq!(
        members("/orgs/acme/teams/platform/members?role=all").await,
        ["u0", "u1", "u2"]
    );
    let bad_role = get(&gh, "/orgs/acme/teams/backend/members?role=owner", &token).await;
    assert_eq!(bad_role.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Unknown teams and other installations' orgs are not found.
    for path in ["/orgs/acme/teams/nope/members", "/orgs/other/teams"] {
        assert_eq!(
            get(&gh, path, &token).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // An app JWT is no installation token.
    let response = app_get(&gh, "/orgs/acme/teams", &app_jwt(APP_ID)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

/// https://docs.github.com/en/rest/copilot/copilot-user-management#list-all-copilot-seat-assignments-for-an-organization:
/// `{ total_seats, seats }` with `Link` pages, 403 without the permission, 404 without a plan.
#[tokio::test]
async fn copilot_seats_are_listed_like_github() {
    let gh = fake().await;
    gh.with(|m| {
        for i in 0..3 {
            m.add_member("acme", User::new(10 + i, &format!("u{i}")));
        }
        m.add_team("acme", 1, "platform");
        let seat = m.add_copilot_seat("acme", 10);
        seat.assigning_team_id = Some(1);
        seat.last_activity_editor = Some("vscode/1.77.3/copilot/1.86.82".into());
        m.add_copilot_seat("acme", 11);
        m.add_copilot_seat("acme", 12).pending_cancellation_date =
            chrono::NaiveDate::from_ymd_opt(2027, 1, 31);
    });
    let token = token(&gh).await;
    let path = "/orgs/acme/copilot/billing/seats?per_page=2";
    let response = get(&gh, path, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "link").contains("rel=\"next\""));
    let etag = header(&response, "etag");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["total_seats"], 3);
    let seat = &body["seats"][0];
    assert_eq!(body["seats"].as_array().unwrap().len(), 2);
    assert_eq!(seat["assignee"]["login"], "u0");
    assert_eq!(seat["assignee"]["type"], "User");
    assert_eq!(seat["assigning_team"]["slug"], "platform");
    assert_eq!(seat["plan_type"], "business");
    assert_eq!(
        seat["last_activity_editor"],
        "vscode/1.77.3/copilot/1.86.82"
    );
    for field in [
        "created_at",
        "updated_at",
        "pending_cancellation_date",
        "last_activity_at",
    ] {
        assert!(seat.get(field).is_some(), "{field}");
    }
    assert_eq!(body["seats"][1]["assigning_team"], Value::Null);
    let page2: Value = get(
        &gh,
        "/orgs/acme/copilot/billing/seats?per_page=2&page=2",
        &token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(page2["seats"][0]["pending_cancellation_date"], "2027-01-31");
    let revalidated = get_if_none_match(&gh, path, &token, &etag).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    gh.with(|m| m.installation(INSTALLATION).copilot_permission = false);
    let refused = get(&gh, path, &token).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        message(refused).await,
        "Resource not accessible by integration"
    );
    gh.with(|m| {
        m.installation(INSTALLATION).copilot_permission = true;
        m.remove_copilot_plan("acme");
    });
    assert_eq!(get(&gh, path, &token).await.status(), StatusCode::NOT_FOUND);
}

/// The manifest flow: form-encoded manifest only, checked; a code redirected back with `state`,
/// converted once (201 with the secrets), then 404; `GET /app` answers the app's JWT only.
#[tokio::test]
async fn apps_are_created_from_manifests_like_github() {
    let gh = fake().await;
    gh.with(|m| {
        m.orgs.insert("acme".into(), 9);
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let manifest = json!({
        "name": "Mergecast",
        "url": "https://mc.example.org",
        "hook_attributes": { "url": "https://mc.example.org/webhooks/github" },
        "redirect_url": "https://mc.example.org/admin/setup/github/registered",
        "default_permissions": { "pull_requests": "read" },
    });
    let new_app = |path: &str| format!("{}{path}", gh.url);
    // JSON instead of a form: refused.
    let json_body = http
        .post(new_app("/settings/apps/new?state=s"))
        .json(&json!({ "manifest": manifest }))
        .send()
        .await
        .expect("post");
    assert_eq!(json_body.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // A manifest without its redirect URL, or with a permission GitHub does not know: 422.
    for bad in [
        json!({ "url": "https://x", "hook_attributes": { "url": "https://x/h" } }),
        json!({ "url": "https://x", "hook_attributes": { "url": "https://x/h" },
                "redirect_url": "https://x/r", "default_permissions": { "issues": "admin" } }),
    ] {
        let r = http
            .post(new_app("/settings/apps/new"))
            .form(&[("manifest", bad.to_string())])
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // An org that does not exist: 404.
    let r = http
        .post(new_app("/organizations/nobody/settings/apps/new"))
        .form(&[("manifest", manifest.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .post(new_app("/organizations/acme/settings/apps/new?state=st8"))
        .form(&[("manifest", manifest.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = header(&r, "location");
    assert!(location.starts_with("https://mc.example.org/admin/setup/github/registered?code="));
    assert!(location.ends_with("&state=st8"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("code")
        .to_owned();
    let convert = || {
        http.post(format!("{}/app-manifests/{code}/conversions", gh.url))
            .send()
    };
    let first = convert().await.expect("convert");
    assert_eq!(first.status(), StatusCode::CREATED);
    let app: Value = first.json().await.expect("json");
    assert_eq!(app["id"], APP_ID);
    for field in [
        "slug",
        "pem",
        "webhook_secret",
        "client_id",
        "client_secret",
    ] {
        assert!(
            app[field].as_str().is_some_and(|v| !v.is_empty()),
            "{field}"
        );
    }
    assert_eq!(
        convert().await.expect("again").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app_get(&gh, "/app", &app_jwt(APP_ID)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app_get(&gh, "/app", &app_jwt(APP_ID + 1)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
