#!/usr/bin/env python3
"""Durable webhook ingest on PostgreSQL with 1 and 3 `switchboard serve` processes (issue 13),
side by side in one run, on one throwaway PostgreSQL cluster on loopback.

The cluster is durable as shipped (fsync on, synchronous_commit on): an acknowledged webhook is
on disk. wrk runs the same way in both cases (-t 3, bench/ingest.lua); with 3 processes its
threads are spread over the three ports (PORTS=…), as a load balancer without sticky sessions
would. Rounds interleave the cases; the table shows medians. After each run the processes are
stopped and the database checked: every acknowledged update stored, none stored twice.
"""
import argparse, datetime, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def pg_bin():
    root = "/usr/lib/postgresql"
    for version in sorted((int(v) for v in os.listdir(root) if v.isdigit()), reverse=True):
        if os.path.exists(f"{root}/{version}/bin/pg_ctl"):
            return f"{root}/{version}/bin"
    raise SystemExit("PostgreSQL not installed: apt-get install -y postgresql")


class Cluster:
    """initdb into a temporary folder, postgres on a free loopback port; as nobody when root."""

    def __init__(self, fsync=True):
        self.bin = pg_bin()
        self.base = tempfile.mkdtemp(prefix="sb-bench-pg-")
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.base, "nobody")
            self.as_user = ["runuser", "-u", "nobody", "--"]
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        subprocess.run(self.as_user + [f"{self.bin}/initdb", "-D", self.data, "-U", "switchboard", "--auth=trust", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL, cwd=self.base)
        durability = "" if fsync else " -c fsync=off -c synchronous_commit=off"
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB{durability}"
        subprocess.run(self.as_user + [f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.base, "log"), "-o", options, "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL, cwd=self.base)

    def psql(self, database, sql):
        return subprocess.run([f"{self.bin}/psql", "-X", "-q", "-t", "-A", "-w", "-h", "127.0.0.1", "-p", str(self.port), "-U", "switchboard",
                               "-d", database, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()

    def url(self, database):
        return f"postgres://switchboard@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def stop(self):
        subprocess.run(self.as_user + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], stdout=subprocess.DEVNULL, cwd=self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def config(folder, url, pool_size):
    # Replies are not part of ingest: the employee works on a day that is not today (UTC).
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    closed_day = days[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
    os.makedirs(os.path.join(folder, "channels"), exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(f"""storage: {{ postgres: "{url}", pool_size: {pool_size} }}
admin: {{ token: bench-admin-token-0123456789abcdef }}
employees:
  - id: alexey
    name: Alexey
    working_hours:
      timezone: UTC
      week: {{ {closed_day}: ["10:00-11:00"] }}
""")
    with open(os.path.join(folder, "channels", "telegram.yaml"), "w") as f:
        f.write("""type: telegram
id: tg
employee: alexey
token: "123456:bench-token"
mode: webhook
webhook_secret: bench-secret_0123
api_base: http://127.0.0.1:9
""")


def wrk(ports, args, id_base):
    env = dict(os.environ, DUP_RATE="0", ID_BASE=str(id_base), PORTS=",".join(map(str, ports)))
    out = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.seconds}s", "--latency", "-s",
         os.path.join(ROOT, "bench", "ingest.lua"), f"http://127.0.0.1:{ports[0]}"], capture_output=True, text=True, env=env, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = (result["requests"] - result["non2xx"]) / (result["duration_us"] / 1e6)
    return result


def run(cluster, binary, processes, args, id_base, database):
    cluster.psql("postgres", f"CREATE DATABASE {database}")
    with tempfile.TemporaryDirectory(prefix="sb-ingest-pg-") as folder:
        config(folder, cluster.url(database), args.pool_size)
        # The schema first, so the processes start on equal terms.
        subprocess.run([binary, "migrate", "--config", os.path.join(folder, "config.yaml")], check=True, stdout=subprocess.DEVNULL)
        ports = [free_port() for _ in range(processes)]
        procs = [subprocess.Popen([binary, "serve", "--config", os.path.join(folder, "config.yaml"), "--listen", f"127.0.0.1:{port}",
                                   "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
        try:
            for port in ports:
                wait_port(port)
            result = wrk(ports, args, id_base)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(60)
    rows, distinct = map(int, cluster.psql(database, "SELECT count(*), count(DISTINCT provider_message_id) FROM messages WHERE author = 'client'").split("|"))
    result["rows"] = rows
    result["duplicate_rows"] = rows - distinct
    result["lost"] = max(0, result["requests"] - result["non2xx"] - rows)
    cluster.psql("postgres", f"DROP DATABASE {database}")
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=48)
    p.add_argument("--threads", type=int, default=3)
    p.add_argument("--pool-size", type=int, default=20)
    p.add_argument("--no-fsync", action="store_true", help="fsync=off on the cluster: what the CPU allows without the disk")
    args = p.parse_args()

    cluster = Cluster(fsync=not args.no_fsync)
    cases = {"1 process": [], "3 processes": []}
    try:
        id_base = 1_000_000
        for round in range(args.rounds):
            for name, n in (("1 process", 1), ("3 processes", 3)):
                id_base += 10_000_000
                cases[name].append(run(cluster, args.binary, n, args, id_base, f"bench_{round}_{n}"))
            print(f"round {round + 1}: " + ", ".join(f"{k} {v[-1]['rps']:.0f}/s" for k, v in cases.items()), file=sys.stderr)
    finally:
        cluster.stop()

    med = {k: statistics.median(r["rps"] for r in v) for k, v in cases.items()}
    p50 = {k: statistics.median(r["p50_us"] for r in v) / 1000 for k, v in cases.items()}
    p99 = {k: statistics.median(r["p99_us"] for r in v) / 1000 for k, v in cases.items()}
    print(f"PostgreSQL ({'fsync off' if args.no_fsync else 'durable: fsync on, synchronous_commit on'}), pool_size {args.pool_size} per process; "
          f"wrk -t {args.threads} -c {args.connections} -d {args.seconds}s, {args.rounds} rounds, medians; ~700-byte Telegram updates")
    print(f"{'case':<14}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'rows':>10}{'lost':>6}{'dup rows':>10}")
    for k, v in cases.items():
        rows = statistics.median(r["rows"] for r in v)
        print(f"{k:<14}{med[k]:>10.0f}{p50[k]:>10.1f}{p99[k]:>10.1f}{rows:>10.0f}{sum(r['lost'] for r in v):>6}{sum(r['duplicate_rows'] for r in v):>10}")
    print(f"3 processes / 1 process     {med['3 processes'] / med['1 process']:.2f}x (goal >= 2x)")
    if any(r["lost"] or r["duplicate_rows"] for v in cases.values() for r in v):
        raise SystemExit("an acknowledged update was lost or stored twice")


if __name__ == "__main__":
    main()
