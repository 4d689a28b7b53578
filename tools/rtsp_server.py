#!/usr/bin/env python3
"""A real RTSP server on loopback for tests and benchmarks (GStreamer's RTSP server, Debian packages
``python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,ugly}``; run it with the system
``/usr/bin/python3``, which has ``gi``; ``tools/install_test_system_deps.sh`` installs them).

Raw BGR frames of WIDTHxHEIGHT arrive on stdin (whoever feeds them paces them and may stamp them) and
are pushed into an H.264 encoder (x264, zero-latency) as they arrive, for every connected client
(one shared media). Frames that arrive while no client is connected are discarded. Prints ``ready``
on stdout once it listens; ends when stdin closes or on SIGTERM.

    /usr/bin/python3 tools/rtsp_server.py --port 8554 --path /cam --size 320x240 --fps 15 [--user U --password P]
"""
import argparse
import os
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = ("( appsrc name=src is-live=true do-timestamp=true format=time "
          "caps=video/x-raw,format=BGR,width={w},height={h},framerate={fps}/1 ! videoconvert ! "
          "video/x-raw,format=I420 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
          "bitrate=4000 ! rtph264pay name=pay0 pt=96 config-interval=1 )")


class Feed:
    """Holds the appsrc of the live media (None while no client is connected)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.appsrc = None

    def on_configure(self, factory, media) -> None:
        with self.lock:
            self.appsrc = media.get_element().get_child_by_name("src")
        media.connect("unprepared", self.on_unprepared)

    def on_unprepared(self, media) -> None:
        with self.lock:
            self.appsrc = None

    def push(self, data: bytes) -> None:
        with self.lock:
            if self.appsrc is not None:
                self.appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(data))


def read_frames(feed: Feed, frame_bytes: int, loop) -> None:
    stdin = sys.stdin.buffer
    while True:
        data = stdin.read(frame_bytes)
        if len(data) < frame_bytes:
            break
        feed.push(data)
    GLib.idle_add(loop.quit)


def add_auth(server, factory, user: str, password: str) -> None:
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", user)
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    role = Gst.Structure.from_string(f"{user}, media.factory.access=(boolean)true, "
                                     "media.factory.construct=(boolean)true")[0]
    factory.add_role_from_structure(role)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/cam")
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(LAUNCH.format(w=width, h=height, fps=args.fps))
    factory.set_shared(True)
    feed = Feed()
    factory.connect("media-configure", feed.on_configure)
    if args.user:
        add_auth(server, factory, args.user, args.password or "")
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        sys.exit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: GLib.idle_add(loop.quit))
    threading.Thread(target=read_frames, args=(feed, width * height * 3, loop), daemon=True).start()
    print("ready", flush=True)
    loop.run()
    os._exit(0)  # the stdin reader may still hold its lock: skip an interpreter shutdown that would wait on it


if __name__ == "__main__":
    main()
