#!/usr/bin/env python3
"""Ingest benchmark for bench/README.md (issue 12): durable webhooks/s of the gateway against
a bare Hummingbird 2 server, side by side in one run, with wrk on loopback.

Rounds interleave the cases so machine noise hits them alike; the table shows medians.
Cases:
  ceiling     bare Hummingbird POST handler (reads the body, answers 200)
  gateway     `switchboard serve`, Telegram webhook channel, group commit, synchronous=FULL
  gateway-dup the same with 20% repeated update_ids
  per-message the gateway with storage.group_commit: false (one transaction per request)
After each gateway run the process is stopped and the database checked: every acknowledged
update stored, no update stored twice.
"""
import argparse, datetime, json, os, re, signal, socket, sqlite3, statistics, subprocess, sys, tempfile, time

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


def config(folder, group_commit):
    # Replies are not part of ingest: the employee's working hours are on a day that is not
    # today (UTC), so a message owes an answer only when they open, and no auto-reply is set.
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    closed_day = days[(datetime.datetime.now(datetime.timezone.utc).weekday() + 3) % 7]
    os.makedirs(os.path.join(folder, "channels"), exist_ok=True)
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(f"""storage:
  group_commit: {str(group_commit).lower()}
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


def wrk(port, seconds, connections, dup_rate, id_base):
    env = dict(os.environ, DUP_RATE=str(dup_rate), ID_BASE=str(id_base))
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", os.path.join(ROOT, "bench", "ingest.lua"),
         f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["rps"] = (result["requests"] - result["non2xx"]) / (result["duration_us"] / 1e6)
    return result


def run_ceiling(binary, args, id_base):
    port = free_port()
    proc = subprocess.Popen([binary, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        return wrk(port, args.seconds, args.connections, 0, id_base)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def run_gateway(binary, args, dup_rate, group_commit, id_base):
    with tempfile.TemporaryDirectory(prefix="sb-ingest-") as folder:
        config(folder, group_commit)
        port = free_port()
        proc = subprocess.Popen([binary, "serve", "--config", os.path.join(folder, "config.yaml"), "--listen", f"127.0.0.1:{port}",
                                 "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            result = wrk(port, args.seconds, args.connections, dup_rate, id_base)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        db = sqlite3.connect(os.path.join(folder, "data", "switchboard.sqlite"))
        rows, distinct = db.execute(
            "SELECT count(*), count(DISTINCT provider_message_id) FROM messages WHERE author = 'client'").fetchone()
        db.close()
        result["rows"] = rows
        result["duplicate_rows"] = rows - distinct
        acknowledged = result["requests"] - result["non2xx"]
        # Every acknowledged update is a row: clean runs send distinct ids, so rows >= acknowledged;
        # with repeats, every distinct id acknowledged at least once is a row.
        result["lost"] = max(0, (acknowledged if dup_rate == 0 else 0) - rows)
        return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--ceiling", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=40)
    p.add_argument("--baseline-binary", help="an earlier build, run as the case 'before' in every round")
    args = p.parse_args()

    cases = {"ceiling": [], "gateway": [], "gateway-dup": [], "per-message": []}
    if args.baseline_binary:
        cases["before"] = []
    id_base = 1_000_000
    for round in range(args.rounds):
        id_base += 10_000_000
        cases["ceiling"].append(run_ceiling(args.ceiling, args, id_base))
        cases["gateway"].append(run_gateway(args.binary, args, 0, True, id_base))
        cases["gateway-dup"].append(run_gateway(args.binary, args, 0.2, True, id_base))
        cases["per-message"].append(run_gateway(args.binary, args, 0, False, id_base))
        if args.baseline_binary:
            cases["before"].append(run_gateway(args.baseline_binary, args, 0, True, id_base))
        print(f"round {round + 1}: " + ", ".join(f"{k} {v[-1]['rps']:.0f}/s" for k, v in cases.items()), file=sys.stderr)

    med = {k: statistics.median(r["rps"] for r in v) for k, v in cases.items()}
    p99 = {k: statistics.median(r["p99_us"] for r in v) / 1000 for k, v in cases.items()}
    print(f"wrk -t 2 -c {args.connections} -d {args.seconds}s, {args.rounds} rounds, medians; ~700-byte Telegram updates, Cyrillic text")
    print(f"{'case':<14}{'req/s':>10}{'p99 ms':>10}{'rows':>10}{'lost':>6}{'dup rows':>10}")
    for k, v in cases.items():
        rows = statistics.median(r.get("rows", 0) for r in v) if k != "ceiling" else 0
        lost = sum(r.get("lost", 0) for r in v)
        dups = sum(r.get("duplicate_rows", 0) for r in v)
        print(f"{k:<14}{med[k]:>10.0f}{p99[k]:>10.1f}{rows:>10.0f}{lost:>6}{dups:>10}")
    print(f"gateway / ceiling           {med['gateway'] / med['ceiling']:.2f}  (goal >= 0.5)")
    print(f"with 20% duplicates / clean {med['gateway-dup'] / med['gateway']:.2f}  (goal >= 0.95)")
    print(f"group commit / per-message  {med['gateway'] / med['per-message']:.1f}x (goal >= 30x)")
    if args.baseline_binary:
        print(f"gateway / before            {med['gateway'] / med['before']:.2f}")
    if any(r.get("lost", 0) or r.get("duplicate_rows", 0) for v in cases.values() for r in v):
        raise SystemExit("an acknowledged update was lost or stored twice")


if __name__ == "__main__":
    main()
