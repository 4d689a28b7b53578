"""Decoders: raw model outputs → confidence-filtered candidates in network-input pixels.

One decoder per output layout (``anchor_based`` YOLOv5, ``anchor_free`` YOLOv8/11, ``end_to_end``);
``select_decoder`` picks one from the model's metadata or output shapes.
"""
from .anchor_based import AnchorBasedDecoder
from .anchor_free import AnchorFreeDecoder
from .base import Candidates, Decoder, UnsupportedModelError, xywh_to_xyxy
from .end_to_end import EndToEndDecoder
from .select import OutputRoles, class_names_from_metadata, select_decoder

__all__ = [
    "AnchorBasedDecoder", "AnchorFreeDecoder", "Candidates", "Decoder", "EndToEndDecoder", "OutputRoles",
    "UnsupportedModelError", "class_names_from_metadata", "select_decoder", "xywh_to_xyxy",
]
