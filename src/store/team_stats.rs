//! Per-team weekly figures for the admin's team stats page: PRs merged by the team's members,
//! survey answers they gave, how much AI help the team's authors reported, how well the team's
//! reviewers guessed it, the quality ratings the team's PRs received, and the share of the team
//! with an active Copilot seat. The privacy rules are applied here, next to the SQL (as in
//! `admin_stats`), so neither the page nor its CSV can show a figure that tells one person's
//! answer.
//!
//! # Withholding rule
//!
//! Every figure has a set of people behind it (its *contributors*: the PRs' authors, the people
//! who answered, the authors who said how much AI helped, the reviewers who guessed, the
//! reviewers who rated, the team's members). A team's figure is withheld (`None`, shown as
//! "withheld", never as 0) when:
//!
//! 1. fewer than [`MIN_PEOPLE`] (3) people are behind it; or
//! 2. **differencing**: the same figure for the same week of another team, or of the whole
//!    installation (what the org-wide stats page aggregates), has [`MIN_PEOPLE`] or more people
//!    behind it and its contributor set differs from this one by one or two people (symmetric
//!    difference of 1 or 2: a child team one person smaller than its parent, a team that is the
//!    whole org but one, two teams that swap one person). Both figures of such a pair are
//!    withheld, so neither can be subtracted from the other; or
//! 3. the share of AI-assisted PRs or of right guesses is 0 % or 100 %, any of the three
//!    AI-help shares (none / a little / a lot) is 0 % or 100 %, or the mean quality rating is
//!    the lowest or highest possible (each would tell every contributor's answer).
//!
//! Only pairs are compared; sums of three or more teams against another are not (a known limit).
//! Membership counts week by week: someone counts for a team in a week when their membership
//! (`joined_at`..`left_at`) overlaps it. The Copilot share is for the team as it is now.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sqlx::FromRow;

pub use super::admin_stats::MIN_PEOPLE;

/// Lowest and highest quality rating a reviewer can give.
const QUALITY_RANGE: (f64, f64) = (1.0, 3.0);

/// A team as the page lists it, with its figures that do not depend on the week.
#[derive(Debug, Clone)]
pub struct TeamLine {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub parent_slug: Option<String>,
    /// Current members.
    pub members: i64,
    /// Share of current members whose seat is active (used in the last 30 days).
    pub copilot_active: Option<f64>,
}

/// One team's figures for one ISO week (weeks start on Monday, UTC); `None` is withheld.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamWeek {
    /// Index into [`TeamStats::teams`].
    pub team: usize,
    pub week: DateTime<Utc>,
    pub prs_merged: Option<i64>,
    pub answers: Option<i64>,
    pub ai_none: Option<f64>,
    pub ai_a_little: Option<f64>,
    pub ai_a_lot: Option<f64>,
    /// Share of the team's answered PRs whose author said "a little" or "a lot".
    pub ai_share: Option<f64>,
    pub guess_accuracy: Option<f64>,
    /// Mean quality rating (1..=3) of the team's PRs.
    pub quality: Option<f64>,
}

/// The team stats of one installation (last 26 weeks with any merge or survey).
#[derive(Debug, Clone, Default)]
pub struct TeamStats {
    pub teams: Vec<TeamLine>,
    /// Ascending.
    pub weeks: Vec<DateTime<Utc>>,
    /// Ordered by week, then team.
    pub cells: Vec<TeamWeek>,
}

#[derive(FromRow)]
struct TeamRow {
    id: i64,
    slug: String,
    name: String,
    parent_slug: Option<String>,
}

#[derive(FromRow)]
struct Membership {
    team_id: i64,
    github_id: i64,
    joined_at: Option<DateTime<Utc>>,
    left_at: Option<DateTime<Utc>>,
    current: bool,
}

#[derive(FromRow)]
struct Merge {
    week: DateTime<Utc>,
    author_id: i64,
}

#[derive(FromRow)]
struct Answer {
    week: DateTime<Utc>,
    author_id: Option<i64>,
    github_id: i64,
    role: String,
    answer: Option<String>,
    quality: Option<i16>,
    answered: bool,
    author_answer: Option<String>,
}

/// Reads and computes the team stats of `installation` (the caller checks the scope).
pub async fn team_stats(
    db: &mut sqlx::PgConnection,
    installation: i64,
) -> Result<TeamStats, sqlx::Error> {
    let teams: Vec<TeamRow> = sqlx::query_as(
        "SELECT t.id, t.slug, t.name, p.slug AS parent_slug FROM teams t
         LEFT JOIN teams p ON p.id = t.parent_id
         WHERE t.installation_id = $1 AND t.deleted_at IS NULL ORDER BY t.slug, t.id",
    )
    .bind(installation)
    .fetch_all(&mut *db)
    .await?;
    let memberships: Vec<Membership> = sqlx::query_as(
        "SELECT tm.team_id, tm.github_id, tm.joined_at, tm.left_at,
                (tm.active AND tm.left_at IS NULL) AS current
         FROM team_members tm JOIN members m
           ON m.installation_id = tm.installation_id AND m.github_id = tm.github_id
         WHERE tm.installation_id = $1 AND (tm.active OR tm.left_at IS NOT NULL)",
    )
    .bind(installation)
    .fetch_all(&mut *db)
    .await?;
    let merges: Vec<Merge> = sqlx::query_as(
        "SELECT date_trunc('week', merged_at) AS week, author_id FROM pull_requests
         WHERE installation_id = $1 AND merged AND author_id IS NOT NULL
           AND merged_at > now() - interval '26 weeks'",
    )
    .bind(installation)
    .fetch_all(&mut *db)
    .await?;
    let answers: Vec<Answer> = sqlx::query_as(
        r#"WITH s AS (
             SELECT id, author_github_id, date_trunc('week', coalesce(merged_at, created_at)) AS week
             FROM surveys WHERE installation_id = $1 AND status <> 'skipped'
               AND coalesce(merged_at, created_at) > now() - interval '26 weeks')
           SELECT s.week, s.author_github_id AS author_id, p.github_id, p.role, p.answer, p.quality,
                  p.answered_at IS NOT NULL AS answered, a.answer AS author_answer
           FROM s JOIN survey_participants p ON p.survey_id = s.id
           LEFT JOIN survey_participants a ON a.survey_id = s.id AND a.role = 'author'
                AND a.answer IS NOT NULL"#,
    )
    .bind(installation)
    .fetch_all(&mut *db)
    .await?;
    let active_seats: Vec<i64> = sqlx::query_scalar(
        "SELECT github_id FROM copilot_seats WHERE installation_id = $1 AND ended_at IS NULL
           AND last_activity_at >= now() - interval '30 days'",
    )
    .bind(installation)
    .fetch_all(&mut *db)
    .await?;
    let org_members: Vec<i64> =
        sqlx::query_scalar("SELECT github_id FROM members WHERE installation_id = $1 AND active")
            .bind(installation)
            .fetch_all(&mut *db)
            .await?;
    Ok(compute(
        teams,
        &memberships,
        &merges,
        &answers,
        &active_seats,
        &org_members,
    ))
}

/// Who is behind a figure, and its value before the privacy rules.
#[derive(Debug, Clone, Default)]
struct Cell {
    people: BTreeSet<i64>,
    value: Option<f64>,
}

impl Cell {
    fn count(people: BTreeSet<i64>, n: usize) -> Self {
        Self {
            people,
            value: Some(n as f64),
        }
    }

    fn share(people: BTreeSet<i64>, n: usize, of: usize) -> Self {
        Self {
            people,
            value: (of > 0).then(|| n as f64 / of as f64),
        }
    }
}

/// The figures of one team (or the whole installation) in one week, in [`FIGURES`] order.
type Figures = [Cell; FIGURES];
const FIGURES: usize = 8;
const PRS: usize = 0;
const ANSWERS: usize = 1;
const AI_NONE: usize = 2;
const AI_LITTLE: usize = 3;
const AI_LOT: usize = 4;
const AI_SHARE: usize = 5;
const ACCURACY: usize = 6;
const QUALITY: usize = 7;

/// The figures of the people `member` says are in the group, from one week's facts.
fn figures(merges: &[&Merge], answers: &[&Answer], member: impl Fn(i64) -> bool) -> Figures {
    let mut f: Figures = Default::default();
    let authors: BTreeSet<i64> = merges
        .iter()
        .map(|m| m.author_id)
        .filter(|a| member(*a))
        .collect();
    let prs = merges.iter().filter(|m| member(m.author_id)).count();
    f[PRS] = Cell::count(authors, prs);

    let answered: Vec<&&Answer> = answers
        .iter()
        .filter(|a| a.answered && member(a.github_id))
        .collect();
    f[ANSWERS] = Cell::count(
        answered.iter().map(|a| a.github_id).collect(),
        answered.len(),
    );

    let ai: Vec<&str> = answers
        .iter()
        .filter(|a| a.role == "author" && member(a.github_id))
        .filter_map(|a| a.answer.as_deref())
        .collect();
    let ai_people: BTreeSet<i64> = answers
        .iter()
        .filter(|a| a.role == "author" && a.answer.is_some() && member(a.github_id))
        .map(|a| a.github_id)
        .collect();
    let n = |v: &str| ai.iter().filter(|a| **a == v).count();
    f[AI_NONE] = Cell::share(ai_people.clone(), n("none"), ai.len());
    f[AI_LITTLE] = Cell::share(ai_people.clone(), n("a_little"), ai.len());
    f[AI_LOT] = Cell::share(ai_people.clone(), n("a_lot"), ai.len());
    f[AI_SHARE] = Cell::share(ai_people, n("a_little") + n("a_lot"), ai.len());

    let guesses: Vec<&&Answer> = answers
        .iter()
        .filter(|a| a.role == "reviewer" && member(a.github_id))
        .filter(|a| a.author_answer.is_some() && matches!(a.answer.as_deref(), Some("yes" | "no")))
        .collect();
    let right = guesses
        .iter()
        .filter(|a| {
            let helped = a.author_answer.as_deref() != Some("none");
            (a.answer.as_deref() == Some("yes")) == helped
        })
        .count();
    f[ACCURACY] = Cell::share(
        guesses.iter().map(|a| a.github_id).collect(),
        right,
        guesses.len(),
    );

    let ratings: Vec<&&Answer> = answers
        .iter()
        .filter(|a| a.role == "reviewer" && a.quality.is_some())
        .filter(|a| a.author_id.is_some_and(&member))
        .collect();
    let sum: f64 = ratings
        .iter()
        .filter_map(|a| a.quality)
        .map(f64::from)
        .sum();
    f[QUALITY] = Cell {
        people: ratings.iter().map(|a| a.github_id).collect(),
        value: (!ratings.is_empty()).then(|| sum / ratings.len() as f64),
    };
    f
}

/// Whether two contributor sets differ by one or two people (symmetric difference 1..=2).
fn differ_by_one_or_two(a: &BTreeSet<i64>, b: &BTreeSet<i64>) -> bool {
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    let d = a.symmetric_difference(b).take(3).count();
    (1..=2).contains(&d)
}

/// Rules 1 and 2 for one figure across the groups `cells` (the last may be the whole
/// installation): which of them may be shown.
fn shown(cells: &[&Cell]) -> Vec<bool> {
    let enough = |c: &Cell| c.people.len() as i64 >= MIN_PEOPLE;
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            enough(c)
                && !cells.iter().enumerate().any(|(j, other)| {
                    i != j && enough(other) && differ_by_one_or_two(&c.people, &other.people)
                })
        })
        .collect()
}

fn is_extreme(v: f64, (lo, hi): (f64, f64)) -> bool {
    v <= lo || v >= hi
}

fn compute(
    teams: Vec<TeamRow>,
    memberships: &[Membership],
    merges: &[Merge],
    answers: &[Answer],
    active_seats: &[i64],
    org_members: &[i64],
) -> TeamStats {
    let index: HashMap<i64, usize> = teams.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    let mut by_team: Vec<Vec<&Membership>> = vec![Vec::new(); teams.len()];
    for m in memberships {
        if let Some(&i) = index.get(&m.team_id) {
            by_team[i].push(m);
        }
    }

    // The Copilot share, for the team as it is now (the whole org as the last group).
    let seats: BTreeSet<i64> = active_seats.iter().copied().collect();
    let mut copilot: Vec<Cell> = by_team
        .iter()
        .map(|ms| {
            let people: BTreeSet<i64> = ms
                .iter()
                .filter(|m| m.current)
                .map(|m| m.github_id)
                .collect();
            let n = people.iter().filter(|p| seats.contains(p)).count();
            let of = people.len();
            Cell::share(people, n, of)
        })
        .collect();
    let org: BTreeSet<i64> = org_members.iter().copied().collect();
    let n = org.iter().filter(|p| seats.contains(p)).count();
    let of = org.len();
    copilot.push(Cell::share(org, n, of));
    let copilot_shown = shown(&copilot.iter().collect::<Vec<_>>());
    let lines = teams
        .into_iter()
        .enumerate()
        .map(|(i, t)| TeamLine {
            id: t.id,
            slug: t.slug,
            name: t.name,
            parent_slug: t.parent_slug,
            members: copilot[i].people.len() as i64,
            copilot_active: copilot[i].value.filter(|_| copilot_shown[i]),
        })
        .collect::<Vec<_>>();

    let weeks: Vec<DateTime<Utc>> = merges
        .iter()
        .map(|m| m.week)
        .chain(answers.iter().map(|a| a.week))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut cells = Vec::new();
    for &week in &weeks {
        let end = week + Duration::weeks(1);
        let merges: Vec<&Merge> = merges.iter().filter(|m| m.week == week).collect();
        let answers: Vec<&Answer> = answers.iter().filter(|a| a.week == week).collect();
        let mut groups: Vec<Figures> = by_team
            .iter()
            .map(|ms| {
                let on_team: BTreeSet<i64> = ms
                    .iter()
                    .filter(|m| m.joined_at.is_none_or(|j| j < end))
                    .filter(|m| m.current || m.left_at.is_some_and(|l| l >= week))
                    .map(|m| m.github_id)
                    .collect();
                figures(&merges, &answers, |p| on_team.contains(&p))
            })
            .collect();
        // The whole installation, as the org-wide stats page sees it.
        groups.push(figures(&merges, &answers, |_| true));
        let mut show = vec![[false; FIGURES]; groups.len()];
        for f in 0..FIGURES {
            let column: Vec<&Cell> = groups.iter().map(|g| &g[f]).collect();
            for (i, s) in shown(&column).into_iter().enumerate() {
                show[i][f] = s;
            }
        }
        for (team, g) in groups.iter().enumerate().take(lines.len()) {
            let v = |f: usize| g[f].value.filter(|_| show[team][f]);
            let not_extreme = |f: usize| v(f).filter(|x| !is_extreme(*x, (0.0, 1.0)));
            let ai = [v(AI_NONE), v(AI_LITTLE), v(AI_LOT)];
            let ai_ok = ai
                .iter()
                .all(|s| s.is_some_and(|x| !is_extreme(x, (0.0, 1.0))));
            let ai = ai.map(|s| s.filter(|_| ai_ok));
            cells.push(TeamWeek {
                team,
                week,
                prs_merged: v(PRS).map(|x| x as i64),
                answers: v(ANSWERS).map(|x| x as i64),
                ai_none: ai[0],
                ai_a_little: ai[1],
                ai_a_lot: ai[2],
                ai_share: not_extreme(AI_SHARE),
                guess_accuracy: not_extreme(ACCURACY),
                quality: v(QUALITY).filter(|x| !is_extreme(*x, QUALITY_RANGE)),
            });
        }
    }
    TeamStats {
        teams: lines,
        weeks,
        cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    fn cell(ids: &[i64]) -> Cell {
        Cell::count(set(ids), ids.len())
    }

    #[test]
    fn sets_differing_by_one_or_two_are_both_withheld() {
        let parent = cell(&[1, 2, 3, 4]);
        let child = cell(&[1, 2, 3]);
        let other = cell(&[7, 8, 9]);
        assert_eq!(shown(&[&parent, &child, &other]), vec![false, false, true]);
        // Differing by three people: both shown.
        let big = cell(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(shown(&[&big, &child]), vec![true, true]);
        // A swap of one person for another is a difference of two.
        assert_eq!(
            shown(&[&cell(&[1, 2, 3]), &cell(&[1, 2, 4])]),
            vec![false, false]
        );
        // Identical sets tell nothing new.
        assert_eq!(
            shown(&[&cell(&[1, 2, 3]), &cell(&[1, 2, 3])]),
            vec![true, true]
        );
        // A group under three is withheld, and cannot withhold another.
        assert_eq!(
            shown(&[&cell(&[1, 2]), &cell(&[1, 2, 3])]),
            vec![false, true]
        );
    }
}
