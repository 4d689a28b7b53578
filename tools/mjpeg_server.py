"""An MJPEG-over-HTTP camera on 127.0.0.1, as a separate process so that tests can kill it, stop it
(SIGSTOP) and restart it. Every connection gets frames from the start of the schedule:

    python mjpeg_server.py --image bus.jpg --fps 10 --sizes 640x480:12,320x240 [--port 0] [--per-connection N]

serves ``bus.jpg`` at 640x480 for the first 12 frames, then at 320x240, at 10 fps (``640x480:12,320x240:12``
alternates the two sizes every 12 frames). ``--per-connection N`` hangs up after N frames of a connection,
as cameras that drop their clients do. Prints ``port N`` once it
listens, then ``sent K`` after each frame (K counts frames over all connections), flushed.
"""
import argparse
import itertools
import http.server
import sys
import threading
import time

import cv2
import numpy as np

from rtdetect.sinks.live.mjpeg import CONTENT_TYPE, mjpeg_part


def parse_sizes(text: str) -> list[tuple[int, int, int | None]]:
    """``640x480:12,320x240`` → [(640, 480, 12), (320, 240, None)] (None: for the rest of the connection)."""
    out = []
    for part in text.split(","):
        size, _, count = part.partition(":")
        w, h = (int(v) for v in size.split("x"))
        out.append((w, h, int(count) if count else None))
    return out


def make_handler(image: np.ndarray, fps: float, sizes, counter, per_connection: int | None = None):
    jpegs = {(w, h): cv2.imencode(".jpg", cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA))[1].tobytes()
             for w, h, _ in sizes}

    def schedule():  # when every size has a count, the schedule repeats
        while True:
            for w, h, count in sizes:
                for _ in (range(count) if count is not None else iter(int, 1)):
                    yield jpegs[(w, h)]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.end_headers()
            try:
                for jpeg in itertools.islice(schedule(), per_connection):
                    self.wfile.write(mjpeg_part(jpeg))
                    self.wfile.flush()
                    with counter["lock"]:
                        counter["sent"] += 1
                        print(f"sent {counter['sent']}", flush=True)
                    time.sleep(1.0 / fps)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--sizes", default="640x480")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-connection", type=int, default=None, help="frames per connection, then hang up")
    args = parser.parse_args()
    image = cv2.imread(args.image)
    counter = {"lock": threading.Lock(), "sent": 0}
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port),
                                             make_handler(image, args.fps, parse_sizes(args.sizes), counter,
                                                                          args.per_connection))
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
