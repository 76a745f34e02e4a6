//! A click on a survey DM: record the first answer, update the message, reveal when due.

use super::send::{Once, send_once};
use super::{SurveyContext, SurveyError, pr_ref};
use crate::ids::InstallationId;
use crate::slack::client::{Content, SlackClient};
use crate::slack::interactions::{Action, AiAnswer, Click};
use crate::slack::messages::{self, Guess};
use crate::store::installations;
use crate::store::org_data::{self, Gate};
use crate::store::surveys::{self, Participant, Role, Survey, SurveyStatus};

/// What a click did (for tests and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickOutcome {
    Recorded,
    AlreadyRecorded,
    Closed,
    OptedOut,
    NotAParticipant,
    /// The org is suspended: nothing recorded, nothing sent (the buttons still work after
    /// `unsuspend`).
    Paused,
    /// The org was deleted: nothing is done for it any more.
    Stopped,
    /// The org's Slack workspace is disconnected: nothing recorded, nothing sent.
    WaitingForSlack,
    /// The click came from a workspace other than the survey's org's: refused.
    OtherWorkspace,
    /// "Delete my answers": how many answers, guesses and ratings this click deleted.
    AnswersDeleted(u64),
}

/// Handles one click (queued from `/slack/interactions`); safe to run twice.
pub async fn on_click(ctx: &SurveyContext, click: &Click) -> Result<ClickOutcome, SurveyError> {
    // A survey that is gone (its org's data was deleted) leaves no trace of the click.
    let Some(survey) = surveys::get(&ctx.pool, click.survey_id).await? else {
        return Ok(ClickOutcome::NotAParticipant);
    };
    // A retried payload is logged once and handled again: every step below is idempotent.
    surveys::log_click(
        &ctx.pool,
        &click.id,
        click.survey_id,
        &click.slack_user_id,
        click.action.action_id(),
    )
    .await?;
    let gate = org_data::gate(&ctx.pool, survey.installation_id).await?;
    let paused = match gate {
        Gate::Deleted { .. } => Some(ClickOutcome::Stopped),
        // A person's own deletion is honoured even while the org is suspended.
        Gate::Suspended if click.action != Action::DeleteMyAnswers => Some(ClickOutcome::Paused),
        _ => None,
    };
    if let Some(outcome) = paused {
        surveys::set_click_outcome(&ctx.pool, &click.id, &format!("{outcome:?}")).await?;
        return Ok(outcome);
    }
    // Clicks are routed by the workspace they come from: the survey's org speaks through one
    // workspace, and a click from any other is refused (a forged or misrouted payload).
    let Some(slack) = ctx.slack_for(survey.installation_id).await? else {
        let outcome = ClickOutcome::WaitingForSlack;
        surveys::set_click_outcome(&ctx.pool, &click.id, &format!("{outcome:?}")).await?;
        return Ok(outcome);
    };
    if let Some(team) = &click.team_id {
        let expected = slack.team_id().await?;
        if *team != expected {
            tracing::warn!(survey = survey.id, from = %team, expected = %expected, "slack click from another workspace refused");
            let outcome = ClickOutcome::OtherWorkspace;
            surveys::set_click_outcome(&ctx.pool, &click.id, &format!("{outcome:?}")).await?;
            return Ok(outcome);
        }
    }
    let Some(p) = surveys::participant_by_slack(&ctx.pool, survey.id, &click.slack_user_id).await?
    else {
        return Ok(ClickOutcome::NotAParticipant);
    };
    let outcome =
        super::with_rate_limit_retries(|| apply_click(ctx, &slack, &survey, &p, click)).await?;
    surveys::set_click_outcome(&ctx.pool, &click.id, &format!("{outcome:?}")).await?;
    Ok(outcome)
}

async fn apply_click(
    ctx: &SurveyContext,
    slack: &SlackClient,
    survey: &Survey,
    p: &Participant,
    click: &Click,
) -> Result<ClickOutcome, SurveyError> {
    let pr = pr_ref(survey);
    let (channel, ts) = match (&p.dm_channel, &p.message_ts) {
        (Some(c), Some(t)) => (c.clone(), t.clone()),
        _ => (
            click.channel.clone().unwrap_or_default(),
            click.message_ts.clone().unwrap_or_default(),
        ),
    };
    if click.action == Action::DeleteMyAnswers {
        return delete_answers(ctx, slack, survey, p, click, &channel, &ts).await;
    }
    if survey.status == SurveyStatus::Closed {
        let content = messages::notice(
            &pr,
            "This survey is closed; answers are no longer recorded.",
        );
        slack.update(&channel, &ts, content).await?;
        return Ok(ClickOutcome::Closed);
    }
    // What the click found stored; `Some(..)` when another click's different answer won.
    let lost_to_another = match click.action {
        Action::OptOut => {
            // Honoured at once and everywhere: no reminder, no further survey in any org.
            surveys::opt_out(&ctx.pool, p.github_id).await?;
            slack
                .update(&channel, &ts, messages::opted_out(&pr))
                .await?;
            return Ok(ClickOutcome::OptedOut);
        }
        Action::AuthorAi(answer) if p.role == Role::Author => surveys::record_answer(
            &ctx.pool,
            survey.id,
            p.github_id,
            answer.as_str(),
            &click.id,
        )
        .await?
        .differs(),
        Action::ReviewerGuess(guess) if p.role == Role::Reviewer => {
            let value = if guess { "yes" } else { "no" };
            surveys::record_answer(&ctx.pool, survey.id, p.github_id, value, &click.id)
                .await?
                .differs()
        }
        Action::ReviewerQuality(q) if p.role == Role::Reviewer => {
            surveys::record_quality(&ctx.pool, survey.id, p.github_id, q, &click.id)
                .await?
                .differs()
        }
        _ => return Ok(ClickOutcome::NotAParticipant),
    };
    show_recorded(ctx, slack, survey, p.github_id, &channel, &ts).await?;
    let outcome = if lost_to_another {
        ClickOutcome::AlreadyRecorded
    } else {
        ClickOutcome::Recorded
    };
    if outcome == ClickOutcome::AlreadyRecorded {
        // Earned: this click asked for a different answer than the one that counts. A rerun of
        // the click that recorded it, or a second click on the same button, never gets here.
        let key = format!(
            "already:{}:{}:{}",
            survey.id,
            p.github_id,
            click.action.action_id()
        );
        send_once(
            ctx,
            slack,
            Once {
                key,
                survey_id: Some(survey.id),
                github_id: Some(p.github_id),
                kind: "already",
                channel: &channel,
                content: Content {
                    text: "Your answer was already recorded; the first one counts.".into(),
                    blocks: Vec::new(),
                },
                thread_ts: Some(&ts),
            },
        )
        .await?;
    }
    reveal_if_ready(ctx, slack, survey, false).await?;
    Ok(outcome)
}

/// "Delete my answers": deletes the person's answers, guesses and ratings in the survey's org
/// (nobody else's), replaces the clicked DM with a notice, and replies in its thread with how
/// many this click deleted (once per click, the same count on a retry: see
/// `store::org_data::erase_answers`). Reveals already sent are not sent again.
async fn delete_answers(
    ctx: &SurveyContext,
    slack: &SlackClient,
    survey: &Survey,
    p: &Participant,
    click: &Click,
    channel: &str,
    ts: &str,
) -> Result<ClickOutcome, SurveyError> {
    let erased = org_data::erase_answers(
        &ctx.pool,
        survey.installation_id,
        p.github_id,
        &click.slack_user_id,
        &click.id,
    )
    .await?;
    let org = installations::account(&ctx.pool, InstallationId(survey.installation_id))
        .await?
        .map(|a| a.account_login)
        .filter(|login| !login.is_empty())
        .unwrap_or_else(|| "this org".to_owned());
    slack
        .update(
            channel,
            ts,
            messages::answers_deleted(&pr_ref(survey), &org),
        )
        .await?;
    send_once(
        ctx,
        slack,
        Once {
            key: format!("erased:{}:{}:{}", survey.id, p.github_id, click.id),
            survey_id: Some(survey.id),
            github_id: Some(p.github_id),
            kind: "erased",
            channel,
            content: messages::answers_deleted_count(&org, erased.answers, erased.ratings),
            thread_ts: Some(ts),
        },
    )
    .await?;
    Ok(ClickOutcome::AnswersDeleted(erased.total()))
}

/// Updates the participant's DM to show what is stored now (the author's answer; the
/// reviewer's guess and rating, with buttons only for what is still open).
///
/// Concurrent clicks of one person (guess and rating at once) each render what they read;
/// Slack keeps whichever update lands last, which may be the older view. So after updating,
/// the state is read again and the message re-rendered until what was shown is what is stored.
async fn show_recorded(
    ctx: &SurveyContext,
    slack: &SlackClient,
    survey: &Survey,
    github_id: i64,
    channel: &str,
    ts: &str,
) -> Result<(), SurveyError> {
    let pr = pr_ref(survey);
    let mut shown: Option<(Option<String>, Option<i16>)> = None;
    for _ in 0..4 {
        let Some(fresh) = surveys::participant(&ctx.pool, survey.id, github_id).await? else {
            return Ok(());
        };
        let state = (fresh.answer.clone(), fresh.quality);
        if shown.as_ref() == Some(&state) {
            return Ok(());
        }
        let counterpart = super::counterpart(&ctx.pool, survey.id, fresh.role).await?;
        let content = if fresh.role == Role::Author {
            match fresh.answer.as_deref().and_then(AiAnswer::parse) {
                Some(answer) => messages::author_confirmed(&pr, answer, counterpart),
                None => return Ok(()),
            }
        } else {
            let guessed = fresh.answer.as_deref().map(|a| a == "yes");
            messages::reviewer_ask(&pr, guessed, fresh.quality, counterpart)
        };
        slack.update(channel, ts, content).await?;
        shown = Some(state);
    }
    Ok(())
}

/// Sends the reveal to every participant who answered and has not had it, once the author and
/// at least one reviewer have answered (or, when `closing`, to whoever answered at all).
pub async fn reveal_if_ready(
    ctx: &SurveyContext,
    slack: &SlackClient,
    survey: &Survey,
    closing: bool,
) -> Result<(), SurveyError> {
    let participants = surveys::participants(&ctx.pool, survey.id).await?;
    let author = participants.iter().find(|p| p.role == Role::Author);
    let author_answer = author
        .and_then(|a| a.answer.as_deref())
        .and_then(AiAnswer::parse);
    let guesses: Vec<&Participant> = participants
        .iter()
        .filter(|p| p.role == Role::Reviewer && p.answer.is_some())
        .collect();
    let complete = author_answer.is_some() && !guesses.is_empty();
    if !installations::is_active(&ctx.pool, survey.installation_id).await? {
        return Ok(()); // a suspended or deleted org is told nothing
    }
    if !complete && !closing {
        return Ok(());
    }
    let guess_view: Vec<Guess<'_>> = guesses
        .iter()
        .map(|g| Guess {
            login: &g.login,
            guessed_ai: g.answer.as_deref() == Some("yes"),
        })
        .collect();
    let author_login = survey.author_login.as_deref().unwrap_or("author");
    let content = messages::reveal(
        &pr_ref(survey),
        author_login,
        author_answer,
        &guess_view,
        !complete,
    );
    // Everyone due gets theirs even when one send is busy elsewhere; the busy one is reported
    // after the loop so the job is retried (and finds that send finished).
    let mut retry_later = None;
    for p in participants
        .iter()
        .filter(|p| p.answer.is_some() && p.revealed_at.is_none() && p.reveal_error.is_none())
    {
        let (Some(channel), Some(ts)) = (&p.dm_channel, &p.message_ts) else {
            continue;
        };
        let sent = send_once(
            ctx,
            slack,
            Once {
                key: format!("reveal:{}:{}", survey.id, p.github_id),
                survey_id: Some(survey.id),
                github_id: Some(p.github_id),
                kind: "reveal",
                channel,
                content: content.clone(),
                thread_ts: Some(ts),
            },
        )
        .await;
        match sent {
            Ok(_) => surveys::mark_revealed(&ctx.pool, survey.id, p.github_id).await?,
            // Refused for good (a deactivated account, a missing scope): this person is passed
            // over with the reason; the others still get theirs.
            Err(SurveyError::Slack(e)) if !e.is_transient() => {
                surveys::record_error(&ctx.pool, survey.id, Some(p.github_id), &e.code()).await?;
                surveys::reveal_failed(&ctx.pool, survey.id, p.github_id, &e.code()).await?;
            }
            Err(e) => {
                retry_later.get_or_insert(e);
            }
        }
    }
    if complete {
        surveys::set_status(
            &ctx.pool,
            survey.id,
            &[SurveyStatus::Open],
            SurveyStatus::Revealed,
        )
        .await?;
    }
    surveys::clear_resolved_error(&ctx.pool, survey.id).await?;
    retry_later.map_or(Ok(()), Err)
}
