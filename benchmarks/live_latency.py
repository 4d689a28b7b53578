"""Capture → detections latency of a live RTSP source, measured with ``rtdetect bench`` on loopback.

GStreamer's RTSP server (``tools/rtsp_server.py``, x264 zero-latency) serves the demo clip (768x576) at its
own 10 fps, each frame stamped with its send time in a corner (``rtdetect.bench.stamp``); the bench reads the
stamp of every frame whose detections were just written and records its age. So the figure covers encoding,
RTP over loopback, decoding, waiting in the newest-frame slot and the whole pipeline (sinks: render +
encode to a temporary mp4). One run per RTSP transport, same model, same clip.

    python benchmarks/live_latency.py [--model yolov5s-seg] [--frames 100] [--transports tcp,udp] [--imgsz H W]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from live_servers import RtspServer, clip_frames, rtsp_server_missing  # noqa: E402

from rtdetect.bench import run_bench  # noqa: E402
from rtdetect.bench.report import to_markdown  # noqa: E402
from rtdetect.capture import StreamOptions, demo_clip_path  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolov5s-seg")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--transports", default="tcp,udp")
    parser.add_argument("--name", default="live_latency")
    parser.add_argument("--imgsz", type=int, nargs="+", help="the model's input (N or H W; default: the source's "
                        "aspect, as detection runs it)")
    args = parser.parse_args()
    reason = rtsp_server_missing()
    if reason:
        sys.exit(reason)
    frames = clip_frames(Path(demo_clip_path()), (768, 576), count=50)
    reports = {}
    for transport in args.transports.split(","):
        server = RtspServer(frames, size=(768, 576), fps=10, stamp=True)
        try:
            reports[transport] = run_bench(source=server.url(), model=args.model, frames=args.frames,
                                           warmup=args.warmup, sink="video",
                                           **({"imgsz": tuple(args.imgsz)} if args.imgsz else {}),
                                           stream_options=StreamOptions(rtsp_transport=transport))
        finally:
            server.kill()
        print(f"## RTSP over {transport}\n\n{to_markdown(reports[transport])}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(reports, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text("\n".join(f"## RTSP over {t}\n\n{to_markdown(r)}" for t, r in reports.items()))


if __name__ == "__main__":
    main()
