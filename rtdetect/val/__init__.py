"""``rtdetect val``: a model's accuracy against labelled ground truth, scored by pycocotools.

A client of :mod:`rtdetect.api` (the ``Detector`` runs every image as detection does). Its rooms:
``dataset`` (the ground truth as a COCO dict, read by ``coco`` or ``yolo``), ``classes`` (model ids ↔
dataset categories by name), ``scoring`` (pycocotools' COCOeval, boxes and masks), ``report`` (the table
and the JSON), ``run`` (the command's steps). pycocotools comes with the ``[val]`` extra.
"""
from __future__ import annotations
