#!/usr/bin/env python3
"""Hostile-input fuzzing of a running gateway on 127.0.0.1. Standard library only; driven by
bench/fuzz.sh, which starts `switchboard serve` with a throw-away config (a Telegram channel in
webhook mode, a widget channel, an admin token) and a fake Telegram Bot API from this file.

Every route that accepts outside input gets generated hostile requests: the Telegram webhook,
the widget's HTTP endpoints and WebSocket frames, sign-in, the admin API, and unknown paths.
Inputs: random bytes, truncated and deeply nested JSON, wrong types, huge numbers and strings,
invalid UTF-8 and overlong encodings, Content-Length lies, broken framing, slow and stalled
bodies, each with and without valid credentials.

Two phases, counted separately:
  1. unauthenticated — no or wrong credentials everywhere: the SQLite row counts must not move;
  2. authenticated   — valid webhook secret, admin token, widget visitor token, hostile bodies.
Reported: crashes (is the process alive, does /healthz answer), 5xx responses, rows written by
the unauthenticated phase, the gateway's RSS before/after/peak, and p50/p99 latency of a
normal request (GET /healthz and an authenticated webhook) sampled all through the run.

Bounded: a fixed number of cases, a fixed concurrency, every wait has a timeout; loopback only.
"""
import argparse, asyncio, multiprocessing, base64, hashlib, hmac, http.server, json, os, random, socket, sqlite3, struct, sys, threading, time

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# A fake Telegram Bot API, so replies the gateway sends go somewhere and succeed.

class FakeTelegram(http.server.BaseHTTPRequestHandler):
    counter = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        FakeTelegram.counter += 1
        body = json.dumps({"ok": True, "result": {"message_id": FakeTelegram.counter, "date": int(time.time()),
                                                   "chat": {"id": 1, "type": "private"}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args):
        pass


def start_fake_telegram(port):
    server = http.server.ThreadingHTTPServer((HOST, port), FakeTelegram)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------------------------------------
# Hostile values.

def rand_bytes(rng, n=None):
    n = rng.choice([0, 1, 7, 64, 512, 4096]) if n is None else n
    return rng.randbytes(n)


def xor_mask(payload, key):
    if not payload:
        return payload
    repeated = (key * (len(payload) // 4 + 1))[:len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(len(payload), "big")


INVALID_UTF8 = [
    b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf0\x80\x80\xaf",  # invalid byte, overlong '/' in 2, 3, 4 bytes
    b"\xed\xa0\x80", b"\xed\xbf\xbf",  # UTF-16 surrogates encoded as UTF-8
    b"\xf4\x90\x80\x80", b"\xc3", b"\xe2\x82", b"\x80\x80", b"\xfe\xfe\xff\xff",
    b"\xc1\xbf", b"\xf8\x88\x80\x80\x80",
]

HUGE_NUMBERS = ["1e999999", "-1e999999", "99999999999999999999999999999999999999", "-9223372036854775809",
                "18446744073709551616", "1.7976931348623157e309", "0.0000000000000000000000000000001e-400", "NaN",
                "Infinity", "-0", "1" * 5000, "0x10", "1_000", "+1"]

WEIRD_STRINGS = ["", " ", "\u0000", "\u202e\u0644\u0645", "'; DROP TABLE chats; --", "<script>alert(1)</script>",
                 "../../../../etc/passwd", "%00%ff%c0%af", "\ud83d\ude00" * 50, "\\u0000", "${SWITCHBOARD_ADMIN_TOKEN}",
                 "{{7*7}}", "\r\nSet-Cookie: x=y", "a" * 70000, "михаил" * 1000, "\u200b" * 300, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢" * 100]


def rand_scalar(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(HUGE_NUMBERS)
    if kind == 1:
        return json.dumps(rng.choice(WEIRD_STRINGS))
    if kind == 2:
        return rng.choice(["true", "false", "null", "[]", "{}", '""'])
    if kind == 3:
        return str(rng.randint(-2**63, 2**63))
    if kind == 4:
        return json.dumps(rng.random() * 10 ** rng.randint(-300, 300))
    if kind == 5:
        return '"' + "".join(rng.choice(['\\u0000', '\\ud800', '\\udfff', '\\"', '\\\\', 'x', '\\uZZZZ', '\\']) for _ in range(rng.randint(1, 20))) + '"'
    if kind == 6:
        return json.dumps("x" * rng.choice([1000, 100_000, 900_000]))
    return json.dumps(rng.choice(["alexey", "tg", "web", "1", "0", "-1"]))


def nested(rng, depth):
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    return opener * depth + rand_scalar(rng) + closer * depth


def hostile_json_body(rng, template=None):
    """A body for a JSON endpoint: mostly broken, sometimes a valid template with hostile values."""
    kind = rng.randrange(10)
    if kind == 0:
        return rand_bytes(rng)
    if kind == 1:
        return nested(rng, rng.choice([10, 100, 1000, 10000, 100000])).encode()
    if kind == 2 and template:
        text = json.dumps(template)
        return text[: rng.randrange(max(1, len(text)))].encode()  # truncated
    if kind == 3:
        return rng.choice(INVALID_UTF8) * rng.randint(1, 50)
    if kind == 4 and template:
        return mutate_json(rng, template)
    if kind == 5 and template:  # invalid UTF-8 inside a string value
        text = json.dumps(template).encode()
        cut = rng.randrange(len(text))
        return text[:cut] + rng.choice(INVALID_UTF8) + text[cut:]
    if kind == 6:
        return ("[" + ",".join(rand_scalar(rng) for _ in range(rng.randint(1, 2000))) + "]").encode()
    if kind == 7:
        return ('{' + ",".join(f'"k{i}":{rand_scalar(rng)}' for i in range(rng.randint(1, 300))) + '}').encode()
    if kind == 8:
        return rand_scalar(rng).encode()
    return (json.dumps(template) if template else "{}").encode()


def mutate_json(rng, value, depth=0):
    """Replaces, drops or retypes fields of a valid JSON document."""
    def walk(v, d):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                r = rng.random()
                if r < 0.1:
                    continue
                if r < 0.35:
                    out[k] = ("__RAW__", rand_scalar(rng))
                else:
                    out[k] = walk(x, d + 1)
            if rng.random() < 0.2:
                out[rng.choice(["extra", "__proto__", "constructor", "update_id", ""])] = ("__RAW__", rand_scalar(rng))
            return out
        if isinstance(v, list):
            return [walk(x, d + 1) for x in v]
        if rng.random() < 0.3:
            return ("__RAW__", rand_scalar(rng))
        return v

    def dump(v):
        if isinstance(v, tuple) and v and v[0] == "__RAW__":
            return v[1]
        if isinstance(v, dict):
            return "{" + ",".join(json.dumps(k) + ":" + dump(x) for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ",".join(dump(x) for x in v) + "]"
        return json.dumps(v)

    return dump(walk(value, depth)).encode()


def telegram_update(rng, update_id=None, chat=None):
    uid = update_id if update_id is not None else rng.randint(1, 2**31)
    chat = chat or rng.randint(1, 10_000)
    return {"update_id": uid, "message": {"message_id": uid, "date": int(time.time()), "text": rng.choice(["hi", "hello?", "price"]),
            "from": {"id": chat, "is_bot": False, "first_name": "Fuzz"}, "chat": {"id": chat, "type": "private", "first_name": "Fuzz"}}}


def widget_token(secret, channel, visitor=None, issued=None):
    key = hashlib.sha256(secret.encode()).digest()
    visitor = visitor or os.urandom(12).hex()
    issued = issued or int(time.time())
    mac = hmac.new(key, f"switchboard-widget/v1/{channel}/{visitor}/{issued}".encode(), hashlib.sha256).digest()
    return f"v1.{visitor}.{issued}." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def forged_token(rng, secret, channel):
    good = widget_token(secret, channel)
    kind = rng.randrange(6)
    if kind == 0:
        return good[:-2] + "AA"
    if kind == 1:
        return widget_token("wrong-secret-" + "x" * 30, channel)
    if kind == 2:
        return widget_token(secret, "other")
    if kind == 3:
        return "v1." + "." * rng.randint(0, 5) + rand_bytes(rng, 20).hex()
    if kind == 4:
        return good.replace("v1.", "v2.")
    return rng.choice(WEIRD_STRINGS)[:500]


# ---------------------------------------------------------------------------------------------
# The wire.

class Result:
    def __init__(self):
        self.cases = 0
        self.status = {}
        self.five_xx = []
        self.no_answer = 0
        self.errors = {}
        self.ws_close = {}

    def record(self, route, status):
        self.cases += 1
        key = (route, status)
        self.status[key] = self.status.get(key, 0) + 1


def request_bytes(method, path, headers, body, content_length="auto"):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}"]
    for name, value in headers:
        lines.append(f"{name}: {value}")
    if content_length == "auto":
        lines.append(f"Content-Length: {len(body)}")
    elif content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


async def exchange(port, payload, slow=None, close_early=False, timeout=20.0, source=None):
    """Sends `payload` (optionally in slow pieces) while reading the answer, as a real client
    does — the gateway may answer (401, 413) before the body is sent. Returns the status code,
    -1 for an answer that is not HTTP, or None when the connection closed without one."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, local_addr=(source, 0) if source else None), timeout)
    sock = writer.get_extra_info("socket")
    # Close with RST: 100,000 connections must not exhaust loopback ports in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async def send():
        try:
            if slow:
                pieces, delay = slow
                step = max(1, len(payload) // pieces)
                for i in range(0, len(payload), step):
                    writer.write(payload[i:i + step])
                    await writer.drain()
                    await asyncio.sleep(delay)
            else:
                writer.write(payload)
                await writer.drain()
            if close_early:
                writer.write_eof()
        except (ConnectionError, OSError):
            pass  # the gateway closed: the answer, if any, is read below

    sending = asyncio.create_task(send())
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n"), timeout)
        parts = head.split(b" ")
        return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else -1
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        return None
    finally:
        sending.cancel()
        writer.close()


def ws_frame(opcode, payload, fin=True, mask=True, rsv=0, length_override=None):
    n = len(payload) if length_override is None else length_override
    header = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        header += bytes([m | n])
    elif n < 65536:
        header += bytes([m | 126]) + struct.pack("!H", n)
    else:
        header += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return header + key + xor_mask(payload, key)


async def websocket_case(port, path, origin, frames, timeout=8.0, source=None):
    """Opens a widget socket and sends frames. Returns (handshake status or None, close code or None)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port, local_addr=(source, 0) if source else None), timeout)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    status, close = None, None
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        headers = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        if origin is not None:
            headers += f"Origin: {origin}\r\n"
        writer.write((headers + "\r\n").encode("utf-8", "surrogateescape"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ")[1])
        if status != 101:
            return status, None
        for frame in frames:
            writer.write(frame)
        await writer.drain()
        # Read until the server closes, or a short while.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            b0, b1 = await asyncio.wait_for(reader.readexactly(2), max(0.01, deadline - time.monotonic()))
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await reader.readexactly(8))[0]
            payload = await reader.readexactly(n)
            if b0 & 0x0F == 8:
                close = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                break
        return status, close
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, OSError):
        return status, close
    finally:
        writer.close()


# ---------------------------------------------------------------------------------------------
# Cases.

class Fuzzer:
    def __init__(self, args, rng):
        self.args = args
        self.rng = rng
        self.port = args.port
        self.result = {"unauthenticated": Result(), "authenticated": Result()}

    # Each generator returns (route label, coroutine).
    def webhook(self, authed):
        rng, a = self.rng, self.args
        path = rng.choice(["/webhooks/tg"] * 8 + ["/webhooks/web", "/webhooks/nope", "/webhooks/" + "x" * 3000, "/webhooks/%00", "/webhooks/tg?x=" + "y" * 2000])
        headers = [("Content-Type", rng.choice(["application/json", "text/plain", "", "application/json; charset=utf-16"]))]
        if authed:
            headers.append(("X-Telegram-Bot-Api-Secret-Token", a.tg_secret))
        else:
            secret = rng.choice([None, "", "wrong", a.tg_secret[:-1], a.tg_secret + "x", a.tg_secret.upper(), "\u00e9" * 10])
            if secret is not None:
                headers.append(("X-Telegram-Bot-Api-Secret-Token", secret))
        return "webhook", self.http_case("POST" if rng.random() < 0.95 else rng.choice(["GET", "PUT", "DELETE"]), path, headers,
                                         lambda: hostile_json_body(rng, telegram_update(rng)))

    def admin_api(self, authed):
        rng, a = self.rng, self.args
        method, path, template = rng.choice([
            ("GET", "/api/employees", None), ("GET", "/api/followups?search=" + rng.choice(["", "%ff%fe", "a" * 300, "%00", "михаил"]), None),
            ("GET", "/api/followups?limit=" + rng.choice(["-1", "0", "999999999999999999999", "abc", "1e3"]), None),
            ("GET", "/api/chats/" + rng.choice(["1", "0", "-1", "99999999999999999999", "%ff", "x" * 500, "1;DROP"]), None),
            ("POST", "/api/chats/" + rng.choice(["1", "2", "x", "%c0%af"]) + "/followup", {"enabled": False}),
            ("POST", "/api/chats/" + rng.choice(["1", "2", "x"]) + "/messages", {"text": "hello"}),
            ("GET", "/api/usage?employee=alexey&from=" + rng.choice(["2026-01-01", "x", "9999-99-99", "-1"]) + "&to=" + rng.choice(["2026-02-01", "", "0000-00-00"]), None),
            ("GET", "/api/" + rng.choice(["", "..", "%2e%2e/", "chats", "chats/1/messages"]), None),
        ])
        headers = [("Content-Type", "application/json")]
        if authed:
            headers.append(("Authorization", f"Bearer {a.admin_token}"))
        else:
            bad = rng.choice([None, "Bearer", "Bearer ", f"Bearer {a.admin_token[:-1]}", f"bearer {a.admin_token}", "Basic YWRtaW46YWRtaW4=",
                              "Bearer " + "x" * 5000, f"Bearer {a.admin_token}\u0000"])
            if bad is not None:
                headers.append(("Authorization", bad))
        return "admin_api", self.http_case(method, path, headers, lambda: hostile_json_body(rng, template) if method == "POST" else b"")

    def signin(self, authed):
        rng, a = self.rng, self.args
        def body():
            kind = rng.randrange(6)
            token = a.admin_token if authed else rng.choice(["", "wrong", a.admin_token[:-1], "%00", "x" * 3000])
            if kind == 0:
                return rand_bytes(rng)
            if kind == 1:
                return ("&" * rng.randint(1, 5000)).encode()
            if kind == 2:
                return f"token={token}&next=" .encode() + rng.choice([b"/%09/evil.example", b"//evil", b"\\\\evil", b"/followups", b"%ff%fe", b"/%0d%0aSet-Cookie:x"])
            if kind == 3:
                return b"token=" + rng.choice(INVALID_UTF8) * 10 + b"&next=%" + rand_bytes(rng, 3)
            if kind == 4:
                return ("=".join(rng.choice(["token", "next", "%", "%%", "a"]) for _ in range(rng.randint(1, 500)))).encode()
            return f"token={token}".encode()
        method, path = rng.choice([("POST", "/signin"), ("GET", "/signin?next=" + rng.choice(["/%09/x", "//x", "%ff", "/" + "a" * 5000])),
                                   ("POST", "/signout"), ("POST", "/chats/1/followup"), ("GET", "/followups?search=%ff"), ("GET", "/chats/%00")])
        return "signin", self.http_case(method, path, [("Content-Type", "application/x-www-form-urlencoded")], body)

    def widget_http(self, authed):
        rng, a = self.rng, self.args
        path = "/widget/" + rng.choice(["web"] * 8 + ["tg", "nope", "%ff"]) + "/" + rng.choice(["session"] * 6 + ["widget.js", "demo", "ws", "x", "..%2f..%2fetc"])
        method = rng.choice(["POST"] * 6 + ["GET", "OPTIONS", "HEAD"])
        origin = rng.choice([None, "http://localhost:8000", "null", "https://evil.example", "http://localhost:8000/", "\u00e9", "x" * 3000])
        headers = [("Content-Type", "text/plain;charset=UTF-8")]
        if origin is not None:
            headers.append(("Origin", origin))
        token = widget_token(a.widget_secret, "web") if authed else forged_token(rng, a.widget_secret, "web")
        return "widget_http", self.http_case(method, path, headers, lambda: hostile_json_body(rng, {"visitor_token": token}))

    def widget_ws(self, authed):
        rng, a = self.rng, self.args
        token = widget_token(a.widget_secret, "web") if authed else forged_token(rng, a.widget_secret, "web")
        auth = ws_frame(1, json.dumps({"type": "auth", "visitor_token": token, "last_seq": rng.choice([None, 0, -1, 2**70, "x"])}).encode())
        frames = [auth] if rng.random() < 0.8 else []
        for _ in range(rng.randint(1, 4)):
            kind = rng.randrange(12)
            if kind == 0:
                frames.append(ws_frame(1, hostile_json_body(rng, {"type": "message", "client_msg_id": "abc", "text": "hi"})))
            elif kind == 1:
                frames.append(ws_frame(2, rand_bytes(rng)))  # binary
            elif kind == 2:
                frames.append(ws_frame(1, rng.choice(INVALID_UTF8) * 5))
            elif kind == 3:
                frames.append(ws_frame(rng.choice([3, 4, 5, 6, 7, 11, 12, 15]), rand_bytes(rng, 5)))  # reserved opcodes
            elif kind == 4:
                frames.append(ws_frame(1, b'{"type":"message"', fin=False) + ws_frame(0, b',"text":"x' + b"a" * 20000, fin=False))  # fragments
            elif kind == 5:
                frames.append(ws_frame(1, b"{}", length_override=2**62)[:20])  # a length that lies
            elif kind == 6:
                frames.append(ws_frame(1, b'{"type":"ping"}', mask=False))  # unmasked from a client
            elif kind == 7:
                frames.append(ws_frame(9, rand_bytes(rng, rng.choice([0, 125]))) * rng.randint(1, 50))  # ping flood
            elif kind == 8:
                frames.append(ws_frame(1, json.dumps({"type": "message", "client_msg_id": rng.choice(["", "x" * 65, "../", "ok_1"]),
                                                      "text": rng.choice(WEIRD_STRINGS)[:5000]}).encode()))
            elif kind == 9:
                frames.append(ws_frame(1, json.dumps({"type": rng.choice(["profile", "auth", "typing", "", None, 5]),
                                                      "name": rng.choice(WEIRD_STRINGS)[:300], "email": rng.choice(["a@b", "x" * 400, None, 1])}).encode()))
            elif kind == 10:
                frames.append(ws_frame(1, b"x", rsv=rng.randint(1, 7)))  # reserved bits
            else:
                frames.append(rand_bytes(rng, rng.choice([1, 10, 100])))  # not a frame at all
        path = "/widget/" + rng.choice(["web"] * 9 + ["nope"]) + "/ws"
        origin = rng.choice([None, "http://localhost:8000", "http://localhost:8000", "https://evil.example", "null"])
        return "widget_ws", websocket_case(self.port, path, origin, frames, source=self.source(authed))

    def framing(self, authed):
        """Broken HTTP: bad Content-Length, lies, garbage heads, slow and stalled bodies."""
        rng, a = self.rng, self.args
        path = rng.choice(["/webhooks/tg", "/api/chats/1/messages", "/signin", "/widget/web/session"])
        auth = [("X-Telegram-Bot-Api-Secret-Token", a.tg_secret), ("Authorization", f"Bearer {a.admin_token}")] if authed else []
        body = hostile_json_body(rng, telegram_update(rng))
        kind = rng.randrange(12)
        slow, close_early = None, False
        if kind == 0:
            payload = request_bytes("POST", path, auth, body, content_length=rng.choice(["-1", "abc", "1e3", "0x10", " ", "99999999999999999999"]))
        elif kind == 1:
            payload = request_bytes("POST", path, auth + [("Content-Length", "3")], body)  # duplicated
        elif kind == 2:
            payload = request_bytes("POST", path, auth, body, content_length=len(body) + rng.randint(1, 1000))  # longer than sent
            close_early = True
        elif kind == 3:
            payload = request_bytes("POST", path, auth, body, content_length=max(0, len(body) - rng.randint(1, 10)))  # shorter: the rest is a "next request"
        elif kind == 4:
            payload = rand_bytes(rng, rng.choice([1, 16, 300, 5000]))
        elif kind == 5:
            payload = (rng.choice(["GET", "POST", "G\x00T", "PRI", "GET " * 100]) + " " + rng.choice(["/", "*", "http://evil/", "/" + "a" * 70000, "/%", "/\xff"]) +
                       " " + rng.choice(["HTTP/1.1", "HTTP/9.9", "HTTP/1", "", "HTTP/1.1\x00"]) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        elif kind == 6:
            payload = request_bytes("POST", path, auth + [("X-Big", "a" * rng.choice([20000, 40000, 100000]))], body)  # oversized head
        elif kind == 7:
            payload = request_bytes("POST", path, auth + [("Transfer-Encoding", "chunked")], b"", content_length=None) + \
                rng.choice([b"zz\r\n", b"fffffffffffffffff\r\n", b"5\r\nab\r\n0\r\n\r\n", b"-1\r\n", b"3;" + b"x" * 10000 + b"\r\nabc\r\n0\r\n\r\n"])
        elif kind == 8:
            payload = request_bytes("POST", path, auth + [("Transfer-Encoding", "chunked")], b"", content_length="5") + b"5\r\nhello\r\n0\r\n\r\n"
        elif kind == 9:
            payload = request_bytes("POST", path, auth, body)  # a slow but complete body
            slow = (rng.randint(3, 8), rng.uniform(0.05, 0.2))
        elif kind == 10:
            payload = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * rng.choice([10, 500, 3000])  # a head that never ends
            close_early = rng.random() < 0.5
        else:
            payload = request_bytes("POST", path, auth + [("Bad Header", "x"), ("X-\u00e9", "\u00e9"), ("X-Nul", "a\x00b")], body)
        return "framing", exchange(self.port, payload, slow=slow, close_early=close_early, source=self.source(authed))

    def stalled(self, authed):
        """A body that stops: the gateway must close the connection after body_timeout."""
        rng, a = self.rng, self.args
        auth = [("X-Telegram-Bot-Api-Secret-Token", a.tg_secret)] if authed else []
        payload = request_bytes("POST", "/webhooks/tg", auth, b'{"update_id": 1', content_length=1 << 20)
        return "stalled", exchange(self.port, payload, timeout=a.body_timeout + 10, source=self.source(authed))

    def http_case(self, method, path, headers, body_fn, authed=None):
        return exchange(self.port, request_bytes(method, path, headers, body_fn()), source=self.source(self.phase_authed))

    def source(self, authed):
        """Where a case comes from. The unauthenticated phase's wrong tokens lock their client out
        of the admin API for 15 minutes (as they should), so it speaks from other loopback
        addresses than the authenticated phase."""
        return "127.0.0.1" if authed else f"127.0.{self.rng.randint(2, 254)}.{self.rng.randint(1, 254)}"

    def next_case(self, authed):
        r = self.rng.random()
        if r < 0.30:
            return self.webhook(authed)
        if r < 0.45:
            return self.admin_api(authed)
        if r < 0.55:
            return self.signin(authed)
        if r < 0.70:
            return self.widget_http(authed)
        if r < 0.82:
            return self.widget_ws(authed)
        if r < 0.9995:
            return self.framing(authed)
        return self.stalled(authed)

    async def run_phase(self, phase, cases):
        result = self.result[phase]
        authed = phase == "authenticated"
        self.phase_authed = authed
        queue = asyncio.Queue(maxsize=self.args.concurrency * 2)

        async def worker():
            while True:
                item = await queue.get()
                if item is None:
                    return
                route, coro = item
                try:
                    outcome = await coro
                except (asyncio.TimeoutError, OSError) as error:
                    result.errors[type(error).__name__] = result.errors.get(type(error).__name__, 0) + 1
                    outcome = None
                if route == "widget_ws":
                    status, close = outcome if outcome else (None, None)
                    if status is None:
                        result.record(route, status)
                        result.no_answer += 1
                        continue
                    result.record(route, status)
                    if close is not None:
                        result.ws_close[close] = result.ws_close.get(close, 0) + 1
                else:
                    status = outcome
                    result.record(route, status)
                if status is None:
                    result.no_answer += 1
                elif isinstance(status, int) and status >= 500:
                    result.five_xx.append((route, status))

        workers = [asyncio.create_task(worker()) for _ in range(self.args.concurrency)]
        started = time.monotonic()
        for i in range(cases):
            await queue.put(self.next_case(authed))
            if (i + 1) % 10000 == 0:
                print(f"   {phase}: {i + 1}/{cases} cases, {time.monotonic() - started:.0f} s", file=sys.stderr)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        return time.monotonic() - started


# ---------------------------------------------------------------------------------------------
# Measurements.

def rss_kb(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values


SAMPLER_CHAT = 777000777


def row_counts(db):
    """Rows per table, leaving out the latency sampler's own chat (its webhooks are authenticated)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        sampler = connection.execute("SELECT id FROM chats WHERE channel_id = 'tg' AND conversation_key = ?", (str(SAMPLER_CHAT),)).fetchone()
        sampler = sampler[0] if sampler else ""
        counts = {}
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'")]
        for table in sorted(tables):
            columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
            if table == "chats":
                counts[table] = connection.execute('SELECT COUNT(*) FROM chats WHERE id != ?', (sampler,)).fetchone()[0]
            elif "chat_id" in columns:
                counts[table] = connection.execute(f'SELECT COUNT(*) FROM "{table}" WHERE chat_id != ?', (sampler,)).fetchone()[0]
            else:
                counts[table] = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        return counts
    finally:
        connection.close()


def sample_forever(port, tg_secret, interval, stop, results):
    """Runs in a process of its own, with blocking sockets, so the fuzzer's busy event loop does
    not add its own delays to the figures: times GET /healthz and an authenticated webhook."""
    rng = random.Random(1)
    update_id = 3_000_000_000
    samples = {"GET /healthz": [], "authenticated webhook": []}
    failures = {name: 0 for name in samples}

    def one(name, payload):
        started = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=10) as sock:
                sock.sendall(payload)
                head = sock.recv(64)
            ok = head.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = False
        if ok:
            samples[name].append((time.perf_counter() - started) * 1000)
        else:
            failures[name] += 1

    while not stop.is_set():
        one("GET /healthz", request_bytes("GET", "/healthz", [], b"", content_length=None))
        update_id += 1
        update = json.dumps(telegram_update(rng, update_id, chat=SAMPLER_CHAT)).encode()
        one("authenticated webhook", request_bytes("POST", "/webhooks/tg", [("Content-Type", "application/json"), ("X-Telegram-Bot-Api-Secret-Token", tg_secret)], update))
        stop.wait(interval)
    results.put((samples, failures))


def latency_report(samples, failures):
    lines = []
    for name, values in samples.items():
        if not values:
            lines.append(f"{name:24s} no successful samples ({failures[name]} failed)")
            continue
        values = sorted(values)

        def pct(p):
            return values[min(len(values) - 1, int(p / 100 * len(values)))]
        lines.append(f"{name:24s} n={len(values):5d}  p50 {pct(50):7.1f} ms  p99 {pct(99):7.1f} ms  max {values[-1]:7.1f} ms  failed {failures[name]}")
    return lines


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


async def healthz(port):
    try:
        return await exchange(port, request_bytes("GET", "/healthz", [], b"", content_length=None), timeout=10)
    except (OSError, asyncio.TimeoutError):
        return None


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--cases", type=int, default=100_000, help="total hostile inputs, split between the two phases")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--tg-secret", required=True)
    parser.add_argument("--widget-secret", required=True)
    parser.add_argument("--body-timeout", type=float, default=5)
    parser.add_argument("--sample-interval", type=float, default=0.2)
    parser.add_argument("--fake-telegram-port", type=int, default=0, help="serve a fake Telegram Bot API here")
    args = parser.parse_args()
    if args.fake_telegram_port:
        start_fake_telegram(args.fake_telegram_port)
    args.cases = max(2, min(args.cases, 2_000_000))
    args.concurrency = max(1, min(args.concurrency, 256))

    rng = random.Random(args.seed)
    fuzzer = Fuzzer(args, rng)
    stop_sampling = multiprocessing.Event()
    samples_queue = multiprocessing.Queue()
    sampler = multiprocessing.Process(target=sample_forever, args=(args.port, args.tg_secret, args.sample_interval, stop_sampling, samples_queue), daemon=True)
    rss_before = rss_kb(args.pid)
    print(f"== gateway pid {args.pid}, RSS {rss_before['VmRSS'] / 1024:.1f} MB; {args.cases} cases, seed {args.seed}, concurrency {args.concurrency}", file=sys.stderr)
    sampler.start()

    unauthenticated = args.cases // 2
    rows_before = row_counts(args.db)
    duration_u = await fuzzer.run_phase("unauthenticated", unauthenticated)
    await asyncio.sleep(1)  # let anything in flight land before counting
    rows_after_u = row_counts(args.db)
    duration_a = await fuzzer.run_phase("authenticated", args.cases - unauthenticated)

    stop_sampling.set()
    samples, failures = samples_queue.get(timeout=30)
    sampler.join(timeout=10)
    final_health = await healthz(args.port)
    is_alive = alive(args.pid)
    rss_after = rss_kb(args.pid) if is_alive else {"VmRSS": 0, "VmHWM": 0}
    rows_end = row_counts(args.db)

    print()
    print(f"seed {args.seed}, {args.cases} cases, concurrency {args.concurrency}")
    print(f"gateway alive after the run: {'yes' if is_alive else 'NO'}; GET /healthz → {final_health}")
    unauth_rows = {t: rows_after_u[t] - rows_before.get(t, 0) for t in rows_after_u if rows_after_u[t] != rows_before.get(t, 0)}
    print(f"rows written by the unauthenticated phase: {sum(unauth_rows.values())} {unauth_rows if unauth_rows else ''}")
    auth_rows = {t: rows_end[t] - rows_after_u.get(t, 0) for t in rows_end if rows_end[t] != rows_after_u.get(t, 0)}
    print(f"rows written by the authenticated phase (valid credentials, expected): {auth_rows}")
    print(f"RSS before {rss_before['VmRSS'] / 1024:.1f} MB, after {rss_after['VmRSS'] / 1024:.1f} MB, peak {rss_after['VmHWM'] / 1024:.1f} MB")
    total_5xx = 0
    for phase, duration in (("unauthenticated", duration_u), ("authenticated", duration_a)):
        result = fuzzer.result[phase]
        total_5xx += len(result.five_xx)
        print(f"\n{phase}: {result.cases} cases in {duration:.0f} s ({result.cases / max(duration, 0.001):.0f}/s); 5xx: {len(result.five_xx)}; closed without an answer: {result.no_answer}")
        routes = sorted({route for route, _ in result.status})
        for route in routes:
            statuses = sorted(((s, n) for (r, s), n in result.status.items() if r == route), key=lambda x: (x[0] is None, str(x[0])))
            print(f"  {route:12s} " + ", ".join(f"{'closed' if s is None else s}×{n}" for s, n in statuses))
        if result.ws_close:
            print("  widget_ws close codes: " + ", ".join(f"{c}×{n}" for c, n in sorted(result.ws_close.items())))
        if result.errors:
            print(f"  client-side errors: {result.errors}")
        if result.five_xx:
            print(f"  5xx samples: {result.five_xx[:10]}")
    print("\nlatency of normal requests during the run:")
    for line in latency_report(samples, failures):
        print("  " + line)
    ok = is_alive and final_health == 200 and total_5xx == 0 and not unauth_rows
    print(f"\nverdict: {'PASS' if ok else 'FAIL'} (crashes {0 if is_alive else 1}, 5xx {total_5xx}, unauthenticated rows {sum(unauth_rows.values())})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
