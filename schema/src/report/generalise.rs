//! Generalised quasi-identifiers for the shared view: what other members
//! see of when and where an incident happened and how big it was.
//!
//! Policy (DESIGN.md section 6):
//! - The start becomes month, day of week and 6-hour block, all in the
//!   local time of the affected country (the filer's `started_on` and
//!   `start_time`); the block is `None` when no time of day was given.
//! - Subscriber counts and durations become bands.
//! - The country is shown only when at least `k` member operators are
//!   registered in it ([`DEFAULT_MIN_MEMBERS_PER_COUNTRY`] by default);
//!   otherwise only the region.
//! - The owner sees the exact values, so nothing here changes the stored
//!   content; these helpers build the view.

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::content::ReportContent;
use super::taxonomy::{DayOfWeek, OperatorType, Region, Scope};
use super::values::CountryCode;

/// Members that must be registered in a country before it is shown.
pub const DEFAULT_MIN_MEMBERS_PER_COUNTRY: usize = 3;

/// A start time generalised to month, day of week and 6-hour block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GeneralisedWhen {
    /// `YYYY-MM`.
    #[schema(example = "2021-06")]
    pub month: String,
    pub day_of_week: DayOfWeek,
    /// `null` when the report gives no time of day.
    pub block: Option<TimeBlock>,
}

/// A 6-hour block of the local day.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum TimeBlock {
    #[serde(rename = "00-06")]
    Night,
    #[serde(rename = "06-12")]
    Morning,
    #[serde(rename = "12-18")]
    Afternoon,
    #[serde(rename = "18-24")]
    Evening,
}

impl TimeBlock {
    pub const ALL: &'static [TimeBlock] = &[
        TimeBlock::Night,
        TimeBlock::Morning,
        TimeBlock::Afternoon,
        TimeBlock::Evening,
    ];

    /// The block containing `hour` (0 to 23).
    pub fn of_hour(hour: u16) -> TimeBlock {
        match hour {
            0..=5 => TimeBlock::Night,
            6..=11 => TimeBlock::Morning,
            12..=17 => TimeBlock::Afternoon,
            _ => TimeBlock::Evening,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            TimeBlock::Night => "00-06",
            TimeBlock::Morning => "06-12",
            TimeBlock::Afternoon => "12-18",
            TimeBlock::Evening => "18-24",
        }
    }
}

/// Subscribers affected, banded. Lower bounds are inclusive.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum SubscriberBand {
    #[serde(rename = "<10k")]
    Under10k,
    #[serde(rename = "10k-100k")]
    From10kTo100k,
    #[serde(rename = "100k-1M")]
    From100kTo1m,
    #[serde(rename = "1M-10M")]
    From1mTo10m,
    #[serde(rename = ">=10M")]
    AtLeast10m,
}

impl SubscriberBand {
    pub const ALL: &'static [SubscriberBand] = &[
        SubscriberBand::Under10k,
        SubscriberBand::From10kTo100k,
        SubscriberBand::From100kTo1m,
        SubscriberBand::From1mTo10m,
        SubscriberBand::AtLeast10m,
    ];

    pub fn of(subscribers: u64) -> SubscriberBand {
        match subscribers {
            0..10_000 => SubscriberBand::Under10k,
            10_000..100_000 => SubscriberBand::From10kTo100k,
            100_000..1_000_000 => SubscriberBand::From100kTo1m,
            1_000_000..10_000_000 => SubscriberBand::From1mTo10m,
            _ => SubscriberBand::AtLeast10m,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriberBand::Under10k => "<10k",
            SubscriberBand::From10kTo100k => "10k-100k",
            SubscriberBand::From100kTo1m => "100k-1M",
            SubscriberBand::From1mTo10m => "1M-10M",
            SubscriberBand::AtLeast10m => ">=10M",
        }
    }
}

/// Duration of customer impact, banded. Lower bounds are inclusive.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum DurationBand {
    #[serde(rename = "<1h")]
    UnderOneHour,
    #[serde(rename = "1h-4h")]
    OneToFourHours,
    #[serde(rename = "4h-12h")]
    FourToTwelveHours,
    #[serde(rename = "12h-24h")]
    TwelveToTwentyFourHours,
    #[serde(rename = "1d-7d")]
    OneToSevenDays,
    #[serde(rename = ">=7d")]
    AtLeastSevenDays,
}

impl DurationBand {
    pub const ALL: &'static [DurationBand] = &[
        DurationBand::UnderOneHour,
        DurationBand::OneToFourHours,
        DurationBand::FourToTwelveHours,
        DurationBand::TwelveToTwentyFourHours,
        DurationBand::OneToSevenDays,
        DurationBand::AtLeastSevenDays,
    ];

    pub fn of_minutes(minutes: u32) -> DurationBand {
        const HOUR: u32 = 60;
        const DAY: u32 = 24 * HOUR;
        match minutes {
            0..HOUR => DurationBand::UnderOneHour,
            HOUR..240 => DurationBand::OneToFourHours,
            240..720 => DurationBand::FourToTwelveHours,
            720..DAY => DurationBand::TwelveToTwentyFourHours,
            DAY..10_080 => DurationBand::OneToSevenDays,
            _ => DurationBand::AtLeastSevenDays,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            DurationBand::UnderOneHour => "<1h",
            DurationBand::OneToFourHours => "1h-4h",
            DurationBand::FourToTwelveHours => "4h-12h",
            DurationBand::TwelveToTwentyFourHours => "12h-24h",
            DurationBand::OneToSevenDays => "1d-7d",
            DurationBand::AtLeastSevenDays => ">=7d",
        }
    }
}

/// Where, as others may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SharedLocation {
    /// Present only when enough members share the country.
    #[schema(value_type = Option<String>, example = "FR")]
    pub country: Option<CountryCode>,
    pub region: Option<Region>,
}

/// The generalised when-and-where of a report, for the shared view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GeneralisedContext {
    pub when: GeneralisedWhen,
    pub location: SharedLocation,
    pub scope: Option<Scope>,
    pub operator_type: Option<OperatorType>,
    pub duration_band: Option<DurationBand>,
    pub subscriber_band: Option<SubscriberBand>,
}

impl ReportContent {
    /// Month, day of week and 6-hour block of the (local) start.
    pub fn generalised_when(&self) -> GeneralisedWhen {
        let context = self.context();
        let date = context.started_on;
        GeneralisedWhen {
            month: format!("{:04}-{:02}", date.year(), date.month()),
            day_of_week: date.weekday().into(),
            block: context
                .start_time
                .map(|time| TimeBlock::of_hour(time.hour())),
        }
    }

    pub fn subscriber_band(&self) -> Option<SubscriberBand> {
        self.impact().subscribers_affected.map(SubscriberBand::of)
    }

    pub fn duration_band(&self) -> Option<DurationBand> {
        self.impact().duration_minutes.map(DurationBand::of_minutes)
    }

    /// The country when at least `k` members are registered in it
    /// (`country_member_count`), and the region in every case.
    pub fn shared_location(&self, country_member_count: usize, k: usize) -> SharedLocation {
        let context = self.context();
        SharedLocation {
            country: context
                .country
                .clone()
                .filter(|_| country_member_count >= k),
            region: context.region,
        }
    }

    /// Everything of [`IncidentContext`](super::IncidentContext) and the
    /// impact size that the shared view may show, generalised.
    pub fn generalised_context(&self, country_member_count: usize, k: usize) -> GeneralisedContext {
        GeneralisedContext {
            when: self.generalised_when(),
            location: self.shared_location(country_member_count, k),
            scope: self.context().scope,
            operator_type: self.context().operator_type,
            duration_band: self.duration_band(),
            subscriber_band: self.subscriber_band(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;
    use crate::report::input::{ReportInput, report_input_example};

    fn example() -> ReportContent {
        ReportInput::from_json(report_input_example())
            .expect("well formed")
            .validate_at(NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"))
            .expect("valid")
    }

    #[test]
    fn the_start_becomes_month_day_of_week_and_block() {
        let when = example().generalised_when();
        // 2021-06-02 was a Wednesday; 16:45 is in the 12-18 block.
        assert_eq!(
            serde_json::to_value(&when).expect("serialises"),
            json!({"month": "2021-06", "day_of_week": "wednesday", "block": "12-18"})
        );

        let mut input = example().into_input();
        input.context.start_time = None;
        input.context.started_on = NaiveDate::from_ymd_opt(2004, 11, 17).expect("valid date");
        let content = input
            .validate_at(NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"))
            .expect("valid");
        let when = content.generalised_when();
        assert_eq!(when.month, "2004-11");
        assert_eq!(when.day_of_week, DayOfWeek::Wednesday);
        assert_eq!(when.block, None);
    }

    #[test]
    fn blocks_split_the_day_in_four() {
        let expected = [
            (0, "00-06"),
            (5, "00-06"),
            (6, "06-12"),
            (11, "06-12"),
            (12, "12-18"),
            (17, "12-18"),
            (18, "18-24"),
            (23, "18-24"),
        ];
        for (hour, block) in expected {
            let block_of_hour = TimeBlock::of_hour(hour);
            assert_eq!(block_of_hour.as_str(), block, "{hour}");
            assert_eq!(
                serde_json::to_value(block_of_hour).expect("serialises"),
                json!(block)
            );
        }
        assert_eq!(TimeBlock::ALL.len(), 4);
    }

    #[test]
    fn subscriber_bands_have_inclusive_lower_bounds() {
        let expected = [
            (0, "<10k"),
            (9_999, "<10k"),
            (10_000, "10k-100k"),
            (99_999, "10k-100k"),
            (100_000, "100k-1M"),
            (999_999, "100k-1M"),
            (1_000_000, "1M-10M"),
            (9_999_999, "1M-10M"),
            (10_000_000, ">=10M"),
            (125_000_000, ">=10M"),
        ];
        for (subscribers, band) in expected {
            let of = SubscriberBand::of(subscribers);
            assert_eq!(of.as_str(), band, "{subscribers}");
            assert_eq!(serde_json::to_value(of).expect("serialises"), json!(band));
        }
        for band in SubscriberBand::ALL {
            let json = serde_json::to_value(band).expect("serialises");
            assert_eq!(
                serde_json::from_value::<SubscriberBand>(json).expect("parses"),
                *band
            );
        }
    }

    #[test]
    fn duration_bands_have_inclusive_lower_bounds() {
        let expected = [
            (1, "<1h"),
            (59, "<1h"),
            (60, "1h-4h"),
            (239, "1h-4h"),
            (240, "4h-12h"),
            (719, "4h-12h"),
            (720, "12h-24h"),
            (1439, "12h-24h"),
            (1440, "1d-7d"),
            (10_079, "1d-7d"),
            (10_080, ">=7d"),
        ];
        for (minutes, band) in expected {
            let of = DurationBand::of_minutes(minutes);
            assert_eq!(of.as_str(), band, "{minutes}");
            assert_eq!(serde_json::to_value(of).expect("serialises"), json!(band));
        }
        for band in DurationBand::ALL {
            let json = serde_json::to_value(band).expect("serialises");
            assert_eq!(
                serde_json::from_value::<DurationBand>(json).expect("parses"),
                *band
            );
        }
    }

    #[test]
    fn the_country_needs_k_members() {
        let content = example();
        let hidden = content.shared_location(2, DEFAULT_MIN_MEMBERS_PER_COUNTRY);
        assert_eq!(hidden.country, None);
        assert_eq!(hidden.region, Some(Region::Europe));
        let shown = content.shared_location(3, DEFAULT_MIN_MEMBERS_PER_COUNTRY);
        assert_eq!(shown.country.as_ref().map(CountryCode::as_str), Some("FR"));
        assert_eq!(shown.region, Some(Region::Europe));
        assert_eq!(content.shared_location(0, 1).country, None);
        assert!(content.shared_location(5, 5).country.is_some());
    }

    #[test]
    fn the_generalised_context_holds_no_exact_value() {
        let content = example();
        let generalised = content.generalised_context(1, DEFAULT_MIN_MEMBERS_PER_COUNTRY);
        let json = serde_json::to_value(&generalised).expect("serialises");
        assert_eq!(
            json,
            json!({
                "when": {"month": "2021-06", "day_of_week": "wednesday", "block": "12-18"},
                "location": {"country": null, "region": "europe"},
                "scope": "national",
                "operator_type": "fixed_and_mobile_operator",
                "duration_band": "4h-12h",
                "subscriber_band": null
            })
        );
        let text = json.to_string();
        for exact in ["2021-06-02", "16:45", "+02:00", "FR", "438"] {
            assert!(!text.contains(exact), "{exact} leaked into {text}");
        }
    }
}
