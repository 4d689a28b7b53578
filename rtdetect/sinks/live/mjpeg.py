"""The MJPEG-over-HTTP wire format (``multipart/x-mixed-replace``): what IP cameras send and the live view serves."""
from __future__ import annotations

BOUNDARY = "frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


def mjpeg_part(jpeg: bytes) -> bytes:
    """One part of the stream: the boundary line, the part's headers, the JPEG bytes and the closing CRLF."""
    return b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n" % (BOUNDARY.encode(), len(jpeg), jpeg)
