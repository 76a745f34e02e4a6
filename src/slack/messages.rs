//! Block Kit messages of the survey: plain, short, one decision per message.

use slack_morphism::prelude::*;

use super::client::Content;
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

fn button(text: &str, action: Action, survey_id: i64) -> SlackActionBlockElement {
    SlackActionBlockElement::Button(
        SlackBlockButtonElement::new(pt!(text.to_owned()))
            .with_action_id(SlackActionId(action.action_id().to_owned()))
            .with_value(survey_id.to_string()),
    )
}

fn section(text: String) -> SlackBlock {
    SlackSectionBlock::new().with_text(md!(text)).into()
}

fn actions(block_id: &str, elements: Vec<SlackActionBlockElement>) -> SlackBlock {
    SlackActionsBlock::new(elements)
        .with_block_id(SlackBlockId(block_id.to_owned()))
        .into()
}

fn context(text: &str) -> SlackBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(text.to_owned()),
    )])
    .into()
}

/// The opt-out flow's buttons: "Don't ask me again" and "Delete my answers".
fn opt_out(survey_id: i64) -> SlackBlock {
    actions(
        "opt_out",
        vec![
            button("Don't ask me again", Action::OptOut, survey_id),
            delete_answers_button(survey_id),
        ],
    )
}

fn delete_answers_button(survey_id: i64) -> SlackActionBlockElement {
    button("Delete my answers", Action::DeleteMyAnswers, survey_id)
}

/// "Delete my answers" alone (on messages whose questions are all answered).
fn delete_answers(survey_id: i64) -> SlackBlock {
    actions("delete_answers", vec![delete_answers_button(survey_id)])
}

/// Whether the other side of the survey (the reviewers for the author, the author for a
/// reviewer) is being asked, so a message never promises a reveal that cannot happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counterpart {
    Asked,
    NotAsked,
}

/// The author's question, with "Don't ask me again".
pub fn author_ask(pr: &PullRequestRef<'_>, counterpart: Counterpart) -> Content {
    let id = pr.survey_id;
    let text = format!(
        "Your pull request {} #{} was merged. How much AI assistance went into it?",
        pr.repository, pr.number
    );
    let blocks = vec![
        section(format!(
            "{}\n\nYour pull request was merged. *How much AI assistance went into this PR?*",
            pr_line(pr)
        )),
        actions(
            "author_answer",
            vec![
                button("None", Action::AuthorAi(AiAnswer::None), id),
                button("A little", Action::AuthorAi(AiAnswer::ALittle), id),
                button("A lot", Action::AuthorAi(AiAnswer::ALot), id),
            ],
        ),
        context(match counterpart {
            Counterpart::Asked => "Only the people on this PR see individual answers.",
            Counterpart::NotAsked => {
                "No reviewer of this PR is being asked, so no guesses will come unless a reviewer answers later."
            }
        }),
        opt_out(id),
    ];
    Content { text, blocks }
}

/// The reviewer's question: a guess and a quality rating.
pub fn reviewer_ask(
    pr: &PullRequestRef<'_>,
    guessed: Option<bool>,
    quality: Option<i16>,
    counterpart: Counterpart,
) -> Content {
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
            blocks.push(actions(
                "reviewer_guess",
                vec![
                    button("Yes", Action::ReviewerGuess(true), id),
                    button("No", Action::ReviewerGuess(false), id),
                ],
            ));
        }
        Some(g) => blocks.push(section(format!(
            "Your guess: *{}* (recorded)",
            if g { "Yes" } else { "No" }
        ))),
    }
    match quality {
        None => {
            blocks.push(section("*How was the quality of this PR?*".into()));
            blocks.push(actions(
                "reviewer_quality",
                vec![
                    button("Needs work", Action::ReviewerQuality(1), id),
                    button("Good", Action::ReviewerQuality(2), id),
                    button("Excellent", Action::ReviewerQuality(3), id),
                ],
            ));
        }
        Some(q) => blocks.push(section(format!(
            "Quality: *{}* (recorded)",
            quality_label(q)
        ))),
    }
    if counterpart == Counterpart::NotAsked {
        blocks.push(context(
            "The author is not being asked, so there will be no reveal; your answers still count in the team's figures.",
        ));
    }
    if guessed.is_none() || quality.is_none() {
        blocks.push(opt_out(id));
    } else {
        blocks.push(delete_answers(id));
    }
    Content { text, blocks }
}

pub fn quality_label(q: i16) -> &'static str {
    match q {
        1 => "Needs work",
        2 => "Good",
        _ => "Excellent",
    }
}

/// The message once the author answered (buttons gone).
pub fn author_confirmed(
    pr: &PullRequestRef<'_>,
    answer: AiAnswer,
    counterpart: Counterpart,
) -> Content {
    let text = format!("Thanks! Recorded: {}.", answer.label());
    let next = match counterpart {
        Counterpart::Asked => "You'll see the reviewers' guesses once one of them answers.",
        Counterpart::NotAsked => {
            "No reviewer is being asked, so there are no guesses to show unless one answers later."
        }
    };
    let blocks = vec![
        section(format!("{}\n\n{text} {next}", pr_line(pr))),
        delete_answers(pr.survey_id),
    ];
    Content { text, blocks }
}

/// The DM after "Don't ask me again": said so, and "Delete my answers" still offered.
pub fn opted_out(pr: &PullRequestRef<'_>) -> Content {
    let text = "Got it: you won't be asked again. (An admin can undo this.)";
    Content {
        text: text.to_owned(),
        blocks: vec![
            section(format!("{}\n\n{text}", pr_line(pr))),
            delete_answers(pr.survey_id),
        ],
    }
}

/// The DM after "Delete my answers" (the buttons are gone; the count comes as a reply).
pub fn answers_deleted(pr: &PullRequestRef<'_>, org: &str) -> Content {
    let text = format!(
        "You asked to delete your answers in {}: they are deleted.",
        escape(org)
    );
    Content {
        blocks: vec![section(format!("{}\n\n{text}", pr_line(pr)))],
        text,
    }
}

/// The reply saying how many of the person's answers one "Delete my answers" deleted.
pub fn answers_deleted_count(org: &str, answers: u64, ratings: u64) -> Content {
    let org = escape(org);
    let text = if answers + ratings == 0 {
        format!(
            "Nothing left to delete: none of your answers, guesses or quality ratings are stored in {org}."
        )
    } else {
        format!(
            "Deleted {} and {} of yours in {org}. Nobody else's answers changed; new surveys still ask you (\"Don't ask me again\" stops them).",
            plural(answers, "answer or guess", "answers and guesses"),
            plural(ratings, "quality rating", "quality ratings"),
        )
    };
    Content {
        text,
        blocks: Vec::new(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A one-line replacement for a DM (opted out, closed, already recorded).
pub fn notice(pr: &PullRequestRef<'_>, text: &str) -> Content {
    Content {
        text: text.to_owned(),
        blocks: vec![section(format!("{}\n\n{text}", pr_line(pr)))],
    }
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
) -> Content {
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
    let blocks = vec![section(format!(
        "{}\n\n{head}\n{}",
        pr_line(pr),
        lines.join("\n")
    ))];
    Content { text, blocks }
}
