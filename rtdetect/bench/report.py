"""Writing a bench report: the JSON document as is, and a side-by-side Markdown table."""
from __future__ import annotations

import json
import os

from ..atomic import atomic_write_bytes
from ..errors import OutputError
from ..metrics import ordered_stages

DASH = "–"


def check_output_dirs(paths) -> None:
    """Raise OutputError before any measuring when an output's directory does not exist."""
    for path in filter(None, paths):
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise OutputError(f"output directory does not exist: {folder}")


def write_json(report: dict, path: str) -> None:
    """The report as indented JSON at ``path``, written atomically."""
    atomic_write_bytes(path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))


def _num(value, digits: int = 1) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def _stats(ms: dict | None) -> str:
    if not ms or not ms.get("count"):
        return DASH
    return f"{ms['mean']:.2f} / {ms['p50']:.2f} / {ms['p95']:.2f} / {ms['p99']:.2f}"


def config_name(config: dict) -> str:
    """How every output names a configuration: "backend precision", and "(rejected by the guard)" when the
    accuracy guard would refuse it."""
    name = f"{config['backend']} {config['precision']}"
    return name + (" (rejected by the guard)" if config.get("guard_accepts") is False else "")


def _fps(runs: dict) -> str:
    """Median FPS and, over several repeats, their range: "12.3 (11.8–12.9 over 3 repeats)"."""
    cell = _num(runs["fps"])
    values = runs["fps_runs"]
    if len(values) > 1:
        cell += f" ({min(values):.1f}{DASH}{max(values):.1f} over {len(values)} repeats)"
    return cell


def _agreement(config: dict) -> str:
    """F1 with its counts and the guard's verdict, e.g. "0.993 (143/144 of 144), accepted"."""
    agree = config.get("agreement")
    if agree is None:
        return DASH
    f1 = config["agreement_f1"]
    verdict = "accepted" if config["guard_accepts"] else "rejected by the guard"
    return (f"{DASH if f1 is None else f'{f1:.3f}'} ({agree['matched']} matched of {agree['reference']} / "
            f"{agree['other']}, {agree['frames']} frames), {verdict}")


def _live_rows(live: dict | None) -> list[str]:
    """Stale frames dropped, capture → detections latency and its target, for a live source."""
    if not live:
        return [DASH] * 3
    ages, target = live["capture_to_detections_ms"], live["target_p99_ms"]
    verdict = DASH if live["meets_target"] is None else ("met" if live["meets_target"] else "not met")
    return [", ".join(map(str, live["frames_dropped_runs"])),
            _stats(ages) if ages.get("count") else "no stamped frames",
            DASH if target is None else f"p99 < {target:.0f} ms: {verdict}"]


def _accuracy_cells(accuracy: dict | None) -> list[str]:
    """Box and mask mAP50-95 / mAP50 in percent (dashes without ``--data``, or without masks)."""
    from ..val.report import percent

    if not accuracy:
        return [DASH] * 2
    return [DASH if scores is None else f"{percent(scores['map'])} / {percent(scores['map50'])}"
            for scores in (accuracy["box"], accuracy["mask"])]


def _stage_row(stage: str) -> str:
    return f"{stage} ms (mean / p50 / p95 / p99)"


def report_stages(report: dict) -> list[str]:
    """Every stage some configuration of ``report`` measured, in ``metrics.ordered_stages`` order."""
    return ordered_stages(s for c in report["configs"] if c["status"] == "ok"
                          for s, ms in c["stages_ms"].items() if ms.get("count"))


GPU_ROWS = ("GPU memory", "GPU stage times (CUDA events)")
ACCURACY_ROWS = ("box mAP50-95 / mAP50 (%, --data)", "mask mAP50-95 / mAP50 (%, --data)")
HEAD_ROWS = (
    "status", "network input",
    "agreement with onnxruntime fp32 (F1, IoU >= 0.9, same class; masks too)", "auto's choice among these",
    "end-to-end FPS (stages overlapped)", "model-only FPS", "end-to-end / model-only",
    *ACCURACY_ROWS,
)
TAIL_ROWS = (
    "model-only latency ms (mean / p50 / p95 / p99)",
    "CPU use end to end (CPU time / wall)", "CPU use model-only (cores)", "peak RSS MiB",
    *GPU_ROWS,
    "detections per frame",
    "live: stale frames dropped (per repeat)", "live: capture → detections ms (mean / p50 / p95 / p99)",
    "live: target (2 frame intervals at model-only FPS)",
    "load average 1/5/15 min before → after",
)


def _values(config: dict, stages: list[str]) -> dict[str, str]:
    """One column of the table (one configuration): row name → cell (missing rows are dashes)."""
    if config["status"] != "ok":
        return {"status": f"unavailable: {config['reason']}"}
    e2e, model, measured = config["end_to_end"], config["model_only"], config["stages_ms"]
    cores = e2e["cpu_cores_used"]
    values = [
        "ok",
        f"{config['input_hw'][0]}x{config['input_hw'][1]} {config['layout']}, {config['classes']} classes"
        + (", masks" if config["masks"] else ""),
        _agreement(config),
        "yes" if config.get("auto_choice") else "no",
        _fps(e2e), _fps(model), _num(config["e2e_over_model"], 3),
        *_accuracy_cells(config.get("accuracy")),
        _stats(model["latency_ms"]),
        DASH if cores is None else f"{cores:.2f} cores",
        _num(model["cpu_cores_used"], 2),
        _num(config["peak_rss_mib"], 0),
        "not measured", "not measured",
        _num(e2e["detections_per_frame"], 2),
        *_live_rows(config.get("live")),
        f"{config['load_avg_before']} → {config.get('load_avg_after')}",
    ]
    cells = dict(zip(HEAD_ROWS + TAIL_ROWS, values))
    cells.update({_stage_row(stage): _stats(measured.get(stage)) for stage in stages})
    return cells


def row_names(report: dict) -> list[str]:
    """The rows that say something for this report: every stage that some configuration measured, and the
    GPU rows only when a configuration ran on the GPU."""
    ok = [c for c in report["configs"] if c["status"] == "ok"]
    skipped = set() if any(c.get("engine") == "tensorrt" for c in ok) else set(GPU_ROWS)
    if not any(c.get("live") for c in ok):
        skipped |= {row for row in TAIL_ROWS if row.startswith("live: ")}
    if not any(c.get("accuracy") for c in ok):
        skipped |= set(ACCURACY_ROWS)
    rows = [*HEAD_ROWS, *map(_stage_row, report_stages(report)), *TAIL_ROWS]
    return [row for row in rows if row not in skipped]


def _header(report: dict) -> list[str]:
    host, s = report["host"], report["settings"]
    libs = ", ".join(f"{k} {v}" for k, v in host["libraries"].items())
    return [
        f"# rtdetect bench ({report['created']})",
        "",
        f"- host: {host['cpu']}, {host['cores']} cores, {host['platform']}, Python {host['python']}; GPU: {host['gpu']}",
        f"- libraries: {libs}",
        f"- model: {s['model']} ({s['model_path']}), network input {s['input_hw'][0]}x{s['input_hw'][1]} "
        f"({_shape_rule(s['imgsz'])})",
        f"- thresholds: conf > {s['conf']}, NMS IoU > {s['iou']}, max_det {s['max_det']}",
        f"- source: {s['source']}; {_counted(report)} after {s['warmup']} warm-up frames; "
        f"{s['repeats']} repeat(s), configurations interleaved round by round, figures are medians over repeats",
        f"- sinks: {s['sink']} ({s['sink_description']}); ONNX Runtime threads: {s['threads'] or 'engine default'}",
        *_accuracy_header(report),
        "",
    ]


def _accuracy_header(report: dict) -> list[str]:
    """One line on what the mAP rows measured, when the run had ``--data``."""
    scored = [c["accuracy"] for c in report["configs"] if c.get("accuracy")]
    if not scored:
        return []
    first = scored[0]
    return [f"- accuracy: {report['settings']['data']}, {first['images']} images, {first['instances']} instances, "
            f"scored as rtdetect val scores (pycocotools; conf > {first['conf']}, NMS IoU > {first['iou']}, "
            f"max_det {first['max_det']}) at each configuration's network input"]


def _shape_rule(imgsz) -> str:
    """How the network input was chosen: detection's rule (``input_shape.network_input_hw``)."""
    if isinstance(imgsz, list):
        return f"--imgsz {imgsz[0]} {imgsz[1]}"
    return f"as detection runs this source: long side {imgsz or 640}, the source's aspect"


def _counted(report: dict) -> str:
    """The frames really counted per repeat (a short source ends before ``--frames``), e.g. "40 frames
    counted per repeat (--frames 100: the source ended)"."""
    asked = report["settings"]["frames"]
    counts = sorted({n for c in report["configs"] if c["status"] == "ok" for n in c["end_to_end"]["frames_runs"]})
    if not counts:
        return "no frame counted"
    counted = str(counts[0]) if len(counts) == 1 else f"{counts[0]}{DASH}{counts[-1]}"
    text = f"{counted} frame{'s' if counts[-1] != 1 else ''} counted per repeat"
    return text if counts == [asked] else f"{text} (--frames {asked}: the source ended)"


def to_markdown(report: dict) -> str:
    """The report as Markdown: a header of what and where, then one column per configuration."""
    configs = report["configs"]
    names = [config_name(c) for c in configs]
    stages = report_stages(report)
    columns = [_values(c, stages) for c in configs]
    lines = _header(report)
    lines.append("| metric | " + " | ".join(names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for row in row_names(report):
        lines.append(f"| {row} | " + " | ".join(col.get(row, DASH) for col in columns) + " |")
    if report.get("compare"):
        lines += _compare_table(report["compare"])
    return "\n".join(lines) + "\n"


def _one_line(command: str) -> str:
    """A command line fit for one table cell: newlines (inside quotes) as ``\\n``, pipes escaped."""
    return command.replace("\n", "\\n").replace("|", "&#124;")


def _compare_table(compare: dict) -> list[str]:
    """``--compare``: both commands' whole-process wall time (median and range), FPS and CPU time, side by
    side."""
    tools = compare["tools"]
    rows = [
        ("command", lambda t: f"`{_one_line(compare['commands'][t])}`"),
        ("wall s, median (min–max)", lambda t: f"{tools[t]['wall_s']:.2f} ({tools[t]['wall_s_min']:.2f}{DASH}"
                                                 f"{tools[t]['wall_s_max']:.2f})"),
        ("FPS (frames / wall)", lambda t: _num(tools[t]["fps"], 2)),
        ("CPU s (user + sys of the process)", lambda t: _num(tools[t]["cpu_s"], 2)),
        ("CPU use (CPU s / wall)", lambda t: f"{tools[t]['cores_used']:.2f} cores"),
    ]
    ratio = compare["fps_ratio"]
    lines = ["", f"## Whole process (--compare): {compare['frames']} frames ({compare['frames_from']}), "
             f"{compare['rounds']} timed round(s) after one untimed, interleaved; rtdetect runs "
             f"{compare['configuration']}", "",
             "| metric | rtdetect | other |", "| --- | --- | --- |"]
    lines += [f"| {name} | {cell('rtdetect')} | {cell('other')} |" for name, cell in rows]
    lines.append(f"| rtdetect FPS / other FPS | {_num(ratio, 2)} | |")
    return lines


def write_markdown(report: dict, path: str) -> None:
    """``to_markdown(report)`` at ``path``, written atomically."""
    atomic_write_bytes(path, to_markdown(report).encode("utf-8"))
