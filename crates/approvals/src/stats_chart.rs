//! Server-rendered SVG bar charts of approval statistics (no chart library:
//! a few rectangles and labels). Every text is escaped; the SVG carries no
//! script and no external reference, so a page may inline it or load it
//! as an image.

use tram_platform::i18n::Locale;

use crate::stats::Stats;

/// What a chart shows, per template or per approver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Requests (per template) or approval tasks (per approver), all statuses.
    Count,
    /// Median hours to decision.
    MedianHours,
    /// 90th percentile hours to decision.
    P90Hours,
    /// Tasks pending past their deadline.
    Overdue,
}

impl Measure {
    /// Every measure, in the order a page shows them.
    pub const ALL: [Measure; 4] = [
        Measure::Count,
        Measure::MedianHours,
        Measure::P90Hours,
        Measure::Overdue,
    ];

    /// Its name in `?measure=` and in the catalog.
    pub fn key(self) -> &'static str {
        match self {
            Measure::Count => "count",
            Measure::MedianHours => "median",
            Measure::P90Hours => "p90",
            Measure::Overdue => "overdue",
        }
    }

    pub fn parse(text: &str) -> Option<Measure> {
        match text {
            "count" => Some(Measure::Count),
            "median" => Some(Measure::MedianHours),
            "p90" => Some(Measure::P90Hours),
            "overdue" => Some(Measure::Overdue),
            _ => None,
        }
    }
}

fn hours(ms: Option<i64>) -> f64 {
    ms.map(|ms| ms as f64 / 3_600_000.0).unwrap_or(0.0)
}

/// The bars of one chart: per template (`by_approver` false) or approver.
pub fn bars(stats: &Stats, by_approver: bool, measure: Measure) -> Vec<(String, f64)> {
    if by_approver {
        stats
            .approvers
            .iter()
            .map(|a| {
                let value = match measure {
                    Measure::Count => a.tasks.values().sum::<i64>() as f64,
                    Measure::MedianHours => hours(a.timing.median_ms),
                    Measure::P90Hours => hours(a.timing.p90_ms),
                    Measure::Overdue => a.overdue as f64,
                };
                (a.name.clone(), value)
            })
            .collect()
    } else {
        stats
            .templates
            .iter()
            .map(|t| {
                let value = match measure {
                    Measure::Count => t.requests.values().sum::<i64>() as f64,
                    Measure::MedianHours => hours(t.timing.median_ms),
                    Measure::P90Hours => hours(t.timing.p90_ms),
                    Measure::Overdue => t.overdue as f64,
                };
                (t.name.clone(), value)
            })
            .collect()
    }
}

/// The chart of one measure per template or approver, titled in `locale`.
pub fn chart(stats: &Stats, by_approver: bool, measure: Measure, locale: Locale) -> String {
    let by = if by_approver { "approver" } else { "template" };
    let title = locale.tf(
        "approvals_stats.title",
        &[
            (
                "measure",
                locale
                    .t(&format!("approvals_stats.measure.{}", measure.key()))
                    .to_string(),
            ),
            (
                "by",
                locale.t(&format!("approvals_stats.by.{by}")).to_string(),
            ),
        ],
    );
    svg(&title, &bars(stats, by_approver, measure))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const ROW: f64 = 28.0;
const LABEL_W: f64 = 160.0;
const BAR_W: f64 = 360.0;

/// A horizontal bar chart: one row per bar, label, bar scaled to the
/// largest value, and the value (one decimal) after it.
pub fn svg(title: &str, bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let height = 40.0 + ROW * bars.len().max(1) as f64;
    let width = LABEL_W + BAR_W + 80.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">\
         <title>{}</title><text x=\"0\" y=\"18\" font-weight=\"bold\">{}</text>",
        escape(title),
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 32.0 + ROW * i as f64;
        let w = if max > 0.0 { BAR_W * value / max } else { 0.0 };
        let shown: String = label.chars().take(20).collect();
        out.push_str(&format!(
            "<text x=\"0\" y=\"{}\">{}</text>\
             <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#3478f6\" data-value=\"{value}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{value:.1}</text>",
            y + 15.0,
            escape(&shown),
            ROW - 8.0,
            LABEL_W + w + 6.0,
            y + 15.0,
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::svg;

    #[test]
    fn bars_scale_to_the_largest_and_texts_are_escaped() {
        let chart = svg(
            "Median <hours>",
            &[("Bob".into(), 2.0), ("<script>".into(), 1.0)],
        );
        assert!(chart.starts_with("<svg"));
        assert!(chart.contains("width=\"360.0\""), "{chart}");
        assert!(chart.contains("width=\"180.0\""), "{chart}");
        assert!(chart.contains("&lt;script&gt;"));
        assert!(!chart.contains("<script>"));
        assert!(chart.contains("Median &lt;hours&gt;"));
        // No data: an empty chart, no division by zero.
        let empty = svg("x", &[("a".into(), 0.0)]);
        assert!(empty.contains("width=\"0.0\""));
    }
}
