//! Storage tests, stamped onto both backends. PostgreSQL cases run when
//! `INCIDEX_TEST_DATABASE_URL` names a server and say so when skipped.

use std::collections::BTreeSet;
use std::path::Path;

use incidex_schema::db::changes::{self, ChangeKind};
use incidex_schema::db::reports::{self, ReportRow};
use incidex_schema::db::testing::TestDatabase;
use incidex_schema::db::{
    Backend, ConnectionManager, DbConnection, PoolOptions, build_pool, migration_status,
    run_migrations,
};

fn connect(db: &TestDatabase) -> DbConnection {
    ConnectionManager::new(db.url().clone(), &PoolOptions::default())
        .connect()
        .expect("connect to test database")
}

fn migrated(db: &TestDatabase) -> DbConnection {
    let mut conn = connect(db);
    run_migrations(&mut conn).expect("migrate");
    conn
}

fn sample_row(id: &str) -> ReportRow {
    let now = reports::now();
    ReportRow {
        id: id.to_owned(),
        owner_key: "k".into(),
        status: "draft".into(),
        tlp: "green".into(),
        revision: 1,
        content: "{}".into(),
        created_at: now,
        updated_at: now,
        published_at: None,
    }
}

fn migrations_apply_once_and_report_status(backend: Backend) {
    let Some(db) = TestDatabase::create(backend) else {
        return skip(backend);
    };
    let mut conn = connect(&db);
    let before = migration_status(&mut conn).expect("status");
    assert!(before.applied.is_empty());
    assert!(!before.pending.is_empty());
    let applied = run_migrations(&mut conn).expect("migrate");
    assert_eq!(applied, before.pending);
    let after = migration_status(&mut conn).expect("status");
    assert!(after.pending.is_empty(), "{after:?}");
    assert_eq!(after.applied.len(), applied.len());
    assert!(run_migrations(&mut conn).expect("second run").is_empty());
}

fn concurrent_migrations_do_not_collide(backend: Backend) {
    let Some(db) = TestDatabase::create(backend) else {
        return skip(backend);
    };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().clone();
            std::thread::spawn(move || {
                let mut conn = ConnectionManager::new(url, &PoolOptions::default())
                    .connect()
                    .expect("connect");
                run_migrations(&mut conn).map_err(|e| e.to_string())
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let mut total = 0;
    for r in &results {
        total += r.as_ref().expect("every migrator succeeds").len();
    }
    let status = migration_status(&mut connect(&db)).expect("status");
    assert_eq!(
        total,
        status.applied.len(),
        "each migration applied exactly once: {results:?}"
    );
}

fn changes_are_logged_with_the_change(backend: Backend) {
    let Some(db) = TestDatabase::create(backend) else {
        return skip(backend);
    };
    let mut conn = migrated(&db);
    assert_eq!(changes::latest_seq(&mut conn).expect("seq"), 0);

    let mut row = sample_row("r1");
    let s1 = reports::insert_report(&mut conn, &row).expect("insert");
    row.status = "published".into();
    row.revision = 2;
    let s2 = reports::update_report(&mut conn, &row, ChangeKind::Published)
        .expect("update")
        .expect("row exists");
    assert!(s2 > s1);
    assert_eq!(
        reports::find_report(&mut conn, "r1").expect("find"),
        Some(row.clone())
    );

    // A change to a report that does not exist logs nothing.
    let ghost = sample_row("ghost");
    assert_eq!(
        reports::update_report(&mut conn, &ghost, ChangeKind::Updated).expect("update"),
        None
    );

    // A failed insert (duplicate id) rolls back its change-log entry too.
    assert!(reports::insert_report(&mut conn, &sample_row("r1")).is_err());

    let log = changes::changes_after(&mut conn, 0, 100).expect("log");
    let kinds: Vec<_> = log
        .iter()
        .map(|c| (c.report_id.as_str(), c.kind.as_str(), c.revision))
        .collect();
    assert_eq!(kinds, vec![("r1", "created", 1), ("r1", "published", 2)]);
    assert_eq!(changes::latest_seq(&mut conn).expect("seq"), s2);
    assert_eq!(
        changes::changes_after(&mut conn, s1, 100)
            .expect("log")
            .len(),
        1
    );
}

fn pool_serves_concurrent_writers(backend: Backend) {
    let Some(db) = TestDatabase::create(backend) else {
        return skip(backend);
    };
    drop(migrated(&db));
    let pool = build_pool(db.url().clone(), &PoolOptions::default()).expect("pool");
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let pool = pool.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let mut conn = pool.get().expect("pooled connection");
                    reports::insert_report(&mut conn, &sample_row(&format!("t{t}-{i}")))
                        .expect("insert");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("writer thread");
    }
    let mut conn = pool.get().expect("pooled connection");
    let log = changes::changes_after(&mut conn, 0, 1000).expect("log");
    assert_eq!(log.len(), 100);
    let seqs: BTreeSet<i64> = log.iter().map(|c| c.seq).collect();
    assert_eq!(seqs.len(), 100, "sequence numbers are unique");
    assert!(
        log.windows(2).all(|w| w[0].seq < w[1].seq),
        "ordered by sequence"
    );
}

/// Every change that caches depend on moves the identity epoch, in its
/// own transaction; reads and no-op changes do not.
fn identity_changes_move_the_epoch(backend: Backend) {
    use incidex_schema::db::identity::{self, ClientRow, OperatorRow};
    let Some(db) = TestDatabase::create(backend) else {
        return skip(backend);
    };
    let mut conn = migrated(&db);
    let at = reports::now();
    let start = identity::epoch(&mut conn).expect("epoch");
    identity::insert_operator(
        &mut conn,
        &OperatorRow {
            id: "op-1".into(),
            name: "Op One".into(),
            aliases: "[]".into(),
            country: None,
            operator_type: None,
            sensitive_terms: "[]".into(),
            created_at: at,
        },
    )
    .expect("operator");
    let after_operator = identity::epoch(&mut conn).expect("epoch");
    assert!(after_operator > start);

    assert!(identity::set_sensitive_terms(&mut conn, "op-1", r#"["Site X"]"#).expect("terms"));
    let after_terms = identity::epoch(&mut conn).expect("epoch");
    assert!(after_terms > after_operator);
    assert!(!identity::set_sensitive_terms(&mut conn, "no-such", "[]").expect("terms"));
    assert_eq!(identity::epoch(&mut conn).expect("epoch"), after_terms);

    identity::insert_client(
        &mut conn,
        &ClientRow {
            id: "client-1".into(),
            operator_id: Some("op-1".into()),
            role: "reporter".into(),
            secret_hash: "x".into(),
            created_at: at,
            expires_at: None,
            revoked_at: None,
        },
    )
    .expect("client");
    assert_eq!(
        identity::epoch(&mut conn).expect("epoch"),
        after_terms,
        "a new client invalidates nothing"
    );
    assert!(identity::revoke_client(&mut conn, "client-1", at).expect("revoke"));
    let after_revoke = identity::epoch(&mut conn).expect("epoch");
    assert!(after_revoke > after_terms);
    // Revoking again is a no-op and leaves the epoch alone.
    assert!(identity::revoke_client(&mut conn, "client-1", at).expect("revoke"));
    assert_eq!(identity::epoch(&mut conn).expect("epoch"), after_revoke);
}

fn skip(backend: Backend) {
    eprintln!(
        "skipped on {}: INCIDEX_TEST_DATABASE_URL is not set",
        backend.as_str()
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name(incidex_schema::db::Backend::Sqlite) } )* }
        mod postgres { $( #[test] fn $name() { super::$name(incidex_schema::db::Backend::Postgres) } )* }
    };
}

on_both_backends!(
    migrations_apply_once_and_report_status,
    concurrent_migrations_do_not_collide,
    changes_are_logged_with_the_change,
    pool_serves_concurrent_writers,
    identity_changes_move_the_epoch,
);

/// Both folders must hold the same migration versions, each with up and down.
#[test]
fn migration_folders_hold_the_same_versions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let versions = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(root.join(backend))
            .expect("migration folder")
            .map(|e| {
                let e = e.expect("dir entry");
                let dir = e.path();
                for f in ["up.sql", "down.sql"] {
                    assert!(dir.join(f).is_file(), "{} lacks {f}", dir.display());
                }
                e.file_name().to_string_lossy().into_owned()
            })
            .collect()
    };
    let pg = versions("postgres");
    let sqlite = versions("sqlite");
    assert!(!pg.is_empty());
    assert_eq!(
        pg, sqlite,
        "migrations/postgres and migrations/sqlite differ"
    );
}
