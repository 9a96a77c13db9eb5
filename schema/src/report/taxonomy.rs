//! The incident taxonomy: every enumerated field of a report.
//!
//! Policy:
//! - Wire values are `snake_case` slugs and are part of the public API: a
//!   value may be added, never renamed or removed (stored reports and saved
//!   searches refer to them). Each enum has `ALL` (declaration order, which is
//!   also the facet order in the UI), `as_str()` (the wire slug) and
//!   `label()` (an English label for the UI and for generated text).
//! - "Unknown" is expressed by leaving the field out (`null`), not by an
//!   `unknown` variant; the exceptions are [`RedundancyOutcome::Unknown`]
//!   (redundancy is known to exist but its behaviour is not) and the `other`
//!   variants of open-ended lists ([`Asset`], [`DetectionSource`],
//!   [`RestorationMethod`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A string that is not the wire value of any variant of a taxonomy enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {taxonomy} value `{value}`")]
pub struct UnknownTaxonomyValue {
    /// The enum that was asked for (e.g. `Service`).
    pub taxonomy: &'static str,
    /// The rejected input.
    pub value: String,
}

/// Declares a taxonomy enum: the derives every enum shares, `ALL`,
/// `as_str()`, `label()`, `Display` and `FromStr`. The slug must equal the
/// serde `snake_case` name of the variant; a unit test checks every variant.
macro_rules! taxonomy {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident => $slug:literal, $label:literal;
            )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Serialize, Deserialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq, Hash,
            PartialOrd, Ord,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire value (`snake_case` slug).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $slug,)+
                }
            }

            /// An English label for display.
            pub const fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownTaxonomyValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|variant| variant.as_str() == value)
                    .ok_or_else(|| UnknownTaxonomyValue {
                        taxonomy: stringify!($name),
                        value: value.to_owned(),
                    })
            }
        }
    };
}

taxonomy! {
    /// A service whose users were affected.
    pub enum Service {
        /// Voice calls in general (mobile unless `fixed_voice` is meant).
        Voice => "voice", "Voice";
        /// Voice over LTE / NR (IMS voice on the mobile network).
        Volte => "volte", "VoLTE";
        /// Voice over Wi-Fi.
        Vowifi => "vowifi", "VoWiFi";
        Sms => "sms", "SMS";
        Mms => "mms", "MMS";
        /// Mobile data / mobile internet access.
        Data => "data", "Data";
        /// Access to emergency services (112, 911, 999, 000, ...).
        EmergencyCalls => "emergency_calls", "Emergency calls";
        FixedVoice => "fixed_voice", "Fixed voice";
        FixedBroadband => "fixed_broadband", "Fixed broadband";
        Tv => "tv", "TV";
        /// Service for inbound or outbound roamers.
        Roaming => "roaming", "Roaming";
        /// Leased lines, VPNs and other business connectivity.
        EnterpriseConnectivity => "enterprise_connectivity", "Enterprise connectivity";
        /// IP transit, wholesale and carrier services sold to other networks.
        WholesaleTransit => "wholesale_transit", "Wholesale and transit";
        /// IoT / M2M connectivity (meters, payment terminals, alarms).
        Iot => "iot", "IoT / M2M";
        /// Public warning (cell broadcast, location-based SMS).
        PublicWarning => "public_warning", "Public warning";
    }
}

taxonomy! {
    /// The part of the network where the fault sat.
    pub enum NetworkDomain {
        /// Radio access network and cell sites (including loss of site power).
        Ran => "ran", "Radio access";
        /// IP/MPLS backbone, optical transport, submarine and terrestrial cables.
        Transport => "transport", "Transport";
        /// Mobile packet and circuit core: MME/SGSN, HLR/HSS, MSC, SMS core.
        Core => "core", "Core";
        /// IMS / VoLTE / VoIP call control and voice platforms.
        Ims => "ims", "IMS";
        /// Interconnection, legacy PSTN gateways, emergency-call routing between networks.
        Interconnect => "interconnect", "Interconnect";
        /// External routing (BGP, RPKI, flowspec) and DNS.
        DnsBgp => "dns_bgp", "Routing and DNS";
        /// Billing, OSS and IT / management systems.
        OssBss => "oss_bss", "OSS / BSS";
        /// Customer premises equipment (home routers, set-top boxes).
        Cpe => "cpe", "Customer equipment";
        /// Emergency call answering and handling platforms, other service platforms.
        ServicePlatform => "service_platform", "Service platform";
        /// Buildings, power plant, cooling, fire, physical site damage.
        Facilities => "facilities", "Facilities";
    }
}

taxonomy! {
    /// A kind of network element or infrastructure involved in the incident.
    pub enum Asset {
        /// Call server / softswitch / MGCF bridging IP voice and the switched network.
        CallServer => "call_server", "Call server";
        Msc => "msc", "MSC / MSC server";
        MediaGateway => "media_gateway", "Media gateway";
        Hlr => "hlr", "HLR";
        HssUdm => "hss_udm", "HSS / UDM";
        MmeAmf => "mme_amf", "MME / AMF";
        /// Packet gateways and user plane: SGSN, GGSN, S/P-GW, SMF, UPF.
        SgsnGgsnPgwUpf => "sgsn_ggsn_pgw_upf", "SGSN / GGSN / P-GW / UPF";
        PcrfPcf => "pcrf_pcf", "PCRF / PCF";
        /// P-, I- or S-CSCF.
        Cscf => "cscf", "CSCF";
        /// Telephony / multimedia application server (TAS, MMTel AS).
        ApplicationServer => "application_server", "Telephony application server";
        Sbc => "sbc", "Session border controller";
        /// STP, DRA, SEPP, SCP: signalling routing between network functions.
        SignallingRouter => "signalling_router", "Signalling router (STP / DRA / SEPP)";
        Smsc => "smsc", "SMSC / SMS router";
        /// Emergency call routing and location functions (E-CSCF, LRF, ESRP).
        EmergencyCallRouting => "emergency_call_routing", "Emergency call routing";
        /// Emergency call answering / handling platform.
        EmergencyCallPlatform => "emergency_call_platform", "Emergency call platform";
        DnsServer => "dns_server", "DNS server";
        BgpRouter => "bgp_router", "BGP / border router";
        /// Core, aggregation or edge IP/MPLS router.
        IpRouter => "ip_router", "IP / MPLS router";
        Firewall => "firewall", "Firewall / security gateway";
        LoadBalancer => "load_balancer", "Load balancer";
        /// DWDM / OTN / SDH equipment.
        OpticalTransport => "optical_transport", "Optical transport";
        MicrowaveLink => "microwave_link", "Microwave link";
        TerrestrialCable => "terrestrial_cable", "Terrestrial cable";
        SubmarineCable => "submarine_cable", "Submarine cable";
        /// Base station, antenna, site equipment.
        CellSite => "cell_site", "Cell site";
        /// BSC / RNC / centralised RAN unit.
        RanController => "ran_controller", "RAN controller";
        /// OLT, DSLAM, CMTS, BNG.
        AccessNode => "access_node", "Fixed access node";
        /// Customer premises equipment: home routers, set-top boxes.
        CustomerPremisesEquipment => "customer_premises_equipment", "Customer premises equipment";
        /// Rectifiers, batteries, generators, mains supply.
        PowerPlant => "power_plant", "Power plant";
        Cooling => "cooling", "Cooling";
        /// Exchange, data centre or other building.
        Building => "building", "Building";
        /// NFVI / cloud platform hosting network functions.
        VirtualisationPlatform => "virtualisation_platform", "Virtualisation platform";
        /// Certificates and the PKI that issues them.
        Certificate => "certificate", "Certificate / PKI";
        /// NTP / PTP / GNSS timing.
        Timing => "timing", "Timing and synchronisation";
        BillingSystem => "billing_system", "Billing system";
        ProvisioningSystem => "provisioning_system", "Provisioning system";
        /// OSS, element and network management.
        NetworkManagement => "network_management", "Network management";
        Other => "other", "Other";
    }
}

taxonomy! {
    /// Root-cause category of ENISA's telecom incident-reporting scheme.
    pub enum RootCauseCategory {
        /// Hardware or software failure, including defects in vendor software
        /// running in the operator's own network.
        SystemFailure => "system_failure", "System failure";
        /// Mistakes in operations, changes or procedures.
        HumanError => "human_error", "Human error";
        /// Cyberattacks and physical attacks.
        MaliciousAction => "malicious_action", "Malicious action";
        /// Storms, earthquakes, floods, volcanic eruptions.
        NaturalPhenomenon => "natural_phenomenon", "Natural phenomenon";
        /// Failure of infrastructure run by someone else (power grid, shared
        /// cable systems, cable damage by other parties).
        ThirdPartyFailure => "third_party_failure", "Third-party failure";
    }
}

taxonomy! {
    /// The initiating event or the activity under way at onset.
    pub enum Trigger {
        /// New software or release.
        SoftwareUpgrade => "software_upgrade", "Software upgrade";
        /// Configuration or policy change on running systems.
        ConfigChange => "config_change", "Configuration change";
        /// Planned works: equipment replacement, migration, repairs.
        Maintenance => "maintenance", "Maintenance";
        /// Routine operational commands (e.g. reconnection or provisioning
        /// commands during a modernisation programme).
        RoutineCommands => "routine_commands", "Routine commands";
        /// Adding capacity: new nodes, links, licences.
        CapacityExpansion => "capacity_expansion", "Capacity expansion";
        HardwareFailure => "hardware_failure", "Hardware failure";
        /// Latent defect that surfaced without a change that day.
        SoftwareBug => "software_bug", "Software bug";
        CertificateExpiry => "certificate_expiry", "Certificate expiry";
        /// Traffic or signalling overload.
        Overload => "overload", "Overload";
        /// Loss of power.
        Power => "power", "Power";
        /// Cable cut or transport link failure.
        FibreCut => "fibre_cut", "Fibre cut";
        Weather => "weather", "Weather";
        Cyberattack => "cyberattack", "Cyberattack";
        /// Bomb, theft, sabotage.
        PhysicalAttack => "physical_attack", "Physical attack";
        Fire => "fire", "Fire";
    }
}

taxonomy! {
    /// Geographic reach of the impact.
    pub enum Scope {
        Local => "local", "Local";
        Regional => "regional", "Regional";
        National => "national", "National";
        MultiNational => "multi_national", "Multi-national";
    }
}

taxonomy! {
    /// What kind of organisation the filing operator is.
    pub enum OperatorType {
        MobileOperator => "mobile_operator", "Mobile operator";
        FixedOperator => "fixed_operator", "Fixed operator";
        FixedAndMobileOperator => "fixed_and_mobile_operator", "Fixed and mobile operator";
        TransportCarrier => "transport_carrier", "Transport carrier";
        EmergencyCallServiceProvider => "emergency_call_service_provider", "Emergency call service provider";
        SubmarineCableConsortium => "submarine_cable_consortium", "Submarine cable consortium";
        InternetPlatform => "internet_platform", "Internet platform";
        DnsProvider => "dns_provider", "DNS provider";
        /// A joint record for an event that hit several operators.
        Multiple => "multiple", "Several operators";
    }
}

taxonomy! {
    /// Traffic Light Protocol level: who may read the report.
    #[derive(Default)]
    pub enum Tlp {
        /// No restriction.
        Clear => "clear", "TLP:CLEAR";
        /// Members of the registry (the default).
        #[default]
        Green => "green", "TLP:GREEN";
        /// Members with a need to know.
        Amber => "amber", "TLP:AMBER";
        /// The filer and registry staff only.
        Red => "red", "TLP:RED";
    }
}

taxonomy! {
    /// Where the region of the affected network lies. Continents are split
    /// into sub-regions; `global` is for events across several continents.
    pub enum Region {
        Europe => "europe", "Europe";
        NorthAmerica => "north_america", "North America";
        CentralAmerica => "central_america", "Central America";
        Caribbean => "caribbean", "Caribbean";
        SouthAmerica => "south_america", "South America";
        NorthAfrica => "north_africa", "North Africa";
        WestAfrica => "west_africa", "West Africa";
        CentralAfrica => "central_africa", "Central Africa";
        EastAfrica => "east_africa", "East Africa";
        SouthernAfrica => "southern_africa", "Southern Africa";
        MiddleEast => "middle_east", "Middle East";
        CentralAsia => "central_asia", "Central Asia";
        SouthAsia => "south_asia", "South Asia";
        EastAsia => "east_asia", "East Asia";
        SouthEastAsia => "south_east_asia", "South-East Asia";
        Oceania => "oceania", "Oceania";
        /// Impact across several continents.
        Global => "global", "Global";
    }
}

taxonomy! {
    /// How the operator first learned of the incident.
    pub enum DetectionSource {
        /// Network element alarms and fault management.
        NetworkAlarms => "network_alarms", "Network alarms";
        /// KPI dashboards, synthetic probes, end-to-end service supervision.
        ServiceMonitoring => "service_monitoring", "Service monitoring";
        /// Calls, tickets and complaints from customers.
        CustomerReports => "customer_reports", "Customer reports";
        /// Emergency services or public-safety answering points.
        EmergencyServices => "emergency_services", "Emergency services";
        /// Another operator.
        PeerOperator => "peer_operator", "Another operator";
        /// A supplier, vendor or other third party.
        Supplier => "supplier", "Supplier";
        /// A regulator or other authority.
        Authority => "authority", "Authority";
        /// Staff on site or in operations noticed it.
        Staff => "staff", "Staff";
        /// Social media or press.
        SocialMedia => "social_media", "Social media or press";
        Other => "other", "Other";
    }
}

taxonomy! {
    /// What restored service.
    pub enum RestorationMethod {
        /// Back to the previous software or configuration.
        Rollback => "rollback", "Rollback";
        /// Restart or reload of elements.
        Restart => "restart", "Restart";
        /// Manual switchover to standby or redundant elements.
        ManualFailover => "manual_failover", "Manual failover";
        /// Corrected configuration.
        ConfigurationFix => "configuration_fix", "Configuration fix";
        /// New software or a patch.
        SoftwarePatch => "software_patch", "Software patch";
        HardwareReplacement => "hardware_replacement", "Hardware replacement";
        /// Traffic moved to other routes, sites or networks.
        TrafficRerouting => "traffic_rerouting", "Traffic rerouting";
        /// Throttling, admission control or added capacity.
        LoadControl => "load_control", "Load control";
        /// Isolating the faulty element or blocking malicious traffic.
        Isolation => "isolation", "Isolation";
        /// Cable, site or building repair.
        PhysicalRepair => "physical_repair", "Physical repair";
        /// Mains power back or generators brought in.
        PowerRestoration => "power_restoration", "Power restoration";
        /// Mobile sites, satellite links or other temporary equipment.
        TemporaryEquipment => "temporary_equipment", "Temporary equipment";
        /// A third party (supplier, utility, peer) fixed its part.
        ThirdPartyFix => "third_party_fix", "Fixed by a third party";
        /// Service recovered without intervention.
        SelfRecovered => "self_recovered", "Recovered by itself";
        Other => "other", "Other";
    }
}

taxonomy! {
    /// Whether redundancy existed for the failed element and what it did.
    pub enum RedundancyOutcome {
        /// No redundancy for the failed element.
        NotPresent => "not_present", "No redundancy";
        /// Redundancy took over as designed; impact was limited.
        Worked => "worked", "Worked";
        /// Redundancy took over only part of the load or for part of the time.
        Partial => "partial", "Partly worked";
        /// All redundant instances failed from one common cause.
        FailedCommonMode => "failed_common_mode", "Failed in common mode";
        /// The switchover itself failed.
        FailedSwitchover => "failed_switchover", "Switchover failed";
        /// The failure was not detected as one, so no switchover happened.
        NotTriggered => "not_triggered", "Not triggered";
        /// Redundancy exists; its behaviour is not known.
        Unknown => "unknown", "Unknown";
    }
}

taxonomy! {
    /// Computed severity; see [`crate::report::Metrics`] for the rule.
    pub enum Severity {
        Minor => "minor", "Minor";
        Major => "major", "Major";
        Critical => "critical", "Critical";
    }
}

taxonomy! {
    /// Lifecycle of a stored report (set by the registry, not by the body).
    pub enum ReportStatus {
        Draft => "draft", "Draft";
        Published => "published", "Published";
        Withdrawn => "withdrawn", "Withdrawn";
    }
}

taxonomy! {
    /// Day of the week (of the local start date).
    pub enum DayOfWeek {
        Monday => "monday", "Monday";
        Tuesday => "tuesday", "Tuesday";
        Wednesday => "wednesday", "Wednesday";
        Thursday => "thursday", "Thursday";
        Friday => "friday", "Friday";
        Saturday => "saturday", "Saturday";
        Sunday => "sunday", "Sunday";
    }
}

impl From<chrono::Weekday> for DayOfWeek {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => DayOfWeek::Monday,
            chrono::Weekday::Tue => DayOfWeek::Tuesday,
            chrono::Weekday::Wed => DayOfWeek::Wednesday,
            chrono::Weekday::Thu => DayOfWeek::Thursday,
            chrono::Weekday::Fri => DayOfWeek::Friday,
            chrono::Weekday::Sat => DayOfWeek::Saturday,
            chrono::Weekday::Sun => DayOfWeek::Sunday,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` must be the serde wire value, `FromStr` its inverse, and
    /// `ALL` must list distinct variants.
    fn check<T>(all: &[T])
    where
        T: Copy
            + Serialize
            + for<'de> Deserialize<'de>
            + fmt::Display
            + FromStr
            + PartialEq
            + fmt::Debug,
        <T as FromStr>::Err: fmt::Debug,
    {
        assert!(!all.is_empty());
        for (index, variant) in all.iter().enumerate() {
            let wire = serde_json::to_value(variant).expect("serialises");
            let slug = variant.to_string();
            assert_eq!(wire, serde_json::Value::String(slug.clone()), "{variant:?}");
            let parsed: T = serde_json::from_value(wire).expect("deserialises");
            assert_eq!(parsed, *variant);
            assert_eq!(slug.parse::<T>().expect("parses"), *variant);
            assert!(
                !all[..index].contains(variant),
                "{variant:?} listed twice in ALL"
            );
        }
    }

    #[test]
    fn every_variant_round_trips_through_its_slug() {
        check(Service::ALL);
        check(NetworkDomain::ALL);
        check(Asset::ALL);
        check(RootCauseCategory::ALL);
        check(Trigger::ALL);
        check(Scope::ALL);
        check(OperatorType::ALL);
        check(Tlp::ALL);
        check(Region::ALL);
        check(DetectionSource::ALL);
        check(RestorationMethod::ALL);
        check(RedundancyOutcome::ALL);
        check(Severity::ALL);
        check(ReportStatus::ALL);
        check(DayOfWeek::ALL);
    }

    #[test]
    fn unknown_slug_is_rejected_with_the_enum_named() {
        let error = "satellite".parse::<NetworkDomain>().unwrap_err();
        assert_eq!(error.taxonomy, "NetworkDomain");
        assert_eq!(error.value, "satellite");
        assert!(serde_json::from_str::<Service>("\"Voice\"").is_err());
    }

    #[test]
    fn tlp_defaults_to_green_and_severity_orders_by_gravity() {
        assert_eq!(Tlp::default(), Tlp::Green);
        assert!(Severity::Minor < Severity::Major && Severity::Major < Severity::Critical);
    }

    #[test]
    fn the_corpus_vocabulary_is_covered() {
        // Values listed in data/telecom/README.md.
        for slug in [
            "voice",
            "volte",
            "sms",
            "data",
            "emergency_calls",
            "fixed_voice",
            "fixed_broadband",
            "tv",
        ] {
            assert!(slug.parse::<Service>().is_ok(), "{slug}");
        }
        for slug in [
            "ims",
            "core",
            "transport",
            "interconnect",
            "ran",
            "dns_bgp",
            "oss_bss",
            "cpe",
            "service_platform",
            "facilities",
        ] {
            assert!(slug.parse::<NetworkDomain>().is_ok(), "{slug}");
        }
        for slug in [
            "software_upgrade",
            "config_change",
            "maintenance",
            "hardware_failure",
            "software_bug",
            "certificate_expiry",
            "overload",
            "power",
            "fibre_cut",
            "weather",
            "cyberattack",
            "physical_attack",
            "fire",
        ] {
            assert!(slug.parse::<Trigger>().is_ok(), "{slug}");
        }
        for slug in [
            "mobile_operator",
            "fixed_operator",
            "fixed_and_mobile_operator",
            "transport_carrier",
            "emergency_call_service_provider",
            "submarine_cable_consortium",
            "internet_platform",
            "dns_provider",
            "multiple",
        ] {
            assert!(slug.parse::<OperatorType>().is_ok(), "{slug}");
        }
    }
}
