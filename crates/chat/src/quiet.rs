//! Do-not-disturb (消息免打擾): quiet periods in the user's time zone, and
//! the rule that decides whether a message may notify someone.
//!
//! A period names weekdays and a start and end time. When the end is not
//! after the start the period runs overnight: "weekdays 19:00-09:00" is
//! quiet from 19:00 on Monday to 09:00 on Tuesday, …, and from 19:00 on
//! Friday to 09:00 on Saturday. A period with equal start and end covers
//! its days entirely ("weekends 00:00-00:00").

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuietPeriod {
    /// ISO weekdays the period starts on: 1 = Monday … 7 = Sunday.
    pub days: Vec<u8>,
    /// `HH:MM`, local time.
    pub start: String,
    /// `HH:MM`, local time; not after `start` means the next day.
    pub end: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QuietError {
    #[error("a time is not HH:MM")]
    BadTime,
    #[error("weekdays are 1 (Monday) to 7 (Sunday)")]
    BadDay,
    #[error("unknown time zone")]
    BadTimeZone,
    #[error("too many periods")]
    TooMany,
}

fn parse_time(text: &str) -> Result<NaiveTime, QuietError> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| QuietError::BadTime)
}

fn weekday(iso: u8) -> Result<Weekday, QuietError> {
    match iso {
        1..=7 => Ok(Weekday::try_from(iso - 1).expect("0..=6 is a weekday")),
        _ => Err(QuietError::BadDay),
    }
}

/// A user's quiet-hours rules, validated.
#[derive(Debug, Clone)]
pub struct QuietHours {
    zone: Tz,
    periods: Vec<(Vec<Weekday>, NaiveTime, NaiveTime)>,
}

impl QuietHours {
    pub fn new(time_zone: &str, periods: &[QuietPeriod]) -> Result<QuietHours, QuietError> {
        let zone: Tz = time_zone.parse().map_err(|_| QuietError::BadTimeZone)?;
        if periods.len() > 20 {
            return Err(QuietError::TooMany);
        }
        let periods = periods
            .iter()
            .map(|p| {
                let days = p
                    .days
                    .iter()
                    .map(|d| weekday(*d))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((days, parse_time(&p.start)?, parse_time(&p.end)?))
            })
            .collect::<Result<Vec<_>, QuietError>>()?;
        Ok(QuietHours { zone, periods })
    }

    /// Whether `at` falls in a quiet period.
    pub fn is_quiet(&self, at: DateTime<Utc>) -> bool {
        let local = self.zone.from_utc_datetime(&at.naive_utc());
        let today = local.weekday();
        let yesterday = today.pred();
        let time = local.time();
        self.periods.iter().any(|(days, start, end)| {
            if start < end {
                days.contains(&today) && time >= *start && time < *end
            } else {
                (days.contains(&today) && time >= *start)
                    || (days.contains(&yesterday) && time < *end)
            }
        })
    }
}

/// What a recipient's settings say about one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sound, desktop notification, e-mail as configured.
    Notify,
    /// Delivered and counted as unread, but silent; listed in the
    /// notification centre as arrived during quiet time.
    Quiet,
    /// Delivered and counted, silent, not listed (a muted conversation).
    Silent,
}

/// The recipient's side of the decision.
pub struct Recipient<'a> {
    pub user_id: &'a str,
    pub quiet: Option<&'a QuietHours>,
    pub conversation_muted: bool,
    /// Let @mentions of me through quiet time and mutes.
    pub allow_mentions: bool,
    /// People whose messages always get through quiet time.
    pub allow_from: &'a [String],
}

/// The message's side.
pub struct Incoming<'a> {
    pub sender_id: &'a str,
    /// Mentions this recipient by name (not only @all).
    pub mentions_recipient: bool,
    pub mentions_all: bool,
}

pub fn decide(recipient: &Recipient<'_>, message: &Incoming<'_>, at: DateTime<Utc>) -> Delivery {
    let personal = message.mentions_recipient && recipient.allow_mentions;
    if recipient.conversation_muted && !personal {
        return Delivery::Silent;
    }
    let quiet_now = recipient.quiet.map(|q| q.is_quiet(at)).unwrap_or(false);
    if !quiet_now {
        return Delivery::Notify;
    }
    let favoured = recipient
        .allow_from
        .iter()
        .any(|id| id == message.sender_id);
    if personal || favoured {
        Delivery::Notify
    } else {
        Delivery::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Hong_Kong
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn weekday_evenings_and_weekends(zone: &str) -> QuietHours {
        QuietHours::new(
            zone,
            &[
                QuietPeriod {
                    days: vec![1, 2, 3, 4, 5],
                    start: "19:00".into(),
                    end: "09:00".into(),
                },
                QuietPeriod {
                    days: vec![6, 7],
                    start: "00:00".into(),
                    end: "00:00".into(),
                },
            ],
        )
        .unwrap()
    }

    #[test]
    fn quiet_at_the_edges_of_an_overnight_period() {
        // 2026-11-23 is a Monday.
        let q = weekday_evenings_and_weekends("Asia/Hong_Kong");
        assert!(!q.is_quiet(hk(2026, 11, 23, 18, 59)));
        assert!(q.is_quiet(hk(2026, 11, 23, 19, 0)));
        assert!(q.is_quiet(hk(2026, 11, 23, 23, 59)));
        assert!(q.is_quiet(hk(2026, 11, 24, 0, 0)), "across midnight");
        assert!(q.is_quiet(hk(2026, 11, 24, 8, 59)));
        assert!(!q.is_quiet(hk(2026, 11, 24, 9, 0)));
        // Monday morning before 09:00 belongs to Sunday's whole-day period,
        // which ends at midnight: Sunday evening is no weekday evening.
        assert!(!q.is_quiet(hk(2026, 11, 23, 8, 0)));
        // Friday night runs into Saturday, and Saturday is quiet all day.
        assert!(q.is_quiet(hk(2026, 11, 28, 8, 0)));
        assert!(q.is_quiet(hk(2026, 11, 28, 14, 0)));
        assert!(q.is_quiet(hk(2026, 11, 29, 23, 59)));
    }

    #[test]
    fn the_users_time_zone_decides() {
        let london = weekday_evenings_and_weekends("Europe/London");
        // 2026-11-24 02:00 in Hong Kong is Monday 18:00 in London: not quiet.
        assert!(!london.is_quiet(hk(2026, 11, 24, 2, 0)));
        // 03:00 Hong Kong = 19:00 London.
        assert!(london.is_quiet(hk(2026, 11, 24, 3, 0)));
        let hong_kong = weekday_evenings_and_weekends("Asia/Hong_Kong");
        assert!(hong_kong.is_quiet(hk(2026, 11, 24, 2, 0)));
    }

    #[test]
    fn a_same_day_period_and_bad_input() {
        let lunch = QuietHours::new(
            "Asia/Hong_Kong",
            &[QuietPeriod {
                days: vec![3],
                start: "12:30".into(),
                end: "14:00".into(),
            }],
        )
        .unwrap();
        assert!(lunch.is_quiet(hk(2026, 11, 25, 12, 30)));
        assert!(!lunch.is_quiet(hk(2026, 11, 25, 14, 0)));
        assert!(!lunch.is_quiet(hk(2026, 11, 26, 13, 0)));
        let bad = |p: QuietPeriod| QuietHours::new("Asia/Hong_Kong", &[p]).unwrap_err();
        assert_eq!(
            bad(QuietPeriod {
                days: vec![8],
                start: "1:00".into(),
                end: "2:00".into()
            }),
            QuietError::BadDay
        );
        assert_eq!(
            bad(QuietPeriod {
                days: vec![1],
                start: "25:00".into(),
                end: "2:00".into()
            }),
            QuietError::BadTime
        );
        assert_eq!(
            QuietHours::new("Mars/Olympus", &[]).unwrap_err(),
            QuietError::BadTimeZone
        );
    }

    #[test]
    fn who_gets_through() {
        let q = weekday_evenings_and_weekends("Asia/Hong_Kong");
        let night = hk(2026, 11, 23, 22, 0);
        let day = hk(2026, 11, 23, 11, 0);
        let boss = vec!["boss".to_string()];
        let me = |muted, allow_mentions| Recipient {
            user_id: "me",
            quiet: Some(&q),
            conversation_muted: muted,
            allow_mentions,
            allow_from: &boss,
        };
        let plain = Incoming {
            sender_id: "peer",
            mentions_recipient: false,
            mentions_all: false,
        };
        let mention = Incoming {
            sender_id: "peer",
            mentions_recipient: true,
            mentions_all: false,
        };
        let all = Incoming {
            sender_id: "peer",
            mentions_recipient: false,
            mentions_all: true,
        };
        let from_boss = Incoming {
            sender_id: "boss",
            mentions_recipient: false,
            mentions_all: false,
        };
        assert_eq!(decide(&me(false, true), &plain, day), Delivery::Notify);
        assert_eq!(decide(&me(false, true), &plain, night), Delivery::Quiet);
        assert_eq!(decide(&me(false, true), &mention, night), Delivery::Notify);
        assert_eq!(decide(&me(false, false), &mention, night), Delivery::Quiet);
        assert_eq!(
            decide(&me(false, true), &all, night),
            Delivery::Quiet,
            "@all is not personal"
        );
        assert_eq!(
            decide(&me(false, true), &from_boss, night),
            Delivery::Notify
        );
        assert_eq!(decide(&me(true, true), &plain, day), Delivery::Silent);
        assert_eq!(decide(&me(true, true), &mention, day), Delivery::Notify);
    }
}
