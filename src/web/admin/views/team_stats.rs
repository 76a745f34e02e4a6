//! The team stats page of one installation and its CSV: per team and week, only figures the
//! store let through (see `store::team_stats` for the withholding rule); withheld ones read
//! "withheld" (an empty cell in the CSV), never 0.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::charts;
use super::stats::{WITHHELD, count, pct};
use crate::store::team_stats::{MIN_PEOPLE, TeamStats, TeamWeek};

fn rating(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| WITHHELD.into())
}

/// The page for `week` (one of `stats.weeks`, or none when there is no data yet).
pub fn page(
    installation: i64,
    org: &str,
    stats: &TeamStats,
    week: Option<DateTime<Utc>>,
) -> Markup {
    let base = format!("/admin/installations/{installation}/teams/stats");
    let cells: Vec<&TeamWeek> = stats
        .cells
        .iter()
        .filter(|c| Some(c.week) == week)
        .collect();
    let label = |c: &TeamWeek| stats.teams[c.team].slug.clone();
    let series = |f: fn(&TeamWeek) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        cells.iter().map(|&c| (label(c), f(c))).collect()
    };
    let copilot: Vec<(String, Option<f64>)> = stats
        .teams
        .iter()
        .map(|t| (t.slug.clone(), t.copilot_active))
        .collect();
    html! {
        p.hint { "Teams of " strong { (org) } ", per ISO week of merge (UTC). A figure needs at least " (MIN_PEOPLE)
            " people behind it, and is withheld when another team's (or the whole org's) figure differs from it by one or two people, "
            "or when a share is 0% or 100%. No individual answer is shown. "
            a href=(format!("{base}.csv")) download { "Download CSV" } }
        @if stats.teams.is_empty() { p { "No teams yet: they appear after a sync." } } @else {
            h2 { "Copilot seats in use (last 30 days), by team" }
            div.charts { (charts::horizontal_percent_bars("Members with an active Copilot seat", &copilot)) }
            @if let Some(week) = week {
                nav.pager aria-label="Weeks" {
                    @for w in stats.weeks.iter().rev().take(12) {
                        @if *w == week { strong { (w.format("%G-W%V")) } } @else {
                            a href=(format!("{base}?week={}", w.format("%Y-%m-%d"))) { (w.format("%G-W%V")) }
                        }
                    }
                }
                h2 { "Week " (week.format("%G-W%V")) " (from " (week.format("%Y-%m-%d")) ")" }
                // One chart per row: each has a bar per team.
                div.charts { (charts::horizontal_percent_bars("PRs with AI help (author: a little or a lot)", &series(|c| c.ai_share))) }
                div.charts { (charts::horizontal_percent_bars("Reviewers' guess accuracy", &series(|c| c.guess_accuracy))) }
                div.charts { (charts::horizontal_percent_bars("Mean quality rating (of 3)", &series(|c| c.quality.map(|q| q / 3.0)))) }
            } @else { p { "No merges or surveys in the last 26 weeks." } }
            div.scroll { table {
                thead { tr { th { "Team" } th { "Parent" } th.num { "Members" } th.num { "Copilot active" }
                    th.num { "PRs merged" } th.num { "Answers" } th.num { "AI: none" } th.num { "a little" } th.num { "a lot" }
                    th.num { "Guess accuracy" } th.num { "Quality" } } }
                tbody { @for (i, t) in stats.teams.iter().enumerate() {
                    @let c = cells.iter().find(|c| c.team == i);
                    tr {
                        td { (t.slug) div.small { (t.name) } } td { (t.parent_slug.as_deref().unwrap_or("")) }
                        td.num { (t.members) } td.num { (pct(t.copilot_active)) }
                        td.num { (count(c.and_then(|c| c.prs_merged))) } td.num { (count(c.and_then(|c| c.answers))) }
                        td.num { (pct(c.and_then(|c| c.ai_none))) } td.num { (pct(c.and_then(|c| c.ai_a_little))) }
                        td.num { (pct(c.and_then(|c| c.ai_a_lot))) } td.num { (pct(c.and_then(|c| c.guess_accuracy))) }
                        td.num { (rating(c.and_then(|c| c.quality))) }
                    }
                } }
            } }
        }
    }
}

/// Every week × team as CSV (withheld figures are empty cells).
pub fn csv(stats: &TeamStats) -> String {
    let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "week",
        "team_slug",
        "parent_team_slug",
        "members",
        "copilot_active_share",
        "prs_merged",
        "answers",
        "ai_none_share",
        "ai_a_little_share",
        "ai_a_lot_share",
        "ai_assisted_share",
        "guess_accuracy",
        "mean_quality",
    ];
    let _ = out.write_record(header);
    for c in &stats.cells {
        let t = &stats.teams[c.team];
        let _ = out.write_record([
            c.week.format("%Y-%m-%d").to_string(),
            t.slug.clone(),
            t.parent_slug.clone().unwrap_or_default(),
            t.members.to_string(),
            f(t.copilot_active),
            n(c.prs_merged),
            n(c.answers),
            f(c.ai_none),
            f(c.ai_a_little),
            f(c.ai_a_lot),
            f(c.ai_share),
            f(c.guess_accuracy),
            f(c.quality),
        ]);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}
