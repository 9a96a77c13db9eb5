#!/usr/bin/env bash
# Filing load benchmark: files and publishes telecom-corpus reports at
# concurrency 32 against incidex on PostgreSQL and on SQLite, and measures
# PostgreSQL's own rate for a plain single-row INSERT (pgbench) in the same run.
#
#   tests/bench/filing.sh
#
# Environment (all optional):
#   DURATION=20        measured seconds per run (loadgen and pgbench)
#   WARMUP=3           unmeasured warm-up seconds before each loadgen run
#   CONCURRENCY=32     loadgen workers and pgbench clients
#   BACKENDS="postgres sqlite"
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   the PostgreSQL server (trust auth)
#   BENCH_DB=incidex_bench   created fresh, dropped afterwards
#   PGBENCH_FILING=1   also run a pgbench script issuing the same statements as
#                      one filing (0 to skip)
#   LOADGEN_ARGS=""    extra loadgen flags, e.g. "--no-idempotency-key"
#   SKIP_BUILD=1       use the existing binaries in BIN_DIR
#   BIN_DIR=DIR        where incidex and loadgen are [target/release]
#   RESULTS_DIR=DIR    where logs and results go [a new /tmp/incidex-bench.* dir]
#   INCIDEX_DB_POOL_SIZE, INCIDEX_WORKERS, ...   passed to `incidex serve` as usual
#
# Exit status: 0 when every run completed without failed filings.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONCURRENCY=${CONCURRENCY:-32}
BACKENDS=${BACKENDS:-"postgres sqlite"}
export PGHOST=${PGHOST:-127.0.0.1}
export PGPORT=${PGPORT:-5432}
export PGUSER=${PGUSER:-postgres}
BENCH_DB=${BENCH_DB:-incidex_bench}
PGBENCH_FILING=${PGBENCH_FILING:-1}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
RESULTS_DIR=${RESULTS_DIR:-$(mktemp -d /tmp/incidex-bench.XXXXXX)}
mkdir -p "$RESULTS_DIR"

BIN_DIR=${BIN_DIR:-$ROOT/target/release}
INCIDEX=$BIN_DIR/incidex
LOADGEN=$BIN_DIR/loadgen
CLK_TCK=$(getconf CLK_TCK)

die() {
    echo "filing.sh: $*" >&2
    exit 1
}
log() { echo "== $*" >&2; }

# --- prerequisites -----------------------------------------------------------

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"
}
need cargo "install Rust (https://rustup.rs)"
need jq "apt-get install -y jq"
need curl "apt-get install -y curl"
case " $BACKENDS " in
*" postgres "*)
    need psql "apt-get install -y postgresql-client"
    need pg_isready "apt-get install -y postgresql-client"
    need pgbench "apt-get install -y postgresql-contrib (pgbench ships with it on Debian)"
    pg_isready -q -h "$PGHOST" -p "$PGPORT" ||
        die "PostgreSQL is not accepting connections on $PGHOST:$PGPORT"
    psql -X -q -d postgres -Atc 'select 1' >/dev/null ||
        die "cannot connect to PostgreSQL as $PGUSER on $PGHOST:$PGPORT (trust auth expected)"
    ;;
esac
for b in $BACKENDS; do
    case $b in postgres | sqlite) ;; *) die "unknown backend '$b' (postgres, sqlite)" ;; esac
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building release binaries (this takes a while)"
    cargo build --release -p incidex-api -p incidex-tests --bin incidex --bin loadgen
fi
[[ -x $INCIDEX ]] || die "$INCIDEX is missing (run without SKIP_BUILD=1)"
[[ -x $LOADGEN ]] || die "$LOADGEN is missing (run without SKIP_BUILD=1)"

# --- cleanup -----------------------------------------------------------------

SERVER_PID=
DATA_DIRS=()
PG_CREATED=0

stop_server() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "filing.sh: server $SERVER_PID did not stop; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=
}

drop_bench_db() {
    if [[ $PG_CREATED == 1 ]]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 ||
            echo "filing.sh: could not drop database $BENCH_DB" >&2
        PG_CREATED=0
    fi
}

cleanup() {
    stop_server
    drop_bench_db
    for d in "${DATA_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- measurement helpers -----------------------------------------------------

# Busy and total jiffies of the whole machine.
machine_ticks() {
    awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; total=busy+$5+$6; print busy, total}' /proc/stat
}

# utime+stime (jiffies) of the given pids, summed; vanished pids count 0.
pid_ticks() {
    local sum=0 pid stat
    for pid in "$@"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        # fields after "comm)": state is 1st, utime 12th, stime 13th
        set -- $stat
        sum=$((sum + ${12} + ${13}))
    done
    echo "$sum"
}

postgres_pids() { ps -C postgres -o pid= 2>/dev/null | tr -d ' ' || true; }

# --- pgbench -----------------------------------------------------------------

PGBENCH_INSERT_TPS=
PGBENCH_INSERT_LAT=
PGBENCH_FILING_TPS=
PGBENCH_FILING_LAT=

pgbench_run() { # name script -> sets REPLY to "tps latency_ms"
    local name=$1 script=$2 out=$RESULTS_DIR/pgbench-$1.txt
    log "pgbench $name: -c $CONCURRENCY -j 2 -T $DURATION"
    pgbench -n -M prepared -c "$CONCURRENCY" -j 2 -T "$DURATION" -f "$script" "$BENCH_DB" \
        >"$out" 2>&1 || {
        cat "$out" >&2
        die "pgbench $name failed"
    }
    local tps lat failed
    tps=$(awk '/^tps = /{print $3; exit}' "$out")
    lat=$(awk '/^latency average = /{print $4; exit}' "$out")
    failed=$(awk '/^number of failed transactions: /{print $5; exit}' "$out")
    [[ -n $tps ]] || die "pgbench $name printed no tps (see $out)"
    [[ ${failed:-0} == 0 ]] || die "pgbench $name: $failed failed transactions (see $out)"
    echo "   $tps tps, average latency $lat ms" >&2
    REPLY="$tps $lat"
}

run_pgbench() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB" >/dev/null <<'SQL'
CREATE SCHEMA bench_scratch;
-- plain single-row insert
CREATE TABLE bench_scratch.single_insert (
    id BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT now()
);
-- the filing's tables, same shape as incidex's own (profiling aid)
CREATE TABLE bench_scratch.operators (id TEXT PRIMARY KEY, name TEXT NOT NULL, sensitive_terms TEXT NOT NULL, created_at TIMESTAMP NOT NULL);
CREATE TABLE bench_scratch.clients (id TEXT PRIMARY KEY, operator_id TEXT, role TEXT NOT NULL, secret_hash TEXT NOT NULL, expires_at TIMESTAMP, revoked_at TIMESTAMP);
CREATE TABLE bench_scratch.reports (id TEXT PRIMARY KEY, owner_key TEXT NOT NULL, status TEXT NOT NULL, tlp TEXT NOT NULL, revision INTEGER NOT NULL, content TEXT NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, published_at TIMESTAMP);
CREATE INDEX ON bench_scratch.reports (owner_key, status);
CREATE INDEX ON bench_scratch.reports (status, published_at);
CREATE TABLE bench_scratch.changes (seq BIGSERIAL PRIMARY KEY, report_id TEXT NOT NULL REFERENCES bench_scratch.reports (id), kind TEXT NOT NULL, revision INTEGER NOT NULL, changed_at TIMESTAMP NOT NULL);
CREATE INDEX ON bench_scratch.changes (report_id);
CREATE TABLE bench_scratch.revisions (report_id TEXT NOT NULL REFERENCES bench_scratch.reports (id), revision INTEGER NOT NULL, content TEXT NOT NULL, redactions TEXT NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (report_id, revision));
CREATE TABLE bench_scratch.idem (scope TEXT NOT NULL, idem_key TEXT NOT NULL, request_hash TEXT NOT NULL, response_status INTEGER NOT NULL, response_body TEXT NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (scope, idem_key));
INSERT INTO bench_scratch.operators VALUES ('op_bench', 'Bench Mobile', '[]', now());
INSERT INTO bench_scratch.clients VALUES ('ic_bench', 'op_bench', 'reporter', repeat('h', 97), NULL, NULL);
SQL
    cat >"$RESULTS_DIR/pgbench-insert.sql" <<'SQL'
INSERT INTO bench_scratch.single_insert (payload) VALUES ('an anonymised outage report, filed by a member operator');
SQL
    pgbench_run insert "$RESULTS_DIR/pgbench-insert.sql"
    read -r PGBENCH_INSERT_TPS PGBENCH_INSERT_LAT <<<"$REPLY"

    if [[ $PGBENCH_FILING == 1 ]]; then
        # The statements incidex issues for one filing with Idempotency-Keys
        # (create + publish, diesel's nested transactions as savepoints), with
        # a ~3 KB content column: two pgbench "transactions" are one filing.
        cat >"$RESULTS_DIR/pgbench-filing.sql" <<'SQL'
\set n random(1, 1000000000)
SELECT gen_random_uuid()::text AS rid, md5(random()::text) AS k1, md5(random()::text) AS k2, (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 96) g) AS content \gset
-- POST /api/v1/reports
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
SELECT * FROM bench_scratch.idem WHERE scope = 'scope' AND idem_key = :k1;
BEGIN;
SELECT count(*), max(created_at) FROM bench_scratch.operators;
SELECT * FROM bench_scratch.operators WHERE id = 'op_bench';
SAVEPOINT s1;
SAVEPOINT s2;
INSERT INTO bench_scratch.reports VALUES (:rid, 'owner', 'draft', 'clear', 1, :content, now(), now(), NULL);
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'created', 1, now()) RETURNING seq;
RELEASE SAVEPOINT s2;
INSERT INTO bench_scratch.revisions VALUES (:rid, 1, :content, '[]', now());
RELEASE SAVEPOINT s1;
INSERT INTO bench_scratch.idem VALUES ('scope', :k1, 'hash', 201, :content, now());
COMMIT;
-- POST /api/v1/reports/{id}/publish
SELECT id, operator_id, role, secret_hash, expires_at, revoked_at FROM bench_scratch.clients WHERE id = 'ic_bench';
SELECT * FROM bench_scratch.idem WHERE scope = 'scope' AND idem_key = :k2;
BEGIN;
SELECT * FROM bench_scratch.reports WHERE id = :rid;
SAVEPOINT s1;
SAVEPOINT s2;
UPDATE bench_scratch.reports SET status = 'published', published_at = now(), updated_at = now() WHERE id = :rid;
INSERT INTO bench_scratch.changes (report_id, kind, revision, changed_at) VALUES (:rid, 'published', 1, now()) RETURNING seq;
RELEASE SAVEPOINT s2;
RELEASE SAVEPOINT s1;
INSERT INTO bench_scratch.idem VALUES ('scope', :k2, 'hash', 200, :content, now());
COMMIT;
SQL
        pgbench_run filing "$RESULTS_DIR/pgbench-filing.sql"
        read -r PGBENCH_FILING_TPS PGBENCH_FILING_LAT <<<"$REPLY"
    fi
    psql -X -q -d "$BENCH_DB" -c 'DROP SCHEMA bench_scratch CASCADE' >/dev/null
    psql -X -q -d "$BENCH_DB" -c 'CHECKPOINT' >/dev/null 2>&1 || true
}

# --- one incidex run ---------------------------------------------------------

declare -A RESULT CPU_NOTE
FAILED_RUNS=()

run_backend() {
    local backend=$1 data_dir db_args=() url addr log out
    data_dir=$(mktemp -d "/tmp/incidex-bench-$backend.XXXXXX")
    DATA_DIRS+=("$data_dir")
    if [[ $backend == postgres ]]; then
        db_args=(--database-url "postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB")
    fi
    log "incidex on $backend (data dir $data_dir)"
    log=$RESULTS_DIR/incidex-$backend.log
    # Production-like: no backtrace capture, the configured log level.
    env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE -u RUST_LOG \
        "$INCIDEX" serve --listen 127.0.0.1:0 --log-format json --data-dir "$data_dir" "${db_args[@]}" \
        >"$log" 2>&1 &
    SERVER_PID=$!

    # The server picks a free port; read it from the "listening" log line.
    addr=
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || {
            tail -20 "$log" >&2
            die "incidex serve ($backend) exited during start-up (log: $log)"
        }
        addr=$(jq -R -r 'fromjson? | select(.message == "listening") | .address' "$log" | head -1)
        [[ -n $addr ]] && break
        sleep 0.1
    done
    [[ -n $addr ]] || die "incidex serve ($backend) did not report its address (log: $log)"
    url=http://$addr

    local admin=("$INCIDEX" admin --data-dir "$data_dir" "${db_args[@]}" --json)
    local op client_json client_id client_secret
    op=$("${admin[@]}" create-operator --name "Benchmark Mobile" --alias BenchMo \
        --country DE --type mobile_operator | jq -r .id) ||
        die "incidex admin create-operator failed ($backend)"
    client_json=$("${admin[@]}" create-client --operator "$op" --role reporter) ||
        die "incidex admin create-client failed ($backend)"
    client_id=$(jq -r .client_id <<<"$client_json")
    client_secret=$(jq -r .client_secret <<<"$client_json")
    [[ $client_id != null && $client_secret != null ]] || die "unexpected create-client output: $client_json"

    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
        sleep 0.1
    done
    curl -fsS -o /dev/null "$url/readyz" || die "incidex ($backend) is not ready at $url/readyz"

    # CPU accounting over the loadgen run: machine, server, PostgreSQL, loadgen.
    local m0 m1 s0 s1 p0 p1 pg_pids lg_cpu rc=0
    read -r -a m0 < <(machine_ticks)
    s0=$(pid_ticks "$SERVER_PID")
    pg_pids=$(postgres_pids)
    # shellcheck disable=SC2086
    p0=$(pid_ticks $pg_pids)

    out=$RESULTS_DIR/loadgen-$backend.txt
    log "loadgen: concurrency $CONCURRENCY, warm-up ${WARMUP}s, ${DURATION}s against $url"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S' -o "$RESULTS_DIR/loadgen-$backend.cpu" \
        "$LOADGEN" --url "$url" --client-id "$client_id" --client-secret "$client_secret" \
        --concurrency "$CONCURRENCY" --duration-secs "$DURATION" --warmup-secs "$WARMUP" \
        --label "$backend" $LOADGEN_ARGS | tee "$out" || rc=$?

    read -r -a m1 < <(machine_ticks)
    s1=$(pid_ticks "$SERVER_PID")
    # shellcheck disable=SC2086
    p1=$(pid_ticks $pg_pids)
    lg_cpu=$(tail -1 "$RESULTS_DIR/loadgen-$backend.cpu" 2>/dev/null | awk '{print $1 + $2}')

    stop_server
    [[ $rc == 0 ]] || FAILED_RUNS+=("$backend (loadgen exit $rc)")

    local json
    json=$(grep '"loadgen":"filing"' "$out" | tail -1) || true
    [[ -n $json ]] || {
        FAILED_RUNS+=("$backend (no result)")
        return
    }
    RESULT[$backend]=$json
    local busy=$((m1[0] - m0[0])) total=$((m1[1] - m0[1]))
    local filings
    filings=$(jq -r '.filings + .warmup_filings + .failed' <<<"$json")
    CPU_NOTE[$backend]=$(awk -v busy="$busy" -v total="$total" -v srv=$((s1 - s0)) \
        -v pg=$((p1 - p0)) -v lg="$lg_cpu" -v hz="$CLK_TCK" -v n="$filings" -v be="$backend" 'BEGIN {
        if (n == 0) n = 1
        printf "machine CPU busy %.0f%%; CPU per filing: incidex %.0f us, postgres %.0f us, loadgen %.0f us, rest of machine %.0f us",
            100 * busy / (total ? total : 1), 1e6 * srv / hz / n, (be == "postgres" ? 1e6 * pg / hz / n : 0),
            1e6 * lg / n, 1e6 * (busy / hz - srv / hz - (be == "postgres" ? pg / hz : 0) - lg) / n
    }')
    echo "   ${CPU_NOTE[$backend]}" >&2
    echo "   server log: $log ($(wc -l <"$log") lines)" >&2
}

# --- main --------------------------------------------------------------------

log "results in $RESULTS_DIR"
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(git status --porcelain 2>/dev/null | grep -q . && echo '(dirty)')"
    echo "settings: DURATION=$DURATION WARMUP=$WARMUP CONCURRENCY=$CONCURRENCY" \
        "INCIDEX_DB_POOL_SIZE=${INCIDEX_DB_POOL_SIZE:-default} INCIDEX_WORKERS=${INCIDEX_WORKERS:-default} LOADGEN_ARGS=$LOADGEN_ARGS"
} | tee "$RESULTS_DIR/environment.txt" >&2

for backend in $BACKENDS; do
    if [[ $backend == postgres ]]; then
        psql -X -q -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'" | grep -q 1 &&
            die "database $BENCH_DB already exists; drop it first (another benchmark running?)"
        psql -X -q -d postgres -c "CREATE DATABASE $BENCH_DB" >/dev/null
        PG_CREATED=1
        echo "postgres: $(psql -X -d postgres -Atc "SELECT version()" | cut -d, -f1);" \
            "fsync=$(psql -X -d postgres -Atc 'SHOW fsync')" \
            "synchronous_commit=$(psql -X -d postgres -Atc 'SHOW synchronous_commit')" \
            "wal_sync_method=$(psql -X -d postgres -Atc 'SHOW wal_sync_method')" \
            "commit_delay=$(psql -X -d postgres -Atc 'SHOW commit_delay')" \
            "shared_buffers=$(psql -X -d postgres -Atc 'SHOW shared_buffers')" |
            tee -a "$RESULTS_DIR/environment.txt" >&2
        run_pgbench
        run_backend postgres
        drop_bench_db
    else
        run_backend sqlite
    fi
done

# --- summary -----------------------------------------------------------------

{
    echo
    echo "Filing throughput: create + publish per filing, concurrency $CONCURRENCY, ${DURATION}s measured"
    printf '%-28s %12s %9s %9s %9s %9s %8s\n' run "per second" "p50 ms" "p90 ms" "p99 ms" "max ms" errors
    for backend in $BACKENDS; do
        json=${RESULT[$backend]:-}
        if [[ -z $json ]]; then
            printf '%-28s %12s\n' "incidex/$backend" "no result"
            continue
        fi
        jq -r --arg name "incidex/$backend filings" '[$name, (.filings_per_sec*10|round/10),
            .latency_ms.filing.p50, .latency_ms.filing.p90, .latency_ms.filing.p99,
            .latency_ms.filing.max, .failed] | @tsv' <<<"$json" |
            awk -F'\t' '{printf "%-28s %12s %9.2f %9.2f %9.2f %9.2f %8s\n", $1, $2, $3, $4, $5, $6, $7}'
    done
    if [[ -n $PGBENCH_INSERT_TPS ]]; then
        printf '%-28s %12.1f %9s %9s %9s %9s %8s\n' "pgbench single-row INSERT" \
            "$PGBENCH_INSERT_TPS" "avg $PGBENCH_INSERT_LAT" "" "" "" 0
    fi
    if [[ -n $PGBENCH_FILING_TPS ]]; then
        printf '%-28s %12.1f %9s %9s %9s %9s %8s\n' "pgbench filing statements" \
            "$(awk -v t="$PGBENCH_FILING_TPS" 'BEGIN{print t}')" "avg $PGBENCH_FILING_LAT" "" "" "" 0
        echo "  (pgbench filing statements: one transaction = create + publish, the SQL incidex sends for one filing)"
    fi
    for backend in $BACKENDS; do
        [[ -n ${CPU_NOTE[$backend]:-} ]] && echo "incidex/$backend: ${CPU_NOTE[$backend]}"
        [[ -n ${RESULT[$backend]:-} ]] && jq -r --arg b "$backend" \
            'select(.failed > 0) | "incidex/\($b) errors: \(.errors | to_entries | map("\(.key): \(.value)") | join(", "))"' \
            <<<"${RESULT[$backend]}"
    done
    if [[ -n $PGBENCH_INSERT_TPS && -n ${RESULT[postgres]:-} ]]; then
        jq -r --arg tps "$PGBENCH_INSERT_TPS" \
            '"incidex/postgres files \(.filings_per_sec|round)/s = \((100 * .filings_per_sec / ($tps|tonumber))|round)% of PostgreSQL single-row inserts (\($tps|tonumber|round)/s); target 1500/s"' \
            <<<"${RESULT[postgres]}"
    fi
    echo "results: $RESULTS_DIR"
} | tee "$RESULTS_DIR/summary.txt"

if ((${#FAILED_RUNS[@]})); then
    die "failed runs: ${FAILED_RUNS[*]}"
fi
