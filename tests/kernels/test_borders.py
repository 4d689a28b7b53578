"""GPU decode + NMS against the CPU post-processing at the frame's borders (issue 28 item 3).

The CPU path (``rtdetect.postprocess.Postprocessor``) runs NMS on the decoder's boxes in input pixels and
maps the kept ones to frame pixels, clipping them, after. The GPU chain used to clip before NMS, so two
boxes of one class crossing an edge could overlap more once clipped (one suppressed) than as the model
gave them (both kept). Now both keep the same detections, bit for bit.
"""
from __future__ import annotations

import numpy as np
import pytest

from rtdetect.decode import select_decoder
from rtdetect.gpu import GpuDecode, GpuNms, download_detections
from rtdetect.postprocess import PostprocessConfig, Postprocessor
from rtdetect.preprocess import letterbox_params

INPUT_HW = (640, 640)
FRAME_HW = (480, 640)  # letterboxed at scale 1 with 80 rows of padding above and below: input y = frame y + 80


def pair_across(edge: str) -> list[tuple[float, float, float, float]]:
    """Two xyxy boxes (input pixels) of one class crossing ``edge`` of the frame: IoU 0.25 as given, 1 once
    both are clipped to the frame (they differ only outside it)."""
    top, bottom = 80.0, 560.0  # the frame's rows in input pixels
    spans = {"left": ((-100, 20), (-10, 20)), "right": ((620, 740), (620, 650)),
             "top": ((top - 100, top + 20), (top - 10, top + 20)),
             "bottom": ((bottom - 20, bottom + 100), (bottom - 20, bottom + 10))}[edge]
    if edge in ("left", "right"):
        return [(a, 200.0, b, 300.0) for a, b in spans]
    return [(300.0, a, 400.0, b) for a, b in spans]


def v8_output(boxes: list[tuple[float, float, float, float]], scores: list[float], classes: list[int],
              nc: int) -> np.ndarray:
    """A YOLOv8 output (1, 4 + nc, N) holding these boxes (centre-size), the rest of its N rows empty."""
    n = 64
    out = np.zeros((1, 4 + nc, n), np.float32)
    for i, ((x1, y1, x2, y2), score, cls) in enumerate(zip(boxes, scores, classes)):
        out[0, :4, i] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        out[0, 4 + cls, i] = score
    return out


def cpu_detections(output: np.ndarray, box, config: PostprocessConfig):
    decoder, roles, names = select_decoder([output.shape], {})
    detections, _ = Postprocessor(decoder, roles, names, config)([output], box)
    return detections


def gpu_detections(runtime, output: np.ndarray, box, config: PostprocessConfig, nc: int):
    n = output.shape[2]
    with GpuDecode(runtime, layout="v8", num_classes=nc, num_candidates=n) as decode, \
            GpuNms(runtime, capacity=n, max_det=config.max_det, num_classes=nc) as nms:
        prediction = runtime.alloc(output.nbytes)
        runtime.upload(int(prediction), output)
        kept = download_detections(runtime, nms.run(decode.run(int(prediction), box, config.conf), config.iou))
        runtime.free(prediction)
    return kept


@pytest.mark.parametrize("edge", ["left", "right", "top", "bottom"])
def test_boxes_crossing_an_edge_are_kept_as_on_the_cpu(runtime, edge):
    box = letterbox_params(FRAME_HW, INPUT_HW)[0]
    assert (box.scale, box.pad_x, box.pad_y) == (1.0, 0.0, 80.0)
    config = PostprocessConfig(conf=0.25, iou=0.45)
    output = v8_output(pair_across(edge), [0.9, 0.8], [0, 0], nc=2)
    cpu = cpu_detections(output, box, config)
    got = gpu_detections(runtime, output, box, config, nc=2)
    assert len(cpu) == 2  # IoU 0.25 as the model gave them: both kept
    np.testing.assert_array_equal(got.xyxy, cpu.xyxy)
    np.testing.assert_array_equal(got.scores, cpu.scores)
    np.testing.assert_array_equal(got.class_ids, cpu.class_ids)


def test_many_boxes_around_the_borders_agree_with_the_cpu(runtime):
    """Random boxes scattered over the padding and the frame's edges, odd frame sizes (non-unit scales)."""
    rng = np.random.default_rng(28)
    for frame_hw in [(480, 640), (333, 777), (1080, 1920), (900, 300)]:
        box = letterbox_params(frame_hw, INPUT_HW)[0]
        n, nc = 400, 3
        centre = rng.uniform(-60, 700, (n, 2))
        size = rng.uniform(5, 250, (n, 2))
        output = np.zeros((1, 4 + nc, n), np.float32)
        output[0, :2], output[0, 2:4] = centre.T, size.T
        output[0, 4:] = rng.choice(np.float32([0.1, 0.3, 0.5, 0.7, 0.9]), (nc, n))
        config = PostprocessConfig(conf=0.25, iou=0.45)
        cpu = cpu_detections(output, box, config)
        got = gpu_detections(runtime, output, box, config, nc)
        assert len(cpu) > 20
        np.testing.assert_array_equal(got.xyxy, cpu.xyxy)
        np.testing.assert_array_equal(got.scores, cpu.scores)
        np.testing.assert_array_equal(got.class_ids, cpu.class_ids)
