"""A server-sent events decoder (the WHATWG event-stream format), fed one line at a time.

Shared by the sync and async clients: they only differ in how they read lines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry_ms: int | None = None


class SSEDecoder:
    """``decoder.feed(line)`` returns an event when a blank line ends one, else None."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._retry_ms: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        line = line.rstrip("\r\n")
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, e.g. a keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and not self._event:
            return None
        event = ServerSentEvent(
            event=self._event or "message", data="\n".join(self._data), id=self._id, retry_ms=self._retry_ms
        )
        self._event, self._data = "", []
        return event
