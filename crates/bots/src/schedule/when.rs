//! When a scheduled or check-in robot runs: a rule (daily, Monday to
//! Friday, chosen weekdays, each at HH:MM, or a 5-field cron expression),
//! read in the org's time zone, and the occurrences it gives.
//!
//! Every rule becomes one [`Cron`] so there is one way to find the next
//! occurrence. Cron is parsed here (minute hour day-of-month month
//! day-of-week; `*`, lists, ranges, steps, month and day names) rather than
//! with a crate: the grammar is small and the semantics we need (time
//! zones with daylight saving) are ours anyway.
//!
//! Daylight saving: a local time that happens twice (clocks go back) runs
//! once, at the first; a local time that does not exist (clocks go
//! forward) runs at the first local time after the gap.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Years ahead searched for an occurrence (a rule that only matches a
/// 29 February that is a Monday needs up to 28; we refuse those).
const SEARCH_DAYS: i64 = 366 * 8;

/// A parsed 5-field cron expression (bit masks of allowed values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u32,
    /// Bits 1..=31.
    days: u32,
    /// Bits 1..=12.
    months: u16,
    /// Bits 0..=6, Sunday = 0.
    weekdays: u8,
    /// `*` in the day-of-month field (cron: when both day fields are
    /// restricted, a day matching either runs).
    any_day: bool,
    any_weekday: bool,
}

/// Why a rule was refused; each names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// Not HH:MM with 00-23 and 00-59.
    Time,
    /// No weekday chosen, or one outside 1-7.
    Days,
    /// Not a valid 5-field cron expression (the text says where).
    Cron(String),
    /// Valid, but never occurs (e.g. 31 February).
    Never,
}

/// What a group admin chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Every day at hour:minute.
    Daily(u32, u32),
    /// Monday to Friday at hour:minute.
    Weekdays(u32, u32),
    /// The chosen ISO weekdays (1 = Monday … 7 = Sunday) at hour:minute.
    Days(Vec<u32>, u32, u32),
    /// A cron expression.
    Cron(String),
}

impl Rule {
    /// Reads a rule as the settings store it: kind `daily`, `weekdays`,
    /// `days` (with `days` such as `1,3,5`) or `cron` (with `cron`).
    pub fn from_parts(kind: &str, time: &str, days: &str, cron: &str) -> Result<Rule, RuleError> {
        match kind {
            "cron" => Ok(Rule::Cron(cron.trim().to_string())),
            "daily" | "weekdays" | "days" => {
                let (h, m) = parse_time(time)?;
                match kind {
                    "daily" => Ok(Rule::Daily(h, m)),
                    "weekdays" => Ok(Rule::Weekdays(h, m)),
                    _ => Ok(Rule::Days(parse_days(days)?, h, m)),
                }
            }
            _ => Err(RuleError::Cron(format!("unknown rule kind {kind}"))),
        }
    }

    /// The rule as one cron expression; checked to occur at all.
    pub fn to_cron(&self) -> Result<Cron, RuleError> {
        let cron = match self {
            Rule::Daily(h, m) => Cron::parse(&format!("{m} {h} * * *")),
            Rule::Weekdays(h, m) => Cron::parse(&format!("{m} {h} * * 1-5")),
            Rule::Days(days, h, m) => {
                if days.is_empty() {
                    return Err(RuleError::Days);
                }
                let list: Vec<String> = days.iter().map(|d| (d % 7).to_string()).collect();
                Cron::parse(&format!("{m} {h} * * {}", list.join(",")))
            }
            Rule::Cron(text) => Cron::parse(text),
        }
        .map_err(RuleError::Cron)?;
        // A rule that never fires is a mistake worth telling the admin.
        if cron.next_after(chrono_tz::UTC, 0).is_none() {
            return Err(RuleError::Never);
        }
        Ok(cron)
    }
}

/// `HH:MM` (or `H:MM`), 00:00 to 23:59.
pub fn parse_time(text: &str) -> Result<(u32, u32), RuleError> {
    let (h, m) = text.trim().split_once(':').ok_or(RuleError::Time)?;
    let hour: u32 = h.parse().map_err(|_| RuleError::Time)?;
    let minute: u32 = m.parse().map_err(|_| RuleError::Time)?;
    if hour > 23 || minute > 59 || m.len() != 2 || h.is_empty() || h.len() > 2 {
        return Err(RuleError::Time);
    }
    Ok((hour, minute))
}

/// ISO weekdays `1,3,5`; sorted, without repeats.
pub fn parse_days(text: &str) -> Result<Vec<u32>, RuleError> {
    let mut days = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let day: u32 = part.parse().map_err(|_| RuleError::Days)?;
        if !(1..=7).contains(&day) {
            return Err(RuleError::Days);
        }
        days.push(day);
    }
    days.sort();
    days.dedup();
    if days.is_empty() {
        return Err(RuleError::Days);
    }
    Ok(days)
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One field's allowed values as a bit mask.
fn field(text: &str, name: &str, min: u32, max: u32, names: &[&str]) -> Result<u64, String> {
    let value = |v: &str| -> Result<u32, String> {
        let lower = v.to_ascii_lowercase();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            // Month names start at 1; day names at 0.
            return Ok(if names.len() == 12 {
                i as u32 + 1
            } else {
                i as u32
            });
        }
        let n: u32 = v
            .parse()
            .map_err(|_| format!("{name}: \"{v}\" is not a number"))?;
        if n < min || n > max {
            return Err(format!("{name}: {n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    let mut mask = 0_u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: bad step in \"{item}\""))?;
                (range, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else if step > 1 {
            // `5/15`: from 5 to the end, every 15.
            (value(range)?, max)
        } else {
            let v = value(range)?;
            (v, v)
        };
        if from > to {
            return Err(format!("{name}: range \"{range}\" runs backwards"));
        }
        let mut v = from;
        while v <= to {
            mask |= 1 << v;
            v += step;
        }
    }
    Ok(mask)
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week`.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!("expected 5 fields, found {}", fields.len()));
        }
        let mut weekdays = field(fields[4], "day of week", 0, 7, &DAY_NAMES)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        Ok(Cron {
            minutes: field(fields[0], "minute", 0, 59, &[])?,
            hours: field(fields[1], "hour", 0, 23, &[])? as u32,
            days: field(fields[2], "day of month", 1, 31, &[])? as u32,
            months: field(fields[3], "month", 1, 12, &MONTH_NAMES)? as u16,
            weekdays: weekdays as u8,
            any_day: fields[2].starts_with('*'),
            any_weekday: fields[4].starts_with('*'),
        })
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let day = self.days & (1 << date.day()) != 0;
        let weekday = self.weekdays & (1 << date.weekday().num_days_from_sunday()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => weekday,
            (false, true) => day,
            (false, false) => day || weekday,
        }
    }

    /// The first occurrence strictly after `after_ms` (Unix ms), in `tz`.
    pub fn next_after(&self, tz: Tz, after_ms: i64) -> Option<i64> {
        let start = tz.timestamp_millis_opt(after_ms).single()?.date_naive();
        // A day early: the instant a gap-shifted time lands on may be the
        // next local day's.
        let mut date = start.pred_opt()?;
        for _ in 0..SEARCH_DAYS {
            if self.matches_date(date) {
                for hour in (0..24).filter(|h| self.hours & (1 << h) != 0) {
                    for minute in (0..60).filter(|m| self.minutes & (1 << m) != 0) {
                        let time = NaiveTime::from_hms_opt(hour, minute, 0)?;
                        if let Some(at) = instant(tz, date.and_time(time)) {
                            if at > after_ms {
                                return Some(at);
                            }
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The next `n` occurrences after `after_ms`.
    pub fn upcoming(&self, tz: Tz, after_ms: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let mut after = after_ms;
        while out.len() < n {
            match self.next_after(tz, after) {
                Some(at) => {
                    out.push(at);
                    after = at;
                }
                None => break,
            }
        }
        out
    }
}

/// The instant of a local time: the first of two (clocks went back), or
/// the end of the gap for one that does not exist (clocks went forward).
fn instant(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    tram_platform::clock::local_instant(tz, local)
}

/// The org's zone; Hong Kong when unset or unknown.
pub fn zone(name: &str) -> Tz {
    tram_platform::clock::zone(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Hong_Kong};

    fn at(tz: Tz, text: &str) -> i64 {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        tz.from_local_datetime(&naive)
            .earliest()
            .unwrap()
            .timestamp_millis()
    }

    fn show(tz: Tz, ms: i64) -> String {
        tz.timestamp_millis_opt(ms)
            .unwrap()
            .format("%Y-%m-%d %a %H:%M %Z")
            .to_string()
    }

    fn next3(rule: &Rule, tz: Tz, from: &str) -> Vec<String> {
        let cron = rule.to_cron().unwrap();
        cron.upcoming(tz, at(tz, from), 3)
            .into_iter()
            .map(|ms| show(tz, ms))
            .collect()
    }

    #[test]
    fn weekdays_skip_the_weekend() {
        // 2026-11-27 is a Friday.
        let rule = Rule::from_parts("weekdays", "09:15", "", "").unwrap();
        assert_eq!(
            next3(&rule, Hong_Kong, "2026-11-27 09:15"),
            [
                "2026-11-30 Mon 09:15 HKT",
                "2026-12-01 Tue 09:15 HKT",
                "2026-12-02 Wed 09:15 HKT"
            ]
        );
        // Just before: today still counts.
        assert_eq!(
            next3(&rule, Hong_Kong, "2026-11-27 09:14")[0],
            "2026-11-27 Fri 09:15 HKT"
        );
    }

    #[test]
    fn daily_and_chosen_days() {
        let daily = Rule::from_parts("daily", "23:59", "", "").unwrap();
        assert_eq!(
            next3(&daily, Hong_Kong, "2026-12-31 23:59"),
            [
                "2027-01-01 Fri 23:59 HKT",
                "2027-01-02 Sat 23:59 HKT",
                "2027-01-03 Sun 23:59 HKT"
            ]
        );
        let days = Rule::from_parts("days", "7:05", "7,3,3", "").unwrap();
        assert_eq!(days, Rule::Days(vec![3, 7], 7, 5));
        assert_eq!(
            next3(&days, Hong_Kong, "2026-11-25 08:00"),
            [
                "2026-11-29 Sun 07:05 HKT",
                "2026-12-02 Wed 07:05 HKT",
                "2026-12-06 Sun 07:05 HKT"
            ]
        );
    }

    #[test]
    fn cron_lists_ranges_steps_and_names() {
        let rule = Rule::Cron("*/20 9-10 * * MON-fri".into());
        assert_eq!(
            next3(&rule, Hong_Kong, "2026-11-27 10:30"),
            [
                "2026-11-27 Fri 10:40 HKT",
                "2026-11-30 Mon 09:00 HKT",
                "2026-11-30 Mon 09:20 HKT"
            ]
        );
        let sunday_as_7 = Cron::parse("0 12 * * 7").unwrap();
        assert_eq!(sunday_as_7, Cron::parse("0 12 * * 0").unwrap());
        // Both day fields restricted: either matches (the 1st, or Fridays).
        let either = Rule::Cron("0 8 1 * 5".into());
        assert_eq!(
            next3(&either, Hong_Kong, "2026-11-25 00:00"),
            [
                "2026-11-27 Fri 08:00 HKT",
                "2026-12-01 Tue 08:00 HKT",
                "2026-12-04 Fri 08:00 HKT"
            ]
        );
    }

    #[test]
    fn month_ends_and_leap_days() {
        let last = Rule::Cron("30 18 31 * *".into());
        assert_eq!(
            next3(&last, Hong_Kong, "2026-11-25 00:00"),
            [
                "2026-12-31 Thu 18:30 HKT",
                "2027-01-31 Sun 18:30 HKT",
                "2027-03-31 Wed 18:30 HKT"
            ]
        );
        let leap = Rule::Cron("0 0 29 2 *".into());
        assert_eq!(
            next3(&leap, Hong_Kong, "2026-11-25 00:00"),
            [
                "2028-02-29 Tue 00:00 HKT",
                "2032-02-29 Sun 00:00 HKT",
                "2036-02-29 Fri 00:00 HKT"
            ]
        );
        assert_eq!(
            Rule::Cron("0 0 31 2 *".into()).to_cron(),
            Err(RuleError::Never)
        );
    }

    #[test]
    fn daylight_saving_in_new_york() {
        // 2027-03-14: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist
        // and runs at 03:00.
        let rule = Rule::from_parts("daily", "02:30", "", "").unwrap();
        assert_eq!(
            next3(&rule, New_York, "2027-03-13 12:00"),
            [
                "2027-03-14 Sun 03:00 EDT",
                "2027-03-15 Mon 02:30 EDT",
                "2027-03-16 Tue 02:30 EDT"
            ]
        );
        // 2026-11-01: 01:30 happens twice; it runs once, at the first.
        let rule = Rule::from_parts("daily", "01:30", "", "").unwrap();
        let cron = rule.to_cron().unwrap();
        let runs = cron.upcoming(New_York, at(New_York, "2026-10-31 12:00"), 3);
        assert_eq!(
            runs.iter()
                .map(|ms| show(New_York, *ms))
                .collect::<Vec<_>>(),
            [
                "2026-11-01 Sun 01:30 EDT",
                "2026-11-02 Mon 01:30 EST",
                "2026-11-03 Tue 01:30 EST"
            ]
        );
        // 25 hours between the first two: the repeated hour is not a run.
        assert_eq!(runs[1] - runs[0], 25 * 3_600_000);
        // Hong Kong has no daylight saving: always 24 hours apart.
        let hk = cron.upcoming(Hong_Kong, at(Hong_Kong, "2026-10-31 12:00"), 2);
        assert_eq!(hk[1] - hk[0], 24 * 3_600_000);
    }

    #[test]
    fn bad_rules_are_refused_with_the_field_to_fix() {
        for bad in ["25:00", "9:60", "0915", "", "ab:cd", "09:5", "-1:00"] {
            assert_eq!(
                Rule::from_parts("daily", bad, "", ""),
                Err(RuleError::Time),
                "{bad}"
            );
        }
        for bad in ["", "0", "8", "mon", "1,,9"] {
            assert_eq!(
                Rule::from_parts("days", "09:00", bad, ""),
                Err(RuleError::Days),
                "{bad}"
            );
        }
        for bad in [
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "x * * * *",
            "* * * * * *",
        ] {
            assert!(
                matches!(Rule::Cron(bad.into()).to_cron(), Err(RuleError::Cron(_))),
                "{bad}"
            );
        }
    }
}
