//! Benchmark of the free-text anonymisation pipeline on a realistic ~5 KB
//! incident report, with 20 member operators (and their aliases) and 10
//! sensitive terms. Target: under 200 µs per report. Run with
//! `cargo bench -p incidex-registry --bench anonymise`; results are recorded in
//! `docs/anonymisation.md`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use incidex_registry::anonymise::{AllowList, Anonymiser, SensitiveTerms};

/// Member operators and aliases (20 operators, 41 names).
const OPERATORS: &[&str] = &[
    "Acme Mobile",
    "Acme",
    "Bouygues Telecom",
    "Bytel",
    "Orange",
    "Orange Business",
    "SFR",
    "Free Mobile",
    "Vodafone",
    "Vodafone Portugal",
    "Telstra",
    "Optus",
    "Singtel Optus",
    "Swisscom",
    "Sunrise",
    "Rogers",
    "Rogers Communications",
    "Fido",
    "BT",
    "British Telecom",
    "EE",
    "Deutsche Telekom",
    "Telekom",
    "T-Mobile",
    "T-Mobile US",
    "AT&T",
    "AT&T Mobility",
    "Verizon",
    "Verizon Wireless",
    "SK Telecom",
    "SKT",
    "KT Corporation",
    "CenturyLink",
    "Lumen",
    "Level 3",
    "Telefónica",
    "Movistar",
    "O2",
    "Virgin Media O2",
    "PCCW Global",
    "Chunghwa Telecom",
];

/// The filer's sensitive terms.
const TERMS: &[&str] = &[
    "Paris-Vaugirard",
    "Lyon-Part-Dieu",
    "Project Falcon",
    "OSS-Atlas",
    "Orion",
    "EXCH-SYD-04",
    "Riverside DC",
    "nfv-mme-dal-07",
    "Kapazität-Ost",
    "AS64500",
];

/// A long report in the style of an operator filing, with identifiers of
/// every class planted in it (~5 KB).
const REPORT: &str = "\
Summary. At 06:00 on 2024-03-15, two twin central servers hosting our subscriber location \
database (hlr-a.par1.acme-mobile.internal and hlr-b.lyo2.acme-mobile.internal) failed at the \
same moment at Paris-Vaugirard and Lyon-Part-Dieu, although each was meant to take over from \
the other. Without the database the network could not locate handsets, so customers nationwide \
could neither make nor receive calls; SMS appears to have been less affected. Emergency numbers \
112, 15, 17 and 18 were reachable again from 10:30, and by the afternoon only part of the \
customer base could receive calls. Subscribers were reconnected progressively and asked to \
restart their handsets; full service returned at about 01:30 the next morning.

Timeline. 06:00 both HLR front-ends stop answering MAP requests; SIP 408 and SIP 503 responses \
climb on the P-CSCF pool at 10.20.30.40 and 10.20.30.41. 06:04 the NOC duty manager Jean-Pierre \
Lambert opens INC0048213 and calls the vendor hotline +33 1 23 45 67 89. 06:12 the vendor opens \
case 00123456; their engineer Dr. Jane Smith joins the bridge from 0049 151 2345 6789. 06:30 \
Diameter 5012 (DIAMETER_UNABLE_TO_COMPLY) and GTP cause 72 appear on the S6a and S11 interfaces, \
as described in TS 23.401 and 3GPP TS 29.274 §8.4. 07:15 traffic from 192.168.40.0/22 is \
rerouted to the backup site through 2001:db8:40::1 and [2001:db8:40::2]:3868. 08:50 the \
Project Falcon dashboards in OSS-Atlas show 41% of attach attempts failing and 11,800 calls \
dropped per minute. 09:30 field technician Paul Martin (mobile 06 12 34 56 78) reaches the \
Orion cluster at Riverside DC. 10:30 emergency numbers are reachable again.

Detection. The first alarm was a KPI threshold on the signalling monitor at 06:02, but the \
alert was routed to a mailbox (oss-alerts@acme-mobile.example) that nobody watched at night. \
The NOC saw the attach failure ratio pass 90% only at 06:03 on the wallboard, and correlated it \
with the HLR front-end heartbeat loss reported by lb-hlr-01.par1.acme-mobile.internal. No \
automatic failover to the third replica was attempted because it had been disabled during the \
previous maintenance window and never re-enabled (see RITM0012876).

Affected subscribers. Complaints were logged for MSISDN +44 7700 900123 (IMSI \
234150999888777, IMEI 35-209900-176148-1, ICCID 8944 1234 5678 9012 345) and for a roaming \
customer of Vodafone Portugal with IMSI 268011234567890. Acme's customer care escalated through \
care-escalation@acme-mobile.example and the status page https://status.acme-mobile.example/\
incidents/2024-0315?lang=en. The CPE with MAC 00:1a:2b:3c:4d:5e at 203.0.113.77 was used to \
reproduce the registration failure.

Root cause. The twin servers ran software 19.2.1 on firmware 5.4.0.88, upgraded from 5.4.0.87 \
two weeks earlier under change CHG0034567. A latent defect in the replication library made \
both nodes fail on the same malformed update; the defect is tracked by the vendor as NOC-12345 \
and in our problem record PRB0001234. Interconnect partners Orange, SFR and Free Mobile saw \
signalling spikes on their STPs; T-Mobile US and AT&T roaming partners reported failed updates \
for inbound roamers. Deutsche Telekom and Telefónica confirmed no impact on their cores.

Impact. About 7 million customers were unable to make or receive calls for up to 19.5 hours, \
including 23,621 emergency calls that failed before 10:30; 1 500 000 subscribers needed a \
handset restart and 125000000 signalling transactions were rejected. The outage lasted 12 \
hours 13 minutes for voice and 19 hours 30 minutes for SMS; at peak 95% of registrations \
failed, and 3.5 % of data sessions dropped.

Recovery. Engineers restored the primary node at 13:05 and the secondary at 14:40 after \
reloading the subscriber image from the Kapazität-Ost backup. Re-attachment was throttled to \
2,000 registrations per second to protect the MME pool (nfv-mme-dal-07 and mme02.lyo2.acme\
-mobile.internal). Our CTO Hélène Marchand briefed the regulator at 16:00; the AS64500 peering \
with PCCW Global was never affected. Telstra, Optus and Swisscom shared their own HLR \
resilience lessons through the registry; Rogers and BT offered their runbooks.

Lessons. Ensure redundant subscriber databases cannot fail together from one common cause. \
Stagger software updates across redundant pairs (release 19.2.2 will be deployed one node \
at a time with a 48 hours soak). Plan progressive re-attachment of the whole subscriber base \
after a database outage, tested twice a year. Monitor MAP and Diameter error ratios (target \
below 0.5%) and alert the on-call engineer Kenji Watanabe's team within 5 minutes. Keep the \
vendor bridge number 0800 800 150 and ticket references (TT#123456, ticket 4711) in the \
runbook, and document escalation contacts such as noc@example.org in the crisis plan.

Follow-up. A joint review with SK Telecom, KT Corporation and Verizon is planned for Q3 to \
compare HLR geo-redundancy designs against TS 23.002 and GSMA IR.92 recommendations. The \
customer communication plan will reuse the templates prepared after the 2023 CenturyLink and \
Level 3 transport incidents, and our spokesperson Kate Jackson will publish the final report.
";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn bench(c: &mut Criterion) {
    // The shared word lists (names, operators, vocabulary) load once per
    // process; report that one-off cost and keep it out of the scrubs.
    let started = std::time::Instant::now();
    Anonymiser::warm_up();
    eprintln!(
        "anonymise/word lists loaded once in {:?}",
        started.elapsed()
    );
    let anonymiser = Anonymiser::new(&strings(OPERATORS));
    let allow = AllowList::new(&strings(&["Orion", "Atlas", "pgw07"]));
    let terms = SensitiveTerms::new(&strings(TERMS));
    let clean: String = REPORT
        .chars()
        .map(|c| if c.is_ascii_digit() { 'x' } else { c })
        .collect();

    let mut group = c.benchmark_group("anonymise");
    group.throughput(Throughput::Bytes(REPORT.len() as u64));
    group.bench_function("scrub_5kb_report", |b| {
        b.iter(|| anonymiser.scrub(black_box(REPORT), black_box(&terms)))
    });
    group.bench_function("scrub_5kb_report_with_allow_list", |b| {
        b.iter(|| anonymiser.scrub_with(black_box(REPORT), black_box(&terms), black_box(&allow)))
    });
    group.bench_function("scrub_5kb_report_no_digits", |b| {
        b.iter(|| anonymiser.scrub(black_box(&clean), black_box(&terms)))
    });
    group.finish();

    c.bench_function("anonymise/build_anonymiser_41_names", |b| {
        b.iter(|| Anonymiser::new(black_box(&strings(OPERATORS))))
    });
    c.bench_function("anonymise/build_sensitive_terms_10", |b| {
        b.iter(|| SensitiveTerms::new(black_box(&strings(TERMS))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
