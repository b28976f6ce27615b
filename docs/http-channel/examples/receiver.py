# A minimal receiver for the http channel's outbound messages (Python 3 standard library only).
# Run: HTTP_CHANNEL_SECRET=... python3 receiver.py 8080, and set outbound_url: http://127.0.0.1:8080/
import hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["HTTP_CHANNEL_SECRET"].encode()
seen = set()  # message_ids already handled; a real receiver keeps them in its database

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        timestamp = self.headers.get("X-Switchboard-Timestamp", "")
        expected = "sha256=" + hmac.new(SECRET, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        signature = self.headers.get("X-Switchboard-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300 or not hmac.compare_digest(expected, signature):
            return self.answer(401, {"error": "bad signature"})
        message = json.loads(body)
        if message["message_id"] not in seen:  # a retry repeats the message_id: deliver once
            seen.add(message["message_id"])
            print(f'{message["kind"]} to {message["chat_id"]}: {message["text"]}', flush=True)
        self.answer(200, {"ok": True})

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Receiver).serve_forever()
