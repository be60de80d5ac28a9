//! Percentiles and the one-line summaries the report prints.

use std::time::Duration;

/// Latency samples, in the order they were taken.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `ps`-th percentiles (0–100) by the nearest-rank method, with
    /// one sort (the fan-out run has millions of samples).
    pub fn percentiles(&self, ps: &[f64]) -> Vec<Duration> {
        if self.0.is_empty() {
            return vec![Duration::ZERO; ps.len()];
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        ps.iter()
            .map(|p| {
                let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
                sorted[rank.clamp(1, sorted.len()) - 1]
            })
            .collect()
    }

    /// "p50 12.3 ms, p99 45.6 ms, max 50.1 ms (n = 200)"
    pub fn summary(&self) -> String {
        let [p50, p99, max] = self.percentiles(&[50.0, 99.0, 100.0])[..] else {
            unreachable!("three percentiles asked, three returned")
        };
        format!(
            "p50 {}, p99 {}, max {} (n = {})",
            ms(p50),
            ms(p99),
            ms(max),
            self.len()
        )
    }
}

pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples = Samples::default();
        for ms in (1..=100).rev() {
            samples.push(Duration::from_millis(ms));
        }
        let ms = |n| Duration::from_millis(n);
        assert_eq!(
            samples.percentiles(&[50.0, 99.0, 100.0]),
            [ms(50), ms(99), ms(100)]
        );
        assert_eq!(Samples::default().percentiles(&[50.0]), [Duration::ZERO]);
    }
}
