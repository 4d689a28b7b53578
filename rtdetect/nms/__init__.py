"""Class-aware greedy non-maximum suppression.

``reference.nms`` is the source of truth; ``fast.nms`` is the CPU path the pipeline uses; the CUDA kernel
(``kernels/nms.cu``) matches the reference. All share one definition:

* Candidates are visited by score, descending. **Ties are broken by index: the lower index comes first**
  (a stable sort of ``-scores``).
* A visited box is kept unless an earlier kept box *of the same class* overlaps it with IoU > ``iou_thres``
  (strictly greater).
* IoU is computed in float32 as ``inter / (area_a + area_b - inter)`` with
  ``inter = max(0, min(x2) - max(x1)) * max(0, min(y2) - max(y1))`` and ``area = max(0, x2 - x1) * max(0, y2 - y1)``;
  when the union is not positive (two zero-area boxes) the IoU is 0, so zero-area boxes never suppress.
* At most ``max_det`` boxes are kept; the result is the kept indices in visiting order (int64).
"""
from .fast import nms
from .reference import nms as nms_reference

__all__ = ["nms", "nms_reference"]
