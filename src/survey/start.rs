//! From a merged pull request to DMs: create the survey (once), decide who is asked, map them
//! to Slack, and ask each one inside their working hours.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::hours::{Zone, after_working_time, next_working_instant};
use super::send::{Once, send_once};
use super::settings::OrgSettings;
use super::{SurveyContext, SurveyError, is_bot, pr_ref};
use crate::github::client::Auth;
use crate::ids::InstallationId;
use crate::slack::client::{SlackClient, SlackError};
use crate::slack::messages;
use crate::store::merged::PullRequestMerged;
use crate::store::org_data::{self, Gate};
use crate::store::surveys::{self, NewSurvey, Participant, Role, Survey, SurveyStatus};
use crate::store::{installations, members, pulls};

/// Handles `PullRequestMerged`: creates the survey and asks whoever can be asked now.
pub async fn on_merged(
    ctx: &SurveyContext,
    job: &PullRequestMerged,
    now: DateTime<Utc>,
) -> Result<(), SurveyError> {
    // A deleted org gets no survey (a suspended one's waits: `advance` asks nobody until
    // `unsuspend`).
    if let Gate::Deleted { .. } = org_data::gate(&ctx.pool, job.installation_id).await? {
        return Ok(());
    }
    let survey = match surveys::by_pull_request(&ctx.pool, job.pull_request_id).await? {
        Some(existing) => existing,
        None => match create(ctx, job, now).await? {
            Some(id) => match surveys::get(&ctx.pool, id).await? {
                Some(created) => created,
                None => return Ok(()),
            },
            None => return Ok(()),
        },
    };
    // Also on a rerun: a job that failed between creating the survey and adding its
    // participants adds them now.
    add_participants(ctx, &survey).await?;
    advance(ctx, survey.id, now).await
}

/// Adds whoever should be asked and is not a participant yet: the author, and every person who
/// submitted a review, including reviews applied after the merge (approve-then-merge webhooks
/// often arrive merge first), submitted after it, or redelivered late. Safe to run any number of
/// times; skipped and closed surveys get nobody.
pub async fn add_participants(ctx: &SurveyContext, survey: &Survey) -> Result<(), SurveyError> {
    if !survey.status.takes_participants() {
        return Ok(());
    }
    if let (Some(author_id), Some(login)) = (survey.author_github_id, &survey.author_login) {
        surveys::add_participant(&ctx.pool, survey.id, author_id, login, Role::Author, None)
            .await?;
    }
    let settings = ctx.org_settings(survey.installation_id).await?;
    for r in surveys::reviewers(&ctx.pool, survey.pull_request_id).await? {
        if Some(r.github_id) == survey.author_github_id {
            continue; // self-review
        }
        let reason = is_bot(&r.login, r.kind.as_deref(), &settings.bot_logins).then_some("bot");
        surveys::add_participant(
            &ctx.pool,
            survey.id,
            r.github_id,
            &r.login,
            Role::Reviewer,
            reason,
        )
        .await?;
    }
    Ok(())
}

async fn create(
    ctx: &SurveyContext,
    job: &PullRequestMerged,
    now: DateTime<Utc>,
) -> Result<Option<i64>, SurveyError> {
    let Some(pr) = pulls::merged_pull(&ctx.pool, job.pull_request_id).await? else {
        tracing::warn!(
            pull_request = job.pull_request_id,
            "merged PR not in the database; no survey"
        );
        return Ok(None);
    };
    // This org's settings (created from the environment's defaults on first use).
    let cfg = ctx.org_settings(job.installation_id).await?;
    let author_login = pr.author_login.clone().unwrap_or_default();
    let labels: Vec<String> = pr
        .labels
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let skip = if !cfg.survey_enabled {
        Some("surveys are turned off for this org".to_owned())
    } else if is_bot(&author_login, pr.author_type.as_deref(), &cfg.bot_logins) {
        Some("authored by a bot".to_owned())
    } else if cfg.excludes_repository(job.repository_id) {
        Some("repository excluded".to_owned())
    } else {
        cfg.excluded_label(&labels)
            .map(|label| format!("label {label} excluded"))
    };
    let status = match &skip {
        Some(_) => SurveyStatus::Skipped,
        None if ctx.slack_for(job.installation_id).await?.is_none() => {
            SurveyStatus::WaitingForSlack
        }
        None => SurveyStatus::Open,
    };
    let remind = chrono::Duration::from_std(cfg.remind_after).unwrap_or_default();
    let ttl = chrono::Duration::from_std(cfg.ttl).unwrap_or_default();
    let Some(survey_id) = surveys::create(
        &ctx.pool,
        &NewSurvey {
            installation_id: job.installation_id,
            pull_request_id: job.pull_request_id,
            repository_id: job.repository_id,
            repository_full_name: &pr.repository_full_name,
            number: job.number,
            title: &pr.title,
            html_url: pr.html_url.as_deref(),
            author_github_id: pr.author_id,
            author_login: pr.author_login.as_deref(),
            merged_at: pr.merged_at.or(job.merged_at),
            status,
            skip_reason: skip.as_deref(),
            remind_at: now + remind,
            closes_at: now + ttl,
        },
    )
    .await?
    else {
        return Ok(surveys::by_pull_request(&ctx.pool, job.pull_request_id)
            .await?
            .map(|s| s.id));
    };
    Ok(Some(survey_id))
}

/// A member's Slack zone is read again after this long (people travel, move, or set it late).
const ZONE_FRESH_FOR: chrono::Duration = chrono::Duration::days(7);

/// Asks every participant who is due: resolves their Slack user and working hours first.
pub async fn advance(
    ctx: &SurveyContext,
    survey_id: i64,
    now: DateTime<Utc>,
) -> Result<(), SurveyError> {
    let Some(survey) = surveys::get(&ctx.pool, survey_id).await? else {
        return Ok(());
    };
    if !installations::is_active(&ctx.pool, survey.installation_id).await? {
        return Ok(()); // suspended or deleted: nobody is asked (a suspended org resumes later)
    }
    // The org's own workspace (or the default one); none yet, or disconnected: it waits.
    let Some(slack) = ctx.slack_for(survey.installation_id).await? else {
        return Ok(());
    };
    if survey.status == SurveyStatus::WaitingForSlack {
        surveys::set_status(
            &ctx.pool,
            survey_id,
            &[SurveyStatus::WaitingForSlack],
            SurveyStatus::Open,
        )
        .await?;
    } else if !matches!(survey.status, SurveyStatus::Open | SurveyStatus::Revealed) {
        return Ok(());
    }
    let settings = ctx.org_settings(survey.installation_id).await?;
    let mut first_error = None;
    for p in surveys::participants(&ctx.pool, survey_id).await? {
        if p.skip_reason.is_some() || p.asked_at.is_some() {
            continue;
        }
        if p.send_after.is_some_and(|after| after > now) {
            continue; // waiting for their working hours: nothing to look up before then
        }
        let result =
            super::with_rate_limit_retries(|| ask_if_due(ctx, &slack, &settings, &survey, &p, now))
                .await;
        if let Err(e) = result {
            if let SurveyError::Slack(se) = &e
                && se.is_token_refused()
            {
                // The workspace is gone, not the person: nobody is passed over; the survey
                // waits for the org to add Mergecast to Slack again.
                surveys::record_error(&ctx.pool, survey_id, Some(p.github_id), &se.code()).await?;
                ctx.token_refused(survey.installation_id, se).await?;
                return Ok(());
            }
            if let SurveyError::Slack(se) = &e {
                surveys::record_error(&ctx.pool, survey_id, Some(p.github_id), &se.code()).await?;
                if !se.is_transient() {
                    // Slack refused for good (no such user, account inactive, missing scope):
                    // asking again every tick would only spend the token's rate limit.
                    let reason = format!("slack error: {}", se.code());
                    surveys::skip_participant(&ctx.pool, survey_id, p.github_id, &reason).await?;
                }
            }
            if e.is_transient() && first_error.is_none() {
                first_error = Some(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn ask_if_due(
    ctx: &SurveyContext,
    slack: &SlackClient,
    settings: &OrgSettings,
    survey: &Survey,
    p: &Participant,
    now: DateTime<Utc>,
) -> Result<(), SurveyError> {
    let member = members::slack_profile(&ctx.pool, survey.installation_id, p.github_id).await?;
    if surveys::person_opted_out(&ctx.pool, survey.installation_id, p.github_id).await? {
        return skip(ctx, survey, p, "opted out").await;
    }
    // Not a member of this org (an outside collaborator): what its admins set for them.
    let outside = match &member {
        None => Some(
            surveys::outside_person(&ctx.pool, survey.installation_id, p.github_id, &p.login)
                .await?,
        ),
        Some(_) => None,
    };
    if outside.as_ref().is_some_and(|o| o.opted_out) {
        return skip(ctx, survey, p, "opted out").await;
    }
    if let Some(m) = &member {
        if m.opted_out {
            return skip(ctx, survey, p, "opted out").await;
        }
        if !m.active {
            return skip(ctx, survey, p, "not an active member").await;
        }
    }
    let Some((slack_user, zone)) = resolve_slack_user(
        ctx,
        slack,
        survey,
        p,
        member.as_ref(),
        outside.as_ref(),
        now,
    )
    .await?
    else {
        return Ok(());
    };
    // Working hours in the person's zone as it is now, for today's date (DST included).
    let send_after =
        next_working_instant(now, zone, settings.working_hours, &settings.working_days);
    if p.slack_user_id.as_deref() != Some(slack_user.as_str()) || p.send_after != Some(send_after) {
        surveys::set_slack_user(&ctx.pool, survey.id, p.github_id, &slack_user, send_after).await?;
    }
    if send_after > now {
        return Ok(());
    }
    let channel = slack.open_dm(&slack_user).await?;
    let counterpart = super::counterpart(&ctx.pool, survey.id, p.role).await?;
    let content = if p.role == Role::Author {
        messages::author_ask(&pr_ref(survey), counterpart)
    } else {
        messages::reviewer_ask(&pr_ref(survey), None, None, counterpart)
    };
    let key = format!("ask:{}:{}", survey.id, p.github_id);
    let posted = send_once(
        ctx,
        slack,
        Once {
            key: key.clone(),
            survey_id: Some(survey.id),
            github_id: Some(p.github_id),
            kind: "ask",
            channel: &channel,
            content,
            thread_ts: None,
        },
    )
    .await?;
    let ts = match posted {
        Some(posted) => posted.ts,
        None => surveys::message(&ctx.pool, &key)
            .await?
            .and_then(|m| m.ts)
            .unwrap_or_default(),
    };
    let first_ask = surveys::mark_asked(&ctx.pool, survey.id, p.github_id, &channel, &ts).await?;
    surveys::clear_resolved_error(&ctx.pool, survey.id).await?;
    if !first_ask {
        return Ok(()); // another step asked them first and set their deadlines
    }
    // The reminder and the survey's end count working time from this ask, in this person's zone.
    let (hours, days) = (settings.working_hours, &settings.working_days);
    let working = |d: std::time::Duration| {
        after_working_time(
            now,
            chrono::Duration::from_std(d).unwrap_or_default(),
            zone,
            hours,
            days,
        )
    };
    surveys::set_deadlines(
        &ctx.pool,
        survey.id,
        p.github_id,
        working(settings.remind_after),
        working(settings.ttl),
    )
    .await?;
    Ok(())
}

async fn skip(
    ctx: &SurveyContext,
    survey: &Survey,
    p: &Participant,
    reason: &str,
) -> Result<(), SurveyError> {
    surveys::skip_participant(&ctx.pool, survey.id, p.github_id, reason).await?;
    Ok(())
}

/// The explicit mapping first, else `users.lookupByEmail` on the public email, else (for the
/// author) the email on the PR's commits. Records why when nobody can be found.
async fn resolve_slack_user(
    ctx: &SurveyContext,
    slack: &SlackClient,
    survey: &Survey,
    p: &Participant,
    member: Option<&members::SlackProfile>,
    outside: Option<&surveys::OutsidePerson>,
    now: DateTime<Utc>,
) -> Result<Option<(String, Zone)>, SurveyError> {
    let mut user_id = member
        .and_then(|m| m.slack_user_id.clone())
        .or_else(|| outside.and_then(|o| o.slack_user_id.clone()))
        .or_else(|| p.slack_user_id.clone());
    let default_zone = ctx.config.default_zone;
    let mut zone = member
        .filter(|m| {
            m.slack_tz_checked_at
                .is_some_and(|at| now - at < ZONE_FRESH_FOR)
        })
        .map(|m| Zone::from_slack(m.slack_tz.as_deref(), m.slack_tz_offset, default_zone));
    if user_id.is_none() {
        let mut email = member.and_then(|m| m.email.clone());
        if email.is_none() && p.role == Role::Author {
            email = author_commit_email(ctx, survey, p.github_id).await;
        }
        let Some(email) = email else {
            return unmapped(
                ctx,
                survey,
                p,
                "no email known (no public email, none on commits)",
            )
            .await;
        };
        match slack.lookup_by_email(&email).await {
            Ok(u) if !u.deleted && !u.is_bot => {
                zone = Some(Zone::from_slack(u.tz.as_deref(), u.tz_offset, default_zone));
                members::map_slack_by_email(
                    &ctx.pool,
                    survey.installation_id,
                    p.github_id,
                    &u.id,
                    u.tz.as_deref(),
                    u.tz_offset,
                )
                .await?;
                user_id = Some(u.id);
            }
            Ok(_) => {
                return unmapped(
                    ctx,
                    survey,
                    p,
                    "the Slack user with that email is deactivated",
                )
                .await;
            }
            Err(SlackError::Api(code)) if code == "users_not_found" => {
                return unmapped(ctx, survey, p, "no Slack user with their email").await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    let zone = match zone {
        Some(zone) => zone,
        None => {
            // Unknown or a week old: read it again (at send time, not once for ever).
            let info = slack.user_info(&user_id).await?;
            members::set_slack_zone(
                &ctx.pool,
                survey.installation_id,
                p.github_id,
                info.tz.as_deref(),
                info.tz_offset,
            )
            .await?;
            Zone::from_slack(info.tz.as_deref(), info.tz_offset, default_zone)
        }
    };
    Ok(Some((user_id, zone)))
}

async fn unmapped(
    ctx: &SurveyContext,
    survey: &Survey,
    p: &Participant,
    reason: &str,
) -> Result<Option<(String, Zone)>, SurveyError> {
    members::set_unmapped_reason(&ctx.pool, survey.installation_id, p.github_id, reason).await?;
    surveys::skip_participant(
        &ctx.pool,
        survey.id,
        p.github_id,
        &format!("unmapped: {reason}"),
    )
    .await?;
    Ok(None)
}

/// How many pages of a pull request's commits are read looking for the author's own (GitHub
/// lists at most 250 commits on a pull request).
const COMMIT_PAGES: usize = 3;

/// The author's own email from the PR's commits: only a commit GitHub links to the author's
/// account (`author.id` equal to the PR author's id) counts. A branch that starts from someone
/// else's commits must never make their email the author's (it would send the author's survey,
/// and every later one, to them). Best effort: `None` when GitHub is unreachable or no commit
/// of theirs carries a usable email.
async fn author_commit_email(
    ctx: &SurveyContext,
    survey: &Survey,
    author_id: i64,
) -> Option<String> {
    let github = ctx.github.as_ref()?;
    let auth = Auth::Installation(InstallationId(survey.installation_id));
    let mut next = Some(format!(
        "/repos/{}/pulls/{}/commits?per_page=100",
        survey.repository_full_name, survey.number
    ));
    for _ in 0..COMMIT_PAGES {
        let response = github.get(auth, &next?, None).await.ok()?;
        let own = response.body.as_ref()?.as_array()?.iter().find_map(|c| {
            let by_author = c.pointer("/author/id").and_then(Value::as_i64) == Some(author_id);
            let email = c.pointer("/commit/author/email")?.as_str()?;
            (by_author && !email.ends_with("@users.noreply.github.com")).then(|| email.to_owned())
        });
        if own.is_some() {
            return own;
        }
        next = response.next;
    }
    None
}
