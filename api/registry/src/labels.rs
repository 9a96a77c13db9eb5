//! Display labels for taxonomy slugs and durations.

use std::str::FromStr;

use incidex_schema::report::{
    Asset, NetworkDomain, OperatorType, Region, RootCauseCategory, Scope, Service, Severity, Tlp,
    Trigger,
};

fn via<T: FromStr + Copy>(slug: &str, label: fn(T) -> &'static str) -> Option<String> {
    T::from_str(slug).ok().map(|v| label(v).to_owned())
}

/// The English label of `slug` in the taxonomy of search field `field`;
/// unknown values are shown as they are, underscores turned to spaces.
pub fn label(field: &str, slug: &str) -> String {
    let known = match field {
        "service" => via::<Service>(slug, Service::label),
        "domain" | "network_domain" => via::<NetworkDomain>(slug, NetworkDomain::label),
        "asset" => via::<Asset>(slug, Asset::label),
        "root_cause_category" => via::<RootCauseCategory>(slug, RootCauseCategory::label),
        "trigger" => via::<Trigger>(slug, Trigger::label),
        "severity" => via::<Severity>(slug, Severity::label),
        "region" => via::<Region>(slug, Region::label),
        "scope" => via::<Scope>(slug, Scope::label),
        "operator_type" => via::<OperatorType>(slug, OperatorType::label),
        "tlp" => via::<Tlp>(slug, Tlp::label),
        _ => None,
    };
    known.unwrap_or_else(|| slug.replace('_', " "))
}

/// The heading of a search field.
pub fn field_label(field: &str) -> &'static str {
    match field {
        "service" => "Service",
        "domain" => "Network domain",
        "network_domain" => "Main network domain",
        "asset" => "Asset",
        "root_cause_category" => "Root cause",
        "trigger" => "Trigger",
        "severity" => "Severity",
        "region" => "Region",
        "country" => "Country",
        "scope" => "Scope",
        "operator_type" => "Operator type",
        "tlp" => "TLP",
        "started_from" => "Started from",
        "started_to" => "Started until",
        "published_from" => "Published from",
        "published_to" => "Published until",
        "enisa_user_hours_1m" => "ENISA 1M user-hours",
        "fcc_900k_user_minutes" => "FCC 900k user-minutes",
        "emergency_service_affected" => "Emergency service affected",
        _ => "Filter",
    }
}

/// Minutes as `45 min`, `3 h 20 min`, `2 d 4 h`.
pub fn minutes(m: u32) -> String {
    let (d, h, min) = (m / 1440, (m % 1440) / 60, m % 60);
    match (d, h, min) {
        (0, 0, min) => format!("{min} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, min) => format!("{h} h {min} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A timeline offset: `T−40 min`, `T+0`, `T+2 h 15 min`.
pub fn offset(m: i32) -> String {
    match m {
        0 => "T+0".to_owned(),
        m if m < 0 => format!("T\u{2212}{}", minutes(m.unsigned_abs())),
        m => format!("T+{}", minutes(m.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_durations() {
        assert_eq!(label("severity", "critical"), "Critical");
        assert_eq!(label("nope", "some_value"), "some value");
        assert_eq!(minutes(45), "45 min");
        assert_eq!(minutes(120), "2 h");
        assert_eq!(minutes(200), "3 h 20 min");
        assert_eq!(minutes(3000), "2 d 2 h");
        assert_eq!(offset(-40), "T\u{2212}40 min");
        assert_eq!(offset(0), "T+0");
    }
}
