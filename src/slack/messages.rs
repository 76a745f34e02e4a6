//! Block Kit messages of the survey: plain, short, one decision per message.

use serde_json::{Value, json};

use super::interactions::{Action, AiAnswer};

/// What a DM is about.
#[derive(Debug, Clone)]
pub struct PullRequestRef<'a> {
    pub survey_id: i64,
    pub title: &'a str,
    pub repository: &'a str,
    pub number: i32,
    pub url: Option<&'a str>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn pr_line(pr: &PullRequestRef<'_>) -> String {
    let title = escape(pr.title);
    match pr.url {
        Some(url) => format!(
            "*<{url}|{title}>*\n{} #{}",
            escape(pr.repository),
            pr.number
        ),
        None => format!("*{title}*\n{} #{}", escape(pr.repository), pr.number),
    }
}

fn button(text: &str, action: Action, survey_id: i64) -> Value {
    json!({
        "type": "button",
        "text": { "type": "plain_text", "text": text },
        "action_id": action.action_id(),
        "value": survey_id.to_string(),
    })
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// The author's question, with "Don't ask me again".
pub fn author_ask(pr: &PullRequestRef<'_>) -> (String, Value) {
    let id = pr.survey_id;
    let text = format!(
        "Your pull request {} #{} was merged. How much AI assistance went into it?",
        pr.repository, pr.number
    );
    let blocks = json!([
        section(format!("{}\n\nYour pull request was merged. *How much AI assistance went into this PR?*", pr_line(pr))),
        { "type": "actions", "block_id": "author_answer", "elements": [
            button("None", Action::AuthorAi(AiAnswer::None), id),
            button("A little", Action::AuthorAi(AiAnswer::ALittle), id),
            button("A lot", Action::AuthorAi(AiAnswer::ALot), id),
        ]},
        { "type": "context", "elements": [{ "type": "mrkdwn", "text": "Only the people on this PR see individual answers." }] },
        { "type": "actions", "block_id": "opt_out", "elements": [ button("Don't ask me again", Action::OptOut, id) ] },
    ]);
    (text, blocks)
}

/// The reviewer's question: a guess and a quality rating.
pub fn reviewer_ask(
    pr: &PullRequestRef<'_>,
    guessed: Option<bool>,
    quality: Option<i16>,
) -> (String, Value) {
    let id = pr.survey_id;
    let text = format!(
        "You reviewed {} #{}, now merged. Guess: was AI used on this PR?",
        pr.repository, pr.number
    );
    let mut blocks = vec![section(format!(
        "{}\n\nYou reviewed this pull request; it was merged.",
        pr_line(pr)
    ))];
    match guessed {
        None => {
            blocks.push(section("*Guess: was AI used on this PR?*".into()));
            blocks.push(
                json!({ "type": "actions", "block_id": "reviewer_guess", "elements": [
                    button("Yes", Action::ReviewerGuess(true), id),
                    button("No", Action::ReviewerGuess(false), id),
                ]}),
            );
        }
        Some(g) => blocks.push(section(format!(
            "Your guess: *{}* (recorded)",
            if g { "Yes" } else { "No" }
        ))),
    }
    match quality {
        None => {
            blocks.push(section("*How was the quality of this PR?*".into()));
            blocks.push(
                json!({ "type": "actions", "block_id": "reviewer_quality", "elements": [
                    button("Needs work", Action::ReviewerQuality(1), id),
                    button("Good", Action::ReviewerQuality(2), id),
                    button("Excellent", Action::ReviewerQuality(3), id),
                ]}),
            );
        }
        Some(q) => blocks.push(section(format!(
            "Quality: *{}* (recorded)",
            quality_label(q)
        ))),
    }
    if guessed.is_none() || quality.is_none() {
        blocks.push(json!({ "type": "actions", "block_id": "opt_out", "elements": [ button("Don't ask me again", Action::OptOut, id) ] }));
    }
    (text, Value::Array(blocks))
}

pub fn quality_label(q: i16) -> &'static str {
    match q {
        1 => "Needs work",
        2 => "Good",
        _ => "Excellent",
    }
}

/// The message once the author answered (buttons gone).
pub fn author_confirmed(pr: &PullRequestRef<'_>, answer: AiAnswer) -> (String, Value) {
    let text = format!("Thanks! Recorded: {}.", answer.label());
    (
        text.clone(),
        json!([section(format!(
            "{}\n\n{text} You'll see the reviewers' guesses once one of them answers.",
            pr_line(pr)
        ))]),
    )
}

/// A one-line replacement for a DM (opted out, closed, already recorded).
pub fn notice(pr: &PullRequestRef<'_>, text: &str) -> (String, Value) {
    (
        text.to_owned(),
        json!([section(format!("{}\n\n{text}", pr_line(pr)))]),
    )
}

/// A reviewer's guess, as shown in the reveal.
pub struct Guess<'a> {
    pub login: &'a str,
    pub guessed_ai: bool,
}

/// The reveal: the author's answer and each reviewer's guess, marked right or wrong.
pub fn reveal(
    pr: &PullRequestRef<'_>,
    author_login: &str,
    author: Option<AiAnswer>,
    guesses: &[Guess<'_>],
    partial: bool,
) -> (String, Value) {
    let mut lines = Vec::new();
    match author {
        Some(a) => lines.push(format!(
            "*{}* (author): AI assistance: *{}*",
            escape(author_login),
            a.label()
        )),
        None => lines.push(format!(
            "*{}* (author) did not answer.",
            escape(author_login)
        )),
    }
    for g in guesses {
        let guess = if g.guessed_ai { "AI was used" } else { "no AI" };
        let mark = match author {
            Some(a) if a.used_ai() == g.guessed_ai => " :white_check_mark: right",
            Some(_) => " :x: wrong",
            None => "",
        };
        lines.push(format!("*{}* guessed: {guess}{mark}", escape(g.login)));
    }
    let head = if partial {
        "The survey closed. Here is what was answered:"
    } else {
        "The reveal is in:"
    };
    let text = format!("{head} {}", lines.join(" · "));
    (
        text,
        json!([section(format!(
            "{}\n\n{head}\n{}",
            pr_line(pr),
            lines.join("\n")
        ))]),
    )
}
