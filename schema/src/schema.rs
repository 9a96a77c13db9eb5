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
    }
}

diesel::joinable!(report_changes -> reports (report_id));
diesel::allow_tables_to_appear_in_same_query!(reports, report_changes);
