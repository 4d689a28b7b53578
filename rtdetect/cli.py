"""Command line: the only module that reads argv and the environment.

    rtdetect --source SRC [options]          detect (the default command)
    rtdetect export MODEL.pt -o OUT.onnx     convert a checkpoint to ONNX
    rtdetect models                          list the model zoo
    rtdetect build --model M ...             build a TensorRT engine
    rtdetect bench --source SRC ...          per-stage FPS report

Every input error is one line on stderr (``rtdetect: error: ...``) and exit status 1; Ctrl-C finalises
the outputs and exits with 130.
"""
from __future__ import annotations

import argparse
import os
import sys

from .errors import RtdetectError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _imgsz(values: list[int]) -> tuple[int, int]:
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError("--imgsz takes one size or H W")


def _count_line(value: str) -> tuple[float, float, float, float]:
    from .tracking.counting import parse_line

    try:
        return parse_line(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model and --imgsz, shared by detect, bench and build."""
    parser.add_argument("--model", default="yolov5s-seg", help="zoo name, .onnx file or official .pt checkpoint (default: yolov5s-seg)")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[640], metavar="N", help="network input: N or H W (default: 640)")


def _add_threshold_options(parser: argparse.ArgumentParser) -> None:
    """--conf, --iou and --max-det, shared by detect and bench."""
    parser.add_argument("--conf", type=float, default=0.25, help="score threshold (default: 0.25)")
    parser.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold (default: 0.45)")
    parser.add_argument("--max-det", type=int, default=300, help="detections kept per frame (default: 300)")


def _detect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtdetect", description="Real-time object detection and segmentation.",
                                     epilog="other commands: export, models, build, bench (rtdetect COMMAND --help)")
    parser.add_argument("--source", required=True, help="webcam, a camera index, demo, a video file, a stream URL, an image, a folder or a glob")
    _add_model_options(parser)
    parser.add_argument("--backend", default="auto", help="auto | onnxruntime | openvino | tensorrt (default: auto: TensorRT on a GPU, else the fastest CPU engine measured on this machine)")
    parser.add_argument("--precision", default="auto", help="auto | fp32 | fp16 | bf16 | int8 (default: auto: fp16 on TensorRT, measured and accuracy-guarded on the CPU)")
    _add_threshold_options(parser)
    parser.add_argument("--classes", nargs="+", metavar="CLASS", help="keep only these class ids or names")
    parser.add_argument("--show", action="store_true", help="open a window (q or Esc quits)")
    parser.add_argument("--save", metavar="OUT.mp4", help="write the annotated video")
    parser.add_argument("--json", metavar="OUT.jsonl", help="write detections, one JSON line per frame")
    parser.add_argument("--max-frames", type=int, help="stop after N frames")
    parser.add_argument("--track", action="store_true", help="follow objects across frames (ByteTrack): track ids in outputs, trails on video")
    parser.add_argument("--count-line", action="append", type=_count_line, default=[], metavar="X1,Y1,X2,Y2",
                        help="count tracks crossing this segment (frame pixels), per direction and class; repeatable; implies --track")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--verbose", action="store_true", help="keep OpenCV/FFmpeg log messages")
    return parser


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtdetect export", description="Convert a YOLO checkpoint (.pt) or zoo model to ONNX.")
    parser.add_argument("model", help="official .pt checkpoint or zoo name")
    parser.add_argument("-o", "--output", required=True, help="output .onnx path")
    parser.add_argument("--imgsz", type=int, nargs="+", default=[640], metavar="N", help="input size: N or H W")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch and input size")
    parser.add_argument("--half", action="store_true", help="float16 weights and input")
    return parser


def _quiet_video_logs() -> None:
    # OpenCV and FFmpeg print multi-line warnings for every failed open; our errors say it in one line.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def run_detect(argv: list[str]) -> int:
    args = _detect_parser().parse_args(argv)
    if not args.verbose:
        _quiet_video_logs()
    from .app import detect

    summary, name = detect(source=args.source, model=args.model, backend=args.backend, precision=args.precision,
                           conf=args.conf, iou=args.iou,
                           imgsz=_imgsz(args.imgsz), classes=args.classes, max_det=args.max_det, show=args.show,
                           save=args.save, json_path=args.json, max_frames=args.max_frames,
                           progress=not args.no_progress, track=args.track, count_lines=args.count_line)
    line = f"{name}: {summary.frames} frames in {summary.seconds:.2f} s ({summary.fps:.1f} FPS), {summary.detections} detections"
    if summary.frames_lost:
        line += f"; {summary.frames_lost} frames could not be decoded (truncated or damaged input)"
    if summary.frames_dropped:
        line += f"; {summary.frames_dropped} stale live frames dropped"
    print(line, file=sys.stderr)
    for totals in summary.line_counts:
        fmt = lambda counts: ", ".join(f"{n} {label}" for label, n in counts.items()) or "none"  # noqa: E731
        print(f"line {','.join(f'{v:g}' for v in totals['line'])}: in {fmt(totals['in'])}; out {fmt(totals['out'])}",
              file=sys.stderr)
    if summary.interrupted:
        print("rtdetect: interrupted; outputs hold every frame processed before the stop", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def run_export(argv: list[str]) -> int:
    args = _export_parser().parse_args(argv)
    from .models.zoo import export_model

    out = export_model(args.model, args.output, imgsz=_imgsz(args.imgsz), dynamic=args.dynamic, half=args.half)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def run_models(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="rtdetect models", description="List the model zoo.").parse_args(argv)
    from .models.zoo import list_models

    for info in list_models():
        print(info.describe())
    return 0


def _names(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return names


def _bench_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtdetect bench", description="Per-stage latency, end-to-end and model-only FPS, CPU and memory, side by side.")
    parser.add_argument("--source", required=True, help="video file, demo, image folder... (as for detection)")
    _add_model_options(parser)
    parser.add_argument("--backend", type=_names, default=("onnxruntime",), help="comma-separated: onnxruntime,openvino,tensorrt, or auto: every candidate --backend auto considers here, with its agreement (default: onnxruntime)")
    parser.add_argument("--precision", type=_names, default=("fp32",), help="comma-separated: fp32,fp16,bf16,int8 (default: fp32)")
    parser.add_argument("--frames", type=int, default=100, help="frames counted per repeat (default: 100)")
    parser.add_argument("--warmup", type=int, default=10, help="frames and model calls run first and never counted (default: 10)")
    parser.add_argument("--repeats", type=int, default=1, help="measure each configuration N times, report medians (default: 1)")
    parser.add_argument("--sink", choices=("video", "render", "none"), default="video", help="video: render + encode to a temporary mp4 (default); render: render only; none")
    parser.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads (default: the engine's)")
    parser.add_argument("--calib-source", help="INT8 calibration frames from this video/image/folder (default: --source)")
    parser.add_argument("--calib-frames", type=int, default=200, help="INT8 calibration frames, spread over the source (default: 200)")
    _add_threshold_options(parser)
    parser.add_argument("--json", metavar="OUT.json", help="write the full report as JSON")
    parser.add_argument("--md", metavar="OUT.md", help="write the table as Markdown")
    parser.add_argument("--plot", metavar="OUT.png", help="plot per-stage latency and FPS (needs matplotlib)")
    return parser


def run_bench(argv: list[str]) -> int:
    args = _bench_parser().parse_args(argv)
    _quiet_video_logs()
    from .bench import run_bench as bench
    from .bench.report import check_output_dirs, to_markdown, write_json, write_markdown

    check_output_dirs([args.json, args.md, args.plot])

    try:
        report = bench(source=args.source, model=args.model, backends=args.backend, precisions=args.precision,
                       imgsz=_imgsz(args.imgsz), frames=args.frames, warmup=args.warmup, repeats=args.repeats,
                       sink=args.sink, threads=args.threads, calib_source=args.calib_source,
                       calib_frames=args.calib_frames, conf=args.conf, iou=args.iou, max_det=args.max_det)
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
    parser = argparse.ArgumentParser(prog="rtdetect build", description="Build a TensorRT engine (or find it in the engine cache).")
    _add_model_options(parser)
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16", help="engine precision (default: fp16)")
    parser.add_argument("--calib-source", metavar="VIDEO|DIR", help="int8: a video or a folder of images/videos like the ones the model will see")
    parser.add_argument("--calib-frames", type=int, default=500, metavar="N", help="int8: frames to calibrate on, spread over the source (default: 500)")
    parser.add_argument("--batch", type=int, default=1, metavar="N", help="largest batch; above 1 needs a dynamic-batch model (.pt and zoo models are exported so)")
    parser.add_argument("--device", type=int, default=0, help="CUDA device ordinal (default: 0)")
    parser.add_argument("--workspace", type=float, default=4.0, metavar="GB", help="TensorRT builder workspace (default: 4)")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache root (default: $RTDETECT_CACHE, else $XDG_CACHE_HOME/rtdetect, else ~/.cache/rtdetect)")
    parser.add_argument("--rebuild", action="store_true", help="build even when a valid cached engine exists")
    return parser


def run_build(argv: list[str]) -> int:
    args = _build_parser().parse_args(argv)
    from .trt.builder import build_engine
    from .trt.models import onnx_for_build

    imgsz = _imgsz(args.imgsz)
    onnx_path = onnx_for_build(args.model, imgsz=imgsz, batch=args.batch, cache_dir=args.cache_dir)
    paths = build_engine(onnx_path, precision=args.precision, batch=args.batch, imgsz=imgsz,
                         calib_source=args.calib_source, calib_frames=args.calib_frames, cache_dir=args.cache_dir,
                         device=args.device, workspace_gb=args.workspace, rebuild=args.rebuild)
    print(f"{'built' if paths.built else 'cached'} {paths.engine} (metadata: {paths.sidecar.name})", file=sys.stderr)
    return 0


# Subcommands: name → runner(argv) -> exit status. "detect" is also what a bare `rtdetect --source ...` runs.
RUNNERS = {
    "detect": run_detect,
    "export": run_export,
    "models": run_models,
    "bench": run_bench,
    "build": run_build,
}


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] in RUNNERS:
        return RUNNERS[argv[0]](argv[1:])
    return run_detect(argv)


def main(argv: list[str] | None = None) -> int:

    try:
        return _dispatch(sys.argv[1:] if argv is None else argv)
    except RtdetectError as exc:
        print(f"rtdetect: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("rtdetect: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
