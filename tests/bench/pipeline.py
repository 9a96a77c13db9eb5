#!/usr/bin/env python3
"""The analysis pipeline at registry scale: load the synthetic corpus, then
measure what a new user meets.

  tests/bench/pipeline.py [--n 100000] [--backend sqlite|postgres]

Steps, each timed on this machine with its own load average printed:

  1. corpus     ../shared/bench/corpus.py --n N --seed 1 (or --corpus FILE),
                turned into report bodies (title, summary, lessons only; the
                hidden family is kept aside to score clusters)
  2. import     incidex import --publish (elapsed, peak RSS)
  3. catch-up   a fresh `incidex serve` indexes everything: reports/s until
                /readyz says caught up, the server's peak RSS, and when the
                first clustering is stored
  4. clusters   GET /api/v1/clusters?limit=20 (sorts in turn) and
                GET /api/v1/clusters/{id}, sequentially: p50/p99
  5. search     the same 1,000 queries as ../shared/bench/peers.py: p50/p99
                and the server's RSS afterwards
  6. freshness  a filing load (loadgen, --one-request, concurrency 32) while a
                probe files one marked report every 250 ms and polls search
                until it is found: publish-to-searchable p50/p99/max
  7. reindex    incidex reindex (elapsed, reports/s, peak RSS)
  8. recluster  incidex recluster (elapsed, peak RSS, clusters) and the
                adjusted Rand index of the clusters against the families
  9. sizes      report JSON, database and index on disk

Standard library only. Binaries come from target/release (built first unless
--skip-build). PostgreSQL: a fresh database on PGHOST/PGPORT/PGUSER
(127.0.0.1:5432, postgres, trust auth), dropped at the end. Prints a table and
one JSON line starting with {"pipeline".
"""

import argparse
import hashlib
import http.client
import json
import math
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_BENCH = os.path.join(os.path.dirname(ROOT), "shared", "bench")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


def rss_mb(pid, key="VmHWM"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_timed(cmd, env=None, stdin=None, stdout=None):
    """Runs a command; returns (exit code, seconds, peak RSS MB, stdout)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=stdout or subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out = b""
    if p.stdout is not None and stdout is None:
        out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - start
    if p.returncode != 0:
        log(f"{cmd[1] if len(cmd) > 1 else cmd[0]} failed: {err.decode(errors='replace')[-2000:]}")
    return p.returncode, elapsed, usage.ru_maxrss / 1024, out.decode(errors="replace")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """One keep-alive connection, like peers.py's client."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, token=None, body=None, ctype="application/json"):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ctype
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                    self.conn.connect()
                    self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                payload = r.read()
                try:
                    return r.status, json.loads(payload) if payload else None
                except ValueError:
                    return r.status, payload.decode(errors="replace")
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def report_body(rec):
    return {
        "title": rec["title"][:200],
        "summary": rec["summary"],
        "lessons": rec.get("lessons", []),
        "tlp": "green",
        "context": {
            "country": "FR",
            "operator_type": "mobile_operator",
            "region": "europe",
            "scope": "regional",
            "started_on": "2024-03-01",
            "start_time": "10:00",
            "utc_offset": "+01:00",
        },
    }


def ari(labels_a, labels_b):
    """Adjusted Rand index of two labellings of the same items."""
    n = len(labels_a)
    if n < 2:
        return float("nan")
    pairs = Counter(zip(labels_a, labels_b))
    a = Counter(labels_a)
    b = Counter(labels_b)
    comb = lambda k: k * (k - 1) / 2
    index = sum(comb(v) for v in pairs.values())
    sum_a = sum(comb(v) for v in a.values())
    sum_b = sum(comb(v) for v in b.values())
    expected = sum_a * sum_b / comb(n)
    maximum = (sum_a + sum_b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


class Db:
    def __init__(self, backend, work):
        self.backend = backend
        if backend == "sqlite":
            self.path = os.path.join(work, "db", "incidex.db")
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.url = f"sqlite://{self.path}"
        else:
            self.name = f"incidex_pipeline_{os.getpid()}"
            host = os.environ.get("PGHOST", "127.0.0.1")
            port = os.environ.get("PGPORT", "5432")
            user = os.environ.get("PGUSER", "postgres")
            self.psql_base = ["psql", "-h", host, "-p", port, "-U", user, "-At", "-v", "ON_ERROR_STOP=1"]
            subprocess.run(self.psql_base + ["-d", "postgres", "-c", f"CREATE DATABASE {self.name}"],
                           check=True, stdout=subprocess.DEVNULL)
            self.url = f"postgres://{user}@{host}:{port}/{self.name}"

    def query(self, sql):
        if self.backend == "sqlite":
            with sqlite3.connect(self.path) as c:
                return c.execute(sql).fetchall()
        out = subprocess.run(self.psql_base + ["-d", self.name, "-F", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def size_mb(self):
        if self.backend == "sqlite":
            total = 0
            for suffix in ("", "-wal", "-shm"):
                p = self.path + suffix
                if os.path.exists(p):
                    total += os.path.getsize(p)
            return total / 1e6
        return int(self.query(f"SELECT pg_database_size('{self.name}')")[0][0]) / 1e6

    def drop(self):
        if self.backend == "postgres":
            subprocess.run(self.psql_base + ["-d", "postgres", "-c",
                                             f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)"],
                           stdout=subprocess.DEVNULL)


def dir_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--corpus", help="corpus JSONL (default: generate with corpus.py)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("--work", help="working directory (default: a new temporary one)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--api-requests", type=int, default=200)
    ap.add_argument("--filing-secs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    args = ap.parse_args()

    if not args.skip_build:
        log("building release binaries")
        subprocess.run(["cargo", "build", "--release", "-p", "incidex-api", "-p", "incidex-tests",
                        "--bin", "incidex", "--bin", "loadgen"], cwd=ROOT, check=True)
    incidex = os.path.join(args.bin, "incidex")
    loadgen = os.path.join(args.bin, "loadgen")
    work = args.work or tempfile.mkdtemp(prefix="incidex-pipeline-")
    os.makedirs(work, exist_ok=True)
    log(f"working in {work}; load {loadavg()}")
    results = {"n": args.n, "backend": args.backend, "loadavg_start": loadavg()}

    # 1. corpus
    corpus = args.corpus or os.path.join(work, "corpus.jsonl")
    if not args.corpus:
        log("generating the corpus")
        with open(corpus, "w") as out:
            subprocess.run([sys.executable, os.path.join(SHARED_BENCH, "corpus.py"), "--n", str(args.n),
                            "--seed", "1"], stdout=out, check=True)
    bodies = os.path.join(work, "reports.jsonl")
    family_of_key = {}
    json_bytes = 0
    with open(corpus) as src, open(bodies, "w") as dst:
        for i, line in enumerate(src):
            if i >= args.n:
                break
            rec = json.loads(line)
            body = json.dumps(report_body(rec), separators=(",", ":"))
            dst.write(body + "\n")
            json_bytes += len(body)
            family_of_key[hashlib.sha256(body.encode()).hexdigest()] = rec["family"]
    results["report_json_mb"] = round(json_bytes / 1e6, 1)

    db = Db(args.backend, work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCIDEX_")}
    env.update({"INCIDEX_LOG_LEVEL": "warn", "INCIDEX_RECLUSTER_INTERVAL_SECS": "0"})
    data_a = os.path.join(work, "serve-a")
    common = ["--data-dir", data_a, "--database-url", db.url]
    server = None
    try:
        def admin(*a):
            out = subprocess.run([incidex, "admin", *common, "--json", *a], env=env, check=True,
                                 capture_output=True, text=True).stdout
            return json.loads(out)

        admin("create-operator", "--name", "Bench Mobile", "--country", "FR")
        reporter = admin("create-client", "--operator", "Bench Mobile", "--role", "reporter")
        analyst = admin("create-client", "--role", "analyst")

        # 2. import
        log(f"importing {args.n} reports; load {loadavg()}")
        code, secs, rss, _ = run_timed([incidex, "import", *common, bodies, "--operator", "Bench Mobile",
                                        "--publish", "--json"], env=env)
        assert code == 0, "import failed"
        results["import"] = {"secs": round(secs, 1), "per_sec": round(args.n / secs), "peak_rss_mb": round(rss),
                             "load": loadavg()}
        log(f"import: {secs:.1f} s, {args.n / secs:.0f}/s, peak {rss:.0f} MB")

        # 3. catch-up of a fresh server
        port = free_port()
        log(f"catch-up: starting a fresh server; load {loadavg()}")
        start = time.monotonic()
        server = subprocess.Popen([incidex, "serve", "--listen", f"127.0.0.1:{port}", *common,
                                   "--log-format", "text"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "serve.log"), "w"))
        client = Http(port)
        caught_up = clustered = None
        while time.monotonic() - start < 1800:
            try:
                status, body = client.request("GET", "/readyz")
            except OSError:
                time.sleep(0.2)
                continue
            now = time.monotonic() - start
            if caught_up is None and status == 200 and isinstance(body, dict) and \
                    body.get("index", {}).get("changes_behind") == 0:
                caught_up = now
                results["catch_up"] = {"secs": round(now, 1), "per_sec": round(args.n / now),
                                       "peak_rss_mb": round(rss_mb(server.pid)), "load": loadavg()}
                log(f"caught up after {now:.1f} s ({args.n / now:.0f}/s), peak RSS {rss_mb(server.pid):.0f} MB")
            if caught_up is not None:
                n = db.query("SELECT count(*) FROM cluster_members")[0][0]
                if int(n) >= args.n * 0.99:
                    clustered = now
                    results["catch_up"]["clustered_secs"] = round(now, 1)
                    results["catch_up"]["peak_rss_mb_with_clustering"] = round(rss_mb(server.pid))
                    log(f"clustered after {now:.1f} s, peak RSS {rss_mb(server.pid):.0f} MB")
                    break
            time.sleep(0.5)
        assert caught_up is not None and clustered is not None, "the server did not catch up"

        def token(c):
            status, body = client.request("POST", "/api/v1/auth/token", body={
                "client_id": c["client_id"], "client_secret": c["client_secret"]})
            assert status == 200, body
            return body["access_token"]

        tok_r, tok_a = token(reporter), token(analyst)

        # 4. clusters API
        log(f"clusters API; load {loadavg()}")
        list_ms, read_ms = [], []
        status, page = client.request("GET", "/api/v1/clusters?limit=50&sort=size", tok_a)
        assert status == 200, page
        ids = [c["id"] for c in page["items"]]
        results["clusters"] = {"total": page["total"]}
        sorts = ["recent", "size", "growth"]
        for i in range(args.api_requests):
            t = time.perf_counter()
            status, _ = client.request("GET", f"/api/v1/clusters?limit=20&sort={sorts[i % 3]}", tok_a)
            list_ms.append((time.perf_counter() - t) * 1000)
            assert status == 200
            t = time.perf_counter()
            status, _ = client.request("GET", f"/api/v1/clusters/{ids[i % len(ids)]}", tok_a)
            read_ms.append((time.perf_counter() - t) * 1000)
            assert status == 200
        results["clusters_api"] = {
            "list_p50_ms": round(pct(list_ms, 50), 2), "list_p99_ms": round(pct(list_ms, 99), 2),
            "read_p50_ms": round(pct(read_ms, 50), 2), "read_p99_ms": round(pct(read_ms, 99), 2),
            "load": loadavg()}
        log(f"clusters: list p50 {pct(list_ms, 50):.1f} p99 {pct(list_ms, 99):.1f} ms; "
            f"read p50 {pct(read_ms, 50):.1f} p99 {pct(read_ms, 99):.1f} ms")

        # 5. search
        log(f"searching; load {loadavg()}")
        qfile = os.path.join(work, "queries.jsonl")
        with open(qfile, "w") as out:
            subprocess.run([sys.executable, os.path.join(SHARED_BENCH, "queries.py"), "--corpus", corpus,
                            "--n", str(args.queries), "--seed", "1"], stdout=out, check=True)
        search_ms = []
        with open(qfile) as f:
            for line in f:
                q = json.loads(line)["q"]
                t = time.perf_counter()
                status, _ = client.request("GET", "/api/v1/search?limit=10&q=" + urllib.parse.quote(q), tok_a)
                search_ms.append((time.perf_counter() - t) * 1000)
                assert status == 200
        results["search"] = {"p50_ms": round(pct(search_ms, 50), 2), "p99_ms": round(pct(search_ms, 99), 2),
                             "rss_after_mb": round(rss_mb(server.pid, "VmRSS")),
                             "peak_rss_mb": round(rss_mb(server.pid)), "load": loadavg()}
        log(f"search: p50 {pct(search_ms, 50):.2f} p99 {pct(search_ms, 99):.2f} ms; "
            f"RSS {rss_mb(server.pid, 'VmRSS'):.0f} MB")

        # 6. publish-to-searchable under a filing load
        log(f"freshness under load for {args.filing_secs} s; load {loadavg()}")
        lg = subprocess.Popen([loadgen, "--url", f"http://127.0.0.1:{port}", "--client-id",
                               reporter["client_id"], "--client-secret", reporter["client_secret"],
                               "--one-request", "--concurrency", "32", "--warmup-secs", "1",
                               "--duration-secs", str(args.filing_secs)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        probe = Http(port)
        lat = []
        deadline = time.monotonic() + args.filing_secs
        n = 0
        while time.monotonic() < deadline:
            n += 1
            marker = f"probe{os.getpid()}x{n}" + "".join(random.choice("qwxz") for _ in range(6))
            body = report_body({"title": f"Probe {marker}", "summary": f"Probe outage {marker}.", "lessons": []})
            status, filed = probe.request("POST", "/api/v1/reports?publish=true", tok_r, body)
            if status != 201:
                continue
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                status, found = probe.request("GET", f"/api/v1/search?facets=false&q={marker}", tok_a)
                if status == 200 and found["total"] >= 1:
                    lat.append((time.monotonic() - t0) * 1000)
                    break
                time.sleep(0.01)
            time.sleep(0.25)
        out, _ = lg.communicate(timeout=120)
        rate = None
        for line in out.splitlines():
            if line.startswith('{"loadgen"'):
                rate = json.loads(line)["loadgen"].get("filings_per_sec")
        results["freshness"] = {"probes": len(lat), "p50_ms": round(pct(lat, 50)), "p99_ms": round(pct(lat, 99)),
                                "max_ms": round(max(lat) if lat else float("nan")),
                                "filings_per_sec_during": rate, "load": loadavg()}
        log(f"publish-to-searchable: p50 {pct(lat, 50):.0f} p99 {pct(lat, 99):.0f} max {max(lat or [0]):.0f} ms "
            f"over {len(lat)} probes at {rate} filings/s")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        server = None

        # 7. reindex
        log(f"reindex; load {loadavg()}")
        published = int(db.query("SELECT count(*) FROM reports WHERE status = 'published'")[0][0])
        code, secs, rss, _ = run_timed([incidex, "reindex", *common], env=env)
        assert code == 0
        results["reindex"] = {"secs": round(secs, 1), "per_sec": round(published / secs),
                              "peak_rss_mb": round(rss), "load": loadavg()}
        log(f"reindex: {secs:.1f} s ({published / secs:.0f}/s), peak {rss:.0f} MB")

        # 8. recluster and ARI
        log(f"recluster; load {loadavg()}")
        code, secs, rss, out = run_timed([incidex, "recluster", *common, "--json"], env=env)
        assert code == 0
        summary = json.loads(out)
        key_to_report = {}
        for key, response in db.query("SELECT idem_key, response_body FROM idempotency_keys"):
            key_to_report[key.split(":")[-1]] = json.loads(response)["id"]
        cluster_of = dict(db.query("SELECT report_id, cluster_id FROM cluster_members"))
        truth, found = [], []
        for key, family in family_of_key.items():
            rid = key_to_report.get(key)
            if rid in cluster_of:
                truth.append(family)
                found.append(cluster_of[rid])
        score = ari(truth, found)
        sizes = Counter(found)
        results["recluster"] = {"secs": round(secs, 1), "peak_rss_mb": round(rss), "clusters": summary["clusters"],
                                "singletons": sum(1 for v in sizes.values() if v == 1),
                                "ari": round(score, 3), "scored": len(truth), "load": loadavg()}
        log(f"recluster: {secs:.1f} s, peak {rss:.0f} MB, {summary['clusters']} clusters, ARI {score:.3f} "
            f"over {len(truth)} reports")

        # 9. sizes
        results["sizes"] = {"report_json_mb": results["report_json_mb"], "database_mb": round(db.size_mb()),
                            "index_mb": round(dir_mb(os.path.join(data_a, "index")))}
        log(f"sizes: {results['sizes']}")
    finally:
        if server is not None:
            server.kill()
        db.drop()
    results["loadavg_end"] = loadavg()
    print("| step | figure |")
    print("| --- | --- |")
    for k, v in results.items():
        print(f"| {k} | {v} |")
    print(json.dumps({"pipeline": results}))
    if not args.keep and not args.work:
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
