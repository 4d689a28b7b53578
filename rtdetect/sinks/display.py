"""A window showing the annotated frames; ``q`` or Esc asks the pipeline to stop."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import sys

import cv2

from ..errors import OutputError

QUIT_KEYS = (ord("q"), ord("Q"), 27)


def _x_socket_reachable(display: str) -> bool:
    """Whether something listens where X display ``display`` (``[host]:N[.S]``) should be."""
    host, _, number = display.rpartition(":")
    number = number.split(".")[0]
    if not number.isdigit():
        return False
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + int(number)), timeout=2).close()
    except OSError:
        return False
    return True


def x_display_reachable(display: str) -> bool:
    """Whether an X server accepts a connection at ``display``, asked the way OpenCV's Qt window asks it
    (libxcb's ``xcb_connect``, authentication included); without libxcb, whether its socket answers.
    Qt aborts the whole process when it cannot connect, so this is checked before a window is opened."""
    name = ctypes.util.find_library("xcb")
    if name is None:
        return _x_socket_reachable(display)
    xcb = ctypes.CDLL(name)
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)


def check_display() -> None:
    """Raise OutputError unless a window can be opened here (Linux: a reachable X display)."""
    if not sys.platform.startswith("linux"):
        return
    display = os.environ.get("DISPLAY")
    if not display and not os.environ.get("WAYLAND_DISPLAY"):
        raise OutputError("--show needs a display (DISPLAY is not set); use --save OUT.mp4 instead")
    if display and not x_display_reachable(display):
        raise OutputError(f"--show cannot open a window: the X display {display!r} does not answer; "
                          f"use --save OUT.mp4 instead")


class DisplaySink:
    needs_render = True

    def __init__(self, title: str = "rtdetect") -> None:
        check_display()
        self.title = title
        self.quit_requested = False
        self._open = False

    def write(self, frame, detections, rendered) -> None:
        cv2.imshow(self.title, rendered)
        self._open = True
        if (cv2.waitKey(1) & 0xFF) in QUIT_KEYS:
            self.quit_requested = True

    def close(self, *, failed: bool = False) -> None:
        if self._open:
            cv2.destroyWindow(self.title)
            self._open = False
