"""Who may see the live view: the bind address (``[HOST:]PORT``, loopback by default) and its token.

Binding anything but a loopback address needs a token (given as ``--token``, ``--token-file`` or
``$RTDETECT_TOKEN``, or generated here and printed by the caller); with a token every request must carry it
(``?token=`` or ``Authorization: Bearer``).
"""
from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from ...errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
TOKEN_ENV = "RTDETECT_TOKEN"
FOREIGN_FETCH_SITES = ("cross-site", "same-site")  # Sec-Fetch-Site of a request made for another site's page
# A Host header's shape (RFC 9110 section 7.2: uri-host [":" port]): a bracketed IPv6 literal or a reg-name /
# IPv4 address, then an optional run of ASCII digits (checked against 65535 below).
HOST_FIELD = re.compile(r"(\[[^\]]*\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(?::([0-9]*))?")


def parse_bind(value: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPv6]:PORT`` → (host, port); UsageError naming --serve otherwise."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port_ok = port.isascii() and port.isdigit() and int(port) <= 65535  # isdigit alone takes "²", int() does not
    if not host or "/" in host or " " in host or not port_ok:
        raise UsageError(f"--serve expects [HOST:]PORT (port 0-65535), got {value!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_of(field: str) -> str | None:
    """The host a ``Host`` header names, lower case and without brackets (``[::1]:8080`` → ``::1``); None when
    ``field`` is not ``host[:port]`` (a port beyond 65535 or not in ASCII digits, a stray character, an
    unbalanced or non-IPv6 bracket)."""
    match = HOST_FIELD.fullmatch(field)
    if match is None or (match[2] and int(match[2]) > 65535):
        return None
    host = match[1].lower()
    if host.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return None
    return host


def check_token(token: str | None, given_as: str = "--token") -> str | None:
    """``token`` as given, refused (UsageError naming ``given_as``) when too short to be a secret."""
    if token is not None and len(token) < 8:
        raise UsageError(f"{given_as} must be at least 8 characters")
    return token


def read_token(token: str | None, token_file: str | None, environ: Mapping[str, str]) -> str | None:
    """The live view's token: ``--token``, else the first line of ``--token-file``, else ``$RTDETECT_TOKEN``
    (the two that ``ps`` does not show), else None; UsageError when the file cannot be read, is empty, or
    a token is too short."""
    if token is not None and token_file is not None:
        raise UsageError("--token and --token-file are two ways to give one token: use one")
    if token is not None:
        return check_token(token)
    if token_file is not None:
        try:
            lines = Path(token_file).read_text(encoding="utf-8-sig").splitlines()  # a BOM is no part of it
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a UTF-8 text file"
            raise UsageError(f"--token-file {token_file}: cannot read it ({reason})") from None
        first = lines[0].strip() if lines else ""
        if not first:
            raise UsageError(f"--token-file {token_file}: the file is empty (the token is its first line)")
        return check_token(first, f"the token in --token-file {token_file}")
    return check_token(environ.get(TOKEN_ENV) or None, f"${TOKEN_ENV}")


def token_for(host: str, token: str | None) -> str | None:
    """The token requests must carry: ``token`` when given, a new random one for a non-loopback ``host``,
    else None (loopback without --token: open to local users, as any local port is)."""
    if check_token(token) is not None:
        return token
    return None if is_loopback(host) else secrets.token_urlsafe(18)


def token_matches(expected: str | None, query_token: str | None, authorization: str | None) -> bool:
    """Whether a request carrying ``query_token`` / an ``Authorization`` header may pass (constant time).
    Compared as bytes: "surrogatepass" encodes every string, one to one, so the surrogates aiohttp keeps for
    a header's non-UTF-8 bytes make a mismatch, never an error."""
    if expected is None:
        return True
    given = query_token
    if given is None and authorization and authorization.startswith("Bearer "):
        given = authorization[len("Bearer "):]
    return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                          expected.encode("utf-8", "surrogatepass"))


def is_cross_site(headers: Mapping[str, str], own_origin: str) -> bool:
    """Whether a browser sent this request for a page of another site (an ``<img>`` on a foreign page):
    ``Sec-Fetch-Site`` says so, or, from a browser that does not send it, ``Origin`` or ``Referer`` names
    an origin other than ``own_origin`` (``http://host:port`` as the request's Host header gives it)."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return site.lower() in FOREIGN_FETCH_SITES
    for name in ("Origin", "Referer"):
        value = headers.get(name)
        if value is not None and _origin(value) != own_origin.lower():
            return True
    return False


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower case ("" for an opaque origin such as ``null``, or for what
    is no URL, such as an unclosed ``[``)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
