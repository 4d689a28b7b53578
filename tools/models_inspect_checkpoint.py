"""Show what a YOLO ``.pt`` checkpoint contains, without running any of its code.

Usage: ``python tools/models_inspect_checkpoint.py MODEL.pt [--layers]``

Prints the format (YOLOv5, Ultralytics or rtdetect), family, task, output layout, class names,
strides, parameter count, and with ``--layers`` the resolved layer list. Uses the same restricted
unpickler as ``rtdetect export``; a checkpoint that would run code is refused with the global named.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--layers", action="store_true", help="print the resolved layer list")
    args = parser.parse_args(argv)

    from rtdetect.models import ModelError, load_model

    try:
        model = load_model(args.checkpoint)
    except ModelError as exc:
        print(f"{args.checkpoint}: {exc}", file=sys.stderr)
        return 1
    params = sum(p.numel() for p in model.parameters())
    print(f"format   {model.source}\nfamily   {model.family}\ntask     {model.task}\n"
          f"layout   {model.layout}\nstrides  {model.strides}\nparams   {params:,}\n"
          f"classes  {model.num_classes}: {model.names}")
    if args.layers:
        for spec in model.specs:
            print(f"{spec.index:>3} from {str(spec.sources):<14} x{spec.repeats} {spec.name:<12} "
                  f"out {spec.out_channels:>5} stride {spec.stride:>2} args {list(spec.args)[:6]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
