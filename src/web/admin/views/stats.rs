//! The stats page and its CSV: weekly aggregates only, with withheld figures shown as such
//! (never as 0), so no individual answer can be read off them.

use maud::{Markup, html};

use super::charts;
use crate::store::admin_stats::{MIN_PEOPLE, WeekStats};

/// What a figure with fewer than three people behind it shows.
pub(super) const WITHHELD: &str = "withheld";

/// A share, or "withheld" when too few people are behind it (never 0).
pub(super) fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.0}%", v * 100.0))
        .unwrap_or_else(|| WITHHELD.into())
}

/// A count, or "withheld" when too few people are behind it (never 0).
pub(super) fn count(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| WITHHELD.into())
}

pub fn page(weeks: &[WeekStats]) -> Markup {
    let series = |f: fn(&WeekStats) -> Option<f64>| -> Vec<(String, Option<f64>)> {
        weeks
            .iter()
            .map(|w| (w.week.format("%m-%d").to_string(), f(w)))
            .collect()
    };
    html! {
        p.hint { "Per week of merge. A figure needs at least " (MIN_PEOPLE) " people behind it; otherwise it shows n/a. "
            a href="/admin/stats.csv" download { "Download CSV" } }
        @if weeks.is_empty() { p { "No surveys in the last 26 weeks." } } @else {
            div.charts {
                (charts::percent_bars("Response rate", &series(|w| w.response_rate)))
                (charts::percent_bars("AI-assisted PRs (author: a little or a lot)", &series(|w| w.ai_share)))
                (charts::percent_bars("Reviewers' guess accuracy", &series(|w| w.guess_accuracy)))
            }
            div.scroll { table {
                thead { tr { th { "Week of" } th.num { "Surveys" } th.num { "Asked" } th.num { "Answered" } th.num { "Response rate" } th.num { "AI-assisted" } th.num { "Guess accuracy" } } }
                tbody { @for w in weeks { tr {
                    td { (w.week.format("%Y-%m-%d")) } td.num { (w.surveys) } td.num { (count(w.asked)) } td.num { (count(w.answered)) }
                    td.num { (pct(w.response_rate)) } td.num { (pct(w.ai_share)) } td.num { (pct(w.guess_accuracy)) }
                } } }
            } }
        }
    }
}

/// The same weeks as CSV (a withheld figure is an empty cell).
pub fn csv(weeks: &[WeekStats]) -> String {
    let f = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let mut csv = String::from(
        "week,surveys,asked,answered,response_rate,ai_assisted_share,guess_accuracy\n",
    );
    for w in weeks {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            w.week.format("%Y-%m-%d"),
            w.surveys,
            w.asked.map(|v| v.to_string()).unwrap_or_default(),
            w.answered.map(|v| v.to_string()).unwrap_or_default(),
            f(w.response_rate),
            f(w.ai_share),
            f(w.guess_accuracy)
        ));
    }
    csv
}
