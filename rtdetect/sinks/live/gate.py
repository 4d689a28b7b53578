"""Which TCP connections the live view takes, and how long a client may take to send a request's headers.

aiohttp bounds the size of a request's headers, but neither the time they take nor the number of open
connections: a few hundred clients that send half a request line and stall would each hold a file descriptor
until the process runs out (and the run with it). :class:`ConnectionGate` is the protocol factory between
the listening socket and aiohttp's (``web.Server``): a connection beyond ``max_per_client`` from one address
or ``max_connections`` in all is aborted as it is accepted, before aiohttp sees it, and an admitted one is
aborted when a request's headers are not in ``header_timeout_s`` after it opened or after its last response
(the server tells the gate when a request starts and ends: ``request_started`` / ``request_finished``).
"""
from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Limits:
    """What one client (address), and all of them together, may hold of the live view."""

    header_timeout_s: float = 5.0  # from connecting, or from the previous response, to a request's headers
    max_connections: int = 64  # open connections in all
    max_per_client: int = 16  # open connections from one address
    max_viewers: int = 4  # video streams in all
    max_viewers_per_client: int = 2  # video streams to one address


def _client_address(transport: asyncio.BaseTransport) -> str:
    """The peer's address (IP) of ``transport``, "" when the socket does not say."""
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


class ConnectionGate:
    """``ConnectionGate(limits, make_handler)`` is a protocol factory for ``loop.create_server``: each
    admitted connection is handed to a protocol from ``make_handler()`` (aiohttp's ``web.Server``)."""

    def __init__(self, limits: Limits, make_handler: Callable[[], asyncio.Protocol]) -> None:
        self.limits = limits
        self.make_handler = make_handler
        self._per_client: collections.Counter[str] = collections.Counter()
        self._open: dict[asyncio.BaseTransport, _Connection] = {}

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    @property
    def open(self) -> int:
        """Connections admitted and not yet closed."""
        return len(self._open)

    def admit(self, connection: _Connection, transport: asyncio.BaseTransport, client: str) -> bool:
        if len(self._open) >= self.limits.max_connections or self._per_client[client] >= self.limits.max_per_client:
            return False
        self._open[transport] = connection
        self._per_client[client] += 1
        return True

    def release(self, transport: asyncio.BaseTransport, client: str) -> None:
        if self._open.pop(transport, None) is not None:
            self._per_client[client] -= 1
            if not self._per_client[client]:
                del self._per_client[client]

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        """A request's headers are in: its connection has no header deadline while it is handled."""
        if (connection := self._open.get(transport)) is not None:
            connection.disarm()

    def request_finished(self, transport: asyncio.BaseTransport | None) -> None:
        """Handled: the next request on this connection (keep-alive) has ``header_timeout_s`` again."""
        if (connection := self._open.get(transport)) is not None:
            connection.arm()

    def abort_all(self) -> None:
        """Drop every connection still open (when the server stops), whatever its state."""
        for transport in list(self._open):
            transport.abort()


class _Connection(asyncio.Protocol):
    """One accepted connection: refused at once, or passed to aiohttp's protocol under a header deadline."""

    def __init__(self, gate: ConnectionGate) -> None:
        self._gate = gate
        self._handler: asyncio.Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._client = ""
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._client = _client_address(transport)
        if not self._gate.admit(self, transport, self._client):
            transport.abort()  # the descriptor is freed on the loop's next turn; aiohttp never sees it
            return
        self._transport = transport
        self._handler = self._gate.make_handler()
        self._handler.connection_made(transport)
        self.arm()

    def arm(self) -> None:
        self.disarm()
        if self._transport is not None and not self._transport.is_closing():
            loop = asyncio.get_running_loop()
            self._deadline = loop.call_later(self._gate.limits.header_timeout_s, self._transport.abort)

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handler is None:  # refused
            return
        self.disarm()
        self._gate.release(self._transport, self._client)
        self._handler.connection_lost(exc)

    # An admitted connection's traffic and flow control go to aiohttp's protocol unchanged (a refused one
    # is aborted before it can read or write).
    def data_received(self, data: bytes) -> None:
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()
