#!/usr/bin/env python3
"""Crash recovery: kill -9 a release `switchboard serve` mid-stream and mid-reminder-wave.

Each round, in a fresh temp dir with its own SQLite file:
  1. A fake Telegram Bot API (this script, on 127.0.0.1) records every sendMessage.
  2. The gateway starts (webhook mode, offline composer, time_scale so a 1-hour step takes
     about a second); 32 connections POST 5,000 updates from 500 clients; after a random
     share of them has been answered the gateway is killed with SIGKILL.
  3. It is restarted; every update that did not get a 200 is posted again (a provider retries),
     plus a sample of the acknowledged ones (a provider's duplicate delivery).
  4. Replies go out and arm the chains; while reminders are being sent, the gateway is killed
     again, then restarted, and the script waits until no reminder is pending.
  5. Checks, from the SQLite file and the fake's log:
     - every update answered 200 is stored exactly once (and so is every retried one);
     - no reminder (chat, run, step) reached the provider twice;
     - every (chat, run, step) that was scheduled ended with exactly one decision
       (sent, skipped, cancelled or dead letter) - a reminder whose send was cut off by the
       kill ends as a visible dead letter, never resent and never lost;
     - nothing is left pending.
Only loopback addresses are used; every loop is bounded in count and time.
"""
import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "crash-test-secret"
TOKEN = "123456:crash-test-token"
ADMIN = "crash-test-admin-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the gateway being killed mid-request resets connections; that is the point


class FakeTelegram:
    """The Bot API methods the gateway calls, recording each accepted sendMessage; and, on the
    same port, an OpenAI-compatible /v1/chat/completions that writes a unique text per call,
    so a message sent twice is recognisable by its text."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sent = []  # (chat_id, text)
        self.compositions = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                ctype = self.headers.get("Content-Type", "")
                body = {}
                if "json" in ctype and raw:
                    body = json.loads(raw)
                elif raw:
                    from urllib.parse import parse_qs
                    body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                method = self.path.rsplit("/", 1)[-1]
                if self.path.endswith("/chat/completions"):
                    with fake.lock:
                        fake.compositions += 1
                        n = fake.compositions
                    out = json.dumps({"id": f"c{n}", "object": "chat.completion", "model": "fake",
                                      "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": f"Message #{n}"}}],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                if method == "sendMessage":
                    with fake.lock:
                        fake.sent.append((str(body.get("chat_id")), body.get("text", "")))
                        mid = len(fake.sent)
                    result = {"message_id": mid, "date": int(time.time()), "chat": {"id": int(body.get("chat_id", 0)), "type": "private"},
                              "text": body.get("text", "")}
                elif method == "getMe":
                    result = {"id": 123456, "is_bot": True, "first_name": "Crash", "username": "crash_bot"}
                else:
                    result = True
                out = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def sends(self):
        with self.lock:
            return list(self.sent)

    def stop(self):
        self.server.shutdown()


def write_config(folder, port, fake_port, time_scale):
    os.makedirs(os.path.join(folder, "channels"), exist_ok=True)
    days = "\n".join(f"        {d}: [\"00:00-24:00\"]" for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        f.write(f"""server:
  listen: 127.0.0.1:{port}
storage:
  sqlite: data/gateway.sqlite
admin:
  token: {ADMIN}
composer:
  base_url: http://127.0.0.1:{fake_port}/v1
  api_key: sk-crash-test
  model: fake
time_scale: {time_scale}
employees:
  - id: alexey
    name: Alexey
    persona: Concierge.
    working_hours:
      timezone: Europe/Berlin
      week:
{days}
    auto_followup:
      enabled: true
      steps:
        - {{ delay: {{ hours: 1 }}, instruction: "Remind" }}
        - {{ delay: {{ hours: 1 }}, instruction: "Ask again", once_per_chat: true }}
        - {{ delay: {{ hours: 1 }}, instruction: "Say goodbye" }}
""")
    with open(os.path.join(folder, "channels", "telegram.yaml"), "w") as f:
        f.write(f"""type: telegram
id: tg
employee: alexey
token: "{TOKEN}"
mode: webhook
webhook_secret: {SECRET}
api_base: http://127.0.0.1:{fake_port}
""")


class Gateway:
    def __init__(self, binary, folder, port):
        self.binary, self.folder, self.port = binary, folder, port
        self.proc = None

    def start(self):
        log = open(os.path.join(self.folder, "gateway.log"), "a")
        self.proc = subprocess.Popen([self.binary, "serve", "--config", os.path.join(self.folder, "config.yaml"), "--log-level", "warning"],
                                     stdout=log, stderr=log, cwd=self.folder)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return time.time()
            except Exception:
                time.sleep(0.05)
        raise SystemExit("gateway did not start; see " + os.path.join(self.folder, "gateway.log"))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def update(update_id, chat):
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": f"Question {update_id}",
        "chat": {"id": chat, "type": "private", "first_name": f"Client{chat}"},
        "from": {"id": chat, "is_bot": False, "first_name": f"Client{chat}"}}}).encode()


def post_all(port, updates, connections, stop_after=None):
    """POSTs (update_id, chat) pairs from `connections` threads; returns the ids answered 200.
    With `stop_after`, calls it once that many have been answered (it kills the gateway)."""
    acked, lock = set(), threading.Lock()
    queue = list(updates)
    killed = threading.Event()

    def worker():
        while True:
            with lock:
                if not queue or killed.is_set():
                    return
                uid, chat = queue.pop()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/tg", data=update(uid, chat), method="POST",
                                         headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    if r.status == 200:
                        with lock:
                            acked.add(uid)
                            if stop_after and len(acked) == stop_after[0]:
                                stop_after[1]()
                                killed.set()
            except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
                if killed.is_set():
                    return

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return acked


def db(folder):
    return sqlite3.connect(os.path.join(folder, "data", "gateway.sqlite"), timeout=30)


def pending_reminders(folder):
    with db(folder) as c:
        return c.execute("SELECT count(*) FROM followups WHERE status IN ('scheduled','sending')").fetchone()[0]


def reminders_sent(folder):
    with db(folder) as c:
        return c.execute("SELECT count(*) FROM outbox WHERE purpose = 'reminder' AND status = 'sent'").fetchone()[0]


def one_round(binary, number, total, connections, chats, time_scale, rng):
    folder = tempfile.mkdtemp(prefix=f"sb-crash-{number}-")
    fake = FakeTelegram()
    port = free_port()
    write_config(folder, port, fake.port, time_scale)
    gw = Gateway(binary, folder, port)
    gw.start()
    updates = [(1000 + i, 5000 + i % chats) for i in range(total)]
    rng.shuffle(updates)

    # 1. Killed mid-stream.
    kill_at = rng.randint(total // 5, total * 4 // 5)
    acked = post_all(port, updates, connections, stop_after=(kill_at, gw.kill9))
    if gw.proc.poll() is None:
        gw.kill9()
    killed_after = len(acked)

    # 2. Restart; the provider retries what was not acknowledged, and repeats some that were.
    t0 = time.time()
    ready = gw.start()
    restart_s = ready - t0
    retry = [u for u in updates if u[0] not in acked] + rng.sample([u for u in updates if u[0] in acked], min(200, len(acked)))
    acked |= post_all(port, retry, connections)

    # 3. Killed mid-reminder-wave: wait until reminders are going out, then kill.
    deadline = time.time() + 300
    while reminders_sent(folder) < chats // 3 and time.time() < deadline:
        time.sleep(0.02)
    sent_before_kill = reminders_sent(folder)
    gw.kill9()
    gw.start()
    # 4. Let every chain play out (bounded).
    deadline = time.time() + 600
    while time.time() < deadline and pending_reminders(folder) > 0:
        time.sleep(0.2)
    settle_pending = pending_reminders(folder)
    gw.stop()
    fake.stop()

    # 5. Checks.
    problems = []
    with db(folder) as c:
        stored = dict(c.execute("""SELECT provider_message_id, count(*) FROM messages
                                   WHERE channel_id = 'tg' AND author = 'client' GROUP BY provider_message_id""").fetchall())
        lost = [u for u in acked if stored.get(str(u), 0) == 0]
        twice = [k for k, n in stored.items() if n > 1]
        if lost:
            problems.append(f"{len(lost)} acknowledged updates not stored, e.g. {lost[:5]}")
        if twice:
            problems.append(f"{len(twice)} updates stored twice, e.g. {twice[:5]}")
        outbox = c.execute("""SELECT o.chat_id, o.followup_run, o.followup_step, o.status, o.text, ch.conversation_key
                              FROM outbox o JOIN chats ch ON ch.id = o.chat_id WHERE o.purpose = 'reminder'""").fetchall()
        decisions = c.execute("SELECT chat_id, run, step, kind FROM decisions WHERE step IS NOT NULL").fetchall()
        dead = c.execute("SELECT count(*) FROM outbox WHERE purpose = 'reminder' AND status = 'dead'").fetchone()[0]
        sent = c.execute("SELECT count(*) FROM outbox WHERE purpose = 'reminder' AND status = 'sent'").fetchone()[0]
    provider = {}
    for chat, text in fake.sends():
        provider[(chat, text)] = provider.get((chat, text), 0) + 1
    for chat_id, run, step, status, text, key in outbox:
        if provider.get((key, text), 0) > 1:
            problems.append(f"reminder {chat_id} run {run} step {step} reached the provider {provider[(key, text)]} times")
    ends, scheduled = {}, set()
    for chat_id, run, step, kind in decisions:
        k = (chat_id, run, step)
        if kind == "scheduled":
            scheduled.add(k)
        if kind in ("sent", "skipped", "cancelled", "dead_letter"):
            ends[k] = ends.get(k, 0) + 1
    doubled = [k for k, n in ends.items() if n > 1]
    unended = [k for k in scheduled if k not in ends]
    if doubled:
        problems.append(f"{len(doubled)} (chat, run, step) ended twice, e.g. {doubled[:3]}")
    if unended:
        problems.append(f"{len(unended)} (chat, run, step) scheduled and never ended, e.g. {unended[:3]}")
    if settle_pending:
        problems.append(f"{settle_pending} reminders still pending after 10 minutes")
    return {
        "round": number, "acked_before_kill": killed_after, "acked_total": len(acked), "stored": sum(stored.values()),
        "restart_s": restart_s, "reminders_before_kill": sent_before_kill, "reminders_sent": sent, "dead_letters": dead,
        "problems": problems, "folder": folder,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/switchboard")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--time-scale", type=float, default=1800)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = []
    for n in range(1, args.rounds + 1):
        r = one_round(os.path.abspath(args.binary), n, args.updates, args.connections, args.chats, args.time_scale, rng)
        results.append(r)
        status = "ok" if not r["problems"] else "FAILED: " + "; ".join(r["problems"])
        print(f"round {n}: killed after {r['acked_before_kill']} acked; {r['acked_total']} acked in all, {r['stored']} stored; "
              f"restart {r['restart_s']:.2f} s; killed after {r['reminders_before_kill']} reminders sent; "
              f"{r['reminders_sent']} sent, {r['dead_letters']} dead letters; {status}", flush=True)
    failed = [r for r in results if r["problems"]]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    print(f"median restart to /healthz: {statistics.median(r['restart_s'] for r in results):.2f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
