//! Small inline SVG charts drawn on the server, so the stats page needs no JavaScript and no
//! chart library.

use maud::{Markup, html};

/// A bar chart of percentages (0..=1) per label; `None` bars are drawn as "n/a" (too few people).
pub fn percent_bars(title: &str, points: &[(String, Option<f64>)]) -> Markup {
    let (w, h, pad) = (640.0_f64, 180.0_f64, 24.0_f64);
    let n = points.len().max(1) as f64;
    let slot = (w - pad * 2.0) / n;
    let bar = (slot * 0.7).max(2.0);
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) class="axis" {}
                line x1=(pad) y1=(pad) x2=(w - pad) y2=(pad) class="grid" {}
                text x="2" y=(pad + 4.0) class="label" { "100%" }
                text x="2" y=(h - pad) class="label" { "0" }
                @for (i, (label, value)) in points.iter().enumerate() {
                    @let x = pad + slot * i as f64 + (slot - bar) / 2.0;
                    @match value {
                        Some(v) => {
                            @let bh = (h - pad * 2.0) * v.clamp(0.0, 1.0);
                            rect x=(format!("{x:.1}")) y=(format!("{:.1}", h - pad - bh)) width=(format!("{bar:.1}")) height=(format!("{bh:.1}")) class="bar" {
                                title { (label) ": " (format!("{:.0}%", v * 100.0)) }
                            }
                        }
                        None => {
                            text x=(format!("{x:.1}")) y=(h - pad - 4.0) class="na" { "n/a" }
                        }
                    }
                    @if points.len() <= 13 || i % 4 == 0 {
                        text x=(format!("{x:.1}")) y=(h - 6.0) class="label" { (label) }
                    }
                }
            }
        }
    }
}

/// Horizontal bars of percentages (0..=1), one labelled row each (many rows stay readable);
/// `None` rows read "withheld".
pub fn horizontal_percent_bars(title: &str, rows: &[(String, Option<f64>)]) -> Markup {
    let (w, row, left, pad) = (640.0_f64, 18.0_f64, 160.0_f64, 8.0_f64);
    let h = pad * 2.0 + row * rows.len().max(1) as f64;
    let span = w - left - pad - 40.0;
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(title) {
                line x1=(left) y1=(pad) x2=(left) y2=(h - pad) class="axis" {}
                @for (i, (label, value)) in rows.iter().enumerate() {
                    @let y = pad + row * i as f64;
                    text x=(left - 6.0) y=(format!("{:.1}", y + row * 0.7)) class="label" text-anchor="end" { (label) }
                    @match value {
                        Some(v) => {
                            @let bw = span * v.clamp(0.0, 1.0);
                            rect x=(left) y=(format!("{:.1}", y + 3.0)) width=(format!("{bw:.1}")) height=(format!("{:.1}", row - 6.0)) class="bar" {
                                title { (label) ": " (format!("{:.0}%", v * 100.0)) }
                            }
                            text x=(format!("{:.1}", left + bw + 4.0)) y=(format!("{:.1}", y + row * 0.7)) class="label" { (format!("{:.0}%", v * 100.0)) }
                        }
                        None => {
                            text x=(left + 4.0) y=(format!("{:.1}", y + row * 0.7)) class="na" { "withheld" }
                        }
                    }
                }
            }
        }
    }
}
