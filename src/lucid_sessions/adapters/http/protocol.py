"""Limits before the app: uvicorn's httptools protocol, bounded.

uvicorn's httptools protocol parses a request line and headers of any size (httptools joins a
header's pieces in memory until it ends) and waits for them for as long as the client likes;
a request whose body the app never reads (a 401 before a JSON body, say) keeps its connection
while the client trickles the rest. `bounded_protocol` returns a subclass that:

- refuses a request line and headers larger than `max_header_bytes` together with 431 (JSON
  body, `Connection: close`) as soon as the bytes received pass the cap: nothing larger is
  ever buffered;
- refuses a request line and headers that have not all arrived `header_timeout_seconds` after
  the connection opened, the first byte of the request arrived, or the previous answer went
  out, with 408;
- answers with `Connection: close` when the answer starts before the request's body has all
  arrived, then closes with a lingering close (a FIN, then at most `LINGER_SECONDS` of
  dropping what the client still sends), instead of reading and dropping the rest for as
  long as the client sends it, or resetting the connection under the answer;
- answers malformed HTTP with the same JSON error body as every other error (uvicorn's is
  plain text).

Bodies the app reads have their own limits (`JsonBodyMiddleware`, the chunk upload). Each
refusal is one `request_refused` log line. The parser itself (llhttp) and everything after the
headers are uvicorn's, unchanged.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = ["HeaderLimits", "bounded_protocol"]

_log = structlog.get_logger("lucid_sessions.http")


@dataclass(frozen=True, slots=True)
class HeaderLimits:
    max_header_bytes: int
    header_timeout_seconds: float


LINGER_SECONDS = 2.0
"""How long a connection closed after an early answer keeps reading (and dropping) what the
client still sends, so that the answer reaches it before the connection goes."""


def _refusal(status: int, detail: str) -> bytes:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    head = (
        b"content-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n"
        b"x-request-id: " + uuid.uuid4().hex.encode() + b"\r\n\r\n"
    )
    return STATUS_LINE[status] + head + body


class _BoundedProtocol(HttpToolsProtocol):
    limits: HeaderLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True  # the next bytes belong to a request line or headers
        self._head_since: float | None = None  # when the current header phase began
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    # -- the header phase ------------------------------------------------------------------
    # One timer per connection, not one per request: a header phase that starts while the
    # timer runs is checked when it fires, and the timer is set again for what is left.

    def _head_begins(self) -> None:
        if self._head_since is None:
            self._head_since = self.loop.time()
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self.limits.header_timeout_seconds, self._check_head
            )

    def _check_head(self) -> None:
        self._head_timer = None
        if self._head_since is None:
            return  # no header phase under way; the next one sets the timer again
        left = self._head_since + self.limits.header_timeout_seconds - self.loop.time()
        if left > 0:
            self._head_timer = self.loop.call_later(left, self._check_head)
            return
        seconds = self.limits.header_timeout_seconds
        self._refuse(408, f"the request line and headers did not arrive within {seconds:g} s")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` and close, or, while an earlier answer is still going out (a
        pipelined request), close once it has: nothing is written into it."""
        self._head_since = None
        if self.transport.is_closing():
            return
        _log.warning("request_refused", status=status, detail=detail)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            self.transport.pause_reading()
            return
        self.transport.write(_refusal(status, detail))
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP (httptools refused it): the JSON error body of every other answer."""
        self._refuse(400, msg)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_begins()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def linger(self) -> None:
        """Close without losing the answer: stop writing (the client reads the answer and
        then the end), drop what the client still sends, close after `LINGER_SECONDS` or
        when the client closes. Closing at once, with the client's bytes unread, would send
        a reset that may reach the client before the answer."""
        if self._lingering or self.transport.is_closing():
            return
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a body nobody reads
        if not self._in_head:
            _feed(self, data)
            return
        room = self.limits.max_header_bytes - self._head_bytes
        if len(data) <= room:
            self._head_bytes += len(data)
            _feed(self, data)
            return
        self._head_bytes += room
        _feed(self, data[:room])
        if self._in_head:
            cap = self.limits.max_header_bytes
            self._refuse(431, f"the request line and headers may have at most {cap} bytes")
            return
        if not self.transport.is_closing():
            _feed(self, data[room:])

    # -- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        _message_begins(self)
        self._head_begins()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_since = False, None
        before = self.cycle
        _headers_complete(self)
        cycle = self.cycle
        if cycle is None or cycle is before:
            return  # an upgrade: no request cycle of ours
        answer = cycle.send

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start" and cycle.more_body:
                # The answer goes out before the body has arrived (a refusal, a route that
                # reads no body): say `Connection: close` and close after it, lingering a
                # moment so the answer is not lost to a reset, rather than read and drop
                # what the client goes on sending for as long as it likes.
                cycle.keep_alive = False
                cycle.transport = _LingeringClose(self)  # type: ignore[assignment]
            await answer(message)

        cycle.send = send  # type: ignore[method-assign]  # the ASGI task has not run yet

    def on_message_complete(self) -> None:
        _message_complete(self)
        self._in_head, self._head_bytes = True, 0

    def on_response_complete(self) -> None:
        _response_complete(self)
        if self._in_head and not self.transport.is_closing():
            self._head_begins()


class _LingeringClose:
    """The connection as a request cycle sees it once its answer must close it: `close()`
    lingers (`_BoundedProtocol.linger`); everything else is the transport's."""

    def __init__(self, protocol: _BoundedProtocol) -> None:
        self._protocol, self._transport = protocol, protocol.transport

    def close(self) -> None:
        self._protocol.linger()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


# uvicorn's own methods, called directly (no `super()` lookup on every request).
_feed = HttpToolsProtocol.data_received
_message_begins = HttpToolsProtocol.on_message_begin
_headers_complete = HttpToolsProtocol.on_headers_complete
_message_complete = HttpToolsProtocol.on_message_complete
_response_complete = HttpToolsProtocol.on_response_complete


def bounded_protocol(limits: HeaderLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with `limits` (pass it as `uvicorn.Config(http=...)`)."""
    return type("BoundedHttpToolsProtocol", (_BoundedProtocol,), {"limits": limits})
