//! The actions of each event the model renders, as GitHub names them in `action`
//! (https://docs.github.com/en/webhooks/webhook-events-and-payloads), with what each carries.

/// `installation` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#installation
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationAction {
    Created,
    NewPermissionsAccepted,
    Suspend,
    Unsuspend,
    Deleted,
}

/// `organization` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#organization
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgAction {
    MemberAdded(i64),
    MemberRemoved(i64),
    /// An invitation of an existing GitHub account, by the org's first member.
    MemberInvited(i64),
    Renamed(String),
}

/// `member` actions (repository collaborators):
/// https://docs.github.com/en/webhooks/webhook-events-and-payloads#member
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollaboratorAction {
    /// Added with this permission.
    Added(String),
    /// The permission changed to this one.
    Edited(String),
    Removed,
}

/// `team` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#team
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamAction {
    Created,
    /// The description changed to this one.
    Edited(String),
    Deleted,
    /// Access to a repository, with a permission.
    AddedToRepository(i64, String),
    RemovedFromRepository(i64),
}

/// `pull_request` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullAction {
    Opened,
    /// The title changed to this one.
    Edited(String),
    Labeled(String),
    Unlabeled(String),
    Assigned(i64),
    Unassigned(i64),
    Milestoned(String),
    Demilestoned,
    ConvertedToDraft,
    ReadyForReview,
    ReviewRequested(i64),
    ReviewRequestRemoved(i64),
    Locked,
    Unlocked,
    /// Closed without merging.
    Closed,
    /// Merged (GitHub sends `closed` with `merged: true`) by this user.
    Merged(i64),
    Reopened,
    /// A push to the head branch.
    Synchronize,
    AutoMergeEnabled,
    AutoMergeDisabled,
    Enqueued,
    Dequeued,
}

impl PullAction {
    /// The `action` GitHub sends.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Edited(_) => "edited",
            Self::Labeled(_) => "labeled",
            Self::Unlabeled(_) => "unlabeled",
            Self::Assigned(_) => "assigned",
            Self::Unassigned(_) => "unassigned",
            Self::Milestoned(_) => "milestoned",
            Self::Demilestoned => "demilestoned",
            Self::ConvertedToDraft => "converted_to_draft",
            Self::ReadyForReview => "ready_for_review",
            Self::ReviewRequested(_) => "review_requested",
            Self::ReviewRequestRemoved(_) => "review_request_removed",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
            Self::Closed | Self::Merged(_) => "closed",
            Self::Reopened => "reopened",
            Self::Synchronize => "synchronize",
            Self::AutoMergeEnabled => "auto_merge_enabled",
            Self::AutoMergeDisabled => "auto_merge_disabled",
            Self::Enqueued => "enqueued",
            Self::Dequeued => "dequeued",
        }
    }
}

/// `pull_request_review` actions:
/// https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request_review
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewAction {
    Submitted,
    /// The body changed to this one.
    Edited(String),
    Dismissed,
}

/// `issues` actions: https://docs.github.com/en/webhooks/webhook-events-and-payloads#issues
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    /// The title changed to this one.
    Edited(String),
    Labeled(String),
    Unlabeled(String),
    Assigned(i64),
    Unassigned(i64),
    Typed(String),
    Untyped,
    Milestoned(String),
    Demilestoned,
    Pinned,
    Unpinned,
    Locked,
    Unlocked,
    Closed,
    Reopened,
    /// Moved to this repository.
    Transferred(i64),
    Deleted,
}

impl IssueAction {
    /// The `action` GitHub sends.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Edited(_) => "edited",
            Self::Labeled(_) => "labeled",
            Self::Unlabeled(_) => "unlabeled",
            Self::Assigned(_) => "assigned",
            Self::Unassigned(_) => "unassigned",
            Self::Typed(_) => "typed",
            Self::Untyped => "untyped",
            Self::Milestoned(_) => "milestoned",
            Self::Demilestoned => "demilestoned",
            Self::Pinned => "pinned",
            Self::Unpinned => "unpinned",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
            Self::Closed => "closed",
            Self::Reopened => "reopened",
            Self::Transferred(_) => "transferred",
            Self::Deleted => "deleted",
        }
    }
}
