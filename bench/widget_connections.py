#!/usr/bin/env python3
"""Holds N widget WebSocket connections open against a gateway on 127.0.0.1 and reports the
gateway's memory. Standard library only (asyncio); driven by bench/widget-connections.sh.

Each connection is a distinct visitor with a token computed the way the gateway signs them
(the bench config sets token_secret), authenticates, waits for `ready`, answers the server's
pings, and at the end proves it is alive with an app-level ping/pong.
"""
import argparse, asyncio, base64, hashlib, hmac, json, os, secrets, struct, sys, time


def token(secret: str, channel: str) -> str:
    key = hashlib.sha256(secret.encode()).digest()
    visitor = secrets.token_hex(12)
    issued = int(time.time())
    mac = hmac.new(key, f"switchboard-widget/v1/{channel}/{visitor}/{issued}".encode(), hashlib.sha256).digest()
    return f"v1.{visitor}.{issued}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x80 | opcode])
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Connection:
    def __init__(self):
        self.ready = asyncio.Event()
        self.pong = asyncio.Event()
        self.closed = None
        self.writer = None

    async def open(self, host, port, path, tok, auth=True):
        reader, self.writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        if auth:
            self.writer.write(frame(1, json.dumps({"type": "auth", "visitor_token": tok, "last_seq": None}).encode()))
        else:
            self.ready.set()
        asyncio.get_running_loop().create_task(self.read(reader))

    async def read(self, reader):
        try:
            while True:
                b0, b1 = await reader.readexactly(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await reader.readexactly(8))[0]
                payload = await reader.readexactly(n)
                opcode = b0 & 0x0F
                if opcode == 9:      # the server's heartbeat: answer like a browser
                    self.writer.write(frame(10, payload))
                elif opcode == 8:
                    self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    return
                elif opcode == 1:
                    kind = json.loads(payload).get("type")
                    if kind == "ready":
                        self.ready.set()
                    elif kind == "pong":
                        self.pong.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed = self.closed or 1006

    def ping(self):
        self.pong.clear()
        self.writer.write(frame(1, b'{"type":"ping"}'))


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the gateway's process id, for its memory")
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--hold", type=float, default=35, help="seconds to hold them (spans a server heartbeat)")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--channel", default="web")
    parser.add_argument("--no-auth", action="store_true", help="open sockets without authenticating (transport cost only)")
    args = parser.parse_args()
    if not 1 <= args.connections <= 30000:
        sys.exit("--connections must be 1–30000")
    host = "127.0.0.1"  # loopback only
    path = f"/widget/{args.channel}/ws"

    baseline = rss_kib(args.pid)
    connections = [Connection() for _ in range(args.connections)]
    started = time.monotonic()
    failures = []
    batch = 250  # stay inside the server's listen backlog
    for i in range(0, len(connections), batch):
        chunk = connections[i:i + batch]
        results = await asyncio.gather(*(c.open(host, args.port, path, token(args.secret, args.channel), not args.no_auth) for c in chunk), return_exceptions=True)
        failures += [r for r in results if isinstance(r, Exception)]
        await asyncio.gather(*(asyncio.wait_for(c.ready.wait(), 30) for c in chunk if c.writer), return_exceptions=True)
    opened = time.monotonic() - started
    ready = sum(c.ready.is_set() for c in connections)
    await asyncio.sleep(3)
    loaded = rss_kib(args.pid)

    await asyncio.sleep(args.hold)
    for c in connections:
        if c.writer and c.closed is None:
            c.ping()
    await asyncio.gather(*(asyncio.wait_for(c.pong.wait(), 30) for c in connections if c.writer), return_exceptions=True)
    alive = sum(c.pong.is_set() for c in connections)
    held = rss_kib(args.pid)
    print(json.dumps({
        "connections": args.connections, "ready": ready, "alive_after_hold": alive, "open_failures": len(failures),
        "first_failure": str(failures[0]) if failures else None, "seconds_to_open": round(opened, 1), "hold_seconds": args.hold,
        "rss_baseline_mib": round(baseline / 1024, 1), "rss_loaded_mib": round(loaded / 1024, 1), "rss_after_hold_mib": round(held / 1024, 1),
        "kib_per_connection": round((held - baseline) / max(alive, 1), 1),
    }, indent=2))
    for c in connections:
        if c.writer:
            c.writer.close()


asyncio.run(main())
