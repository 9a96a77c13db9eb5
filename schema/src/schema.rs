//! Diesel table definitions, shared by both backends.
//!
//! Written by hand (not `diesel print-schema`) because the two backends spell
//! some column types differently (`BIGSERIAL` vs `INTEGER AUTOINCREMENT`);
//! `tests::schema_matches_migrations` in `db` checks these definitions against
//! the migrated databases.

diesel::table! {
    reports (id) {
        id -> Text,
        owner_key -> Text,
        status -> Text,
        tlp -> Text,
        revision -> Integer,
        content -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    report_changes (seq) {
        seq -> BigInt,
        report_id -> Text,
        kind -> Text,
        revision -> Integer,
        changed_at -> Timestamp,
        txid -> BigInt,
    }
}

diesel::joinable!(report_changes -> reports (report_id));
diesel::allow_tables_to_appear_in_same_query!(reports, report_changes);

diesel::table! {
    identity_epoch (id) {
        id -> Integer,
        value -> BigInt,
    }
}

diesel::table! {
    operators (id) {
        id -> Text,
        name -> Text,
        aliases -> Text,
        country -> Nullable<Text>,
        operator_type -> Nullable<Text>,
        sensitive_terms -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        operator_id -> Nullable<Text>,
        role -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        failed_attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        username -> Text,
        role -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        last_failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    report_revisions (report_id, revision) {
        report_id -> Text,
        revision -> Integer,
        status -> Text,
        content -> Text,
        redactions -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (scope, idem_key) {
        scope -> Text,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(api_clients -> operators (operator_id));
diesel::joinable!(report_revisions -> reports (report_id));
diesel::allow_tables_to_appear_in_same_query!(
    operators,
    api_clients,
    users,
    report_revisions,
    idempotency_keys,
    reports
);

// Clusters and lessons (migration 2026-11-25-000003_clusters_lessons).

diesel::table! {
    clusters (id) {
        id -> Text,
        label -> Text,
        top_terms -> Text,
        centroid -> Text,
        label_basis -> Text,
        shared_labels -> Text,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        class_views -> Text,
    }
}

diesel::table! {
    cluster_stamp (id) {
        id -> Integer,
        position -> BigInt,
    }
}

diesel::table! {
    cluster_members (report_id) {
        report_id -> Text,
        cluster_id -> Text,
        joined_at -> Timestamp,
    }
}

diesel::table! {
    lessons (id) {
        id -> Text,
        report_id -> Nullable<Text>,
        cluster_id -> Nullable<Text>,
        position -> Integer,
        text -> Text,
        category -> Text,
        source -> Text,
        report_services -> Text,
        report_domains -> Text,
        report_root_cause -> Nullable<Text>,
        report_trigger -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    lesson_endorsements (lesson_id, endorser_key) {
        lesson_id -> Text,
        endorser_key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recluster_runs (id) {
        id -> Text,
        finished_at -> Timestamp,
        reports -> Integer,
        clusters -> Integer,
    }
}

diesel::joinable!(cluster_members -> reports (report_id));
diesel::joinable!(cluster_members -> clusters (cluster_id));
diesel::joinable!(lesson_endorsements -> lessons (lesson_id));
diesel::allow_tables_to_appear_in_same_query!(
    clusters,
    cluster_members,
    lessons,
    lesson_endorsements,
    reports
);

// Digests (migration 2026-11-25-000004_digests).

diesel::table! {
    digests (id) {
        id -> Text,
        kind -> Text,
        audience -> Text,
        period_start -> Timestamp,
        period_end -> Timestamp,
        status -> Text,
        content -> Nullable<Text>,
        incidents -> Nullable<Integer>,
        holder -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        exported_at -> Nullable<Timestamp>,
    }
}
// Saved searches and webhook alerts (migration 2026-11-25-000005_alerts).

diesel::table! {
    saved_searches (id) {
        id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        role -> Text,
        name -> Text,
        search -> Text,
        webhook_url -> Text,
        secret_salt -> Text,
        active -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        consecutive_failures -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    alert_deliveries (id) {
        id -> Text,
        saved_search_id -> Text,
        report_id -> Text,
        revision -> Integer,
        event -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    alert_cursors (name) {
        name -> Text,
        last_seq -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(alert_deliveries -> saved_searches (saved_search_id));
diesel::joinable!(alert_deliveries -> reports (report_id));
diesel::allow_tables_to_appear_in_same_query!(saved_searches, alert_deliveries, reports);
