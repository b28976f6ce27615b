#!/usr/bin/env python3
"""The 100,000-due drain on PostgreSQL (issue 13): `switchboard-bench drain` against a throwaway
durable cluster on loopback (see bench/ingest_pg.py's Cluster), with 1 and 3 schedulers
sharing the database — each with its own connection pool and lease owner, as separate
processes would have (here they share one bench process and its CPU budget).
"""
import argparse, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest_pg import Cluster  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bench", required=True, help="the switchboard-bench binary")
    p.add_argument("--reminders", type=int, default=100_000)
    p.add_argument("--schedulers", type=int, nargs="+", default=[1, 3])
    p.add_argument("--batch", type=int, nargs="+", default=[256],
                   help="the scheduler's pipeline batch sizes to compare (1: store calls per reminder, as before batching)")
    p.add_argument("--workers", default=None, help="compositions/deliveries under way at once, e.g. 4/32 (the bench's default: 4/8)")
    args = p.parse_args()
    cluster = Cluster()
    try:
        for n in args.schedulers:
            for batch in args.batch:
                database = f"drain_{n}_{batch}"
                cluster.psql("postgres", f"CREATE DATABASE {database}")
                command = [args.bench, "drain", str(args.reminders), cluster.url(database), str(n), "--batch", str(batch)]
                if args.workers:
                    command += ["--workers", args.workers]
                out = subprocess.run(command,
                                     capture_output=True, text=True, check=True).stdout
                print("\n".join(l for l in out.splitlines() if l.startswith(("#", "-"))), flush=True)
                cluster.psql("postgres", f"DROP DATABASE {database}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
