"""Command line: the only module that reads argv and the environment.

    rtdetect --source SRC [options]          detect (the default command)
    rtdetect export MODEL.pt -o OUT.onnx     convert a checkpoint to ONNX
    rtdetect models                          list the model zoo
    rtdetect build --model M ...             build a TensorRT engine
    rtdetect bench --source SRC ...          per-stage FPS report
    rtdetect doctor                          NVIDIA driver, TensorRT build, whether they fit
    rtdetect batch --source GLOB --output-dir DIR   many files (or a stream list) on a Ray cluster ([cluster] extra)
    rtdetect val --data PATH                 mAP against a labelled COCO or YOLO dataset ([val] extra)

Exit status: 0 done; 1 any error (a wrong option or value included: one line ``rtdetect: error: ...`` on
stderr, no usage block, no traceback); 3 a live stream lost for good (its --reconnect budget spent; outputs
finalised); 128 + the signal's number on a stop signal (Ctrl-C/SIGINT 130, SIGTERM 143, SIGHUP 129; outputs
finalised, see ``rtdetect.signals``). Every option value is checked before any model work.
"""
from __future__ import annotations

import argparse
import os
import sys
from functools import partial

from . import options
from .errors import RtdetectError, UsageError, missing_extra
from .inference import BACKENDS, PRECISIONS
from .tracking.base import TRACKERS, with_track_thresh
from .version import rtdetect_version
from .signals import Interrupted, SignalStop, exit_status

EXIT_ERROR = 1
EXIT_SOURCE_LOST = 3
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with this project's error convention: one line and exit status 1 (see the module doc)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _number(kind, check, *args):
    """An argparse ``type``: parse with ``kind``, then ``check(option, value, *args)``; the option name is
    filled in by ``_option``."""
    def parse(text: str, option: str):
        try:
            value = kind(text)
        except ValueError:
            raise UsageError(f"{option} expects {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        return check(option, value, *args)
    return parse


def _option(parser: argparse.ArgumentParser, name: str, parse, **kwargs) -> None:
    """``add_argument(name, type=...)`` with ``parse`` told which option it checks."""
    parser.add_argument(name, type=partial(parse, option=name), **kwargs)


_FRACTION = _number(float, options.fraction)


def _count(minimum: int):
    return _number(int, options.at_least, minimum)


def _add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="version", version=f"rtdetect {rtdetect_version()}")


def _count_line(value: str) -> tuple[float, float, float, float]:
    from .tracking.counting import parse_line

    try:
        return parse_line(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _requested_imgsz(values: list[int] | None) -> int | tuple[int, int] | None:
    """Detection's --imgsz: None (not given), N (the long side; the short one follows the source) or (H, W)."""
    checked = _imgsz(values)
    if checked is None:
        return None
    return checked[0] if len(values) == 1 else checked


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and --imgsz, shared by detect, bench and build."""
    parser.add_argument("--model", default="yolov5s-seg", help="zoo name, .onnx file or official .pt checkpoint (default: yolov5s-seg)")
    parser.add_argument("--imgsz", type=int, nargs="+", metavar="N",
                        help=f"network input: N or H W, multiples of {options.STRIDE} up to {options.MAX_IMGSZ} "
                             "(default: 640; detection, bench and build --source: N is the long side, the short one follows the source; "
                             "a fixed-shape ONNX file uses its own)")


def _imgsz(values: list[int] | None) -> tuple[int, int] | None:
    """The checked --imgsz, or None when it was not given (the model's own or the default size)."""
    return None if values is None else options.imgsz(values)


def _add_threshold_options(parser: argparse.ArgumentParser) -> None:
    """--conf, --iou and --max-det, shared by detect and bench."""
    _option(parser, "--conf", _FRACTION, default=0.25, help="score threshold in [0, 1] (default: 0.25)")
    _option(parser, "--iou", _FRACTION, default=0.45, help="NMS IoU threshold in [0, 1] (default: 0.45)")
    _option(parser, "--max-det", _count(1), default=300, help="detections kept per frame, >= 1 (default: 300)")


def _add_stream_options(parser: argparse.ArgumentParser) -> None:
    """--timeout, --reconnect and --rtsp-transport (stream URLs), shared by detect and bench."""
    group = parser.add_argument_group("stream URLs (RTSP, HTTP/MJPEG, ...)")
    _option(group, "--timeout", _number(float, options.positive), default=5.0, metavar="S",
            help="longest stream open or read; a longer stall counts as a dropped connection (default: 5)")
    group.add_argument("--reconnect", default="5", metavar="N|DURATION|forever",
                       help="after a drop: N attempts, a duration (30s, 2m, 1h), forever, or 0 (default: 5)")
    group.add_argument("--rtsp-transport", choices=("tcp", "udp"), default="tcp", help="RTSP transport (default: tcp)")


def _stream_options(args: argparse.Namespace):
    """The stream options of ``args``; imports the capture package, so call it after ``_quiet_video_logs``."""
    from .capture import ReconnectBudget, StreamOptions

    try:
        budget = ReconnectBudget.parse(args.reconnect)
        return StreamOptions(timeout_s=args.timeout, reconnect=budget, rtsp_transport=args.rtsp_transport)
    except ValueError as exc:
        raise RtdetectError(str(exc)) from None


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    """--backend and --precision, as detection and batch take them."""
    parser.add_argument("--backend", default="auto", choices=BACKENDS, help="default: auto: TensorRT on a GPU, else the fastest CPU engine measured on this machine")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="default: auto: fp16 on TensorRT, measured and accuracy-guarded on the CPU")


def _detect_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect", description="Real-time object detection and segmentation.",
                     epilog="other commands: export, models, build, bench, doctor, batch, val (rtdetect COMMAND --help). "
                            "Exit status: 0 done, 1 error (one line on stderr), 3 live stream lost, 130 interrupted.")
    _add_version(parser)
    parser.add_argument("--source", required=True, help="webcam, a camera index, demo, a video file, a stream URL, an image, a folder (recursive) or a glob; "
                                                        "or a stream list (.txt, one source per line: every stream through one engine, with --output-dir)")
    parser.add_argument("--output-dir", metavar="DIR", help="with a stream list: each stream's outputs go to DIR/NAME/ "
                                                            "(detections.jsonl; annotated.mp4 with --save)")
    _add_model_options(parser)
    _add_engine_options(parser)
    _add_threshold_options(parser)
    parser.add_argument("--classes", nargs="+", metavar="CLASS", help="keep only these class ids or names")
    parser.add_argument("--show", action="store_true", help="open a window (q or Esc quits)")
    parser.add_argument("--save", metavar="OUT", nargs="?", const="",
                        help="annotated output: a video file for videos, cameras and streams; a folder (DIR/) for "
                             "images, or OUT.jpg for a single image; with a stream list, no value (each stream's own)")
    parser.add_argument("--json", metavar="OUT.jsonl", help="detections as JSON Lines, one per frame (.jsonl or .ndjson; - for stdout)")
    _option(parser, "--max-frames", _count(1), help="stop after N frames (N >= 1)")
    parser.add_argument("--track", action="store_true", help="follow objects across frames (ByteTrack): track ids in outputs, trails on video")
    parser.add_argument("--tracker", choices=list(TRACKERS), help="which tracker --track uses (implies --track; default bytetrack)")
    _option(parser, "--track-thresh", _FRACTION, metavar="SCORE",
            help="score a detection needs to start a track or lead the first association (default 0.45; implies --track)")
    parser.add_argument("--count-line", action="append", type=_count_line, default=[], metavar="X1,Y1,X2,Y2",
                        help="count tracks crossing this segment (frame pixels), per direction and class; repeatable; implies --track")
    parser.add_argument("--serve", nargs="?", const="127.0.0.1:8080", metavar="[HOST:]PORT",
                        help="live view in the browser (default 127.0.0.1:8080; a file plays at its own rate); "
                             "any non-loopback HOST needs a token")
    parser.add_argument("--token", help="the live view's access token (default: --token-file, else $RTDETECT_TOKEN, else "
                                        "none on loopback, else generated and printed)")
    parser.add_argument("--token-file", metavar="PATH", help="read the live view's token from the first line of PATH "
                                                             "(unlike --token, not shown by ps)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true", help="keep OpenCV/FFmpeg log messages")
    _add_stream_options(parser)
    return parser


def _export_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect export", description="Convert a YOLO checkpoint (.pt) or zoo model to ONNX.")
    _add_version(parser)
    parser.add_argument("model", help="official .pt checkpoint or zoo name")
    parser.add_argument("-o", "--output", required=True, help="output .onnx path (never the checkpoint itself)")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[640], metavar="N",
                        help=f"input size: N or H W, multiples of {options.STRIDE} up to {options.MAX_IMGSZ} (default: 640)")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch and input size")
    parser.add_argument("--half", action="store_true", help="float16 weights and input")
    parser.add_argument("--one-to-many", action="store_true",
                        help="end-to-end models (YOLOv10, YOLO26): export the one-to-many head, decoded with NMS")
    return parser


def _quiet_video_logs() -> None:
    # OpenCV and FFmpeg print multi-line warnings for every failed open; our errors say it in one line.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def _summary_line(result) -> str:
    """``name: N frames in S s (F FPS), D detections[; ...]`` for the end of a detection run."""
    from .outputs import plural as _plural

    summary, unit = result.summary, "image" if result.images else "frame"
    line = (f"{result.name}: {_plural(summary.frames, unit)} in {summary.seconds:.2f} s ({summary.fps:.1f} FPS), "
            f"{_plural(summary.detections, 'detection')}")
    if summary.frames_lost and result.images:
        line += f"; {_plural(summary.frames_lost, 'image')} skipped (could not be decoded)"
    elif summary.frames_lost:
        line += f"; {_plural(summary.frames_lost, 'frame')} could not be decoded (truncated or damaged input)"
    if summary.frames_dropped:
        line += f"; {_plural(summary.frames_dropped, 'stale live frame')} dropped"
    return line


def _serve_bind(args: argparse.Namespace) -> tuple[tuple[str, int] | None, str | None]:
    """The checked --serve address (None without it) and the live view's token (--token, --token-file or
    $RTDETECT_TOKEN; None: none given)."""
    if args.serve is None:
        for option, value in (("--token", args.token), ("--token-file", args.token_file)):
            if value is not None:
                raise UsageError(f"{option} needs --serve")
        return None, None
    from .sinks.live.access import parse_bind, read_token

    return parse_bind(args.serve), read_token(args.token, args.token_file, os.environ)


def run_detect(argv: list[str]) -> int:
    args = _detect_parser().parse_args(argv)
    imgsz = _requested_imgsz(args.imgsz)
    if not args.verbose:
        _quiet_video_logs()
    from .streams.lists import is_stream_list

    if is_stream_list(args.source):
        return _run_streams(args, imgsz)
    _one_source_usage(args)
    from .app import detect
    serve, token = _serve_bind(args)

    with SignalStop() as signals:
        result = detect(source=args.source, model=args.model, backend=args.backend, precision=args.precision,
                        conf=args.conf, iou=args.iou,
                        imgsz=imgsz, classes=args.classes, max_det=args.max_det, show=args.show, save=args.save,
                        json_path=args.json, max_frames=args.max_frames, progress=not args.no_progress,
                        track=_track_choice(args), count_lines=args.count_line,
                        stream_options=_stream_options(args), signals=signals, serve=serve, token=token)
    print(_summary_line(result), file=sys.stderr)
    from .outputs import describe_line_counts

    for line in describe_line_counts(result.summary.line_counts):
        print(line, file=sys.stderr)
    for written in result.written:
        print(f"rtdetect: wrote {written}", file=sys.stderr)
    if signals.signum is not None:
        print(f"rtdetect: stopped by {signals.name}; outputs hold every frame processed before the stop",
              file=sys.stderr)
        return exit_status(signals.signum)
    if result.summary.interrupted:
        print("rtdetect: interrupted; outputs hold every frame processed before the stop", file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.summary.source_lost:
        print(f"rtdetect: error: {result.summary.source_lost}; outputs hold every frame processed before",
              file=sys.stderr)
        return EXIT_SOURCE_LOST
    return 0


def _one_source_usage(args: argparse.Namespace) -> None:
    """UsageError for the options only a stream list takes."""
    if args.output_dir is not None:
        raise UsageError("--output-dir is for a stream list (--source streams.txt); one source takes --save/--json")
    if args.save == "":
        raise UsageError("--save needs an output path for one source (--save OUT.mp4)")


def _track_choice(args: argparse.Namespace):
    """What ``--track``, ``--tracker`` and ``--track-thresh`` ask for (``tracking.base.TrackChoice``)."""
    return with_track_thresh(args.tracker or args.track, args.track_thresh)


def _stream_list_usage(args: argparse.Namespace) -> None:
    """UsageError for an option a stream list cannot take (each stream's outputs go under --output-dir)."""
    refused = [("--show", args.show), ("--json", args.json is not None),
               ("--save OUT", bool(args.save))]
    for option, given in refused:
        if given:
            raise UsageError(f"{option} does not apply to a stream list: each stream's outputs go to "
                             f"--output-dir/NAME/ (use --save without a value for annotated videos)")
    if args.output_dir is None:
        raise UsageError("a stream list (--source *.txt) needs --output-dir DIR for its streams' outputs")


def _run_streams(args: argparse.Namespace, imgsz) -> int:
    """``rtdetect --source streams.txt --output-dir DIR``: every stream through one engine."""
    _stream_list_usage(args)
    from .app import detect_streams

    serve, token = _serve_bind(args)
    with SignalStop() as signals:
        result = detect_streams(source=args.source, output_dir=args.output_dir, model=args.model,
                                backend=args.backend, precision=args.precision, conf=args.conf, iou=args.iou,
                                imgsz=imgsz, classes=args.classes, max_det=args.max_det, save=args.save == "",
                                track=_track_choice(args), count_lines=args.count_line,
                                max_frames=args.max_frames,
                                stream_options=_stream_options(args),
                                signals=signals, serve=serve, token=token, progress=not args.no_progress)
    from .streams.report import describe

    for line in describe(result):
        print(line, file=sys.stderr)
    failed = [s for s in result.streams if s.status == "failed"]
    if signals.signum is not None:
        return exit_status(signals.signum)
    if result.interrupted:
        return EXIT_INTERRUPTED
    if failed:
        print(f"rtdetect: error: {len(failed)} of {len(result.streams)} streams failed", file=sys.stderr)
        return EXIT_ERROR
    if any(s.status == "lost" for s in result.streams):
        return EXIT_SOURCE_LOST
    return 0


def run_export(argv: list[str]) -> int:
    args = _export_parser().parse_args(argv)
    imgsz = options.imgsz(args.imgsz)
    from .models.zoo import export_model

    out = export_model(args.model, args.output, imgsz=imgsz, dynamic=args.dynamic, half=args.half,
                       one_to_many=args.one_to_many)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def run_models(argv: list[str]) -> int:
    _Parser(prog="rtdetect models", description="List the model zoo.").parse_args(argv)
    from .models.verified import family_checks
    from .models.zoo import list_models

    for info in list_models():
        print(info.describe())
    print("\nfamilies rtdetect imports (.pt checkpoints), and what each is verified against:")
    for check in family_checks():
        print(check.describe())
    return 0


def _names(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise UsageError(f"expected a comma-separated list, got {value!r}")
    return names


def _bench_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect bench", description="Per-stage latency, end-to-end and model-only FPS, CPU and memory, side by side.")
    _add_version(parser)
    parser.add_argument("--source", required=True, help="video file, demo, image folder... (as for detection)")
    _add_model_options(parser)
    parser.add_argument("--backend", type=_names, default=("onnxruntime",), help="comma-separated: onnxruntime,openvino,tensorrt, or auto: every candidate --backend auto considers here, with its agreement (default: onnxruntime)")
    parser.add_argument("--precision", type=_names, default=("fp32",), help="comma-separated: fp32,fp16,bf16,int8 (default: fp32)")
    _option(parser, "--frames", _count(1), default=100, help="frames counted per repeat (default: 100)")
    _option(parser, "--warmup", _count(0), default=10, help="frames and model calls run first and never counted (default: 10)")
    _option(parser, "--repeats", _count(1), default=1, help="measure each configuration N times, report medians (default: 1)")
    parser.add_argument("--sink", choices=("video", "render", "none"), default="video", help="video: render + encode to a temporary mp4 (default); render: render only; none")
    _option(parser, "--threads", _count(1), help="ONNX Runtime intra-op threads (default: the engine's)")
    parser.add_argument("--calib-source", help="INT8 calibration frames from this video/image/folder (default: --source)")
    _option(parser, "--calib-frames", _count(1), default=200, help="INT8 calibration frames, spread over the source (default: 200)")
    _add_threshold_options(parser)
    parser.add_argument("--data", metavar="PATH", help="a labelled dataset as rtdetect val takes it: adds each "
                                                       "configuration's box (and mask) mAP50-95 and mAP50, scored as "
                                                       "rtdetect val scores (its thresholds, this input shape)")
    parser.add_argument("--compare", metavar="'COMMAND'", help="another tool's command line on the same source (e.g. "
                        "'yolo predict model=yolov8n.pt source=clip.mp4'): run as a whole process beside the equivalent "
                        "rtdetect command, interleaved --repeats times after one untimed round; wall time, FPS, CPU time")
    _option(parser, "--compare-frames", _count(1), metavar="N", help="the frames both --compare commands process "
            "(default: the source's length; rtdetect's command gets --max-frames N)")
    parser.add_argument("--json", metavar="OUT.json", help="write the full report as JSON")
    parser.add_argument("--md", metavar="OUT.md", help="write the table as Markdown")
    parser.add_argument("--plot", metavar="OUT.png", help="plot per-stage latency and FPS (needs matplotlib)")
    _add_stream_options(parser)
    return parser


def _need_matplotlib() -> None:
    """UsageError naming the extra, before anything is measured, when ``--plot`` cannot draw here."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise missing_extra("--plot", "matplotlib", "bench") from None


def run_bench(argv: list[str]) -> int:
    args = _bench_parser().parse_args(argv)
    imgsz = _requested_imgsz(args.imgsz)  # detection's rule: the input shape follows the source
    _quiet_video_logs()
    from .bench import run_bench as bench
    from .bench.report import check_output_dirs, to_markdown, write_json, write_markdown

    check_output_dirs([args.json, args.md, args.plot])
    if args.plot:
        _need_matplotlib()

    def progress(message: str) -> None:
        print(f"rtdetect bench: {message}", file=sys.stderr, flush=True)

    try:
        report = bench(source=args.source, model=args.model, backends=args.backend, precisions=args.precision,
                       imgsz=imgsz, frames=args.frames, warmup=args.warmup, repeats=args.repeats,
                       sink=args.sink, threads=args.threads, calib_source=args.calib_source,
                       calib_frames=args.calib_frames, conf=args.conf, iou=args.iou, max_det=args.max_det,
                       data=args.data, compare=args.compare, compare_frames=args.compare_frames,
                       progress=progress, stream_options=_stream_options(args))
    except ValueError as exc:
        raise RtdetectError(str(exc)) from None
    print(to_markdown(report))
    if args.json:
        write_json(report, args.json)
    if args.md:
        write_markdown(report, args.md)
    if args.plot:
        from .bench.plot import write_plot

        write_plot(report, args.plot)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect build", description="Build a TensorRT engine (or find it in the engine cache).")
    _add_version(parser)
    _add_model_options(parser)
    parser.add_argument("--source", help="the source the engine will run on: its input shape then follows detection's "
                                         "rule for it (--imgsz N: long side N, e.g. 480x640 for a 4:3 video); without "
                                         "it, --imgsz N builds N x N")
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16", help="engine precision (default: fp16)")
    parser.add_argument("--calib-source", metavar="VIDEO|DIR", help="int8: a video or a folder of images/videos like the ones the model will see")
    _option(parser, "--calib-frames", _count(1), default=500, metavar="N", help="int8: frames to calibrate on, spread over the source (default: 500)")
    _option(parser, "--batch", _count(1), default=1, metavar="N", help="largest batch; above 1 needs a dynamic-batch model (.pt and zoo models are exported so)")
    _option(parser, "--device", _count(0), default=0, help="CUDA device ordinal (default: 0)")
    _option(parser, "--workspace", _number(float, options.positive), default=4.0, metavar="GB", help="TensorRT builder workspace (default: 4)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache root (default: $RTDETECT_CACHE, else $XDG_CACHE_HOME/rtdetect, else ~/.cache/rtdetect)")
    parser.add_argument("--rebuild", action="store_true", help="build even when a valid cached engine exists")
    return parser


def _build_input_hw(args: argparse.Namespace) -> tuple[int, int]:
    """The (H, W) ``rtdetect build`` builds for: detection's input shape for ``--source`` (so the prebuilt
    engine is the one `rtdetect --source SRC --backend tensorrt` opens), else the square ``--imgsz``."""
    from .input_shape import network_input_hw

    frame_hw = None
    if args.source:
        _quiet_video_logs()
        from .capture import open_source

        with open_source(args.source) as src:
            frame_hw = src.frame_hw
    return network_input_hw(_requested_imgsz(args.imgsz), frame_hw)


def run_build(argv: list[str]) -> int:
    args = _build_parser().parse_args(argv)
    from .inference.tensorrt.builder import build_engine
    from .inference.tensorrt.models import onnx_for_build
    from .trial_inputs import MediaFrames

    imgsz = _build_input_hw(args)
    onnx_path = onnx_for_build(args.model, imgsz=imgsz, batch=args.batch)
    paths = build_engine(onnx_path, precision=args.precision, batch=args.batch, imgsz=imgsz,
                         calibration=MediaFrames(args.calib_source) if args.calib_source else None,
                         calib_frames=args.calib_frames, cache_dir=args.cache_dir,
                         device=args.device, workspace_gb=args.workspace, rebuild=args.rebuild)
    print(f"{'built' if paths.built else 'cached'} {paths.engine} (metadata: {paths.sidecar.name})", file=sys.stderr)
    return 0


def run_doctor(argv: list[str]) -> int:
    _Parser(prog="rtdetect doctor", description="What the GPU path needs here: the NVIDIA driver's CUDA version, TensorRT's build, whether they fit.").parse_args(argv)
    from .inference.tensorrt.doctor import report

    for line in report():
        print(line)
    return 0


def _batch_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect batch", description="Many files, or the streams of a stream list, on a Ray cluster "
                     "(pip install -e '.[cluster]' in the clone): per-input JSONL (and annotated video with --save) under "
                     "--output-dir, a manifest, resume.")
    _add_version(parser)
    parser.add_argument("--source", required=True, help="a glob (quote it: 'archive/**/*.mp4'), a folder (recursive) or a file; "
                                                        "or a stream list (.txt: one source per line, grouped per actor, one engine each)")
    parser.add_argument("--output-dir", required=True, metavar="DIR", help="outputs mirror the input tree here, with manifest.json")
    _add_model_options(parser)
    _add_engine_options(parser)
    _add_threshold_options(parser)
    parser.add_argument("--classes", nargs="+", metavar="CLASS", help="keep only these class ids or names")
    parser.add_argument("--save", action="store_true", help="also write an annotated video per input")
    parser.add_argument("--track", action="store_true", help="follow objects across frames (ByteTrack), per input")
    parser.add_argument("--tracker", choices=list(TRACKERS), help="which tracker --track uses (implies --track)")
    parser.add_argument("--count-line", action="append", type=_count_line, default=[], metavar="X1,Y1,X2,Y2",
                        help="count tracks crossing this segment (frame pixels), per input; repeatable; implies --track")
    _option(parser, "--segment", _number(float, options.positive), metavar="SECONDS",
            help="cut videos longer than this into segments processed in parallel (JSONL only, not with --save)")
    parser.add_argument("--cluster", default="local", metavar="local|auto|ray://HOST:PORT|HOST:PORT",
                        help="local: Ray on this machine for this run (default); auto: the cluster `ray start` joined")
    _option(parser, "--actors", _count(1), help="workers, each with a warm engine (default: cluster CPUs / --threads)")
    _option(parser, "--threads", _count(1), default=1, help="inference threads (and CPUs reserved) per worker (default: 1)")
    _option(parser, "--stop-grace", _number(float, options.positive), default=options.DEFAULT_STOP_GRACE_S, metavar="SECONDS",
            help=f"after a stop signal, how long workers get to finish their frame and outputs before they are "
                 f"ended and their inputs recorded interrupted (default: {options.DEFAULT_STOP_GRACE_S:g})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_stream_options(parser)
    return parser


def run_batch(argv: list[str]) -> int:
    args = _batch_parser().parse_args(argv)
    _quiet_video_logs()
    from .cluster.driver import describe, run_batch as batch
    from .cluster.worker import BatchSettings

    settings = BatchSettings(model=args.model, imgsz=_requested_imgsz(args.imgsz), backend=args.backend,
                             precision=args.precision, conf=args.conf, iou=args.iou, max_det=args.max_det,
                             classes=tuple(args.classes) if args.classes else None, save=args.save,
                             track=args.tracker or args.track, count_lines=tuple(args.count_line),
                             segment_s=args.segment, threads=args.threads)
    if args.save and args.segment:
        raise UsageError("--segment cannot be combined with --save yet (segments of annotated video are not joined)")
    if (settings.track or settings.count_lines) and args.segment:
        raise UsageError("--segment cannot be combined with --track or --count-line (identities would restart in "
                         "every segment)")
    if args.segment and args.source.lower().endswith(".txt"):
        raise UsageError("--segment cuts files, not the streams of a stream list")
    result = batch(source=args.source, output_dir=args.output_dir, settings=settings, cluster=args.cluster,
                   actors=args.actors, progress=not args.no_progress, stream_options=_stream_options(args),
                   stop_grace_s=args.stop_grace)
    for line in describe(result):
        print(line, file=sys.stderr)
    if result.signum is not None:
        return exit_status(result.signum)
    if result.failures:
        print(f"rtdetect: error: {len(result.failures)} of {result.total} {result.unit}s failed (see {result.manifest})",
              file=sys.stderr)
        return EXIT_ERROR
    return 0


def _val_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtdetect val", description="Box (and mask) mAP of a model on a labelled dataset, scored by "
                     "pycocotools (pip install -e '.[val]' in the clone). Images are letterboxed square at --imgsz, as "
                     "detection runs a folder of images; classes are matched to the dataset's by name.")
    _add_version(parser)
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="COCO: a folder with annotations/*.json and its images, or the .json; "
                             "YOLO: a data .yaml (its val split), or a folder with one, or images/ + labels/")
    _add_model_options(parser)
    _add_engine_options(parser)
    _option(parser, "--conf", _FRACTION, default=0.001, help="score threshold in [0, 1] (default: 0.001)")
    _option(parser, "--iou", _FRACTION, help="NMS IoU threshold in [0, 1] (default: the family's own val: 0.6 for "
                                             "YOLOv5/v7 (anchor-based), 0.7 for YOLOv8 and later)")
    _option(parser, "--max-det", _count(1), default=300, help="detections kept per image, >= 1 (default: 300; "
                                                              "COCO's mAP counts the best 100 per image and class)")
    parser.add_argument("--classes", nargs="+", metavar="CLASS", help="score only these model class ids or names")
    parser.add_argument("--json", metavar="OUT.json", help="write the report as JSON")
    parser.add_argument("--save", metavar="DIR", help="write the 10 images with the most errors (missed objects and "
                                                      "false detections >= 0.25 at IoU 0.5), ground truth beside predictions")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run_val(argv: list[str]) -> int:
    args = _val_parser().parse_args(argv)
    from .files import check_output_dir, refuse_input_as_output
    from .val.report import to_table, write_json
    from .val.run import ValSettings, validate

    if args.json:
        check_output_dir(os.path.dirname(os.path.abspath(args.json)), "--json", create=False)
        refuse_input_as_output(args.json, [args.data], "--json")
    if args.save:
        check_output_dir(os.path.dirname(os.path.abspath(args.save)), "--save", create=False)
    settings = ValSettings(model=args.model, backend=args.backend, precision=args.precision,
                           imgsz=_requested_imgsz(args.imgsz), conf=args.conf, iou=args.iou, max_det=args.max_det,
                           classes=tuple(args.classes) if args.classes else None)
    result = validate(args.data, settings, progress=not args.no_progress, save=args.save)
    print(to_table(result))
    if args.json:
        write_json(result, args.json)
    if args.save:
        print(f"rtdetect: wrote {len(result.saved)} image(s) with errors to {args.save}", file=sys.stderr)
    return 0


# Subcommands: name → runner(argv) -> exit status. "detect" is also what a bare `rtdetect --source ...` runs.
RUNNERS = {
    "detect": run_detect,
    "export": run_export,
    "models": run_models,
    "bench": run_bench,
    "build": run_build,
    "doctor": run_doctor,
    "batch": run_batch,
    "val": run_val,
}


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] in RUNNERS:
        return RUNNERS[argv[0]](argv[1:])
    return run_detect(argv)


def _open_closed_standard_fds() -> None:
    """A process started with standard input, output or error closed gets each closed one opened on
    /dev/null, so that no file this run opens takes its number: FFmpeg and OpenCV write their messages to
    fd 2, which would land in an output. ``sys.stderr`` then writes there too (Python's ``print`` falls back
    to stdout when ``sys.stderr`` is None, which put the summary into ``--json -``'s stream);
    ``sys.stdout`` stays None when stdout was closed, so ``--json -`` is refused (``outputs``)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)


def main(argv: list[str] | None = None) -> int:
    """The ``rtdetect`` command (``argv`` None: this process's own arguments); returns the exit status."""
    if argv is None:
        _open_closed_standard_fds()
    status = _main(argv)
    if argv is None:
        from .capture.live import reader_still_blocked

        if reader_still_blocked():
            # A camera's reader is still blocked in FFmpeg after the run ended (its outputs are complete):
            # finalising the interpreter under it can crash the process (SIGSEGV seen after Ctrl-C on a hung
            # stream), so end here, the output streams flushed.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
    return status


def _main(argv: list[str] | None) -> int:
    try:
        with SignalStop():  # every command: SIGTERM/SIGHUP end it as Ctrl-C does (detect installs its own)
            return _dispatch(sys.argv[1:] if argv is None else argv)
    except RtdetectError as exc:
        print(f"rtdetect: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader of `--json -` went away (`| head`): stop, and write nothing more there
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("rtdetect: error: standard output was closed by its reader; stopped", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a file system refusal on an output or the cache: say what and where, in one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"rtdetect: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        print(f"rtdetect: interrupted ({exc})" if isinstance(exc, Interrupted) else "rtdetect: interrupted",
              file=sys.stderr)
        return exit_status(exc.signum) if isinstance(exc, Interrupted) else EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
