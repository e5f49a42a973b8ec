"""Server-Sent Events parsing (the text/event-stream format, WHATWG rules).

:func:`iter_events` reads a binary file-like object (an HTTP response) line
by line and yields one :class:`Event` per blank-line-terminated block:
``data:`` lines joined with ``\\n``, ``event:`` (default ``message``), ``id:``
and ``retry:``; comment lines (``: keep-alive``) are skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any, Iterator, Optional


@dataclass
class Event:
    """One SSE event: ``event`` type, ``data`` text, ``id`` (or None)."""

    event: str
    data: str
    id: Optional[str] = None
    retry: Optional[int] = None

    def json(self) -> Any:
        """The data parsed as JSON."""
        return json.loads(self.data)


def iter_events(stream: IO[bytes]) -> Iterator[Event]:
    """Yields the events of an SSE byte stream until it ends.

    An incomplete last block (the connection dropped mid-event) is not
    yielded: it was not received whole.
    """
    data: list = []
    event = ""
    ev_id: Optional[str] = None
    retry: Optional[int] = None
    have = False
    while True:
        raw = stream.readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace")
        if line.endswith("\n"):
            line = line[:-1]
        elif line.endswith("\r"):
            pass
        else:
            return  # a cut line: the connection dropped
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            if have:
                yield Event(event or "message", "\n".join(data), ev_id, retry)
            data, event, ev_id, retry, have = [], "", None, None, False
            continue
        if line.startswith(":"):
            continue
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        have = True
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            ev_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
