//! Small value types with a textual wire form: ISO country code, local time
//! of day and UTC offset.
//!
//! Policy: each type can only hold a valid value; it parses from and
//! serialises to the same string, so a stored report reads back unchanged.
//! A malformed value fails deserialisation, which the structural check in
//! [`super::structure`] reports as `invalid_value` at the field's path.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every code assigned in ISO 3166-1 alpha-2 (249 codes, as in the
/// `iso-codes` database; user-assigned codes such as `XK` are not accepted).
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH \
BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR \
GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR \
KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV \
MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE \
RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL \
TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A value that does not have the expected textual form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(&'static str);

/// An assigned ISO 3166-1 alpha-2 country code, upper case (`FR`, `GB`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[A-Z]{2}$", example = "FR")]
pub struct CountryCode(String);

impl CountryCode {
    /// Parses an assigned alpha-2 code; lower case is not accepted, so that
    /// stored values have one spelling.
    pub fn parse(code: &str) -> Result<Self, InvalidValue> {
        let well_formed = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
        if well_formed && ISO_3166_ALPHA2.split(' ').any(|assigned| assigned == code) {
            Ok(CountryCode(code.to_owned()))
        } else {
            Err(InvalidValue(
                "expected an assigned ISO 3166-1 alpha-2 country code in upper case, such as `FR`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidValue;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&code)
    }
}

impl From<CountryCode> for String {
    fn from(code: CountryCode) -> Self {
        code.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A local time of day with minute precision, written `HH:MM` (24-hour).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "16:45")]
pub struct TimeOfDay(
    /// Minutes after midnight, below 1,440.
    u16,
);

impl TimeOfDay {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: InvalidValue =
            InvalidValue("expected a time of day `HH:MM` from 00:00 to 23:59");
        let (hours, minutes) = text.split_once(':').ok_or(EXPECTED)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(EXPECTED);
        }
        let hours = parse_digits(hours).ok_or(EXPECTED)?;
        let minutes = parse_digits(minutes).ok_or(EXPECTED)?;
        TimeOfDay::from_hm(hours, minutes).ok_or(EXPECTED)
    }

    /// `None` unless `hours < 24` and `minutes < 60`.
    pub fn from_hm(hours: u16, minutes: u16) -> Option<Self> {
        (hours < 24 && minutes < 60).then_some(TimeOfDay(hours * 60 + minutes))
    }

    pub fn hour(self) -> u16 {
        self.0 / 60
    }

    pub fn minute(self) -> u16 {
        self.0 % 60
    }
}

impl TryFrom<String> for TimeOfDay {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        TimeOfDay::parse(&text)
    }
}

impl From<TimeOfDay> for String {
    fn from(time: TimeOfDay) -> Self {
        time.to_string()
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

/// Offset of local time from UTC, written `+HH:MM` or `-HH:MM`, from
/// `-12:00` to `+14:00`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^[+-][0-9]{2}:[0-5][0-9]$", example = "+02:00")]
pub struct UtcOffset(
    /// Minutes east of UTC.
    i16,
);

impl UtcOffset {
    pub const MIN_MINUTES: i16 = -12 * 60;
    pub const MAX_MINUTES: i16 = 14 * 60;

    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: InvalidValue =
            InvalidValue("expected a UTC offset `+HH:MM` or `-HH:MM` from -12:00 to +14:00");
        let (sign, rest) = match text.as_bytes().first() {
            Some(b'+') => (1, &text[1..]),
            Some(b'-') => (-1, &text[1..]),
            _ => return Err(EXPECTED),
        };
        let (hours, minutes) = rest.split_once(':').ok_or(EXPECTED)?;
        if hours.len() != 2 || minutes.len() != 2 {
            return Err(EXPECTED);
        }
        let hours = parse_digits(hours).ok_or(EXPECTED)?;
        let minutes = parse_digits(minutes).ok_or(EXPECTED)?;
        if minutes >= 60 {
            return Err(EXPECTED);
        }
        let total = i16::try_from(hours * 60 + minutes).map_err(|_| EXPECTED)? * sign;
        UtcOffset::from_minutes(total).ok_or(EXPECTED)
    }

    /// `None` outside `-12:00..=+14:00`.
    pub fn from_minutes(minutes: i16) -> Option<Self> {
        (Self::MIN_MINUTES..=Self::MAX_MINUTES)
            .contains(&minutes)
            .then_some(UtcOffset(minutes))
    }

    pub fn minutes(self) -> i16 {
        self.0
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = InvalidValue;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        UtcOffset::parse(&text)
    }
}

impl From<UtcOffset> for String {
    fn from(offset: UtcOffset) -> Self {
        offset.to_string()
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", magnitude / 60, magnitude % 60)
    }
}

/// Two ASCII digits (callers check the length) as a number.
fn parse_digits(text: &str) -> Option<u16> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_must_be_assigned_and_upper_case() {
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
        for code in ["FR", "GB", "US", "PR", "TW", "ZW", "AD"] {
            assert_eq!(CountryCode::parse(code).expect("assigned").as_str(), code);
        }
        for code in ["UK", "XK", "fr", "F", "FRA", "", "EU", "F1"] {
            assert!(CountryCode::parse(code).is_err(), "{code}");
        }
        let json = serde_json::to_string(&CountryCode::parse("CH").expect("assigned"))
            .expect("serialises");
        assert_eq!(json, "\"CH\"");
        assert!(serde_json::from_str::<CountryCode>("\"UK\"").is_err());
    }

    #[test]
    fn time_of_day_is_hh_mm() {
        for (text, hour, minute) in [("00:00", 0, 0), ("16:45", 16, 45), ("23:59", 23, 59)] {
            let time = TimeOfDay::parse(text).expect("valid");
            assert_eq!((time.hour(), time.minute()), (hour, minute));
            assert_eq!(time.to_string(), text);
        }
        for text in [
            "24:00", "12:60", "9:30", "09:3", "09-30", "09:30:00", "+9:30", "ab:cd", "",
        ] {
            assert!(TimeOfDay::parse(text).is_err(), "{text}");
        }
        let time: TimeOfDay = serde_json::from_str("\"06:05\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&time).expect("serialises"),
            "\"06:05\""
        );
    }

    #[test]
    fn utc_offset_is_signed_and_bounded() {
        for (text, minutes) in [
            ("+02:00", 120),
            ("-03:30", -210),
            ("+00:00", 0),
            ("+14:00", 840),
            ("-12:00", -720),
            ("+05:45", 345),
        ] {
            let offset = UtcOffset::parse(text).expect("valid");
            assert_eq!(offset.minutes(), minutes);
            assert_eq!(offset.to_string(), text);
        }
        for text in [
            "02:00", "+14:01", "-12:30", "+2:00", "+02:60", "Z", "", "+", "+0a:00",
        ] {
            assert!(UtcOffset::parse(text).is_err(), "{text}");
        }
        assert_eq!(
            UtcOffset::from_minutes(-0)
                .map(|o| o.to_string())
                .as_deref(),
            Some("+00:00")
        );
    }
}
