//! The query parser on arbitrary input: every string either searches or is
//! refused with a query error; none panics, and none can exhaust the stack
//! of a thread sized like the server's blocking threads.

use incidex_indexer::{IncidentIndex, IndexDoc, IndexError, SearchRequest, Tlp};
use proptest::prelude::*;

/// Stack of tokio's blocking threads, which run searches in the server.
const SERVER_THREAD_STACK: usize = 2 * 1024 * 1024;

fn index() -> (tempfile::TempDir, IncidentIndex) {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = IncidentIndex::open_or_create(dir.path()).expect("index");
    let mut w = index.writer().expect("writer");
    let mut d = IndexDoc::new("a", "DNS resolver failure after upgrade", Tlp::Green);
    d.summary = "The resolver farm failed after a software upgrade; SIP 408 on P-CSCF.".into();
    w.upsert(&d).expect("upsert");
    w.commit(1).expect("commit");
    (dir, index)
}

/// Pieces of the query language, so that generated strings reach deep into
/// the grammar rather than being plain words.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "(",
        ")",
        "(",
        ")",
        "\"",
        "NOT ",
        "AND ",
        "OR ",
        "title:",
        "summary:",
        "dns",
        "sip",
        "*",
        "-",
        "+",
        "[",
        "]",
        " TO ",
        "{",
        "}",
        "^2",
        "~1",
        "\\",
        " ",
        " ",
        "é",
        "IN [",
        ":",
        "'",
        "&&",
        "||",
        "published_at:",
        "2024-01-01T00:00:00Z",
        "\u{0}",
        "\n",
    ])
}

fn check(index: &IncidentIndex, query: &str) {
    let req = SearchRequest::new(query);
    match index.search(&req, &Tlp::ALL) {
        Ok(_)
        | Err(IndexError::InvalidQuery { .. })
        | Err(IndexError::QueryTooComplex { .. })
        | Err(IndexError::InvalidRequest(_)) => {}
        Err(other) => panic!("query {query:?} failed unexpectedly: {other}"),
    }
}

fn on_server_sized_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(SERVER_THREAD_STACK)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn grammar_pieces_never_panic(pieces in prop::collection::vec(piece(), 0..1_500)) {
        let query: String = pieces.concat();
        on_server_sized_stack(move || {
            let (_dir, index) = index();
            check(&index, &query);
        });
    }

    #[test]
    fn deep_nesting_never_aborts(
        opener in prop::sample::select(vec!["(", "NOT ", "title:(", "a AND (", "+(", "-(NOT "]),
        depth in 0usize..3_000,
        closed in any::<bool>(),
    ) {
        let closer = if closed { ")".repeat(depth) } else { String::new() };
        let query = format!("{}dns{closer}", opener.repeat(depth));
        on_server_sized_stack(move || {
            let (_dir, index) = index();
            check(&index, &query);
        });
    }

    #[test]
    fn arbitrary_text_never_panics(query in "\\PC{0,1200}") {
        on_server_sized_stack(move || {
            let (_dir, index) = index();
            check(&index, &query);
        });
    }
}

#[test]
fn the_deepest_accepted_query_fits_the_stack() {
    let depth = incidex_indexer::limits::MAX_QUERY_DEPTH;
    let queries = [
        format!("{}dns{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}dns", "NOT ".repeat(depth)),
        format!("{}dns", "title:(".repeat(depth)),
        format!("{}(dns", "NOT (".repeat(depth / 2)),
    ];
    on_server_sized_stack(move || {
        let (_dir, index) = index();
        for q in &queries {
            check(&index, q);
        }
    });
}
