"""A real SMTP server for the end-to-end tests: it accepts every message and records it.

Usage: smtp_sink.py --port P --out DIR [--fail-first N]

Listens on 127.0.0.1:P (plain SMTP, no TLS, no AUTH), prints one line `ready` once listening,
and serves until SIGTERM/SIGINT. Every message accepted (DATA) becomes one JSON file in DIR,
written atomically (a dot-prefixed temp name, then os.rename) and named
`{time_ns}-{counter}.json` (zero-padded) so that sorted names give arrival order. Fields:
mailFrom, rcptTos, raw (the message, utf-8 with replacement), and from Python's `email`
parser (policy=default): from, to, subject, messageId, date, headers ([name, value] pairs),
text and html (the text/plain and text/html body parts, or null), and attachments (every
other leaf part: {filename, contentType, content}, content decoded for text/*, else base64).
--fail-first N answers the first N RCPT commands `451 4.3.0 try again later`.

Needs aiosmtpd (scripts/test-tools/requirements.txt, installed by `make test-tools`).
"""

import argparse
import asyncio
import base64
import email
import email.policy
import itertools
import json
import os
import signal
import time

from aiosmtpd.smtp import SMTP


def text_of(part):
    try:
        return part.get_content()
    except (LookupError, ValueError):  # unknown charset or similar: best effort
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    header = lambda name: None if msg[name] is None else str(msg[name])  # noqa: E731
    attachments = [
        {
            "filename": part.get_filename(),
            "contentType": part.get_content_type(),
            "content": text_of(part)
            if part.get_content_maintype() == "text"
            else base64.b64encode(part.get_payload(decode=True) or b"").decode("ascii"),
        }
        for part in msg.walk()
        if not part.is_multipart() and part is not text and part is not html
    ]
    return {
        "from": header("from"),
        "to": header("to"),
        "subject": header("subject"),
        "messageId": header("message-id"),
        "date": header("date"),
        "headers": [[name, str(value)] for name, value in msg.items()],
        "text": None if text is None else text_of(text),
        "html": None if html is None else text_of(html),
        "attachments": attachments,
    }


class Sink:
    def __init__(self, out, fail_first):
        self.out, self.fail_left, self.counter = out, fail_first, itertools.count()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.fail_left > 0:
            self.fail_left -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        record = {"mailFrom": envelope.mail_from, "rcptTos": list(envelope.rcpt_tos),
                  "raw": raw.decode("utf-8", "replace")}
        record.update(parse(raw))
        name = f"{time.time_ns():020d}-{next(self.counter):06d}.json"
        tmp = os.path.join(self.out, f".{name}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        os.rename(tmp, os.path.join(self.out, name))
        return "250 OK message recorded"


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    handler = Sink(args.out, args.fail_first)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink", enable_SMTPUTF8=True),
        "127.0.0.1", args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
