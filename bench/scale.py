#!/usr/bin/env python3
"""Scale without memory (issue 12): the gateway's resident memory and idle CPU with an empty
store and with N armed chats (default 1,000,000), side by side in one run.

For each store: start `switchboard serve` on it, let it settle (--settle s), read VmRSS, then
sample CPU time (utime + stime from /proc/<pid>/stat) over --idle seconds. The armed chats
are written by `switchboard-bench populate` (1,000 per transaction); their first reminders
are due 30 days from now, so an idle gateway has nothing to do but know when to wake.
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, time

CONFIG = """storage:
  durability: normal
admin: { token: bench-admin-token-0123456789abcdef }
employees:
  - id: alexey
    name: Alexey
    auto_followup:
      steps:
        - { delay: 4h, instruction: "Remind" }
        - { delay: 24h, instruction: "Ask", once_per_chat: true }
        - { delay: 48h, instruction: "Goodbye" }
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(binary, folder, settle, idle):
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--config", os.path.join(folder, "config.yaml"), "--listen", f"127.0.0.1:{port}",
                             "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        time.sleep(settle)
        rss = rss_mb(proc.pid)
        before, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(idle)
        cpu = (cpu_seconds(proc.pid) - before) / (time.monotonic() - t0) * 100
        return rss, cpu
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--bench", required=True)
    p.add_argument("--chats", type=int, default=1_000_000)
    p.add_argument("--settle", type=float, default=10)
    p.add_argument("--idle", type=float, default=60)
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="sb-scale-")
    try:
        empty, full = os.path.join(root, "empty"), os.path.join(root, "full")
        for folder in (empty, full):
            os.makedirs(os.path.join(folder, "data"))
            with open(os.path.join(folder, "config.yaml"), "w") as f:
                f.write(CONFIG)
        started = time.monotonic()
        subprocess.run([args.bench, "populate", os.path.join(full, "data", "switchboard.sqlite"), str(args.chats)], check=True)
        size = os.path.getsize(os.path.join(full, "data", "switchboard.sqlite")) / 1e6
        print(f"populated in {time.monotonic() - started:.0f} s; database {size:.0f} MB", file=sys.stderr)
        e_rss, e_cpu = measure(args.binary, empty, args.settle, args.idle)
        f_rss, f_cpu = measure(args.binary, full, args.settle, args.idle)
        print(f"settle {args.settle:.0f} s, idle CPU sampled over {args.idle:.0f} s")
        print(f"{'store':<28}{'RSS MB':>10}{'idle CPU %':>12}")
        print(f"{'empty':<28}{e_rss:>10.1f}{e_cpu:>12.2f}")
        print(f"{f'{args.chats:,} armed chats':<28}{f_rss:>10.1f}{f_cpu:>12.2f}")
        print(f"RSS difference {f_rss - e_rss:+.1f} MB (goal within 50 MB); idle CPU {f_cpu:.2f}% of a core (goal < 1%)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
