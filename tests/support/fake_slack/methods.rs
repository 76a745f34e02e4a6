//! The Web API methods the fake serves, each as its reference page documents it
//! (https://docs.slack.dev/reference/methods/<method>): auth.test, conversations.open,
//! chat.postMessage, chat.update, users.lookupByEmail, users.info, conversations.history,
//! conversations.replies and conversations.list (oauth.v2.access is in `oauth`).

use serde_json::{Value, json};

use super::http::{Args, Reply};
use super::model::{Message, Model};
use super::{DEFAULT_HISTORY_LIMIT, DEFAULT_LIST_LIMIT, MAX_HISTORY_LIMIT, MAX_LIST_LIMIT};

/// Who the token speaks as (https://docs.slack.dev/reference/methods/auth.test): the
/// workspace's URL and name, the bot user's handle and id, the bot id. It takes no arguments
/// (and reads no JSON body), so `args` is unused.
pub(super) fn auth_test(model: &mut Model, _args: &Args) -> Result<Reply, Reply> {
    Ok(Reply::ok(json!({
        "url": format!("https://{}.slack.com/", model.team_domain()),
        "team": model.team_name,
        "user": model.bot_name,
        "team_id": model.team_id,
        "user_id": model.bot_user_id,
        "bot_id": model.bot_id,
        "is_enterprise_install": false,
    })))
}

pub(super) fn conversations_open(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    // `users`: "Comma separated lists of users" (a string), per
    // https://docs.slack.dev/reference/methods/conversations.open. The docs allow no JSON
    // array here, so the fake refuses one (strict where the docs are silent).
    if let Some(users) = args.0.get("users")
        && !users.is_string()
    {
        return Err(Reply::invalid("users", "expected a comma-separated string"));
    }
    let Some(users) = args.str("users") else {
        // Resuming by channel id instead of users.
        let Some(channel) = args.str("channel") else {
            return Err(Reply::error("users_list_not_supplied"));
        };
        if !model.is_dm_channel(&channel) {
            return Err(Reply::error("channel_not_found"));
        }
        return Ok(Reply::ok(json!({
            "no_op": true, "already_open": true, "channel": { "id": channel },
        })));
    };
    let ids: Vec<&str> = users.split(',').map(str::trim).collect();
    let [user_id] = ids.as_slice() else {
        // Multi-person DMs are not modelled; say so rather than pretend.
        return Err(Reply::error("fake_slack_does_not_model_mpims"));
    };
    match model.user_by_id(user_id) {
        None => return Err(Reply::error("user_not_found")),
        Some(user) if user.deleted => return Err(Reply::error("user_disabled")),
        Some(_) => {}
    }
    let (channel, existed) = model.open_dm(user_id);
    let mut body = json!({ "channel": { "id": channel } });
    if args.bool("return_im") {
        body["channel"]["is_im"] = json!(true);
        body["channel"]["user"] = json!(user_id);
    }
    if existed {
        body["no_op"] = json!(true);
        body["already_open"] = json!(true);
    }
    Ok(Reply::ok(body))
}

pub(super) fn chat_post_message(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(target) = args.str("channel") else {
        return Err(Reply::error("channel_not_found"));
    };
    // Slack also takes a user id here and posts into the app's DM with that user.
    let channel = if model.is_dm_channel(&target) {
        target
    } else if model.user_by_id(&target).is_some_and(|u| !u.deleted) {
        model.open_dm(&target).0
    } else {
        return Err(Reply::error("channel_not_found"));
    };
    let blocks = args.blocks()?;
    let text = args.text(&blocks)?;
    let metadata = args.metadata()?;
    // A reply to a reply joins the parent's thread; an unknown thread_ts posts unthreaded.
    let thread_ts = args.str("thread_ts").and_then(|ts| {
        model
            .message(&channel, &ts)
            .map(|parent| parent.thread_ts.clone().unwrap_or(parent.ts.clone()))
    });
    let ts = model.next_ts();
    model.messages.push(Message {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts,
        text,
        blocks: blocks.unwrap_or(Value::Null),
        metadata,
        updated: Vec::new(),
    });
    let posted = model.messages.last().expect("just pushed");
    let message = model.message_json(posted, true);
    Ok(Reply::ok(
        json!({ "channel": channel, "ts": ts, "message": message }),
    ))
}

pub(super) fn chat_update(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let Some(ts) = args.str("ts") else {
        return Err(Reply::error("message_not_found"));
    };
    let Some(index) = model
        .messages
        .iter()
        .position(|m| m.channel == channel && m.ts == ts)
    else {
        return Err(Reply::error("message_not_found"));
    };
    let blocks = args.blocks()?;
    args.text(&blocks)?;
    let metadata = args.metadata()?;
    let mut update = args.0.clone();
    update.remove("token");
    for (name, value) in [("blocks", blocks), ("metadata", metadata)] {
        match value {
            Some(value) => update.insert(name.into(), value),
            None => update.remove(name),
        };
    }
    model.messages[index].updated.push(Value::Object(update));
    let message = model.message_json(&model.messages[index], true);
    let text = model.messages[index].current_text().to_string();
    Ok(Reply::ok(json!({
        "channel": channel, "ts": ts, "text": text, "message": message,
    })))
}

pub(super) fn users_lookup_by_email(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(email) = args.str("email") else {
        return Err(Reply::missing("email"));
    };
    // Deactivated users are not found by email (Slack's documented behaviour).
    let user = model.users.iter().find(|u| {
        !u.deleted
            && u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&email))
    });
    match user {
        Some(user) => Ok(Reply::ok(json!({ "user": model.user_json(user) }))),
        None => Err(Reply::error("users_not_found")),
    }
}

pub(super) fn users_info(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let user = args.str("user").and_then(|id| model.user_by_id(&id));
    match user {
        Some(user) => Ok(Reply::ok(json!({ "user": model.user_json(user) }))),
        None => Err(Reply::error("user_not_found")),
    }
}

/// Top-level messages only (thread replies stay in their thread), newest first, paged.
pub(super) fn conversations_history(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let limit = match args.str("limit") {
        None => DEFAULT_HISTORY_LIMIT,
        Some(limit) => match limit.parse::<usize>() {
            Ok(0) => DEFAULT_HISTORY_LIMIT,
            Ok(n) => n.min(MAX_HISTORY_LIMIT),
            Err(_) => return Err(Reply::error("invalid_limit")),
        },
    };
    let offset = args.cursor()?;
    let bound = |name: &str| -> Result<Option<i128>, Reply> {
        match args.str(name) {
            None => Ok(None),
            Some(ts) => ts_micros(&ts)
                .map(Some)
                .ok_or_else(|| Reply::error(&format!("invalid_ts_{name}"))),
        }
    };
    let (oldest, latest) = (bound("oldest")?, bound("latest")?);
    let inclusive = args.bool("inclusive");
    let in_range = |ts: i128| {
        let after = oldest.is_none_or(|o| ts > o || (inclusive && ts == o));
        let before = latest.is_none_or(|l| ts < l || (inclusive && ts == l));
        after && before
    };
    let mut top: Vec<&Message> = model
        .messages
        .iter()
        .filter(|m| m.channel == channel && m.thread_ts.is_none())
        .filter(|m| ts_micros(&m.ts).is_some_and(in_range))
        .collect();
    top.reverse();
    let mut body = message_page(model, &top, args, offset, limit);
    body["pin_count"] = json!(0);
    Ok(Reply::ok(body))
}

/// A thread: the parent first, then its replies, oldest first, paged
/// (https://docs.slack.dev/reference/methods/conversations.replies). `ts` may name the parent
/// or any reply; a missing or unknown `ts` is `thread_not_found` ("Value for ts was missing or
/// invalid"). Metadata only with `include_all_metadata`, as for history.
pub(super) fn conversations_replies(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let Some(channel) = args.str("channel").filter(|c| model.is_dm_channel(c)) else {
        return Err(Reply::error("channel_not_found"));
    };
    let Some(ts) = args.str("ts") else {
        return Err(Reply::error("thread_not_found"));
    };
    let Some(named) = model.message(&channel, &ts) else {
        return Err(Reply::error("thread_not_found"));
    };
    let parent = named.thread_ts.clone().unwrap_or_else(|| named.ts.clone());
    let limit = match args.str("limit") {
        None => 1000,
        Some(limit) => match limit.parse::<usize>() {
            Ok(0) => 1000,
            Ok(n) => n.min(1000),
            Err(_) => return Err(Reply::error("invalid_limit")),
        },
    };
    let offset = args.cursor()?;
    let thread: Vec<&Message> = model
        .messages
        .iter()
        .filter(|m| {
            m.channel == channel && (m.ts == parent || m.thread_ts.as_deref() == Some(&parent))
        })
        .collect();
    Ok(Reply::ok(message_page(model, &thread, args, offset, limit)))
}

/// The workspace's channels, paged by cursor
/// (https://docs.slack.dev/reference/methods/conversations.list): `types` is a comma-separated
/// mix of `public_channel`, `private_channel`, `mpim`, `im` (default `public_channel`); a
/// private channel is listed only to its members; `exclude_archived` leaves archived ones out;
/// `limit` defaults to 100 and may be at most 1000 (strict where the docs are silent: anything
/// else is `invalid_limit`, an unknown type `invalid_types`); `response_metadata.next_cursor` is
/// empty on the last page. DMs (`im`, `mpim`) are not modelled here and are refused, rather than
/// answered as if there were none.
pub(super) fn conversations_list(model: &mut Model, args: &Args) -> Result<Reply, Reply> {
    let limit = match args.str("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(limit) => match limit.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
            _ => return Err(Reply::error("invalid_limit")),
        },
    };
    let types = args.str("types").unwrap_or_else(|| "public_channel".into());
    let (mut public, mut private) = (false, false);
    for t in types.split(',').map(str::trim) {
        match t {
            "public_channel" => public = true,
            "private_channel" => private = true,
            "im" | "mpim" => return Err(Reply::error("fake_slack_does_not_model_dm_lists")),
            _ => return Err(Reply::error("invalid_types")),
        }
    }
    let exclude_archived = args.bool("exclude_archived");
    let offset = args.cursor()?;
    let listed: Vec<Value> = model
        .conversations
        .iter()
        .filter(|c| {
            if c.is_private {
                private && c.is_member
            } else {
                public
            }
        })
        .filter(|c| !(exclude_archived && c.is_archived))
        .map(|c| model.channel_json(c))
        .collect();
    let page: Vec<Value> = listed.iter().skip(offset).take(limit).cloned().collect();
    let next_cursor = if listed.len() > offset + limit {
        format!("fake_offset:{}", offset + limit)
    } else {
        String::new()
    };
    Ok(Reply::ok(json!({
        "channels": page,
        "response_metadata": { "next_cursor": next_cursor },
    })))
}

/// One page of `messages` (metadata only with `include_all_metadata`), with Slack's
/// `has_more` and `response_metadata.next_cursor`.
pub(super) fn message_page(
    model: &Model,
    messages: &[&Message],
    args: &Args,
    offset: usize,
    limit: usize,
) -> Value {
    let with_metadata = args.bool("include_all_metadata");
    let page: Vec<Value> = messages
        .iter()
        .skip(offset)
        .take(limit)
        .map(|m| model.message_json(m, with_metadata))
        .collect();
    let has_more = messages.len() > offset + limit;
    let next_cursor = if has_more {
        format!("fake_offset:{}", offset + limit)
    } else {
        String::new()
    };
    json!({
        "messages": page,
        "has_more": has_more,
        "response_metadata": { "next_cursor": next_cursor },
    })
}

/// A Slack `ts` (`seconds[.fraction]`) in microseconds, for ordering and range checks.
pub(super) fn ts_micros(ts: &str) -> Option<i128> {
    let (secs, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = format!("{fraction:0<6}").parse::<i128>().ok()?;
    Some(secs.parse::<i128>().ok()? * 1_000_000 + micros)
}
