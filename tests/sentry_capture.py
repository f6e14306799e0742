"""A stand-in for Sentry on loopback: receives what a Sentry SDK sends (envelopes) and keeps each
one. Used by the error-reporting tests and by the benchmark's --sentry run."""

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CaptureServer(ThreadingHTTPServer):
    """Receives what a Sentry SDK sends (envelopes) and keeps each one, decompressed."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CaptureHandler)
        self.envelopes: list[bytes] = []
        self.dsn = f"http://publickey@127.0.0.1:{self.server_address[1]}/1"

    def items(self, item_type: str) -> list[dict]:
        """The payloads of the envelopes' items of one type ("event", "session" ...)."""
        return [json.loads(payload) for found, payload in self._items() if found == item_type]

    def item_counts(self) -> dict[str, int]:
        """How many items of each type arrived."""
        return dict(Counter(found for found, _ in self._items()))

    def _items(self) -> Iterator[tuple[str, bytes]]:
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")[1:]  # after the envelope's own header
            for header, payload in zip(lines[::2], lines[1::2], strict=False):
                yield json.loads(header).get("type"), payload


class _CaptureHandler(BaseHTTPRequestHandler):
    server: CaptureServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.envelopes.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass
