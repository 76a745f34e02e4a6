//! Who may administer an installation, decided on ids, never on names: an org login can be
//! renamed and then registered by someone else, who must not inherit the old org's
//! installation. GitHub's membership answer (`GET /user/memberships/orgs/{org}` at sign-in,
//! `GET /orgs/{org}/memberships/{username}` at each re-check) grants an installation only when
//! the organization it describes has the installation's `account_id`, the member is the signed-in
//! user (by id), and the membership is an active admin one. Plain functions over parsed values,
//! so every rule is tested here without HTTP; `oauth` and `session` do the calls.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// A GitHub session's memberships are confirmed with GitHub again after this long.
pub const RECHECK_HOURS: i64 = 12;

/// The parts of GitHub's org membership object we decide on
/// (https://docs.github.com/en/rest/orgs/members#get-organization-membership-for-a-user).
#[derive(Debug, Clone, Deserialize)]
pub struct Membership {
    pub state: MembershipState,
    pub role: MembershipRole,
    pub organization: IdOnly,
    /// `nullable-simple-user` in GitHub's schema; without it nothing is granted.
    pub user: Option<IdOnly>,
}

/// An account (organization or user) as far as we care: its id.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct IdOnly {
    pub id: i64,
}

/// `state`: an invitation not yet accepted is `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    Active,
    Pending,
    /// Anything GitHub adds later (grants nothing).
    #[serde(other)]
    Other,
}

/// `role`: `admin`, `member`, or `billing_manager`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipRole {
    Admin,
    Member,
    BillingManager,
    /// Anything GitHub adds later (grants nothing).
    #[serde(other)]
    Other,
}

/// Whether `membership` makes user `user_id` an admin of the installation on account
/// `account_id` (an organization). No account id stored: nothing to compare, no access.
pub fn grants_org(membership: &Membership, account_id: Option<i64>, user_id: i64) -> bool {
    account_id == Some(membership.organization.id)
        && membership.user.is_some_and(|u| u.id == user_id)
        && membership.role == MembershipRole::Admin
        && membership.state == MembershipState::Active
}

/// Whether user `user_id` owns the installation on a user account `account_id`.
pub fn owns_account(account_id: Option<i64>, user_id: i64) -> bool {
    account_id == Some(user_id)
}

/// Whether a session whose memberships were last confirmed at `checked_at` (never: `None`) must
/// be re-checked before it is used at `now`.
pub fn needs_recheck(checked_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    checked_at.is_none_or(|at| now - at >= Duration::hours(RECHECK_HOURS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(org: i64, user: Option<i64>, role: &str, state: &str) -> Membership {
        serde_json::from_value(serde_json::json!({
            "url": "https://api.github.com/orgs/octo-org/memberships/alice",
            "state": state,
            "role": role,
            "organization_url": "https://api.github.com/orgs/octo-org",
            "organization": { "login": "octo-org", "id": org },
            "user": user.map(|id| serde_json::json!({ "login": "alice", "id": id })),
        }))
        .unwrap()
    }

    #[test]
    fn an_active_admin_of_the_same_org_id_is_granted() {
        assert!(grants_org(
            &membership(501, Some(7), "admin", "active"),
            Some(501),
            7
        ));
    }

    #[test]
    fn another_org_under_the_same_name_grants_nothing() {
        // The installation's org was renamed; its old login now names org 9001.
        assert!(!grants_org(
            &membership(9001, Some(7), "admin", "active"),
            Some(501),
            7
        ));
    }

    #[test]
    fn no_stored_account_id_grants_nothing() {
        assert!(!grants_org(
            &membership(501, Some(7), "admin", "active"),
            None,
            7
        ));
        assert!(!owns_account(None, 7));
    }

    #[test]
    fn only_active_admins_of_the_signed_in_user_are_granted() {
        for (role, state) in [
            ("member", "active"),
            ("billing_manager", "active"),
            ("admin", "pending"),
            ("owner", "active"),
            ("admin", "suspended"),
        ] {
            assert!(
                !grants_org(&membership(501, Some(7), role, state), Some(501), 7),
                "{role} {state}"
            );
        }
        assert!(!grants_org(
            &membership(501, Some(8), "admin", "active"),
            Some(501),
            7
        ));
        assert!(!grants_org(
            &membership(501, None, "admin", "active"),
            Some(501),
            7
        ));
    }

    #[test]
    fn a_user_account_is_owned_by_its_own_id() {
        assert!(owns_account(Some(7), 7));
        assert!(!owns_account(Some(8), 7));
    }

    #[test]
    fn rechecks_after_twelve_hours_or_when_never_checked() {
        let now = Utc::now();
        assert!(needs_recheck(None, now));
        assert!(!needs_recheck(Some(now - Duration::hours(11)), now));
        assert!(needs_recheck(Some(now - Duration::hours(12)), now));
        assert!(needs_recheck(Some(now - Duration::days(3)), now));
    }
}
