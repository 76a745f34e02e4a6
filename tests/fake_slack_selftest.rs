//! Checks the fake Slack itself, so the integration tests that lean on it can trust that it
//! answers the way slack.com/api does (and not just whatever the client happens to send).

#[path = "support/fake_slack/mod.rs"]
mod fake_slack;

use fake_slack::{FakeSlack, Model, Workspace};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-selftest";

/// A fake with one user, Mona in Berlin.
async fn fake() -> FakeSlack {
    let slack = FakeSlack::start(TOKEN).await;
    slack.with(|m| {
        m.add_user("UMONA", "mona@example.com", "Europe/Berlin", 3600);
    });
    slack
}

/// A JSON call as Slack's SDKs make it.
async fn call_json(slack: &FakeSlack, method: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{method}", slack.url))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    ok_json(response).await
}

/// A form-encoded call, JSON arguments sent as JSON text, as Slack documents.
async fn call_form(slack: &FakeSlack, method: &str, form: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{method}", slack.url))
        .bearer_auth(TOKEN)
        .form(form)
        .send()
        .await
        .expect("request");
    ok_json(response).await
}

/// A read method as slack-morphism (and Slack's docs) send it: `GET` with a query string.
async fn call_query(slack: &FakeSlack, method: &str, query: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{method}", slack.url))
        .bearer_auth(TOKEN)
        .query(query)
        .send()
        .await
        .expect("request");
    ok_json(response).await
}

/// The body of an HTTP 200, which Slack sends for errors too.
async fn ok_json(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JSON body")
}

async fn open(slack: &FakeSlack, user: &str) -> String {
    let opened = call_json(slack, "conversations.open", json!({ "users": user })).await;
    assert_eq!(opened["ok"], true, "{opened}");
    opened["channel"]["id"].as_str().expect("channel id").into()
}

#[tokio::test]
async fn calls_need_the_bot_token_and_a_known_method() {
    let slack = fake().await;
    let client = reqwest::Client::new();
    let url = format!("{}users.info", slack.url);

    let missing = client.post(&url).form(&[("user", "UMONA")]).send().await;
    let missing = ok_json(missing.expect("request")).await;
    assert_eq!(missing, json!({ "ok": false, "error": "not_authed" }));

    let wrong = client
        .post(&url)
        .bearer_auth("xoxb-someone-else")
        .form(&[("user", "UMONA")])
        .send()
        .await;
    let wrong = ok_json(wrong.expect("request")).await;
    assert_eq!(wrong, json!({ "ok": false, "error": "invalid_auth" }));

    let unknown = call_json(&slack, "chat.delete", json!({})).await;
    assert_eq!(unknown["error"], "unknown_method");

    slack.with(|m| {
        assert_eq!(m.count_calls("users.info"), 2, "refused calls are recorded");
        assert_eq!(m.calls[0].error.as_deref(), Some("not_authed"));
        assert_eq!(m.calls[1].params, json!({ "user": "UMONA" }));
    });
}

#[tokio::test]
async fn open_post_and_update_with_json_bodies() {
    let slack = fake().await;
    let channel = open(&slack, "UMONA").await;
    assert!(channel.starts_with('D'), "{channel}");
    assert_eq!(open(&slack, "UMONA").await, channel, "one DM per user");

    let blocks = json!([{ "type": "actions", "elements": [{ "type": "button", "text": { "type": "plain_text", "text": "Yes" }, "action_id": "yes" }] }]);
    let metadata = json!({ "event_type": "mergecast_message", "event_payload": { "key": "k1" } });
    let posted = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "How much AI?", "blocks": blocks, "metadata": metadata }),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    assert_eq!(posted["channel"], channel);
    let ts = posted["ts"].as_str().expect("ts").to_string();
    assert_eq!(posted["message"]["text"], "How much AI?");
    assert_eq!(posted["message"]["ts"], ts);

    let reply = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "in the thread", "thread_ts": ts }),
    )
    .await;
    let reply_ts = reply["ts"].as_str().expect("ts").to_string();
    assert!(reply_ts > ts, "ts increases: {reply_ts} after {ts}");

    let updated = call_json(
        &slack,
        "chat.update",
        json!({ "channel": channel, "ts": ts, "text": "Thanks!", "blocks": [] }),
    )
    .await;
    assert_eq!(updated["ok"], true, "{updated}");
    assert_eq!(updated["ts"], ts);
    assert_eq!(updated["text"], "Thanks!");

    let missing = call_json(
        &slack,
        "chat.update",
        json!({ "channel": channel, "ts": "1.000001", "text": "x" }),
    )
    .await;
    assert_eq!(missing["error"], "message_not_found");
    let nowhere = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": "DNOPE", "text": "x" }),
    )
    .await;
    assert_eq!(nowhere["error"], "channel_not_found");
    // Slack takes a user id as `channel` and posts into the DM with that user.
    let by_user = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": "UMONA", "text": "by user id" }),
    )
    .await;
    assert_eq!(by_user["channel"], channel, "{by_user}");
    let stranger = call_json(&slack, "conversations.open", json!({ "users": "UNOPE" })).await;
    assert_eq!(stranger["error"], "user_not_found");

    slack.with(|m| {
        let dms = m.messages_to("UMONA");
        assert_eq!(dms.len(), 3);
        assert_eq!(dms[0].text, "How much AI?", "text stays as posted");
        assert_eq!(dms[0].blocks, blocks);
        assert_eq!(dms[0].metadata.as_ref(), Some(&metadata));
        assert_eq!(dms[0].thread_ts, None);
        assert_eq!(dms[1].thread_ts.as_deref(), Some(ts.as_str()));
        assert_eq!(dms[0].updated.len(), 1);
        assert_eq!(dms[0].updated[0]["text"], "Thanks!");
        assert_eq!(dms[0].current_text(), "Thanks!");
        assert_eq!(m.count_calls("chat.postMessage"), 4);
        assert_eq!(m.count_calls("chat.update"), 2);
    });
}

#[tokio::test]
async fn open_post_and_update_with_form_bodies() {
    let slack = fake().await;
    let opened = call_form(&slack, "conversations.open", &[("users", "UMONA")]).await;
    let channel = opened["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();

    let blocks = r#"[{"type":"section","text":{"type":"mrkdwn","text":"Hi *Mona*"}}]"#;
    let metadata = r#"{"event_type":"mergecast_message","event_payload":{"key":"k2"}}"#;
    let posted = call_form(
        &slack,
        "chat.postMessage",
        &[
            ("channel", channel.as_str()),
            ("text", "Hi Mona & co"),
            ("blocks", blocks),
            ("metadata", metadata),
        ],
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    let ts = posted["ts"].as_str().expect("ts").to_string();

    let updated = call_form(
        &slack,
        "chat.update",
        &[
            ("channel", channel.as_str()),
            ("ts", ts.as_str()),
            ("text", "Bye"),
        ],
    )
    .await;
    assert_eq!(updated["ok"], true, "{updated}");

    let bad = call_form(
        &slack,
        "chat.postMessage",
        &[("channel", channel.as_str()), ("blocks", "[not json")],
    )
    .await;
    assert_eq!(bad["error"], "invalid_blocks_format");
    let empty = call_form(&slack, "chat.postMessage", &[("channel", channel.as_str())]).await;
    assert_eq!(empty["error"], "no_text");

    slack.with(|m| {
        let dms = m.messages_to("UMONA");
        assert_eq!(dms.len(), 1);
        assert_eq!(dms[0].text, "Hi Mona & co");
        assert_eq!(
            dms[0].blocks[0]["text"]["text"], "Hi *Mona*",
            "blocks parsed"
        );
        assert_eq!(
            dms[0].metadata.as_ref().expect("metadata")["event_payload"]["key"],
            "k2"
        );
        assert_eq!(dms[0].current_text(), "Bye");
        assert_eq!(dms[0].current_blocks(), &dms[0].blocks, "blocks kept");
    });
}

#[tokio::test]
async fn users_are_found_by_email_and_id() {
    let slack = fake().await;
    slack.with(|m| {
        m.add_user("UGONE", "gone@example.com", "UTC", 0).deleted = true;
    });

    let found = call_form(
        &slack,
        "users.lookupByEmail",
        &[("email", "Mona@Example.com")],
    )
    .await;
    assert_eq!(found["ok"], true, "{found}");
    let user = &found["user"];
    assert_eq!(user["id"], "UMONA");
    assert_eq!(user["tz"], "Europe/Berlin");
    assert_eq!(user["tz_offset"], 3600);
    assert_eq!(user["is_bot"], false);
    assert_eq!(user["deleted"], false);
    assert_eq!(user["profile"]["email"], "mona@example.com");

    let missing = call_query(
        &slack,
        "users.lookupByEmail",
        &[("email", "nobody@example.com")],
    )
    .await;
    assert_eq!(missing, json!({ "ok": false, "error": "users_not_found" }));
    let gone = call_query(
        &slack,
        "users.lookupByEmail",
        &[("email", "gone@example.com")],
    )
    .await;
    assert_eq!(
        gone["error"], "users_not_found",
        "deactivated: not by email"
    );

    // users.info by GET with a query string, as read methods allow.
    let info = reqwest::Client::new()
        .get(format!("{}users.info?user=UGONE", slack.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    let info = ok_json(info).await;
    assert_eq!(info["user"]["deleted"], true, "{info}");
    let unknown = call_form(&slack, "users.info", &[("user", "UNOPE")]).await;
    assert_eq!(unknown["error"], "user_not_found");
}

#[tokio::test]
async fn fail_next_fails_one_call_of_that_method() {
    let slack = fake().await;
    slack.with(|m| {
        m.fail_next
            .push(("conversations.open".into(), "internal_error".into()));
    });
    let info = call_query(&slack, "users.info", &[("user", "UMONA")]).await;
    assert_eq!(info["ok"], true, "other methods are untouched");
    let failed = call_json(&slack, "conversations.open", json!({ "users": "UMONA" })).await;
    assert_eq!(failed, json!({ "ok": false, "error": "internal_error" }));
    open(&slack, "UMONA").await;
    slack.with(|m| {
        assert!(m.fail_next.is_empty());
        assert_eq!(m.count_calls("conversations.open"), 2);
        assert!(!m.calls_to("conversations.open")[0].ok);
    });
}

#[tokio::test]
async fn rate_limit_next_answers_429_with_retry_after() {
    let slack = fake().await;
    let channel = open(&slack, "UMONA").await;
    slack.with(|m| m.rate_limit_next.push(("chat.postMessage".into(), 7)));
    let body = json!({ "channel": channel, "text": "hello" });
    let limited = reqwest::Client::new()
        .post(format!("{}chat.postMessage", slack.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "7");
    let limited: Value = limited.json().await.expect("JSON body");
    assert_eq!(limited, json!({ "ok": false, "error": "ratelimited" }));

    let retried = call_json(&slack, "chat.postMessage", body).await;
    assert_eq!(retried["ok"], true, "{retried}");
    slack.with(|m| {
        assert_eq!(m.messages_to("UMONA").len(), 1, "the 429 posted nothing");
        let statuses: Vec<u16> = m
            .calls_to("chat.postMessage")
            .iter()
            .map(|c| c.status)
            .collect();
        assert_eq!(statuses, [429, 200]);
    });
}

#[tokio::test]
async fn history_is_newest_first_with_metadata_on_request() {
    let slack = fake().await;
    let channel = open(&slack, "UMONA").await;
    let mut posted = Vec::new();
    for key in ["a", "b", "c"] {
        let metadata =
            json!({ "event_type": "mergecast_message", "event_payload": { "key": key } });
        let response = call_json(
            &slack,
            "chat.postMessage",
            json!({ "channel": channel, "text": key, "metadata": metadata }),
        )
        .await;
        posted.push(response["ts"].as_str().expect("ts").to_string());
    }
    call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "reply", "thread_ts": posted[0] }),
    )
    .await;

    let plain = call_query(&slack, "conversations.history", &[("channel", &channel)]).await;
    assert_eq!(plain["ok"], true, "{plain}");
    assert_eq!(plain["has_more"], false);
    let messages = plain["messages"].as_array().expect("messages");
    let texts: Vec<&str> = messages.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(
        texts,
        ["c", "b", "a"],
        "newest first, replies left in their thread"
    );
    assert!(messages.iter().all(|m| m.get("metadata").is_none()));
    assert_eq!(messages[2]["thread_ts"], posted[0]);
    assert_eq!(messages[2]["reply_count"], 1);

    let with_metadata = call_form(
        &slack,
        "conversations.history",
        &[
            ("channel", channel.as_str()),
            ("limit", "2"),
            ("include_all_metadata", "true"),
        ],
    )
    .await;
    let messages = with_metadata["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(with_metadata["has_more"], true);
    assert_eq!(messages[0]["ts"], posted[2]);
    assert_eq!(messages[0]["metadata"]["event_payload"]["key"], "c");
    assert_eq!(messages[0]["metadata"]["event_type"], "mergecast_message");

    let cursor = with_metadata["response_metadata"]["next_cursor"]
        .as_str()
        .expect("cursor");
    let rest = call_query(
        &slack,
        "conversations.history",
        &[("channel", &channel), ("limit", "2"), ("cursor", cursor)],
    )
    .await;
    assert_eq!(rest["messages"][0]["text"], "a");
    assert_eq!(rest["has_more"], false);

    let nowhere = call_query(&slack, "conversations.history", &[("channel", "DNOPE")]).await;
    assert_eq!(nowhere["error"], "channel_not_found");
}

#[tokio::test]
async fn json_without_charset_gets_slacks_warning() {
    let slack = fake().await;
    let response = reqwest::Client::new()
        .post(format!("{}conversations.open", slack.url))
        .bearer_auth(TOKEN)
        .json(&json!({ "users": "UMONA" }))
        .send()
        .await
        .expect("request");
    let body = ok_json(response).await;
    assert_eq!(body["ok"], true);
    assert_eq!(body["warning"], "missing_charset");
}

/// Slack's read methods do not read JSON bodies ("Accepted content types" on each method's
/// page lists only `application/x-www-form-urlencoded`): the arguments are simply missing, and
/// each method answers as it does without them.
#[tokio::test]
async fn read_methods_ignore_a_json_body() {
    let slack = fake().await;
    let channel = open(&slack, "UMONA").await;

    let by_email = call_json(
        &slack,
        "users.lookupByEmail",
        json!({ "email": "mona@example.com" }),
    )
    .await;
    assert_eq!(by_email["ok"], false, "{by_email}");
    assert_eq!(by_email["error"], "invalid_arguments");

    let info = call_json(&slack, "users.info", json!({ "user": "UMONA" })).await;
    assert_eq!(info, json!({ "ok": false, "error": "user_not_found" }));

    let history = call_json(
        &slack,
        "conversations.history",
        json!({ "channel": channel, "include_all_metadata": true }),
    )
    .await;
    assert_eq!(
        history,
        json!({ "ok": false, "error": "channel_not_found" })
    );

    // The same arguments in a query string or a form body are read.
    let found = call_query(
        &slack,
        "users.lookupByEmail",
        &[("email", "mona@example.com")],
    )
    .await;
    assert_eq!(found["user"]["id"], "UMONA");
    let found = call_form(&slack, "users.info", &[("user", "UMONA")]).await;
    assert_eq!(found["user"]["id"], "UMONA");
    let found = call_form(&slack, "conversations.history", &[("channel", &channel)]).await;
    assert_eq!(found["ok"], true, "{found}");

    // Write methods take JSON.
    let posted = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "hello" }),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
}

/// `conversations.open` takes `users` as a comma-separated string (its reference page); the docs
/// allow no JSON array, so the fake refuses one, as slack-morphism's typed request would send.
#[tokio::test]
async fn conversations_open_wants_users_as_a_string() {
    let slack = fake().await;
    let array = call_json(&slack, "conversations.open", json!({ "users": ["UMONA"] })).await;
    assert_eq!(array["ok"], false, "{array}");
    assert_eq!(array["error"], "invalid_arguments");
    slack.with(|m| assert!(m.channels.is_empty(), "no DM opened"));
    let string = call_json(&slack, "conversations.open", json!({ "users": "UMONA" })).await;
    assert_eq!(string["ok"], true, "{string}");
}

/// `conversations.replies` returns a thread (parent first, replies oldest first), with metadata
/// only when asked; `conversations.history` never returns the replies.
#[tokio::test]
async fn replies_carry_metadata_only_when_asked() {
    let slack = fake().await;
    let channel = open(&slack, "UMONA").await;
    let metadata =
        |key: &str| json!({ "event_type": "mergecast_message", "event_payload": { "key": key } });
    let parent = call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "ask", "metadata": metadata("ask") }),
    )
    .await;
    let parent_ts = parent["ts"].as_str().expect("ts").to_owned();
    call_json(
        &slack,
        "chat.postMessage",
        json!({ "channel": channel, "text": "reveal", "thread_ts": parent_ts, "metadata": metadata("reveal") }),
    )
    .await;

    let history = call_query(
        &slack,
        "conversations.history",
        &[("channel", &channel), ("include_all_metadata", "true")],
    )
    .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["ask"], "history has no thread replies");

    let plain = call_query(
        &slack,
        "conversations.replies",
        &[("channel", &channel), ("ts", &parent_ts)],
    )
    .await;
    let messages = plain["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["text"], "reveal");
    assert!(messages.iter().all(|m| m.get("metadata").is_none()));

    let with_metadata = call_query(
        &slack,
        "conversations.replies",
        &[
            ("channel", &channel),
            ("ts", &parent_ts),
            ("include_all_metadata", "true"),
        ],
    )
    .await;
    assert_eq!(
        with_metadata["messages"][1]["metadata"]["event_payload"]["key"],
        "reveal"
    );

    let no_ts = call_query(&slack, "conversations.replies", &[("channel", &channel)]).await;
    assert_eq!(no_ts, json!({ "ok": false, "error": "thread_not_found" }));
    let json_body = call_json(
        &slack,
        "conversations.replies",
        json!({ "channel": channel, "ts": parent_ts }),
    )
    .await;
    assert_eq!(
        json_body["error"], "channel_not_found",
        "a JSON body is not read"
    );
}

/// `conversations.list` (https://docs.slack.dev/reference/methods/conversations.list): a read
/// method (query string or form; a JSON body is not read), `types` (default public channels
/// only; private ones only to members), `exclude_archived`, and cursor pages of `limit`
/// (default 100, at most 1000) ending with an empty `next_cursor`.
#[tokio::test]
async fn conversations_list_pages_by_cursor_and_filters_by_type() {
    let slack = fake().await;
    slack.with(|m| {
        for i in 0..150 {
            m.add_channel(&format!("C{i:04}"), &format!("chan-{i:04}"), false);
        }
        m.add_channel("GSECRET", "secret", true);
        m.add_channel("GOTHER", "not-ours", true).is_member = false;
        m.add_channel("COLD", "old", false).is_archived = true;
    });

    // Defaults: public channels, archived included, 100 per page.
    let first = call_query(&slack, "conversations.list", &[]).await;
    assert_eq!(first["ok"], true, "{first}");
    let page = first["channels"].as_array().expect("channels");
    assert_eq!(page.len(), 100);
    assert!(page.iter().all(|c| c["is_private"] == false));
    assert!(page[0]["created"].is_i64() && page[0]["name"] == "chan-0000");
    let cursor = first["response_metadata"]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    assert!(!cursor.is_empty());
    let second = call_form(&slack, "conversations.list", &[("cursor", cursor.as_str())]).await;
    let rest = second["channels"].as_array().expect("channels");
    assert_eq!(rest.len(), 51, "50 more and the archived one");
    assert_eq!(second["response_metadata"]["next_cursor"], "");

    // Both types, archived left out: the private channel the bot is in, never the other one.
    let all = call_query(
        &slack,
        "conversations.list",
        &[
            ("types", "public_channel,private_channel"),
            ("exclude_archived", "true"),
            ("limit", "1000"),
        ],
    )
    .await;
    let ids: Vec<&str> = all["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 151);
    assert!(ids.contains(&"GSECRET"));
    assert!(!ids.contains(&"GOTHER") && !ids.contains(&"COLD"));

    for (args, error) in [
        (vec![("limit", "0")], "invalid_limit"),
        (vec![("limit", "1001")], "invalid_limit"),
        (vec![("types", "public_channel,rooms")], "invalid_types"),
        (vec![("cursor", "bogus")], "invalid_cursor"),
    ] {
        let refused = call_query(&slack, "conversations.list", &args).await;
        assert_eq!(refused["error"], error, "{args:?}");
    }

    // A JSON body is not read: its `limit` and `types` count for nothing.
    let json_body = call_json(
        &slack,
        "conversations.list",
        json!({ "limit": 1, "types": "private_channel" }),
    )
    .await;
    assert_eq!(json_body["channels"].as_array().map(Vec::len), Some(100));
}

// ---------------------------------------------------------------------------------------------
// Several workspaces, auth.test, the OAuth v2 install flow and Events API payloads.
// ---------------------------------------------------------------------------------------------

const B_TOKEN: &str = "xoxb-beta";
const CLIENT_ID: &str = "1234567890.0987654321";
const CLIENT_SECRET: &str = "s3cr3t";
const REDIRECT: &str = "https://app.example/slack";
const SCOPES: &str = "chat:write,im:write,users:read,users:read.email";

/// [`fake`] plus a second workspace, Beta Corp (`T0B`), with one user, Ben.
async fn two_workspaces() -> (FakeSlack, Workspace) {
    let slack = fake().await;
    let beta = slack.add_workspace("T0B", "Beta Corp", B_TOKEN);
    beta.with(|m| {
        m.add_user("UBEN", "ben@beta.example", "UTC", 0);
    });
    (slack, beta)
}

/// A form call with any token (or none).
async fn call_as(
    slack: &FakeSlack,
    token: Option<&str>,
    method: &str,
    form: &[(&str, &str)],
) -> Value {
    let mut request = reqwest::Client::new().post(format!("{}{method}", slack.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    ok_json(request.form(form).send().await.expect("request")).await
}

/// A client that shows redirects instead of following them, as a test of Slack's pages needs.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A fake with Beta Corp and the app configured with one Redirect URL.
async fn oauth_fake() -> (FakeSlack, Workspace) {
    let (slack, beta) = two_workspaces().await;
    slack.set_oauth_app(CLIENT_ID, CLIENT_SECRET, &[REDIRECT]);
    (slack, beta)
}

async fn authorize_get(slack: &FakeSlack, query: &[(&str, &str)]) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(format!("{}/oauth/v2/authorize", slack.web_url))
        .query(query)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

/// Posts the consent form; returns the status and the `Location` (if any) or the page.
async fn authorize_post(slack: &FakeSlack, form: &[(&str, &str)]) -> (StatusCode, String) {
    let response = no_redirects()
        .post(format!("{}/oauth/v2/authorize", slack.web_url))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = response.status();
    match response.headers().get("location") {
        Some(location) => (status, location.to_str().expect("location").to_string()),
        None => (status, response.text().await.expect("body")),
    }
}

/// The query arguments of a redirect `Location`.
fn location_args(location: &str) -> Vec<(String, String)> {
    url::Url::parse(location)
        .expect("location URL")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn arg<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The hidden fields of the consent form, as a browser would submit them.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once("value=\"")?.1.split_once('"')?.0;
            Some((name.to_string(), unescape(value)))
        })
        .collect()
}

/// Approves an install of the app into `team`; returns the code.
async fn install(slack: &FakeSlack, team: &str, redirect_uri: Option<&str>, state: &str) -> String {
    let mut form = vec![
        ("client_id", CLIENT_ID),
        ("scope", SCOPES),
        ("state", state),
        ("team", team),
        ("decision", "allow"),
    ];
    if let Some(redirect_uri) = redirect_uri {
        form.push(("redirect_uri", redirect_uri));
    }
    let (status, location) = authorize_post(slack, &form).await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    let args = location_args(&location);
    assert_eq!(arg(&args, "state"), Some(state));
    arg(&args, "code").expect("code").to_string()
}

/// `oauth.v2.access` as slack-morphism sends it: `GET` with a query string, Basic auth.
async fn access(slack: &FakeSlack, id: &str, secret: &str, query: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}oauth.v2.access", slack.url))
        .basic_auth(id, Some(secret))
        .query(query)
        .send()
        .await
        .expect("request");
    ok_json(response).await
}

/// Web API calls run against the workspace their token belongs to: a DM opened with Beta's
/// token is Beta's alone, ids never collide, and each workspace logs its own calls.
#[tokio::test]
async fn workspaces_are_chosen_by_the_bearer_token() {
    let (slack, beta) = two_workspaces().await;
    assert_eq!(beta.team_id(), "T0B");
    assert_eq!(slack.default_workspace().team_id(), "T0FAKE0001");
    assert_eq!(slack.workspace("T0B").expect("Beta").team_id(), "T0B");
    assert!(slack.workspace("T0NOPE").is_none());

    let opened = call_as(
        &slack,
        Some(B_TOKEN),
        "conversations.open",
        &[("users", "UBEN")],
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    let ben_dm = opened["channel"]["id"]
        .as_str()
        .expect("channel")
        .to_string();
    let mona_dm = open(&slack, "UMONA").await;
    assert!(
        ben_dm.starts_with('D') && ben_dm != mona_dm,
        "{ben_dm} vs {mona_dm}"
    );
    // Each workspace knows only its own members.
    let stranger = call_as(
        &slack,
        Some(B_TOKEN),
        "conversations.open",
        &[("users", "UMONA")],
    )
    .await;
    assert_eq!(stranger["error"], "user_not_found");
    let stranger = call_as(
        &slack,
        Some(TOKEN),
        "conversations.open",
        &[("users", "UBEN")],
    )
    .await;
    assert_eq!(stranger["error"], "user_not_found");

    let in_beta = call_as(
        &slack,
        Some(B_TOKEN),
        "chat.postMessage",
        &[("channel", &ben_dm), ("text", "hi Ben")],
    )
    .await;
    assert_eq!(in_beta["ok"], true, "{in_beta}");
    assert_eq!(in_beta["message"]["user"], "U0BBOT");
    let in_default = call_form(
        &slack,
        "chat.postMessage",
        &[("channel", &mona_dm), ("text", "hi Mona")],
    )
    .await;
    assert_eq!(in_default["message"]["user"], "U0FAKEBOT1");
    assert_ne!(
        in_beta["ts"], in_default["ts"],
        "ts unique across workspaces"
    );
    // Beta's DM is not a channel of the default workspace.
    let elsewhere = call_form(
        &slack,
        "chat.postMessage",
        &[("channel", &ben_dm), ("text", "x")],
    )
    .await;
    assert_eq!(elsewhere["error"], "channel_not_found");

    beta.with(|m| {
        assert_eq!(m.dm_channel("UBEN"), Some(ben_dm.as_str()));
        assert_eq!(m.messages_to("UBEN").len(), 1);
        assert_eq!(m.count_calls("conversations.open"), 2);
        assert_eq!(m.count_calls("chat.postMessage"), 1);
        assert_ne!(m.bot_id, "B0FAKEBOT1");
        assert_eq!(m.app_id, "A0FAKEAPP1", "one app, installed twice");
    });
    slack.with(|m| {
        assert_eq!(m.dm_channel("UBEN"), None);
        assert_eq!(m.messages_to("UMONA").len(), 1);
        assert_eq!(m.count_calls("conversations.open"), 2);
        assert_eq!(m.count_calls("chat.postMessage"), 2);
        assert!(m.messages.iter().all(|msg| msg.text != "hi Ben"));
    });
}

/// No token is `not_authed` and an unknown one `invalid_auth` (logged in the default
/// workspace); a revoked one is `token_revoked` (logged in its workspace); a replaced one is
/// just unknown.
#[tokio::test]
async fn unknown_revoked_and_replaced_tokens_are_refused() {
    let (slack, beta) = two_workspaces().await;
    let none = call_as(&slack, None, "auth.test", &[]).await;
    assert_eq!(none, json!({ "ok": false, "error": "not_authed" }));
    let unknown = call_as(&slack, Some("xoxb-nobody"), "auth.test", &[]).await;
    assert_eq!(unknown, json!({ "ok": false, "error": "invalid_auth" }));

    beta.with(Model::revoke_bot_token);
    beta.with(|m| {
        assert_eq!(m.bot_token, "");
        assert_eq!(m.revoked_tokens, [B_TOKEN]);
    });
    let revoked = call_as(&slack, Some(B_TOKEN), "users.info", &[("user", "UBEN")]).await;
    assert_eq!(revoked, json!({ "ok": false, "error": "token_revoked" }));

    slack.with(|m| m.bot_token = "xoxb-rotated".into());
    let replaced = call_as(&slack, Some(TOKEN), "auth.test", &[]).await;
    assert_eq!(replaced["error"], "invalid_auth");
    let current = call_as(&slack, Some("xoxb-rotated"), "auth.test", &[]).await;
    assert_eq!(current["ok"], true, "{current}");

    slack.with(|m| {
        let errors: Vec<Option<&str>> = m.calls.iter().map(|c| c.error.as_deref()).collect();
        assert_eq!(
            errors,
            [
                Some("not_authed"),
                Some("invalid_auth"),
                Some("invalid_auth"),
                None
            ]
        );
    });
    beta.with(|m| {
        assert_eq!(m.calls.len(), 1);
        assert_eq!(m.calls[0].error.as_deref(), Some("token_revoked"));
    });
}

/// `auth.test` says which workspace and bot a token speaks for.
#[tokio::test]
async fn auth_test_names_the_tokens_workspace() {
    let (slack, _beta) = two_workspaces().await;
    let default = call_as(&slack, Some(TOKEN), "auth.test", &[]).await;
    assert_eq!(
        default,
        json!({
            "ok": true,
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "mergecast",
            "team_id": "T0FAKE0001",
            "user_id": "U0FAKEBOT1",
            "bot_id": "B0FAKEBOT1",
            "is_enterprise_install": false,
        })
    );
    let beta = reqwest::Client::new()
        .get(format!("{}auth.test", slack.url))
        .bearer_auth(B_TOKEN)
        .send()
        .await
        .expect("request");
    let beta = ok_json(beta).await;
    assert_eq!(beta["team"], "Beta Corp");
    assert_eq!(beta["team_id"], "T0B");
    assert_eq!(beta["url"], "https://beta-corp.slack.com/");
    assert_eq!(beta["user_id"], "U0BBOT");
    assert_eq!(beta["bot_id"], "B0BBOT");
}

/// The whole install over HTTP: the consent page, Allow, the redirect with `code` and `state`,
/// and `oauth.v2.access` with Basic auth handing out Beta's bot token.
#[tokio::test]
async fn oauth_install_flow_hands_out_the_chosen_workspaces_token() {
    let (slack, beta) = oauth_fake().await;
    let redirect_uri = format!("{REDIRECT}/oauth");
    let (status, page) = authorize_get(
        &slack,
        &[
            ("client_id", CLIENT_ID),
            ("scope", SCOPES),
            ("redirect_uri", &redirect_uri),
            ("state", "st&1"),
            ("team", "T0B"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(
            "<title>Mergecast is requesting permission to access the Beta Corp Slack workspace</title>"
        ),
        "{page}"
    );
    assert!(page.contains("<form method=\"post\" action=\"/oauth/v2/authorize\">"));
    assert!(page.contains("<select name=\"team\""));
    assert!(page.contains("<option value=\"T0B\" selected>Beta Corp</option>"));
    assert!(page.contains("<option value=\"T0FAKE0001\">Fake Workspace</option>"));
    for scope in SCOPES.split(',') {
        assert!(
            page.contains(&format!("<li><code>{scope}</code></li>")),
            "{scope}"
        );
    }
    assert!(page.contains("<button name=\"decision\" value=\"allow\" id=\"allow\">Allow</button>"));
    assert!(page.contains("<button name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button>"));
    let hidden = hidden_fields(&page);
    assert_eq!(arg(&hidden, "client_id"), Some(CLIENT_ID));
    assert_eq!(arg(&hidden, "scope"), Some(SCOPES));
    assert_eq!(arg(&hidden, "redirect_uri"), Some(redirect_uri.as_str()));
    assert_eq!(arg(&hidden, "state"), Some("st&1"));

    // Submit the form as a browser would: hidden fields, the selected team, the Allow button.
    let mut form: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    form.extend([("team", "T0B"), ("decision", "allow")]);
    let (status, location) = authorize_post(&slack, &form).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location.starts_with(&format!("{redirect_uri}?code=")),
        "{location}"
    );
    let args = location_args(&location);
    assert_eq!(arg(&args, "state"), Some("st&1"));
    let code = arg(&args, "code").expect("code").to_string();
    let scopes: Vec<String> = SCOPES.split(',').map(String::from).collect();
    assert_eq!(slack.oauth_installs(), [("T0B".to_string(), scopes)]);

    let granted = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("code", &code), ("redirect_uri", &redirect_uri)],
    )
    .await;
    assert_eq!(
        granted,
        json!({
            "ok": true,
            "access_token": B_TOKEN,
            "token_type": "bot",
            "scope": SCOPES,
            "bot_user_id": "U0BBOT",
            "app_id": "A0FAKEAPP1",
            "team": { "name": "Beta Corp", "id": "T0B" },
            "enterprise": null,
            "authed_user": { "id": "U0BADM" },
            "is_enterprise_install": false,
        })
    );
    let who = call_as(&slack, Some(B_TOKEN), "auth.test", &[]).await;
    assert_eq!(who["team_id"], "T0B");

    beta.with(|m| {
        let calls = m.calls_to("oauth.v2.access");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].http_method, "GET");
        assert_eq!(
            calls[0].params,
            json!({ "code": code, "redirect_uri": redirect_uri })
        );
        assert_eq!(calls[0].response["access_token"], "<redacted>");
    });
    slack.with(|m| assert_eq!(m.count_calls("oauth.v2.access"), 0));
}

/// A workspace whose token was revoked gets a new one when the app is installed again.
#[tokio::test]
async fn reinstalling_after_revocation_hands_out_a_new_token() {
    let (slack, beta) = oauth_fake().await;
    beta.with(Model::revoke_bot_token);
    let code = install(&slack, "T0B", None, "s").await;
    let granted = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", &code)]).await;
    let token = granted["access_token"].as_str().expect("token").to_string();
    assert!(token.starts_with("xoxb-") && token != B_TOKEN, "{token}");
    assert_eq!(beta.with(|m| m.bot_token.clone()), token);
    let old = call_as(&slack, Some(B_TOKEN), "auth.test", &[]).await;
    assert_eq!(old["error"], "token_revoked");
    let new = call_as(&slack, Some(&token), "auth.test", &[]).await;
    assert_eq!(new["team_id"], "T0B");
}

/// `/oauth/v2/authorize` refuses what Slack refuses, with an error page naming the error.
#[tokio::test]
async fn authorize_refuses_bad_requests_with_an_error_page() {
    let (slack, _beta) = oauth_fake().await;
    let base = [
        ("client_id", CLIENT_ID),
        ("scope", "chat:write"),
        ("redirect_uri", REDIRECT),
    ];
    let with = |name: &'static str, value: &'static str| -> Vec<(&'static str, &'static str)> {
        let mut query: Vec<_> = base.iter().copied().filter(|(n, _)| *n != name).collect();
        if !value.is_empty() {
            query.push((name, value));
        }
        query
    };
    let cases = [
        (with("client_id", "999.999"), "invalid_client_id"),
        (with("client_id", ""), "invalid_client_id"),
        (
            with("redirect_uri", "https://evil.example/slack"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "https://app.example/slackers"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "https://app.example/other"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "http://app.example/slack"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "https://app.example:8443/slack"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "https://app.example/slack?x=1"),
            "bad_redirect_uri",
        ),
        (
            with("redirect_uri", "https://app.example/slack#x"),
            "bad_redirect_uri",
        ),
        (with("scope", ""), "invalid_scope"),
        (with("scope", "chat:write,admin"), "invalid_scope"),
        (with("scope", "chat:write, im:write"), "invalid_scope"),
        (with("scope", "chat:write,"), "invalid_scope"),
        (with("team", "T0NOPE"), "fake_slack_unknown_team"),
    ];
    for (query, error) in cases {
        let (status, page) = authorize_get(&slack, &query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query:?}");
        assert!(
            page.contains(&format!("<code id=\"error\">{error}</code>")),
            "{query:?}: {page}"
        );
    }
    let mut user_scope = base.to_vec();
    user_scope.push(("user_scope", "chat:write"));
    let (status, page) = authorize_get(&slack, &user_scope).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("fake_slack_does_not_model_user_scopes"),
        "{page}"
    );

    // Accepted: the registered URL itself, a subdirectory of it, or none (the first one).
    for redirect in [REDIRECT, "https://app.example/slack/oauth/callback", ""] {
        let (status, page) = authorize_get(&slack, &with("redirect_uri", redirect)).await;
        assert_eq!(status, StatusCode::OK, "{redirect}: {page}");
    }

    // A fake with no app configured knows no client id.
    let bare = FakeSlack::start(TOKEN).await;
    let (status, page) = authorize_get(&bare, &base).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("invalid_client_id"));
}

/// Cancel sends the user back with `error=access_denied` and the `state`; nothing is
/// installed. The decision is checked like the page was.
#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let (slack, _beta) = oauth_fake().await;
    let form = [
        ("client_id", CLIENT_ID),
        ("scope", "chat:write"),
        ("redirect_uri", REDIRECT),
        ("state", "st-2"),
        ("team", "T0B"),
        ("decision", "deny"),
    ];
    let (status, location) = authorize_post(&slack, &form).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        location,
        format!("{REDIRECT}?error=access_denied&state=st-2")
    );
    assert!(slack.oauth_installs().is_empty());

    // Without `redirect_uri` Slack uses the first Redirect URL.
    let without: Vec<(&str, &str)> = form
        .iter()
        .copied()
        .filter(|(name, _)| *name != "redirect_uri")
        .collect();
    let (_, location) = authorize_post(&slack, &without).await;
    assert_eq!(
        location,
        format!("{REDIRECT}?error=access_denied&state=st-2")
    );

    let mut tampered = form.to_vec();
    tampered[2] = ("redirect_uri", "https://evil.example/");
    let (status, page) = authorize_post(&slack, &tampered).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("bad_redirect_uri"));
    let mut undecided = form.to_vec();
    undecided.pop();
    let (status, _) = authorize_post(&slack, &undecided).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut nowhere = form.to_vec();
    nowhere[4] = ("team", "T0NOPE");
    nowhere[5] = ("decision", "allow");
    let (status, page) = authorize_post(&slack, &nowhere).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("fake_slack_unknown_team"));
    assert!(slack.oauth_installs().is_empty());
}

/// `oauth.v2.access` refuses as its reference page lists: bad client id or secret, a code that
/// is unknown, used or expired, a `redirect_uri` that differs from the authorize step's; and,
/// being form-only, it does not read a JSON body.
#[tokio::test]
async fn oauth_v2_access_refuses_what_slack_refuses() {
    let (slack, _beta) = oauth_fake().await;
    let refused = |v: &Value| v["error"].as_str().map(str::to_string);

    let code = install(&slack, "T0B", Some(REDIRECT), "s").await;
    let q = [("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let bad_id = access(&slack, "999.999", CLIENT_SECRET, &q).await;
    assert_eq!(bad_id, json!({ "ok": false, "error": "invalid_client_id" }));
    let bad_secret = access(&slack, CLIENT_ID, "wrong", &q).await;
    assert_eq!(refused(&bad_secret).as_deref(), Some("bad_client_secret"));
    let no_credentials = ok_json(
        reqwest::Client::new()
            .get(format!("{}oauth.v2.access", slack.url))
            .query(&q)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        refused(&no_credentials).as_deref(),
        Some("invalid_client_id")
    );
    let no_code = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("redirect_uri", REDIRECT)],
    )
    .await;
    assert_eq!(refused(&no_code).as_deref(), Some("invalid_code"));
    let unknown = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", "1.2.3")]).await;
    assert_eq!(refused(&unknown).as_deref(), Some("invalid_code"));
    let grant = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("grant_type", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(refused(&grant).as_deref(), Some("invalid_grant_type"));

    // The refusals above left the code unused; the first exchange uses it up.
    let first = access(&slack, CLIENT_ID, CLIENT_SECRET, &q).await;
    assert_eq!(first["ok"], true, "{first}");
    let reused = access(&slack, CLIENT_ID, CLIENT_SECRET, &q).await;
    assert_eq!(refused(&reused).as_deref(), Some("invalid_code"));

    // redirect_uri: the same as at authorize, or absent on both sides.
    let code = install(&slack, "T0B", Some(REDIRECT), "s").await;
    let missing = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", &code)]).await;
    assert_eq!(refused(&missing).as_deref(), Some("bad_redirect_uri"));
    let after = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    assert_eq!(
        refused(&after).as_deref(),
        Some("invalid_code"),
        "a refused exchange used the code"
    );
    let code = install(&slack, "T0B", Some(REDIRECT), "s").await;
    let other = format!("{REDIRECT}/elsewhere");
    let differs = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("code", &code), ("redirect_uri", &other)],
    )
    .await;
    assert_eq!(refused(&differs).as_deref(), Some("bad_redirect_uri"));
    let code = install(&slack, "T0B", None, "s").await;
    let added = access(
        &slack,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("code", &code), ("redirect_uri", REDIRECT)],
    )
    .await;
    assert_eq!(refused(&added).as_deref(), Some("bad_redirect_uri"));
    let code = install(&slack, "T0B", None, "s").await;
    let neither = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", &code)]).await;
    assert_eq!(neither["ok"], true, "{neither}");

    // Codes live ten minutes.
    let fresh = install(&slack, "T0B", None, "s").await;
    slack.age_oauth_codes(std::time::Duration::from_secs(9 * 60));
    let stale = install(&slack, "T0B", None, "s").await;
    slack.age_oauth_codes(std::time::Duration::from_secs(60));
    let expired = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", &fresh)]).await;
    assert_eq!(refused(&expired).as_deref(), Some("invalid_code"));
    let in_time = access(&slack, CLIENT_ID, CLIENT_SECRET, &[("code", &stale)]).await;
    assert_eq!(in_time["ok"], true, "{in_time}");

    // Credentials as arguments in a form body work; the same in a JSON body are not read.
    let code = install(&slack, "T0B", None, "s").await;
    let as_json = ok_json(
        reqwest::Client::new()
            .post(format!("{}oauth.v2.access", slack.url))
            .header("content-type", "application/json; charset=utf-8")
            .body(
                json!({ "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "code": code })
                    .to_string(),
            )
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(refused(&as_json).as_deref(), Some("invalid_client_id"));
    let json_code = ok_json(
        reqwest::Client::new()
            .post(format!("{}oauth.v2.access", slack.url))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .json(&json!({ "code": code }))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(refused(&json_code).as_deref(), Some("invalid_code"));
    let as_form = ok_json(
        reqwest::Client::new()
            .post(format!("{}oauth.v2.access", slack.url))
            .form(&[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("code", &code),
            ])
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(as_form["access_token"], B_TOKEN, "{as_form}");

    slack.with(|m| {
        // Calls without a known code are logged in the default workspace, never the secret.
        assert!(
            m.calls_to("oauth.v2.access")
                .iter()
                .all(|c| c.params.get("client_secret").is_none())
        );
    });
    assert!(
        slack
            .default_workspace()
            .with(|m| m.count_calls("oauth.v2.access"))
            >= 3
    );
}

/// slack-morphism's `oauth2_access` (a `GET` with `code` and `redirect_uri` in the query
/// string and Basic auth), with the connector built as `SlackClient::new` builds it, gets the
/// workspace's token; a reused code comes back as Slack's `invalid_code`.
#[tokio::test]
async fn slack_morphism_exchanges_a_code() {
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;

    let (slack, _beta) = oauth_fake().await;
    let code = install(&slack, "T0B", Some(REDIRECT), "s").await;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    let api_url = slack.url.trim_end_matches('/').to_owned();
    let connector = SlackClientHyperConnector::with_connector(https).with_slack_api_url(&api_url);
    let client = slack_morphism::SlackClient::new(connector);
    let request = SlackOAuthV2AccessTokenRequest::new(
        SlackClientId(CLIENT_ID.into()),
        SlackClientSecret(CLIENT_SECRET.into()),
        SlackOAuthCode(code.clone()),
    )
    .with_redirect_uri(url::Url::parse(REDIRECT).expect("url"));
    let granted = client.oauth2_access(&request).await.expect("oauth2_access");
    assert_eq!(granted.access_token.0, B_TOKEN);
    assert_eq!(granted.team.id.0, "T0B");
    assert_eq!(granted.team.name.as_deref(), Some("Beta Corp"));
    assert_eq!(granted.bot_user_id.map(|u| u.0).as_deref(), Some("U0BBOT"));
    assert_eq!(granted.scope.0, SCOPES);

    match client.oauth2_access(&request).await {
        Err(SlackClientError::ApiError(e)) => assert_eq!(e.code, "invalid_code"),
        other => panic!("reused code: {other:?}"),
    }

    let token = SlackApiToken::new(granted.access_token);
    let session = client.open_session(&token);
    let who = session.auth_test().await.expect("auth.test");
    assert_eq!(who.team_id.0, "T0B");
    assert_eq!(who.team, "Beta Corp");
    assert_eq!(who.user_id.0, "U0BBOT");
}

/// The Events API payloads are the envelopes Slack documents, and slack-morphism reads them.
#[test]
fn event_payloads_deserialize_as_slack_push_events() {
    use slack_morphism::prelude::{SlackEventCallbackBody, SlackPushEvent};

    let verification = fake_slack::url_verification("ch4llenge");
    assert_eq!(
        verification,
        json!({ "token": "fake-verification-token", "challenge": "ch4llenge", "type": "url_verification" })
    );
    match serde_json::from_value::<SlackPushEvent>(verification).expect("url_verification") {
        SlackPushEvent::UrlVerification(v) => assert_eq!(v.challenge, "ch4llenge"),
        other => panic!("{other:?}"),
    }

    let uninstalled = fake_slack::app_uninstalled("T0B", "A0FAKEAPP1");
    for field in [
        "token",
        "team_id",
        "api_app_id",
        "event_id",
        "event_time",
        "authorizations",
    ] {
        assert!(uninstalled.get(field).is_some(), "{field}");
    }
    assert_eq!(uninstalled["type"], "event_callback");
    assert_eq!(uninstalled["event"], json!({ "type": "app_uninstalled" }));
    assert_eq!(uninstalled["authorizations"][0]["user_id"], "U0BBOT");
    assert!(
        uninstalled["event_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("Ev"))
    );
    match serde_json::from_value::<SlackPushEvent>(uninstalled).expect("app_uninstalled") {
        SlackPushEvent::EventCallback(cb) => {
            assert_eq!(cb.team_id.0, "T0B");
            assert_eq!(cb.api_app_id.0, "A0FAKEAPP1");
            assert!(
                matches!(cb.event, SlackEventCallbackBody::AppUninstalled(_)),
                "{:?}",
                cb.event
            );
        }
        other => panic!("{other:?}"),
    }

    let revoked = fake_slack::tokens_revoked("T0FAKE0001", "A0FAKEAPP1", &["U0FAKEBOT1"]);
    assert_eq!(
        revoked["event"],
        json!({ "type": "tokens_revoked", "tokens": { "oauth": [], "bot": ["U0FAKEBOT1"] } })
    );
    let (a, b) = (
        fake_slack::app_uninstalled("T0B", "A0FAKEAPP1"),
        fake_slack::app_uninstalled("T0B", "A0FAKEAPP1"),
    );
    assert_ne!(a["event_id"], b["event_id"], "fresh event ids");
    match serde_json::from_value::<SlackPushEvent>(revoked).expect("tokens_revoked") {
        SlackPushEvent::EventCallback(cb) => match cb.event {
            SlackEventCallbackBody::Unknown(event) => {
                assert_eq!(event["tokens"]["bot"], json!(["U0FAKEBOT1"]));
            }
            other => panic!("tokens_revoked is not modelled by slack-morphism: {other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
