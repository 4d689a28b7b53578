"""The bench plot: per-stage p50 latency bars and FPS bars, one colour per configuration (configurations the
accuracy guard rejects are named so and hatched), and with ``--data`` speed against accuracy."""
from __future__ import annotations

import numpy as np

from ..atomic import atomic_path
from .report import config_name, report_stages


def _ok(report: dict) -> list[dict]:
    return [c for c in report["configs"] if c["status"] == "ok"]


def _legend_outside(ax) -> None:
    """The legend below the axes (under the tick labels), where it can never cover a bar."""
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)


def _stage_axis(ax, configs: list[dict]) -> None:
    """Grouped p50 bars for the stages any configuration measured (GPU stages only on GPU runs); log scale
    so that milliseconds of post-processing stay visible beside hundreds of inference."""
    stages = report_stages({"configs": configs})
    width = 0.8 / max(1, len(configs))
    x = np.arange(len(stages))
    for i, config in enumerate(configs):
        p50 = [config["stages_ms"].get(s, {}).get("p50") or 0.0 for s in stages]
        ax.bar(x + i * width, p50, width, label=config_name(config), hatch=_hatch(config))
    ax.set_xticks(x + width * (len(configs) - 1) / 2, stages, rotation=30)
    ax.set_yscale("log")
    ax.set_ylabel("p50 latency (ms, log scale)")
    ax.set_title("per-stage latency")
    _legend_outside(ax)


def _hatch(config: dict) -> str | None:
    """Rejected by the accuracy guard: hatched bars (besides the name saying so)."""
    return "//" if config.get("guard_accepts") is False else None


def _fps_axis(ax, configs: list[dict]) -> None:
    names = [config_name(c).replace(" ", "\n", 1) for c in configs]
    x = np.arange(len(configs))
    hatches = [_hatch(c) for c in configs]
    ax.bar(x - 0.2, [c["end_to_end"]["fps"] for c in configs], 0.4, label="end to end (overlapped)", hatch=hatches)
    ax.bar(x + 0.2, [c["model_only"]["fps"] for c in configs], 0.4, label="model only", hatch=hatches)
    ax.set_xticks(x, names)
    ax.set_ylabel("frames per second")
    ax.set_title("throughput")
    _legend_outside(ax)


def _accuracy_axis(ax, configs: list[dict]) -> None:
    """Speed against accuracy: model-only FPS (x) and mAP50-95 (y, %) of each configuration scored on
    ``--data``, boxes filled, masks hollow, each point named."""
    for kind, marker in (("box", "o"), ("mask", "s")):
        points = [(c["model_only"]["fps"], 100 * c["accuracy"][kind]["map"], config_name(c))
                  for c in configs if c["accuracy"][kind] is not None and c["accuracy"][kind]["map"] >= 0]
        if not points:
            continue
        fps, ap, names = zip(*points)
        ax.scatter(fps, ap, marker=marker, label=f"{kind} mAP50-95",
                   facecolors="none" if kind == "mask" else None, edgecolors="tab:blue")
        for x, y, name in points:
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
    ax.set_xlabel("model-only frames per second")
    ax.set_ylabel("mAP50-95 (%)")
    ax.set_title("speed vs accuracy")
    _legend_outside(ax)


def plot_figure(report: dict):
    """The matplotlib Figure (on an Agg canvas) of the report's measured configurations."""
    # The Agg canvas is chosen here, for this figure only: no pyplot, no global backend switch, no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    configs = _ok(report)
    scored = [c for c in configs if c.get("accuracy")]
    fig = Figure(figsize=(18 if scored else 12, 5.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3 if scored else 2)
    stages_ax, fps_ax = axes[:2]
    if configs:
        _stage_axis(stages_ax, configs)
        _fps_axis(fps_ax, configs)
    if scored:
        _accuracy_axis(axes[2], scored)
    else:
        stages_ax.text(0.5, 0.5, "no configuration could run", ha="center")
    skipped = [f"{c['backend']} {c['precision']}: unavailable" for c in report["configs"] if c["status"] != "ok"]
    title = f"rtdetect bench: {report['settings']['model']} on {report['settings']['source']}"
    fig.suptitle(title + ("\n" + "; ".join(skipped) if skipped else ""), fontsize="medium")
    fig.tight_layout()
    return fig


def write_plot(report: dict, path: str) -> None:
    """A PNG (or any format matplotlib infers from ``path``) of ``plot_figure(report)``."""
    figure = plot_figure(report)
    with atomic_path(path) as partial:  # the partial keeps the extension matplotlib infers the format from
        figure.savefig(partial, dpi=100)
