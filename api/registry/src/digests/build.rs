//! Builds a digest from the database: the incidents, clusters, lessons and
//! figures of one period as one audience may see them.
//!
//! Everything is read through the functions the API reads through: the
//! shared view of each report (`routes::reports::shared_view`), the
//! clusters and lessons of a reader class (`clustering::Viewer::for_role`),
//! so a digest never shows more than the API would show its audience.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use incidex_indexer::DocFreqs;
use incidex_schema::db::DbConnection;
use incidex_schema::db::digests::{self as store, ChangedReport};
use incidex_schema::report::{
    DurationBand, Metrics, NetworkDomain, RootCauseCategory, Service, Severity,
};

use super::{
    Audience, BandCount, Digest, DigestCluster, DigestClusters, DigestIncident, DigestLesson,
    DigestLessons, Durations, FigureChanges, Figures, IncidentChange, Period, PeriodInfo,
    PreviousPeriod, UserHours, digest_id,
};
use crate::clusters;
use crate::error::RegistryResult;
use crate::members::AnonymiserCache;
use crate::reports::shared_view;
use crate::views::content_of;
use crate::visibility::Viewer;

/// Lessons listed as most endorsed, at most.
pub const MOST_ENDORSED: usize = 10;

/// What building needs besides the database.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    /// Member counts per country, for the shared view's k-anonymity.
    pub members: &'a AnonymiserCache,
    /// The registry's k-anonymity threshold (`k_anonymity`).
    pub k_anonymity: usize,
    /// Document frequencies for cluster labels computed on the fly (the
    /// live index where there is one).
    pub stats: Option<&'a dyn DocFreqs>,
}

impl std::fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("k_anonymity", &self.k_anonymity)
            .finish_non_exhaustive()
    }
}

/// The figures-relevant facts of one incident.
struct Facts {
    change: IncidentChange,
    severity: Severity,
    root_cause: Option<RootCauseCategory>,
    services: Vec<Service>,
    domain: Option<NetworkDomain>,
    emergency: bool,
    user_hours: Option<f64>,
    duration: Option<u32>,
}

fn change_of(changed: &ChangedReport, period: &Period) -> IncidentChange {
    let published_in = changed
        .row
        .published_at
        .is_some_and(|p| period.start <= p && p < period.end);
    if published_in {
        IncidentChange::Published
    } else {
        IncidentChange::Amended
    }
}

fn facts_of(changed: &ChangedReport, period: &Period) -> RegistryResult<Facts> {
    let content = content_of(&changed.row)?;
    let metrics: Metrics = content.metrics();
    Ok(Facts {
        change: change_of(changed, period),
        severity: metrics.severity,
        root_cause: content.cause().root_cause_category,
        services: content.affected().services.clone(),
        domain: content.affected().network_domain,
        emergency: metrics.flags.emergency_service_affected,
        user_hours: metrics.user_hours,
        duration: content.impact().duration_minutes,
    })
}

/// Builds the digest of `period` for `audience`, as of `now`.
pub fn build(
    conn: &mut DbConnection,
    ctx: BuildContext<'_>,
    period: Period,
    audience: Audience,
    now: DateTime<Utc>,
) -> RegistryResult<Digest> {
    let tlps: Vec<&str> = audience.tlps().iter().map(|t| t.as_str()).collect();
    let changed = store::changed_between(conn, &tlps, period.start, period.end)?;
    let previous = period.previous();
    let previous_changed = store::changed_between(conn, &tlps, previous.start, previous.end)?;

    let counts = ctx.members.country_counts(conn)?;
    let mut incidents: Vec<(DigestIncident, Facts)> = Vec::with_capacity(changed.len());
    for c in &changed {
        let facts = facts_of(c, &period)?;
        let report = shared_view(&c.row, &counts, ctx.k_anonymity)?;
        incidents.push((
            DigestIncident {
                change: facts.change,
                amended_on: c.amended_at.map(|t| t.date()),
                report,
            },
            facts,
        ));
    }
    // Most severe first; then emergency-service incidents, the longest,
    // the latest to enter the period (publication or amendment); the id
    // settles ties, so the order is stable.
    let entered = |i: &DigestIncident| match i.change {
        IncidentChange::Published => i.report.published_on,
        IncidentChange::Amended => i.amended_on,
    };
    incidents.sort_by(|(a, fa), (b, fb)| {
        Reverse(fa.severity)
            .cmp(&Reverse(fb.severity))
            .then(fb.emergency.cmp(&fa.emergency))
            .then(Reverse(fa.duration).cmp(&Reverse(fb.duration)))
            .then(entered(b).cmp(&entered(a)))
            .then_with(|| a.report.id.cmp(&b.report.id))
    });
    let facts: Vec<&Facts> = incidents.iter().map(|(_, f)| f).collect();
    let figures = figures(&facts, ctx.k_anonymity);
    let previous_facts = previous_changed
        .iter()
        .map(|c| facts_of(c, &previous))
        .collect::<RegistryResult<Vec<Facts>>>()?;
    let previous_figures = figures_of_owned(&previous_facts, ctx.k_anonymity);
    let changes = changes(&figures, &previous_figures);

    let viewer = Viewer::for_role(audience.role());
    let clusters = clusters(conn, &viewer, ctx.stats, &period)?;
    let lessons = lessons(conn, &viewer, &period)?;

    Ok(Digest {
        id: digest_id(&period, audience),
        kind: period.kind,
        audience,
        period: PeriodInfo::of(&period),
        generated_at: now,
        tlps: audience.tlps().to_vec(),
        figures,
        previous: PreviousPeriod {
            period: PeriodInfo::of(&previous),
            figures: previous_figures,
        },
        changes,
        incidents: incidents.into_iter().map(|(i, _)| i).collect(),
        clusters,
        lessons,
    })
}

fn figures_of_owned(facts: &[Facts], k: usize) -> Figures {
    let refs: Vec<&Facts> = facts.iter().collect();
    figures(&refs, k)
}

const NOT_STATED: &str = "not_stated";

fn figures(facts: &[&Facts], k: usize) -> Figures {
    let mut f = Figures {
        incidents: facts.len() as u64,
        ..Figures::default()
    };
    for s in Severity::ALL {
        f.by_severity.insert(s.as_str().to_owned(), 0);
    }
    let bump = |map: &mut BTreeMap<String, u64>, key: &str| {
        *map.entry(key.to_owned()).or_default() += 1;
    };
    let mut hours = Vec::new();
    let mut durations = Vec::new();
    let mut bands: HashMap<&str, u64> = HashMap::new();
    for x in facts {
        match x.change {
            IncidentChange::Published => f.published += 1,
            IncidentChange::Amended => f.amended += 1,
        }
        bump(&mut f.by_severity, x.severity.as_str());
        bump(
            &mut f.by_root_cause,
            x.root_cause.map_or(NOT_STATED, |c| c.as_str()),
        );
        let mut services = x.services.clone();
        services.sort();
        services.dedup();
        for s in services {
            bump(&mut f.by_service, s.as_str());
        }
        bump(
            &mut f.by_network_domain,
            x.domain.map_or(NOT_STATED, |d| d.as_str()),
        );
        if x.emergency {
            f.emergency_service_incidents += 1;
        }
        if let Some(h) = x.user_hours {
            hours.push(h);
        }
        match x.duration {
            Some(m) => {
                durations.push(m);
                *bands
                    .entry(DurationBand::of_minutes(m).as_str())
                    .or_default() += 1;
            }
            None => *bands.entry(NOT_STATED).or_default() += 1,
        }
    }
    f.user_hours = UserHours {
        total: (hours.len() >= k.max(1)).then(|| round_significant(hours.iter().sum(), 2)),
        incidents_with_figures: hours.len() as u64,
    };
    durations.sort_unstable();
    let median = match durations.len() {
        0 => None,
        n if n % 2 == 1 => Some(durations[n / 2]),
        n => Some(
            u32::try_from((u64::from(durations[n / 2 - 1]) + u64::from(durations[n / 2])) / 2)
                .unwrap_or(u32::MAX),
        ),
    };
    f.durations = Durations {
        by_band: DurationBand::ALL
            .iter()
            .map(|b| b.as_str())
            .chain([NOT_STATED])
            .map(|band| BandCount {
                band: band.to_owned(),
                count: bands.get(band).copied().unwrap_or(0),
            })
            .collect(),
        median_minutes: median,
        longest_minutes: durations.last().copied(),
    };
    f
}

/// `x` rounded to `digits` significant figures.
pub fn round_significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let shift = digits - 1 - magnitude;
    if shift >= 0 {
        let factor = 10f64.powi(shift);
        (x * factor).round() / factor
    } else {
        let divisor = 10f64.powi(-shift);
        (x / divisor).round() * divisor
    }
}

fn major_or_critical(f: &Figures) -> i64 {
    ["major", "critical"]
        .iter()
        .map(|s| f.by_severity.get(*s).copied().unwrap_or(0) as i64)
        .sum()
}

fn changes(now: &Figures, before: &Figures) -> FigureChanges {
    FigureChanges {
        incidents: now.incidents as i64 - before.incidents as i64,
        emergency_service_incidents: now.emergency_service_incidents as i64
            - before.emergency_service_incidents as i64,
        major_or_critical: major_or_critical(now) - major_or_critical(before),
        user_hours: match (now.user_hours.total, before.user_hours.total) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        },
    }
}

fn in_period(t: Option<NaiveDateTime>, period: &Period) -> bool {
    t.is_some_and(|t| period.start <= t && t < period.end)
}

fn clusters(
    conn: &mut DbConnection,
    viewer: &Viewer,
    stats: Option<&dyn DocFreqs>,
    period: &Period,
) -> RegistryResult<DigestClusters> {
    let touched = clusters::visible_clusters(conn, viewer, stats, |members| {
        members.iter().any(|m| in_period(m.published_at, period))
    })?;
    let mut out = DigestClusters::default();
    for c in touched {
        let mut before_end: Vec<_> = c
            .members
            .iter()
            .filter(|m| m.published_at.is_some_and(|t| t < period.end))
            .collect();
        before_end.sort_by(|a, b| {
            a.published_at
                .cmp(&b.published_at)
                .then_with(|| a.report_id.cmp(&b.report_id))
        });
        let mut added_ids: Vec<String> = before_end
            .iter()
            .filter(|m| in_period(m.published_at, period))
            .map(|m| m.report_id.clone())
            .collect();
        added_ids.sort();
        let (Some(first), Some(last)) = (
            before_end.first().and_then(|m| m.published_at),
            before_end.last().and_then(|m| m.published_at),
        ) else {
            continue;
        };
        let cluster = DigestCluster {
            id: c.id,
            label: c.label,
            top_terms: c.top_terms,
            size: before_end.len() as u64,
            added: added_ids.len() as u64,
            first_seen: first.date(),
            last_seen: last.date(),
            added_ids,
        };
        if first >= period.start {
            out.new.push(cluster);
        } else {
            out.growing.push(cluster);
        }
    }
    let order = |a: &DigestCluster, b: &DigestCluster| {
        b.added
            .cmp(&a.added)
            .then(b.size.cmp(&a.size))
            .then_with(|| a.id.cmp(&b.id))
    };
    out.new.sort_by(order);
    out.growing.sort_by(order);
    Ok(out)
}

fn lessons(
    conn: &mut DbConnection,
    viewer: &Viewer,
    period: &Period,
) -> RegistryResult<DigestLessons> {
    let visible = crate::lessons::all_visible(conn, viewer)?;
    let in_period = store::endorsements_between(conn, period.start, period.end)?;
    let (first_day, end_day) = (period.start.date(), period.end.date());
    let to_digest = |l: &crate::lessons::Lesson| DigestLesson {
        id: l.id.clone(),
        text: l.text.clone(),
        category: l.category,
        source: l.source.as_str().to_owned(),
        report_ids: l.report_ids.clone(),
        cluster_id: l.cluster_id.clone(),
        created_on: l.created_on,
        endorsements: l.endorsements,
        endorsements_in_period: in_period.get(&l.id).copied().unwrap_or(0),
    };
    // Periods start and end at midnight, so the recording day decides.
    let mut new: Vec<DigestLesson> = visible
        .iter()
        .filter(|l| first_day <= l.created_on && l.created_on < end_day)
        .map(to_digest)
        .collect();
    new.sort_by(|a, b| {
        a.created_on
            .cmp(&b.created_on)
            .then_with(|| a.report_ids.cmp(&b.report_ids))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut most_endorsed: Vec<DigestLesson> = visible
        .iter()
        .filter(|l| in_period.get(&l.id).is_some_and(|n| *n > 0))
        .map(to_digest)
        .collect();
    most_endorsed.sort_by(|a, b| {
        b.endorsements_in_period
            .cmp(&a.endorsements_in_period)
            .then(b.endorsements.cmp(&a.endorsements))
            .then_with(|| a.id.cmp(&b.id))
    });
    most_endorsed.truncate(MOST_ENDORSED);
    Ok(DigestLessons { new, most_endorsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_significant_figures() {
        assert_eq!(round_significant(1_234_567.0, 2), 1_200_000.0);
        assert_eq!(round_significant(1_250.0, 2), 1_300.0);
        assert_eq!(round_significant(0.1234, 2), 0.12);
        assert_eq!(round_significant(87.0, 2), 87.0);
        assert_eq!(round_significant(0.0, 2), 0.0);
    }

    fn fact(severity: Severity, hours: Option<f64>, minutes: Option<u32>) -> Facts {
        Facts {
            change: IncidentChange::Published,
            severity,
            root_cause: None,
            services: vec![Service::Voice, Service::Voice, Service::Sms],
            domain: Some(NetworkDomain::Core),
            emergency: false,
            user_hours: hours,
            duration: minutes,
        }
    }

    #[test]
    fn user_hours_need_k_incidents() {
        let two = [
            fact(Severity::Minor, Some(1000.0), Some(30)),
            fact(Severity::Major, Some(2345.0), Some(300)),
        ];
        let f = figures_of_owned(&two, 3);
        assert_eq!(f.user_hours.total, None, "one could subtract their own");
        assert_eq!(f.user_hours.incidents_with_figures, 2);
        let three = [
            fact(Severity::Minor, Some(1000.0), Some(30)),
            fact(Severity::Major, Some(2345.0), Some(300)),
            fact(Severity::Critical, Some(10.0), None),
        ];
        let f = figures_of_owned(&three, 3);
        assert_eq!(f.user_hours.total, Some(3400.0));
        assert_eq!(f.by_service.get("voice"), Some(&3), "once per incident");
        assert_eq!(f.by_root_cause.get("not_stated"), Some(&3));
        assert_eq!(f.by_severity.get("critical"), Some(&1));
        assert_eq!(f.durations.median_minutes, Some(165));
        assert_eq!(f.durations.longest_minutes, Some(300));
        let bands: Vec<(String, u64)> = f
            .durations
            .by_band
            .iter()
            .map(|b| (b.band.clone(), b.count))
            .collect();
        assert_eq!(bands[0], ("<1h".to_owned(), 1));
        assert_eq!(bands[2], ("4h-12h".to_owned(), 1));
        assert_eq!(bands[6], ("not_stated".to_owned(), 1));
    }
}
