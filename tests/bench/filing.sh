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
#   PGBENCH=1          measure PostgreSQL with pgbench too (0 to skip, e.g. for sweeps)
#   PGBENCH_FILING=1   also run pgbench scripts issuing the SQL of one filing:
#                      as incidex sends it today, a leaner proposal, and the lean
#                      SQL as one transaction (tests/bench/pgbench-filing*.sql; 0 to skip)
#   LOADGEN_ARGS=""    extra loadgen flags, e.g. "--no-idempotency-key"
#   PROFILE=1          record a system-wide perf profile during each loadgen run
#                      (perf-<backend>.txt in RESULTS_DIR; figures are then lower)
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
PGBENCH=${PGBENCH:-1}
PGBENCH_FILING=${PGBENCH_FILING:-1}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
RESULTS_DIR=${RESULTS_DIR:-$(mktemp -d /tmp/incidex-bench.XXXXXX)}
mkdir -p "$RESULTS_DIR"

BIN_DIR=${BIN_DIR:-$ROOT/target/release}
INCIDEX=$BIN_DIR/incidex
LOADGEN=$BIN_DIR/loadgen
BENCH_SQL=$ROOT/tests/bench
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
need ss "apt-get install -y iproute2"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install -y time"
[[ ${PROFILE:-0} != 1 ]] || need perf "apt-get install -y linux-perf"
case " $BACKENDS " in
*" postgres "*)
    need psql "apt-get install -y postgresql-client"
    need pg_isready "apt-get install -y postgresql-client"
    [[ ${PGBENCH:-1} != 1 ]] ||
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

# "pid ticks" lines for every PostgreSQL process.
postgres_ticks_by_pid() {
    local pid
    for pid in $(postgres_pids); do echo "$pid $(pid_ticks "$pid")"; done
}

# CPU jiffies PostgreSQL spent between two postgres_ticks_by_pid snapshots;
# a backend started in between (the pool connects lazily) counts whole.
postgres_ticks_between() { # before-file after-file
    awk 'NR == FNR { before[$1] = $2; next } { sum += $2 - ($1 in before ? before[$1] : 0) }
        END { print sum + 0 }' "$1" "$2"
}

# --- pgbench -----------------------------------------------------------------

PGBENCH_INSERT_TPS=
PGBENCH_INSERT_LAT=
PGBENCH_FILING_TPS=
PGBENCH_FILING_LAT=
PGBENCH_LEAN_TPS=
PGBENCH_LEAN_LAT=
PGBENCH_ONESHOT_TPS=
PGBENCH_ONESHOT_LAT=

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
    psql -X -q -v ON_ERROR_STOP=1 -d "$BENCH_DB" -f "$BENCH_SQL/pgbench-setup.sql" >/dev/null
    pgbench_run insert "$BENCH_SQL/pgbench-insert.sql"
    read -r PGBENCH_INSERT_TPS PGBENCH_INSERT_LAT <<<"$REPLY"
    if [[ $PGBENCH_FILING == 1 ]]; then
        # One pgbench transaction = the SQL of one filing (create + publish).
        pgbench_run filing "$BENCH_SQL/pgbench-filing.sql"
        read -r PGBENCH_FILING_TPS PGBENCH_FILING_LAT <<<"$REPLY"
        pgbench_run filing-lean "$BENCH_SQL/pgbench-filing-lean.sql"
        read -r PGBENCH_LEAN_TPS PGBENCH_LEAN_LAT <<<"$REPLY"
        pgbench_run filing-oneshot "$BENCH_SQL/pgbench-filing-oneshot.sql"
        read -r PGBENCH_ONESHOT_TPS PGBENCH_ONESHOT_LAT <<<"$REPLY"
    fi
    psql -X -q -d "$BENCH_DB" -c 'SET client_min_messages = warning' \
        -c 'DROP SCHEMA bench_scratch CASCADE' >/dev/null
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
        # (with a log level above info there is no such line: ask the kernel)
        [[ -n $addr ]] || addr=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$SERVER_PID," 'index($0, p) {print $4; exit}')
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
    local m0 m1 s0 s1 pg lg_cpu rc=0
    read -r -a m0 < <(machine_ticks)
    s0=$(pid_ticks "$SERVER_PID")
    postgres_ticks_by_pid >"$RESULTS_DIR/pg-ticks-before"

    out=$RESULTS_DIR/loadgen-$backend.txt
    local perf_pid=
    if [[ ${PROFILE:-0} == 1 ]]; then
        perf record -a -F "${PERF_FREQ:-499}" -o "$RESULTS_DIR/perf-$backend.data" \
            >"$RESULTS_DIR/perf-$backend.record.log" 2>&1 &
        perf_pid=$!
    fi
    log "loadgen: concurrency $CONCURRENCY, warm-up ${WARMUP}s, ${DURATION}s against $url"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S' -o "$RESULTS_DIR/loadgen-$backend.cpu" \
        "$LOADGEN" --url "$url" --client-id "$client_id" --client-secret "$client_secret" \
        --concurrency "$CONCURRENCY" --duration-secs "$DURATION" --warmup-secs "$WARMUP" \
        --label "$backend" $LOADGEN_ARGS | tee "$out" || rc=$?

    read -r -a m1 < <(machine_ticks)
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        local data=$RESULTS_DIR/perf-$backend.data
        {
            echo "### whole machine, by process"
            # "comm pid/tid" per sample; a process is named after its main thread.
            perf script -i "$data" -F pid,tid,comm 2>/dev/null |
                awk -v srv="$SERVER_PID" '{ split($NF, id, "/"); $NF = ""; n++; c[id[1]]++
                       if (id[1] == id[2] || !(id[1] in name)) name[id[1]] = $0 }
                     END { name[srv] = "incidex serve"
                           for (p in c) printf "%6.2f%%  %-8s %s\n", 100 * c[p] / n, p, name[p] }' |
                sort -rn | head -25
            echo "### incidex server (pid $SERVER_PID), by thread name (% of all samples)"
            perf report -i "$data" --stdio --pid "$SERVER_PID" --sort comm,dso 2>/dev/null | grep -v '^#' | grep .
            echo "### incidex server, hottest symbols"
            perf report -i "$data" --stdio --pid "$SERVER_PID" --sort comm,dso,sym \
                --percent-limit 0.2 2>/dev/null | grep -v '^#' | grep .
            echo "### whole machine, hottest symbols"
            perf report -i "$data" --stdio --sort comm,dso,sym --percent-limit 0.3 2>/dev/null |
                grep -v '^#' | grep .
        } >"$RESULTS_DIR/perf-$backend.txt"
        echo "   perf profile: $RESULTS_DIR/perf-$backend.txt" >&2
    fi
    s1=$(pid_ticks "$SERVER_PID")
    postgres_ticks_by_pid >"$RESULTS_DIR/pg-ticks-after"
    pg=$(postgres_ticks_between "$RESULTS_DIR/pg-ticks-before" "$RESULTS_DIR/pg-ticks-after")
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
        -v pg="$pg" -v lg="$lg_cpu" -v hz="$CLK_TCK" -v n="$filings" -v be="$backend" 'BEGIN {
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
        [[ $PGBENCH == 1 ]] && run_pgbench
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
        printf '%-28s %12.1f %9s %9s %9s %9s %8s\n' "pgbench filing SQL (today)" \
            "$PGBENCH_FILING_TPS" "avg $PGBENCH_FILING_LAT" "" "" "" 0
        printf '%-28s %12.1f %9s %9s %9s %9s %8s\n' "pgbench filing SQL (lean)" \
            "$PGBENCH_LEAN_TPS" "avg $PGBENCH_LEAN_LAT" "" "" "" 0
        printf '%-28s %12.1f %9s %9s %9s %9s %8s\n' "pgbench filing SQL (1 tx)" \
            "$PGBENCH_ONESHOT_TPS" "avg $PGBENCH_ONESHOT_LAT" "" "" "" 0
        echo "  (pgbench filing SQL: one transaction = the statements of one create + publish; see tests/bench/pgbench-filing*.sql)"
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
