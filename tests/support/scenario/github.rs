//! What people do on GitHub, as scenario steps: each changes the fake GitHub's model, renders
//! the webhook GitHub would send from it, and delivers it (waiting until it is processed).

use super::super::fake_github::{
    CollaboratorAction, InstallationAction, IssueAction, OrgAction, PullAction, ReviewAction,
    TeamAction,
};
use super::{Delivery, INSTALLATION, MONA, ORG, OTHER_INSTALLATION, OTHER_ORG, Person, Scenario};

/// A pull request of the scenario (ids as GitHub gives them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrRef {
    pub id: i64,
    pub number: i32,
    pub repo: i64,
}

/// A review of a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewRef {
    pub id: i64,
    pub pr: PrRef,
}

/// An issue (not a pull request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueRef {
    pub id: i64,
    pub number: i32,
}

/// What a review says, as GitHub's REST API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    Approved,
    ChangesRequested,
    Commented,
}

impl ReviewState {
    fn as_github(self) -> &'static str {
        match self {
            Self::Approved => "APPROVED",
            Self::ChangesRequested => "CHANGES_REQUESTED",
            Self::Commented => "COMMENTED",
        }
    }
}

impl Scenario {
    /// An `installation` event for [`INSTALLATION`].
    pub async fn installation_event(&self, action: InstallationAction) -> Delivery {
        self.send(self.github(|m| m.installation_hook(INSTALLATION, action)))
            .await
    }

    /// The second org ([`OTHER_ORG`], mona is a member) with one repository, `elsewhere`,
    /// installed and synced; returns that repository's id.
    pub async fn install_other_org(&self) -> i64 {
        let repo = self.github(|m| {
            m.add_org_installation(OTHER_INSTALLATION, OTHER_ORG);
            m.add_member(OTHER_ORG, MONA.github_user());
            m.add_repo(OTHER_INSTALLATION, OTHER_ORG, "elsewhere").id
        });
        self.send(
            self.github(|m| m.installation_hook(OTHER_INSTALLATION, InstallationAction::Created)),
        )
        .await;
        self.catch_up_org(OTHER_INSTALLATION, OTHER_ORG).await;
        repo
    }

    /// A new repository of the org, added to the installation (`installation_repositories`).
    pub async fn add_repo(&self, name: &str) -> (i64, Delivery) {
        let hook = self.github(|m| {
            let id = m.add_repo(0, ORG, name).id;
            (id, m.repositories_hook(INSTALLATION, &[id], &[]))
        });
        (hook.0, self.send(hook.1).await)
    }

    /// Repository `id` taken away from the installation.
    pub async fn remove_repo(&self, id: i64) -> Delivery {
        self.send(self.github(|m| m.repositories_hook(INSTALLATION, &[], &[id])))
            .await
    }

    /// The installed org is renamed (`installation_target.renamed`).
    pub async fn rename_installation_target(&self, login: &str) -> Delivery {
        self.send(self.github(|m| m.target_renamed_hook(INSTALLATION, login)))
            .await
    }

    /// `person` revokes their authorization of the app.
    pub async fn revoke_authorization(&self, person: Person) -> Delivery {
        self.send(self.github(|m| m.authorization_revoked_hook(person.github_id)))
            .await
    }

    /// An `organization` event of [`ORG`] (as it is named now).
    pub async fn org_event(&self, action: OrgAction) -> Delivery {
        let hook = self.github(|m| {
            let org = m.installation(INSTALLATION).account_login.clone();
            m.org_hook(&org, action)
        });
        self.send(hook).await
    }

    /// `person` joins the org.
    pub async fn add_member(&self, person: Person) -> Delivery {
        self.github(|m| {
            m.add_user(person.github_user());
        });
        self.org_event(OrgAction::MemberAdded(person.github_id))
            .await
    }

    /// `person` leaves the org.
    pub async fn remove_member(&self, person: Person) -> Delivery {
        self.org_event(OrgAction::MemberRemoved(person.github_id))
            .await
    }

    /// `person` is invited to the org.
    pub async fn invite(&self, person: Person) -> Delivery {
        self.github(|m| {
            m.add_user(person.github_user());
        });
        self.org_event(OrgAction::MemberInvited(person.github_id))
            .await
    }

    /// A `member` event: `person` as a collaborator of repository `repo`.
    pub async fn collaborator(
        &self,
        repo: i64,
        person: Person,
        action: CollaboratorAction,
    ) -> Delivery {
        self.github(|m| {
            m.add_user(person.github_user());
        });
        self.send(self.github(|m| m.collaborator_hook(repo, person.github_id, action)))
            .await
    }

    /// A new team `slug` (`team.created`).
    pub async fn create_team(&self, id: i64, slug: &str) -> Delivery {
        let hook = self.github(|m| {
            m.add_team(ORG, id, slug);
            m.team_hook(id, TeamAction::Created)
        });
        self.send(hook).await
    }

    /// A `team` event.
    pub async fn team_event(&self, id: i64, action: TeamAction) -> Delivery {
        self.send(self.github(|m| m.team_hook(id, action))).await
    }

    /// `person` added to (or removed from) team `id` (`membership`).
    pub async fn team_membership(&self, id: i64, person: Person, added: bool) -> Delivery {
        self.send(self.github(|m| m.team_membership_hook(id, person.github_id, added)))
            .await
    }

    /// `author` opens a pull request on [`super::REPO`].
    pub async fn open_pr(&self, author: Person) -> PrRef {
        self.open_pr_in(self.repo, author).await
    }

    /// `author` opens a pull request on repository `repo`.
    pub async fn open_pr_in(&self, repo: i64, author: Person) -> PrRef {
        let (pr, hook) = self.github(|m| {
            m.add_user(author.github_user());
            let pull = m.add_pull(repo, author.github_id);
            let pr = PrRef {
                id: pull.id,
                number: pull.number,
                repo,
            };
            (pr, m.pull_hook(pr.id, PullAction::Opened))
        });
        self.send(hook).await;
        pr
    }

    /// A `pull_request` event for `pr` (the model changes as the action says).
    pub async fn pr_event(&self, pr: PrRef, action: PullAction) -> Delivery {
        self.send(self.github(|m| m.pull_hook(pr.id, action))).await
    }

    /// `reviewer` submits a review of `pr`.
    pub async fn review(&self, pr: PrRef, reviewer: Person, state: ReviewState) -> ReviewRef {
        let (review, hook) = self.github(|m| {
            if !m.users.contains_key(&reviewer.github_id) {
                m.add_user(reviewer.github_user());
            }
            let id = m
                .add_review(pr.id, reviewer.github_id, state.as_github())
                .id;
            (
                ReviewRef { id, pr },
                m.review_hook(id, ReviewAction::Submitted),
            )
        });
        self.send(hook).await;
        review
    }

    /// A `pull_request_review` event for `review`.
    pub async fn review_event(&self, review: ReviewRef, action: ReviewAction) -> Delivery {
        self.send(self.github(|m| m.review_hook(review.id, action)))
            .await
    }

    /// `pr` merged by its author.
    pub async fn merge(&self, pr: PrRef) -> Delivery {
        let author = self.github(|m| {
            m.pulls
                .iter()
                .find(|p| p.id == pr.id)
                .expect("the pull request")
                .author_id
        });
        self.pr_event(pr, PullAction::Merged(author)).await
    }

    /// `author` opens an issue on [`super::REPO`].
    pub async fn open_issue(&self, author: Person) -> IssueRef {
        let (issue, hook) = self.github(|m| {
            let issue = m.add_issue(self.repo, author.github_id);
            let issue = IssueRef {
                id: issue.id,
                number: issue.number,
            };
            (issue, m.issue_hook(issue.id, IssueAction::Opened))
        });
        self.send(hook).await;
        issue
    }

    /// An `issues` event for `issue`.
    pub async fn issue_event(&self, issue: IssueRef, action: IssueAction) -> Delivery {
        self.send(self.github(|m| m.issue_hook(issue.id, action)))
            .await
    }
}
