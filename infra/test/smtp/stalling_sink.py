"""An SMTP sink writing a Maildir (aiosmtpd's Mailbox handler) that stalls once.

The first RCPT TO it ever receives is answered only after --stall seconds, and a
marker file is written as the stall begins: whoever is sending is then inside
the SMTP exchange, before any of the message has been transmitted. The tests of
background jobs kill the sending worker at that moment (tests/api/backoffice/jobs.rs).
Every other command, and every later session, is served at once.

    python stalling_sink.py --port 2525 --maildir DIR --marker FILE --stall 30
"""

import argparse
import asyncio
import pathlib
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class StallingMailbox(Mailbox):
    def __init__(self, maildir, marker, stall):
        super().__init__(maildir)
        self.marker = pathlib.Path(marker)
        self.stall = stall
        self.stalled = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if not self.stalled:
            self.stalled = True
            self.marker.write_text("stalling\n")
            await asyncio.sleep(self.stall)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--stall", type=float, default=30.0)
    args = parser.parse_args()
    handler = StallingMailbox(args.maildir, args.marker, args.stall)
    controller = Controller(handler, hostname=args.host, port=args.port)
    controller.start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
