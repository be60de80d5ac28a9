//! The server's notion of "now". Production reads the system clock; tests
//! move it forward to cross expiry boundaries without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Unix time in milliseconds.
    pub fn now_ms(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        system + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Midnight at the start of a `YYYY-MM-DD` day in Hong Kong (UTC+8), in
/// Unix milliseconds: `Ok(None)` for an empty text, `Err` for anything
/// else that is not a date (for date filters typed into a page).
pub fn hk_midnight(date: &str) -> Result<Option<i64>, ()> {
    let date = date.trim();
    if date.is_empty() {
        return Ok(None);
    }
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| ())?;
    let midnight = day.and_hms_opt(0, 0, 0).ok_or(())?;
    Ok(Some(midnight.and_utc().timestamp_millis() - 8 * 3_600_000))
}

/// An org's (or member's) zone by its IANA name; Hong Kong when unset or
/// unknown.
pub fn zone(name: &str) -> chrono_tz::Tz {
    name.parse().unwrap_or(chrono_tz::Asia::Hong_Kong)
}

/// The instant (Unix ms) of a wall-clock time in `tz`: the first of two
/// when clocks went back, the end of the gap for one that does not exist
/// (clocks went forward).
pub fn local_instant(tz: chrono_tz::Tz, local: chrono::NaiveDateTime) -> Option<i64> {
    use chrono::{LocalResult, TimeZone};
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.timestamp_millis()),
        LocalResult::Ambiguous(first, _) => Some(first.timestamp_millis()),
        LocalResult::None => (1..=180).find_map(|m| {
            tz.from_local_datetime(&(local + chrono::Duration::minutes(m)))
                .earliest()
                .map(|t| t.timestamp_millis())
        }),
    }
}

/// Formats Unix milliseconds for people, in Hong Kong time.
pub fn display_hk(ms: i64) -> String {
    let hk = chrono::FixedOffset::east_opt(8 * 3600).expect("static offset");
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&hk).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_in_a_zone_with_daylight_saving() {
        let ny = zone("America/New_York");
        let at = |s: &str| {
            local_instant(
                ny,
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap(),
            )
            .unwrap()
        };
        // 2026-03-08 02:30 does not exist in New York: the end of the gap,
        // 03:00 EDT = 07:00 UTC.
        assert_eq!(at("2026-03-08T02:30"), at("2026-03-08T03:00"));
        assert_eq!(rfc3339(at("2026-03-08T03:00")), "2026-03-08T07:00:00Z");
        // 2026-11-01 01:30 happens twice: the first (EDT, 05:30 UTC).
        assert_eq!(rfc3339(at("2026-11-01T01:30")), "2026-11-01T05:30:00Z");
        assert_eq!(zone("Mars/Base"), chrono_tz::Asia::Hong_Kong);
    }

    #[test]
    fn hong_kong_midnight() {
        // 2026-11-23 00:00 in Hong Kong is 2026-11-22 16:00 UTC.
        assert_eq!(
            hk_midnight("2026-11-23"),
            Ok(Some(1_795_392_000_000 - 8 * 3_600_000))
        );
        assert_eq!(hk_midnight(" "), Ok(None));
        assert_eq!(hk_midnight("yesterday"), Err(()));
    }

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now_ms();
        clock.advance(std::time::Duration::from_secs(600));
        assert!(other.now_ms() - before >= 600_000);
    }

    #[test]
    fn formats_in_hong_kong_time() {
        assert_eq!(display_hk(0), "1970-01-01 08:00");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
