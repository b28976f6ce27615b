#!/usr/bin/env python3
"""Signed webhook requests per second on an http channel, against a gateway on 127.0.0.1.
Standard library only (asyncio); driven by bench/http-webhook.sh.

It also serves the channel's outbound_url (a sink answering 200), so the employee's replies
have somewhere to go, and counts them. Every request is signed the way the channel checks it
(HMAC-SHA256 of "<timestamp>.<body>"), carries a distinct message_id, and is answered only
after the gateway has stored it. Bounded: at most --requests requests per round and
--max-seconds per round.
"""
import argparse, asyncio, hashlib, hmac, json, statistics, sys, time


def sign(secret: bytes, body: bytes) -> tuple[str, str]:
    ts = str(int(time.time()))
    return ts, "sha256=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()


def request_bytes(port: int, channel: str, secret: bytes, body: bytes) -> bytes:
    ts, signature = sign(secret, body)
    return (f"POST /webhooks/{channel} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Switchboard-Timestamp: {ts}\r\nX-Switchboard-Signature: {signature}\r\n\r\n").encode() + body


async def read_response(reader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return status, await reader.readexactly(length)


class Sink:
    """The outbound_url: answers every POST with 200 and counts them."""

    def __init__(self):
        self.received = 0

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                await reader.readexactly(length)
                self.received += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def round_(args, secret: bytes, round_number: int, batch: int) -> tuple[float, int]:
    """One round: returns (requests per second, messages accepted)."""
    total = args.requests
    bodies = []
    for index in range(total):
        messages = [{
            "message_id": f"bench-{args.run}-{round_number}-{batch}-{index}-{k}",
            "chat_id": f"bench-chat-{(index * batch + k) % args.chats}",
            "client": {"id": f"client-{(index * batch + k) % args.chats}", "name": "Bench Client"},
            "text": "Hello, is a room with a river view available next weekend?",
            "sent_at": "2026-11-23T06:00:00Z",
        } for k in range(batch)]
        body = messages[0] if batch == 1 else {"messages": messages}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())

    queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    failures = []
    deadline = time.monotonic() + args.max_seconds

    async def worker():
        nonlocal accepted
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        try:
            while not queue.empty() and time.monotonic() < deadline:
                body = queue.get_nowait()
                writer.write(request_bytes(args.port, args.channel, secret, body))
                status, answer = await read_response(reader)
                if status != 200:
                    failures.append((status, answer[:200]))
                    continue
                accepted += json.loads(answer)["accepted"]
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    elapsed = time.monotonic() - started
    done = total - queue.qsize()
    if failures:
        print(f"  {len(failures)} requests failed, first: {failures[0]}", file=sys.stderr)
    return done / elapsed, accepted


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sink-port", type=int, required=True)
    parser.add_argument("--channel", default="bench")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100, help="messages per request in the batch rounds; 0 skips them")
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()
    if not (1 <= args.requests <= 20000 and 1 <= args.concurrency <= 256 and args.max_seconds <= 600):
        parser.error("bounded: --requests 1–20000, --concurrency 1–256, --max-seconds ≤ 600")
    args.run = int(time.time())
    secret = args.secret.encode()

    sink = Sink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", args.sink_port)

    rates = []
    for number in range(args.rounds):
        rate, accepted = await round_(args, secret, number, 1)
        rates.append(rate)
        print(f"  round {number + 1}: {rate:.0f} requests/s ({accepted} messages accepted)", file=sys.stderr)
    print(f"- single messages: {args.requests} signed requests per round over {args.chats} chats, "
          f"{args.concurrency} connections, stored before 200; median of {args.rounds}: {statistics.median(rates):.0f} requests/s")

    if args.batch > 1:
        batch_requests = max(1, args.requests // args.batch)
        saved = args.requests
        args.requests = batch_requests
        rates = []
        for number in range(args.rounds):
            rate, accepted = await round_(args, secret, number, args.batch)
            rates.append(rate * args.batch)
            print(f"  batch round {number + 1}: {rate * args.batch:.0f} messages/s ({accepted} accepted)", file=sys.stderr)
        args.requests = saved
        print(f"- batches of {args.batch}: {batch_requests} requests per round; median of {args.rounds}: "
              f"{statistics.median(rates):.0f} messages/s")

    print(f"- replies the gateway POSTed to the sink meanwhile: {sink.received}")
    server.close()


asyncio.run(main())
