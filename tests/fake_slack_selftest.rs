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
// Several workspaces and auth.test.
// ---------------------------------------------------------------------------------------------

const B_TOKEN: &str = "xoxb-beta";

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
