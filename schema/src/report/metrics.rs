//! Computed metrics: user-hours, threshold flags and severity. Never
//! declared by the filer; always computed from the content, so they change
//! with every revision and stay consistent across reports.
//!
//! Formulas (also in `docs/report-model.md`):
//!
//! - `user_minutes = impact.subscribers_affected × impact.duration_minutes`
//! - `user_hours = user_minutes / 60`
//!
//!   Both are `None` unless both figures are reported. They are exact: the
//!   validation bounds keep the product below 2^53.
//! - `enisa_user_hours_1m`: `user_hours ≥ 1,000,000` (ENISA's 1 M user-hours
//!   threshold).
//! - `fcc_900k_user_minutes`: `duration_minutes ≥ 30` and
//!   `user_minutes ≥ 900,000` (FCC Part 4 outage reporting, 47 CFR 4.9).
//! - `emergency_service_affected`: `affected.services` contains
//!   `emergency_calls`, or `impact.emergency_calls.failed > 0`.
//!
//!   A flag is `false` when the figures it needs are missing: `false` means
//!   "not shown to cross the threshold by the reported figures".
//! - `severity`:
//!   - `critical` when `user_hours ≥ 10,000,000`, or the emergency service
//!     was affected with `national` or `multi_national` scope;
//!   - otherwise `major` when any flag is set, or the scope is `national` or
//!     `multi_national`, or `duration_minutes ≥ 1,440` (24 hours);
//!   - otherwise `minor`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::content::ReportContent;
use super::taxonomy::{Scope, Service, Severity};

/// ENISA threshold, in user-hours.
pub const ENISA_USER_HOURS_THRESHOLD: f64 = 1_000_000.0;
/// FCC threshold, in user-minutes.
pub const FCC_USER_MINUTES_THRESHOLD: f64 = 900_000.0;
/// FCC minimum outage duration, in minutes.
pub const FCC_MIN_DURATION_MINUTES: u32 = 30;
/// User-hours from which an incident is critical whatever else is known.
pub const CRITICAL_USER_HOURS: f64 = 10_000_000.0;
/// Duration from which an incident is at least major.
pub const MAJOR_DURATION_MINUTES: u32 = 24 * 60;

/// Figures computed from a report; see the module documentation for the
/// formulas.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Metrics {
    /// `subscribers_affected × duration_minutes / 60`; `null` unless both are known.
    pub user_hours: Option<f64>,
    /// `subscribers_affected × duration_minutes`; `null` unless both are known.
    pub user_minutes: Option<f64>,
    pub severity: Severity,
    pub flags: ThresholdFlags,
}

/// Regulatory thresholds the incident crosses by its reported figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ThresholdFlags {
    /// At least 1,000,000 user-hours (ENISA).
    pub enisa_user_hours_1m: bool,
    /// At least 30 minutes and 900,000 user-minutes (FCC).
    pub fcc_900k_user_minutes: bool,
    /// Emergency calls listed as affected or reported failing.
    pub emergency_service_affected: bool,
}

impl ReportContent {
    /// Computes user-hours, threshold flags and severity.
    pub fn metrics(&self) -> Metrics {
        let impact = self.impact();
        let duration = impact.duration_minutes;
        // Exact in f64: both factors are bounded by validation (see the module docs).
        let user_minutes = match (impact.subscribers_affected, duration) {
            (Some(subscribers), Some(minutes)) => Some(subscribers as f64 * f64::from(minutes)),
            _ => None,
        };
        let user_hours = user_minutes.map(|minutes| minutes / 60.0);

        let flags = ThresholdFlags {
            enisa_user_hours_1m: user_hours
                .is_some_and(|hours| hours >= ENISA_USER_HOURS_THRESHOLD),
            fcc_900k_user_minutes: duration
                .is_some_and(|minutes| minutes >= FCC_MIN_DURATION_MINUTES)
                && user_minutes.is_some_and(|minutes| minutes >= FCC_USER_MINUTES_THRESHOLD),
            emergency_service_affected: self.affected().services.contains(&Service::EmergencyCalls)
                || impact
                    .emergency_calls
                    .as_ref()
                    .is_some_and(|calls| calls.failed > 0),
        };

        let wide = matches!(
            self.context().scope,
            Some(Scope::National | Scope::MultiNational)
        );
        let severity = if user_hours.is_some_and(|hours| hours >= CRITICAL_USER_HOURS)
            || (flags.emergency_service_affected && wide)
        {
            Severity::Critical
        } else if flags.enisa_user_hours_1m
            || flags.fcc_900k_user_minutes
            || flags.emergency_service_affected
            || wide
            || duration.is_some_and(|minutes| minutes >= MAJOR_DURATION_MINUTES)
        {
            Severity::Major
        } else {
            Severity::Minor
        };

        Metrics {
            user_hours,
            user_minutes,
            severity,
            flags,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::report::input::ReportInput;

    /// A report with only the fields the metrics read.
    fn content(
        subscribers: Option<u64>,
        minutes: Option<u32>,
        services: &[&str],
        emergency_failed: Option<u64>,
        scope: Option<&str>,
    ) -> ReportContent {
        let body = json!({
            "title": "t",
            "summary": "s",
            "context": {"started_on": "2024-01-01", "scope": scope},
            "affected": {"services": services},
            "impact": {
                "subscribers_affected": subscribers,
                "duration_minutes": minutes,
                "emergency_calls": emergency_failed.map(|failed| json!({"failed": failed})),
            }
        });
        ReportInput::from_json(body)
            .expect("well formed")
            .validate_at(NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"))
            .expect("valid")
    }

    #[test]
    fn user_hours_and_minutes_multiply_subscribers_by_duration() {
        let metrics = content(Some(7_000_000), Some(1170), &[], None, None).metrics();
        assert_eq!(metrics.user_minutes, Some(8_190_000_000.0));
        assert_eq!(metrics.user_hours, Some(136_500_000.0));

        for (subscribers, minutes) in [(None, Some(60)), (Some(1000), None), (None, None)] {
            let metrics = content(subscribers, minutes, &[], None, None).metrics();
            assert_eq!((metrics.user_hours, metrics.user_minutes), (None, None));
            assert_eq!(metrics.flags, ThresholdFlags::default());
            assert_eq!(metrics.severity, Severity::Minor);
        }
    }

    #[test]
    fn products_at_the_validation_bounds_are_exact() {
        use crate::report::validate::{MAX_DURATION_MINUTES, MAX_SUBSCRIBERS_AFFECTED};
        let metrics = content(
            Some(MAX_SUBSCRIBERS_AFFECTED),
            Some(MAX_DURATION_MINUTES),
            &[],
            None,
            None,
        )
        .metrics();
        let exact = u128::from(MAX_SUBSCRIBERS_AFFECTED) * u128::from(MAX_DURATION_MINUTES);
        assert!(exact < 1 << 53);
        assert_eq!(metrics.user_minutes, Some(exact as f64));
    }

    #[test]
    fn enisa_flag_starts_at_one_million_user_hours() {
        // 1,000,000 subscribers × 60 minutes = 1,000,000 user-hours exactly.
        let at = content(Some(1_000_000), Some(60), &[], None, None).metrics();
        assert!(at.flags.enisa_user_hours_1m);
        let below = content(Some(999_999), Some(60), &[], None, None).metrics();
        assert!(!below.flags.enisa_user_hours_1m);
    }

    #[test]
    fn fcc_flag_needs_900k_user_minutes_and_30_minutes() {
        let at = content(Some(30_000), Some(30), &[], None, None).metrics();
        assert_eq!(at.user_minutes, Some(900_000.0));
        assert!(at.flags.fcc_900k_user_minutes);
        assert!(!at.flags.enisa_user_hours_1m);
        assert_eq!(at.severity, Severity::Major);

        let too_short = content(Some(100_000), Some(29), &[], None, None).metrics();
        assert!(
            too_short
                .user_minutes
                .is_some_and(|m| m >= FCC_USER_MINUTES_THRESHOLD)
        );
        assert!(!too_short.flags.fcc_900k_user_minutes);

        let too_few = content(Some(29_999), Some(30), &[], None, None).metrics();
        assert!(!too_few.flags.fcc_900k_user_minutes);
    }

    #[test]
    fn emergency_flag_from_service_or_failed_calls() {
        let by_service = content(None, None, &["emergency_calls"], None, None).metrics();
        assert!(by_service.flags.emergency_service_affected);
        let by_count = content(None, None, &["voice"], Some(148), None).metrics();
        assert!(by_count.flags.emergency_service_affected);
        let zero = content(None, None, &["voice"], Some(0), None).metrics();
        assert!(!zero.flags.emergency_service_affected);
        assert_eq!(zero.severity, Severity::Minor);
        assert_eq!(by_count.severity, Severity::Major);
    }

    #[test]
    fn severity_rule() {
        let cases = [
            // (subscribers, minutes, services, scope, expected)
            (None, Some(60), &[][..], Some("local"), Severity::Minor),
            (None, Some(1439), &[][..], Some("regional"), Severity::Minor),
            (None, Some(1440), &[][..], Some("regional"), Severity::Major),
            (None, Some(10), &[][..], Some("national"), Severity::Major),
            (
                None,
                Some(10),
                &[][..],
                Some("multi_national"),
                Severity::Major,
            ),
            (
                None,
                Some(10),
                &["emergency_calls"][..],
                Some("regional"),
                Severity::Major,
            ),
            (
                None,
                Some(10),
                &["emergency_calls"][..],
                Some("national"),
                Severity::Critical,
            ),
            (
                None,
                None,
                &["emergency_calls"][..],
                Some("multi_national"),
                Severity::Critical,
            ),
            (
                Some(10_000_000),
                Some(60),
                &[][..],
                Some("local"),
                Severity::Critical,
            ),
            (Some(9_999_999), Some(60), &[][..], None, Severity::Major),
        ];
        for (subscribers, minutes, services, scope, expected) in cases {
            let metrics = content(subscribers, minutes, services, None, scope).metrics();
            assert_eq!(
                metrics.severity, expected,
                "{subscribers:?} × {minutes:?}, {services:?}, {scope:?}"
            );
        }
    }

    #[test]
    fn metrics_serialise_with_stable_names() {
        let metrics = content(Some(30_000), Some(30), &["sms"], None, Some("local")).metrics();
        assert_eq!(
            serde_json::to_value(metrics).expect("serialises"),
            json!({
                "user_hours": 15000.0,
                "user_minutes": 900000.0,
                "severity": "major",
                "flags": {
                    "enisa_user_hours_1m": false,
                    "fcc_900k_user_minutes": true,
                    "emergency_service_affected": false
                }
            })
        );
    }
}
