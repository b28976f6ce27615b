"""An SMTP server for tests (aiosmtpd): records every message it accepts into a directory.

Each accepted message becomes NNNNNN.eml (the raw message) next to NNNNNN.json (the envelope).
Recipients steer failures: a local part starting with "tempfail" gets 451 at RCPT, "unknown"
gets 550 5.1.1 at RCPT, "rejectdata" gets 554 after DATA. With --user/--password, AUTH is
required (over plain text: the server only listens on loopback). The server picks a free port,
writes it to <dir>/port once it listens, and exits when its stdin closes (the test is done or
its process died).
"""
import argparse
import itertools
import json
import os
import socket
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Recorder:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox busy, try again later (test server)"
        if local.startswith("unknown"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@")[0].lower().startswith("rejectdata") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam (test server)"
        n = next(self.counter)
        base = os.path.join(self.directory, "%06d" % n)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Ok: queued as test-%d" % n


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = getattr(auth_data, "login", None) == self.user and getattr(auth_data, "password", None) == self.password
        return AuthResult(success=ok, handled=False)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    kwargs = {}
    if args.user:
        kwargs = dict(authenticator=Authenticator(args.user, args.password or ""), auth_required=True, auth_require_tls=False)
    last = None
    for _ in range(10):
        port = free_port()
        controller = Controller(Recorder(args.dir), hostname="127.0.0.1", port=port, **kwargs)
        try:
            controller.start()
        except Exception as error:  # the port was taken between probing and binding
            last = error
            continue
        with open(os.path.join(args.dir, "port.tmp"), "w") as f:
            f.write(str(port))
        os.rename(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
        try:
            sys.stdin.read()
        finally:
            controller.stop()
        return
    raise SystemExit("could not start: %s" % last)


if __name__ == "__main__":
    main()
