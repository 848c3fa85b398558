"""The HTTP server ``imagine serve`` runs: uvicorn on httptools, with the request head bounded.

httptools (the fast C parser uvicorn prefers) has no limit of its own on the size of a request's
head and grows a header value by concatenation as it arrives, so one client sending a 64 MiB header
costs every other request on the event loop seconds; and nothing times out a connection that never
finishes its head. The protocol here keeps httptools and adds both bounds:

- a head (request line and headers) larger than ``max_header_bytes`` is answered
  ``431 Request Header Fields Too Large`` in the error envelope and the connection is closed;
- a head not complete ``header_timeout_s`` after the connection opened (or, on a kept-alive
  connection, after the read that brought its first part) closes the connection, with
  ``408 Request Timeout`` if part of it came.

Bytes are counted as they arrive, before the parser sees them, so the cost is one addition per read.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from imagine_gateway.core.ids import new_request_id
from imagine_gateway.settings import Settings


def bounded_protocol(*, max_header_bytes: int, header_timeout_s: float) -> type[HttpToolsProtocol]:
    """An httptools protocol class with these bounds on every request head."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_bytes = 0
            self._in_head = True
            self._head_timer: asyncio.TimerHandle | None = self.loop.call_later(
                header_timeout_s, self._head_timed_out
            )

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            # Checked after the parser ran: a read that completed the head (and carries body bytes
            # after it) has left the head behind, whatever its size. A head that arrives in one read,
            # the usual case, costs no timer.
            if not self._in_head or self.transport.is_closing():
                return
            if self._head_bytes > max_header_bytes:
                self._refuse(
                    431,
                    "headers_too_large",
                    f"The request head is larger than the limit of {max_header_bytes} bytes.",
                )
            elif self._head_timer is None and self._head_bytes:
                self._head_timer = self.loop.call_later(header_timeout_s, self._head_timed_out)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._head_bytes = 0
            self._cancel_head_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head = True  # what arrives next is the head of the next request

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self._in_head or self.transport.is_closing():
                return
            if self._head_bytes:
                self._refuse(
                    408,
                    "request_timeout",
                    f"The request head was not complete within {header_timeout_s:g} s.",
                )
            else:
                self.transport.close()  # an idle connection that never started a request

        def _refuse(self, status: int, code: str, message: str) -> None:
            self._cancel_head_timer()
            body = json.dumps(
                {"error": {"code": code, "message": message, "requestId": new_request_id()}}
            ).encode()
            reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
            )
            self.transport.close()

    return BoundedHttpToolsProtocol


def http_protocol(settings: Settings) -> type[HttpToolsProtocol]:
    """The protocol class to give uvicorn (``http=``) for the bounds of ``settings``."""
    return bounded_protocol(
        max_header_bytes=settings.max_header_bytes, header_timeout_s=settings.header_timeout_s
    )
