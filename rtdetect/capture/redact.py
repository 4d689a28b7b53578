"""Secrets out of URLs before anything prints or writes them.

Cameras are read with URLs such as ``rtsp://admin:S3cret@cam.local/stream`` or ``http://cam/video?user=admin&
password=S3cret``. A source's display name (what errors, messages, summaries, JSONL lines, video metadata and
bench reports show) is ``redact_url(url)``; the real URL goes only to the decoder.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry a secret (compared in lower case).
SECRET_PARAMS = frozenset({"password", "passwd", "pwd", "pass", "token", "access_token", "auth", "key",
                           "apikey", "api_key", "secret", "signature", "sig"})
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _redact_userinfo(netloc: str) -> str:
    if "@" not in netloc:
        return netloc
    userinfo, host = netloc.rsplit("@", 1)
    if ":" in userinfo:  # user:password → user:***
        return f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    return f"{MASK}@{host}"  # a lone user part is often a token


def redact_url(url: str) -> str:
    """``url`` with its password (or lone user token) and secret query values replaced by ``***``.

    ``rtsp://admin:S3cret@host:554/cam`` → ``rtsp://admin:***@host:554/cam``. Text that is not a URL with a
    scheme is returned unchanged.
    """
    if "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host: hide everything between scheme and path
        return f"{url.split('://', 1)[0]}://{MASK}"
    netloc = _redact_userinfo(parts.netloc)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted (for messages from libraries that quote the URL they were given)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
