//! Webhooks about the code's conversation: `pull_request`, `pull_request_review` and `issues`.

use serde_json::{Value, json};

use super::super::json::{
    head_sha, issue_json, issue_type_json, label_json, milestone_json, pull_json, repo_json,
    review_json, simple_user,
};
use super::super::model::{Issue, Model, Pull, Repo, Review, now};
use super::{IssueAction, PullAction, ReviewAction, Webhook, add, merge, remove, render};

impl Model {
    fn pull_mut(&mut self, id: i64) -> &mut Pull {
        self.pulls
            .iter_mut()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("no pull request {id}"))
    }

    /// A webhook's pull request: the REST shape plus what only the single-PR shape has.
    fn full_pull_json(&self, p: &Pull) -> Value {
        let repo = self.repo_by_id(p.repo_id);
        render(self, |cx| {
            let mut pull = pull_json(cx, self, &repo, p);
            let repo_json = repo_json(cx, self, &repo);
            pull["head"]["repo"] = repo_json.clone();
            pull["head"]["user"] = pull["user"].clone();
            pull["base"]["repo"] = repo_json;
            pull["base"]["user"] = pull["user"].clone();
            merge(
                &mut pull,
                json!({
                    "merged": p.merged_at.is_some(),
                    "mergeable": if p.state == "open" { Value::Bool(true) } else { Value::Null },
                    "mergeable_state": if p.state == "open" { "clean" } else { "unknown" },
                    "merged_by": p.merged_by.map(|id| simple_user(cx, self, id)),
                    "comments": 0,
                    "review_comments": 0,
                    "maintainer_can_modify": false,
                    "commits": 1 + p.pushes,
                    "additions": 10 * (1 + p.pushes),
                    "deletions": 2,
                    "changed_files": 1,
                }),
            );
            pull
        })
    }

    /// A `pull_request` event; the pull request changes first, as the action says.
    pub fn pull_hook(&mut self, id: i64, action: PullAction) -> Webhook {
        let at = now();
        let before = head_sha(self.pull_mut(id));
        let p = self.pull_mut(id);
        let mut extra = json!({});
        match &action {
            PullAction::Opened | PullAction::Enqueued => {}
            PullAction::Edited(title) => {
                let old = std::mem::replace(&mut p.title, title.clone());
                extra = json!({ "changes": { "title": { "from": old } } });
            }
            PullAction::Labeled(label) => {
                if !p.labels.contains(label) {
                    p.labels.push(label.clone());
                }
            }
            PullAction::Unlabeled(label) => p.labels.retain(|l| l != label),
            PullAction::Assigned(user) => add(&mut p.assignees, *user),
            PullAction::Unassigned(user) => remove(&mut p.assignees, *user),
            PullAction::Milestoned(title) => p.milestone = Some(title.clone()),
            PullAction::Demilestoned => p.milestone = None,
            PullAction::ConvertedToDraft => p.draft = true,
            PullAction::ReadyForReview => p.draft = false,
            PullAction::ReviewRequested(user) => add(&mut p.requested_reviewers, *user),
            PullAction::ReviewRequestRemoved(user) => remove(&mut p.requested_reviewers, *user),
            PullAction::Locked => p.locked = true,
            PullAction::Unlocked => p.locked = false,
            PullAction::Closed => {
                p.close(at);
            }
            PullAction::Merged(by) => {
                p.merged_by = Some(*by);
                p.merge(at);
            }
            PullAction::Reopened => {
                p.state = "open".into();
                p.closed_at = None;
            }
            PullAction::Synchronize => p.pushes += 1,
            PullAction::AutoMergeEnabled => p.auto_merge = true,
            PullAction::AutoMergeDisabled => p.auto_merge = false,
            PullAction::Dequeued => extra = json!({ "reason": "MERGE" }),
        }
        p.updated_at = at;
        let p = p.clone();
        match &action {
            PullAction::Labeled(label) | PullAction::Unlabeled(label) => {
                let api = format!("{}/repos/{}", self.api_url, self.full_name(p.repo_id));
                extra = json!({ "label": label_json(&api, label) });
            }
            PullAction::Assigned(user) | PullAction::Unassigned(user) => {
                extra = json!({ "assignee": self.user_json(*user) });
            }
            PullAction::ReviewRequested(user) | PullAction::ReviewRequestRemoved(user) => {
                extra = json!({ "requested_reviewer": self.user_json(*user) });
            }
            PullAction::Milestoned(title) => {
                let api = format!("{}/repos/{}", self.api_url, self.full_name(p.repo_id));
                extra = json!({ "milestone": milestone_json(&api, title) });
            }
            PullAction::Synchronize => {
                extra = json!({ "before": before, "after": head_sha(&p) });
            }
            _ => {}
        }
        let repo = self.repo_by_id(p.repo_id);
        let sender = match action {
            PullAction::Merged(by) => by,
            _ => p.author_id,
        };
        let mut body = self.envelope(action.name(), repo.installation_id, Some(&repo), sender);
        body["number"] = json!(p.number);
        body["pull_request"] = self.full_pull_json(&p);
        merge(&mut body, extra);
        Webhook {
            event: "pull_request",
            body,
        }
    }

    /// The `pull_request.closed` webhook of pull request `id`, merged already, as GitHub
    /// delivers it late or again: the model does not change, the merge keeps its time.
    pub fn merged_again_hook(&mut self, id: i64) -> Webhook {
        let pull = self.pull_mut(id).clone();
        assert!(pull.merged_at.is_some(), "pull request {id} is not merged");
        let by = pull.merged_by.unwrap_or(pull.author_id);
        let mut hook = self.pull_hook(id, PullAction::Merged(by));
        *self.pull_mut(id) = pull.clone();
        hook.body["pull_request"] = self.full_pull_json(&pull);
        hook
    }

    fn full_name(&self, repo: i64) -> String {
        let r = self.repo_by_id(repo);
        format!("{}/{}", r.owner, r.name)
    }

    /// A `pull_request_review` event about review `id`.
    pub fn review_hook(&mut self, id: i64, action: ReviewAction) -> Webhook {
        let review = self
            .reviews
            .iter_mut()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no review {id}"));
        let mut changes = None;
        match &action {
            ReviewAction::Submitted => {}
            ReviewAction::Edited(_) => changes = Some(json!({ "body": { "from": "" } })),
            ReviewAction::Dismissed => review.state = "DISMISSED".into(),
        }
        let review: Review = review.clone();
        let pull = self
            .pulls
            .iter()
            .find(|p| p.id == review.pull_id)
            .expect("the review's pull request")
            .clone();
        let repo = self.repo_by_id(pull.repo_id);
        let name = match action {
            ReviewAction::Submitted => "submitted",
            ReviewAction::Edited(_) => "edited",
            ReviewAction::Dismissed => "dismissed",
        };
        let sender = review.reviewer_id;
        let mut body = self.envelope(name, repo.installation_id, Some(&repo), sender);
        // Webhooks spell the review state in lower case (the REST API in upper case).
        let mut review_json = render(self, |cx| review_json(cx, self, &repo, &pull, &review));
        review_json["state"] = json!(review.state.to_ascii_lowercase());
        if let ReviewAction::Edited(text) = action {
            review_json["body"] = json!(text);
        }
        body["review"] = review_json;
        body["pull_request"] = self.full_pull_json(&pull);
        if let Some(changes) = changes {
            body["changes"] = changes;
        }
        Webhook {
            event: "pull_request_review",
            body,
        }
    }

    fn issue_mut(&mut self, id: i64) -> &mut Issue {
        self.issues
            .iter_mut()
            .find(|i| i.id == id)
            .unwrap_or_else(|| panic!("no issue {id}"))
    }

    /// An `issues` event; the issue changes first, as the action says (a deleted issue leaves
    /// the model; a transferred one is copied to its new repository under a new id, the
    /// `changes.new_issue`, and the old one stays for what is sent about it later).
    pub fn issue_hook(&mut self, id: i64, action: IssueAction) -> Webhook {
        let at = now();
        let i = self.issue_mut(id);
        let mut changes = None;
        match &action {
            IssueAction::Edited(title) => {
                let old = std::mem::replace(&mut i.title, title.clone());
                changes = Some(json!({ "title": { "from": old } }));
            }
            IssueAction::Labeled(label) => {
                if !i.labels.contains(label) {
                    i.labels.push(label.clone());
                }
            }
            IssueAction::Unlabeled(label) => i.labels.retain(|l| l != label),
            IssueAction::Assigned(user) => add(&mut i.assignees, *user),
            IssueAction::Unassigned(user) => remove(&mut i.assignees, *user),
            IssueAction::Typed(name) => i.issue_type = Some(name.clone()),
            IssueAction::Untyped => i.issue_type = None,
            IssueAction::Milestoned(title) => i.milestone = Some(title.clone()),
            IssueAction::Demilestoned => i.milestone = None,
            IssueAction::Locked => i.locked = true,
            IssueAction::Unlocked => i.locked = false,
            IssueAction::Closed => {
                i.state = "closed".into();
                i.closed_at = Some(at);
            }
            IssueAction::Reopened => {
                i.state = "open".into();
                i.closed_at = None;
            }
            IssueAction::Opened
            | IssueAction::Pinned
            | IssueAction::Unpinned
            | IssueAction::Transferred(_)
            | IssueAction::Deleted => {}
        }
        i.updated_at = at;
        let issue = i.clone();
        let repo = self.repo_by_id(issue.repo_id);
        let render_issue = |model: &Model, repo: &Repo, issue: &Issue| {
            render(model, |cx| issue_json(cx, model, repo, issue))
        };
        let mut body = self.envelope(
            action.name(),
            repo.installation_id,
            Some(&repo),
            issue.author_id,
        );
        body["issue"] = render_issue(self, &repo, &issue);
        let api = format!("{}/repos/{}", self.api_url, self.full_name(repo.id));
        match &action {
            IssueAction::Labeled(label) | IssueAction::Unlabeled(label) => {
                body["label"] = label_json(&api, label);
            }
            IssueAction::Assigned(user) | IssueAction::Unassigned(user) => {
                body["assignee"] = self.user_json(*user);
            }
            IssueAction::Typed(name) => body["type"] = issue_type_json(name),
            IssueAction::Milestoned(title) => body["milestone"] = milestone_json(&api, title),
            IssueAction::Transferred(to) => {
                let to = self.repo_by_id(*to);
                let new_id = self.next_id();
                let number = self.next_number(to.id);
                let mut moved = issue.clone();
                moved.id = new_id;
                moved.repo_id = to.id;
                moved.number = number;
                changes = Some(json!({
                    "new_issue": render_issue(self, &to, &moved),
                    "new_repository": render(self, |cx| repo_json(cx, self, &to)),
                }));
            }
            IssueAction::Deleted => self.issues.retain(|i| i.id != id),
            _ => {}
        }
        if let Some(changes) = changes {
            body["changes"] = changes;
        }
        Webhook {
            event: "issues",
            body,
        }
    }
}
