//! What the app stored, read back typed through `mergecast::store` (never raw SQL), with the
//! expectations tests state on it. Reads of something the app creates asynchronously (a survey
//! after a merge) wait for it with the scenario's one deadline.

use chrono::{DateTime, Utc};
use mergecast::store::installations::{self, InstallationRow, RepositoryRow};
use mergecast::store::issues::{self, IssueRow};
use mergecast::store::members::{self, Collaborator, Member};
use mergecast::store::merged::{self, MergedRecord};
use mergecast::store::pulls::{self, PullRow, ReviewRow};
pub use mergecast::store::surveys::SurveyStatus;
use mergecast::store::surveys::{self, Participant, Survey};
use mergecast::store::teams::{self, TeamMemberRow, TeamRepositoryRow, TeamRow};

use super::github::{IssueRef, PrRef, ReviewRef};
use super::{INSTALLATION, Person, Scenario};

/// A participant's answer: the author's AI help, or a reviewer's guess of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    None,
    ALittle,
    ALot,
    GuessYes,
    GuessNo,
}

impl Answer {
    fn parse(s: &str) -> Self {
        match s {
            "none" => Self::None,
            "a_little" => Self::ALittle,
            "a_lot" => Self::ALot,
            "yes" => Self::GuessYes,
            "no" => Self::GuessNo,
            other => panic!("unknown answer {other}"),
        }
    }
}

/// A survey and its participants as stored now.
#[derive(Debug, Clone)]
pub struct SurveyView {
    pub survey: Survey,
    pub state: surveys::SurveyState,
    pub participants: Vec<Participant>,
    /// (github id, when their reminder is due), for every participant.
    pub remind_due: Vec<(i64, Option<DateTime<Utc>>)>,
}

impl SurveyView {
    pub fn id(&self) -> i64 {
        self.survey.id
    }

    pub fn status(&self) -> SurveyStatus {
        self.survey.status
    }

    pub fn expect_status(&self, status: SurveyStatus) -> &Self {
        assert_eq!(self.status(), status, "survey {}", self.survey.id);
        self
    }

    pub fn expect_revealed(&self) -> &Self {
        self.expect_status(SurveyStatus::Revealed)
    }

    /// `person`'s participation; `None` if they are not part of the survey.
    pub fn participant(&self, person: Person) -> Option<&Participant> {
        self.participants
            .iter()
            .find(|p| p.github_id == person.github_id)
    }

    fn must(&self, person: Person) -> &Participant {
        self.participant(person)
            .unwrap_or_else(|| panic!("{} takes no part in survey {}", person.login, self.id()))
    }

    pub fn answer(&self, person: Person) -> Option<Answer> {
        self.must(person).answer.as_deref().map(Answer::parse)
    }

    pub fn quality(&self, person: Person) -> Option<i16> {
        self.must(person).quality
    }

    pub fn skip_reason(&self, person: Person) -> Option<&str> {
        self.must(person).skip_reason.as_deref()
    }

    pub fn expect_asked(&self, person: Person) -> &Self {
        assert!(
            self.must(person).asked_at.is_some(),
            "{} asked: {:?}",
            person.login,
            self.must(person)
        );
        self
    }

    /// `person` was passed over for a reason starting with `reason`.
    pub fn expect_skipped(&self, person: Person, reason: &str) -> &Self {
        let got = self.skip_reason(person);
        assert!(
            got.is_some_and(|r| r.starts_with(reason)),
            "{} skipped for {reason:?}, got {got:?}",
            person.login
        );
        self
    }

    /// Whether everyone in the survey was asked and given a reminder deadline.
    pub fn all_asked_with_deadlines(&self) -> bool {
        self.participants.iter().all(|p| p.asked_at.is_some())
            && self.remind_due.iter().all(|(_, due)| due.is_some())
    }

    /// Whether `person` was asked or passed over (the survey has dealt with them).
    pub fn considered(&self, person: Person) -> bool {
        self.participant(person)
            .is_some_and(|p| p.asked_at.is_some() || p.skip_reason.is_some())
    }
}

impl Scenario {
    /// The installation as stored.
    pub async fn installation(&self) -> InstallationRow {
        installations::get(self.pool(), INSTALLATION)
            .await
            .expect("read installation")
            .expect("the installation is stored")
    }

    pub async fn repositories(&self) -> Vec<RepositoryRow> {
        installations::repositories(self.pool(), INSTALLATION)
            .await
            .expect("read repositories")
    }

    /// When `person` revoked the app's authorization, as stored.
    pub async fn revoked_at(&self, person: Person) -> Option<DateTime<Utc>> {
        installations::revoked_at(self.pool(), person.github_id)
            .await
            .expect("read revocations")
    }

    /// `person`'s member row in the org, if any.
    pub async fn member(&self, person: Person) -> Option<Member> {
        members::get(self.pool(), INSTALLATION, person.github_id)
            .await
            .expect("read member")
    }

    pub async fn members(&self) -> Vec<Member> {
        members::all(self.pool(), INSTALLATION)
            .await
            .expect("read members")
    }

    pub async fn collaborators(&self, repo: i64) -> Vec<Collaborator> {
        members::collaborators(self.pool(), repo)
            .await
            .expect("read collaborators")
    }

    pub async fn team(&self, id: i64) -> Option<TeamRow> {
        teams::get(self.pool(), id).await.expect("read team")
    }

    pub async fn team_members(&self, id: i64) -> Vec<TeamMemberRow> {
        teams::members(self.pool(), id)
            .await
            .expect("read team members")
    }

    pub async fn team_repositories(&self, id: i64) -> Vec<TeamRepositoryRow> {
        teams::repositories(self.pool(), id)
            .await
            .expect("read team repositories")
    }

    /// The pull request as stored; panics if the app never stored it.
    pub async fn pr(&self, pr: PrRef) -> PullRow {
        pulls::get(self.pool(), pr.id)
            .await
            .expect("read pull request")
            .unwrap_or_else(|| panic!("pull request {} is stored", pr.id))
    }

    pub async fn stored_review(&self, review: ReviewRef) -> ReviewRow {
        pulls::review(self.pool(), review.id)
            .await
            .expect("read review")
            .unwrap_or_else(|| panic!("review {} is stored", review.id))
    }

    pub async fn issue(&self, issue: IssueRef) -> IssueRow {
        issues::get(self.pool(), issue.id)
            .await
            .expect("read issue")
            .unwrap_or_else(|| panic!("issue {} is stored", issue.id))
    }

    /// Merged pull requests recorded (the once-only guard of `PullRequestMerged`).
    pub async fn merged(&self) -> Vec<MergedRecord> {
        merged::of_installation(self.pool(), INSTALLATION)
            .await
            .expect("read merged")
    }

    /// `PullRequestMerged` jobs ever emitted.
    pub async fn merged_jobs(&self) -> u64 {
        self.app.merged_jobs().await
    }

    /// Waits until every recorded merge has left the outbox for the queue.
    pub async fn wait_merges_relayed(&self, count: usize) {
        self.until(&format!("{count} merges relayed to the queue"), || async {
            let merged = self.merged().await;
            merged.len() == count && merged.iter().all(|m| m.enqueued_at.is_some())
        })
        .await;
    }

    /// The survey of `pr`, if the app made one.
    pub async fn survey_if_any(&self, pr: PrRef) -> Option<SurveyView> {
        let survey = surveys::by_pull_request(self.pool(), pr.id)
            .await
            .expect("read survey")?;
        let state = surveys::state(self.pool(), survey.id)
            .await
            .expect("read survey state")
            .expect("the survey is stored");
        let participants = surveys::participants(self.pool(), survey.id)
            .await
            .expect("read participants");
        let mut remind_due = Vec::new();
        for p in &participants {
            let due = surveys::remind_due_at(self.pool(), survey.id, p.github_id)
                .await
                .expect("read deadline");
            remind_due.push((p.github_id, due));
        }
        Some(SurveyView {
            survey,
            state,
            participants,
            remind_due,
        })
    }

    /// The survey of `pr`, waiting for the app to make it.
    pub async fn survey(&self, pr: PrRef) -> SurveyView {
        self.survey_until(pr, "the survey exists", |_| true).await
    }

    /// The survey of `pr` once `done` holds for it.
    pub async fn survey_until(
        &self,
        pr: PrRef,
        what: &str,
        done: impl Fn(&SurveyView) -> bool,
    ) -> SurveyView {
        self.eventually(&format!("survey of PR {}: {what}", pr.number), || async {
            self.survey_if_any(pr).await.filter(|v| done(v))
        })
        .await
    }

    /// The Slack clicks received so far and, once handled, their outcome.
    pub async fn interactions(&self) -> Vec<surveys::Interaction> {
        surveys::interactions(self.pool())
            .await
            .expect("read interactions")
    }

    /// Waits until `count` clicks are handled (each has an outcome); returns them all.
    pub async fn clicks_handled(&self, count: usize) -> Vec<surveys::Interaction> {
        self.eventually(&format!("{count} clicks handled"), || async {
            let all = self.interactions().await;
            (all.iter().filter(|i| i.outcome.is_some()).count() == count).then_some(all)
        })
        .await
    }
}
