//! Digest periods: days, ISO weeks and calendar months, with UTC
//! boundaries. A period is the half-open interval `[start, end)`; the next
//! one starts where it ends.
//!
//! - daily: 00:00 UTC to the next 00:00 UTC; label `2026-10-05`.
//! - weekly: ISO 8601 weeks, Monday 00:00 UTC to the next Monday; label
//!   `2026-W40` (the ISO week-numbering year, which differs from the
//!   calendar year around New Year: 2024-12-30 is in `2025-W01`).
//! - monthly: the 1st 00:00 UTC to the next month's 1st; label `2026-10`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long a digest's period is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DigestKind {
    /// One UTC day.
    Daily,
    /// One ISO week (Monday 00:00 UTC to the next Monday).
    Weekly,
    /// One calendar month (UTC).
    Monthly,
}

impl DigestKind {
    pub const ALL: &'static [DigestKind] =
        &[DigestKind::Daily, DigestKind::Weekly, DigestKind::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::Daily => "daily",
            DigestKind::Weekly => "weekly",
            DigestKind::Monthly => "monthly",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            DigestKind::Daily => "Daily",
            DigestKind::Weekly => "Weekly",
            DigestKind::Monthly => "Monthly",
        }
    }
}

impl fmt::Display for DigestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DigestKind {
    type Err = String;

    fn from_str(s: &str) -> Result<DigestKind, String> {
        DigestKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown digest period `{s}` (daily, weekly, monthly)"))
    }
}

/// One period of a kind: `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    pub kind: DigestKind,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

impl Period {
    /// The period of `kind` that contains `at` (UTC).
    pub fn containing(kind: DigestKind, at: NaiveDateTime) -> Period {
        Period::starting(kind, first_day(kind, at.date()))
    }

    /// The period of `kind` whose first day is `first` (already aligned).
    fn starting(kind: DigestKind, first: NaiveDate) -> Period {
        let next = match kind {
            DigestKind::Daily => first.checked_add_days(Days::new(1)),
            DigestKind::Weekly => first.checked_add_days(Days::new(7)),
            DigestKind::Monthly => first.checked_add_months(Months::new(1)),
        }
        // Only at the end of chrono's calendar (year 262143).
        .unwrap_or(NaiveDate::MAX);
        Period {
            kind,
            start: midnight(first),
            end: midnight(next),
        }
    }

    pub fn next(&self) -> Period {
        Period::containing(self.kind, self.end)
    }

    pub fn previous(&self) -> Period {
        let before = self.start.date().pred_opt().unwrap_or(NaiveDate::MIN);
        Period::containing(self.kind, midnight(before))
    }

    /// Whether the period is over at `now`.
    pub fn is_complete(&self, now: NaiveDateTime) -> bool {
        self.end <= now
    }

    /// `2026-10-05`, `2026-W40` or `2026-10`.
    pub fn label(&self) -> String {
        let d = self.start.date();
        match self.kind {
            DigestKind::Daily => d.format("%Y-%m-%d").to_string(),
            DigestKind::Weekly => {
                let week = d.iso_week();
                format!("{:04}-W{:02}", week.year(), week.week())
            }
            DigestKind::Monthly => format!("{:04}-{:02}", d.year(), d.month()),
        }
    }

    /// The period a label names (the inverse of [`Period::label`]).
    pub fn parse_label(kind: DigestKind, label: &str) -> Option<Period> {
        let first = match kind {
            DigestKind::Daily => NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?,
            DigestKind::Weekly => {
                let (year, week) = label.split_once("-W")?;
                if year.len() != 4 || week.len() != 2 {
                    return None;
                }
                NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, Weekday::Mon)?
            }
            DigestKind::Monthly => {
                let (year, month) = label.split_once('-')?;
                if year.len() != 4 || month.len() != 2 {
                    return None;
                }
                NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?
            }
        };
        let period = Period::starting(kind, first);
        (period.label() == label).then_some(period)
    }

    /// A readable span: `Mon 29 Sep – Sun 5 Oct 2025` (the last day included).
    pub fn span(&self) -> String {
        let first = self.start.date();
        let last = self.end.date().pred_opt().unwrap_or(first);
        match self.kind {
            DigestKind::Daily => first.format("%a %-d %b %Y").to_string(),
            DigestKind::Weekly => format!(
                "{} \u{2013} {}",
                first.format("%a %-d %b"),
                last.format("%a %-d %b %Y")
            ),
            DigestKind::Monthly => first.format("%B %Y").to_string(),
        }
    }
}

/// The first day of the period of `kind` containing `day`.
fn first_day(kind: DigestKind, day: NaiveDate) -> NaiveDate {
    match kind {
        DigestKind::Daily => day,
        DigestKind::Weekly => day
            .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
            .unwrap_or(day),
        DigestKind::Monthly => day.with_day(1).unwrap_or(day),
    }
}

/// Parses `--at`: a date (`2026-10-07`) or a UTC date-time
/// (`2026-10-07T13:00:00Z`, or without the `Z`).
pub fn parse_instant(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(midnight(d));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> NaiveDateTime {
        parse_instant(s).expect("instant")
    }

    #[test]
    fn weeks_are_iso_weeks_from_monday_midnight_utc() {
        let p = Period::containing(DigestKind::Weekly, at("2025-10-01T13:00:00Z"));
        assert_eq!(p.start, at("2025-09-29"));
        assert_eq!(p.end, at("2025-10-06"));
        assert_eq!(p.label(), "2025-W40");
        // A Monday at midnight starts its own week; a Sunday's last
        // microsecond is still the week before.
        let monday = Period::containing(DigestKind::Weekly, at("2025-10-06"));
        assert_eq!(monday.start, at("2025-10-06"));
        let sunday = Period::containing(
            DigestKind::Weekly,
            at("2025-10-06") - chrono::TimeDelta::microseconds(1),
        );
        assert_eq!(sunday, p);
        // The ISO week-numbering year differs from the calendar year.
        assert_eq!(
            Period::containing(DigestKind::Weekly, at("2024-12-30")).label(),
            "2025-W01"
        );
        assert_eq!(
            Period::containing(DigestKind::Weekly, at("2021-01-03")).label(),
            "2020-W53"
        );
        assert_eq!(
            Period::parse_label(DigestKind::Weekly, "2020-W53").map(|p| p.start),
            Some(at("2020-12-28"))
        );
        assert_eq!(Period::parse_label(DigestKind::Weekly, "2021-W53"), None);
    }

    #[test]
    fn months_follow_the_calendar() {
        let p = Period::containing(DigestKind::Monthly, at("2024-02-29T23:59:59Z"));
        assert_eq!((p.start, p.end), (at("2024-02-01"), at("2024-03-01")));
        assert_eq!(p.label(), "2024-02");
        let dec = Period::containing(DigestKind::Monthly, at("2025-12-31"));
        assert_eq!(dec.end, at("2026-01-01"));
        assert_eq!(dec.next().label(), "2026-01");
        assert_eq!(dec.next().previous(), dec);
        assert_eq!(dec.span(), "December 2025");
    }

    #[test]
    fn days_and_labels() {
        let p = Period::containing(DigestKind::Daily, at("2025-10-05T23:00:00Z"));
        assert_eq!(p.label(), "2025-10-05");
        assert_eq!(p.end, at("2025-10-06"));
        assert!(p.is_complete(at("2025-10-06")));
        assert!(!p.is_complete(at("2025-10-05T23:59:59Z")));
        assert_eq!(Period::parse_label(DigestKind::Daily, "2025-13-01"), None);
        assert_eq!(Period::parse_label(DigestKind::Monthly, "2025-1"), None);
        // Offsets are converted to UTC.
        assert_eq!(at("2025-10-06T01:00:00+02:00"), at("2025-10-05T23:00:00Z"));
        assert_eq!(parse_instant("next week"), None);
    }

    fn instant() -> impl Strategy<Value = NaiveDateTime> {
        // 1990 to 2100, to the second.
        (631_152_000i64..4_102_444_800i64).prop_map(|s| {
            chrono::DateTime::from_timestamp(s, 0)
                .expect("in range")
                .naive_utc()
        })
    }

    fn kind() -> impl Strategy<Value = DigestKind> {
        prop_oneof![
            Just(DigestKind::Daily),
            Just(DigestKind::Weekly),
            Just(DigestKind::Monthly)
        ]
    }

    proptest! {
        #[test]
        fn periods_tile_time(kind in kind(), t in instant()) {
            let p = Period::containing(kind, t);
            prop_assert!(p.start <= t && t < p.end);
            prop_assert_eq!(p.start.time(), NaiveTime::MIN);
            prop_assert_eq!(p.next().start, p.end);
            prop_assert_eq!(p.previous().end, p.start);
            prop_assert_eq!(p.next().previous(), p);
            prop_assert_eq!(Period::containing(kind, p.start), p);
            prop_assert_eq!(Period::containing(kind, p.end - chrono::TimeDelta::seconds(1)), p);
            prop_assert_eq!(Period::parse_label(kind, &p.label()), Some(p));
            match kind {
                DigestKind::Daily => prop_assert_eq!((p.end - p.start).num_days(), 1),
                DigestKind::Weekly => {
                    prop_assert_eq!(p.start.weekday(), Weekday::Mon);
                    prop_assert_eq!((p.end - p.start).num_days(), 7);
                    prop_assert_eq!(p.start.iso_week(), t.iso_week());
                }
                DigestKind::Monthly => {
                    prop_assert_eq!(p.start.day(), 1);
                    prop_assert_eq!((p.start.year(), p.start.month()), (t.year(), t.month()));
                }
            }
        }

        #[test]
        fn labels_order_like_periods(kind in kind(), a in instant(), b in instant()) {
            let (pa, pb) = (Period::containing(kind, a), Period::containing(kind, b));
            // Same label, same period; and labels sort as periods do.
            prop_assert_eq!(pa.label() == pb.label(), pa == pb);
            prop_assert_eq!(pa.label().cmp(&pb.label()), pa.start.cmp(&pb.start));
        }
    }
}
