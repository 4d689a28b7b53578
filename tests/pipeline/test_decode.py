import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from rtdetect.decode import (AnchorBasedDecoder, AnchorFreeDecoder, EndToEndDecoder, UnsupportedModelError,
                             select_decoder)
from rtdetect.nms import nms
from rtdetect.preprocess import letterbox


def synthetic_rows(rng, n, nc, nm):
    """n rows of [cx, cy, w, h, cls..., coefs...] with known best classes."""
    xywh = np.hstack([rng.uniform(50, 500, (n, 2)), rng.uniform(5, 100, (n, 2))]).astype(np.float32)
    cls = rng.uniform(0, 0.2, (n, nc)).astype(np.float32)
    best = rng.integers(0, nc, n)
    cls[np.arange(n), best] = rng.uniform(0.1, 1.0, n)
    coefs = rng.normal(size=(n, nm)).astype(np.float32)
    return xywh, cls, best, coefs


def expected_xyxy(xywh):
    return np.hstack([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2])


@pytest.mark.parametrize("nm", [0, 32])
def test_anchor_free_decodes_known_columns(nm):
    rng = np.random.default_rng(1)
    xywh, cls, best, coefs = synthetic_rows(rng, 500, 80, nm)
    pred = np.concatenate([xywh, cls, coefs], axis=1).T[None]
    out = AnchorFreeDecoder(80, nm).decode(pred, 0.3)
    passed = cls.max(1) > np.float32(0.3)
    np.testing.assert_allclose(out.xyxy, expected_xyxy(xywh[passed]), rtol=1e-6)
    np.testing.assert_array_equal(out.class_ids, best[passed])
    np.testing.assert_array_equal(out.scores, cls.max(1)[passed])
    assert (out.mask_coefs is None) == (nm == 0)
    if nm:
        np.testing.assert_array_equal(out.mask_coefs, coefs[passed])


def test_anchor_based_multiplies_objectness():
    rng = np.random.default_rng(2)
    xywh, cls, best, coefs = synthetic_rows(rng, 400, 3, 32)
    obj = rng.uniform(0, 1, (400, 1)).astype(np.float32)
    pred = np.concatenate([xywh, obj, cls, coefs], axis=1)[None]
    out = AnchorBasedDecoder(3, 32).decode(pred, 0.25)
    score = obj[:, 0] * cls.max(1)
    passed = (score > np.float32(0.25)) & (obj[:, 0] > np.float32(0.25))
    np.testing.assert_allclose(out.scores, score[passed], rtol=1e-6)
    np.testing.assert_array_equal(out.class_ids, best[passed])
    np.testing.assert_array_equal(out.mask_coefs, coefs[passed])


def test_end_to_end_keeps_rows_over_threshold():
    rows = np.array([[1, 2, 3, 4, 0.9, 5], [1, 2, 3, 4, 0.1, 2], [5, 6, 7, 8, 0.5, 1]], np.float32)[None]
    out = EndToEndDecoder(80).decode(rows, 0.25)
    assert out.class_ids.tolist() == [5, 1] and out.xyxy[1].tolist() == [5, 6, 7, 8]


@pytest.mark.parametrize("shapes, layout, nc", [
    ([(1, 84, 8400)], "v8", 80),
    ([(1, 116, 8400), (1, 32, 160, 160)], "v8", 80),
    ([(1, 25200, 85)], "v5", 80),
    ([(1, 25200, 117), (1, 32, 160, 160)], "v5", 80),
    ([(1, 300, 6)], "e2e", None),
    ([(1, 32, 160, 160), (1, 300, 38)], "e2e", None),
])
def test_layout_from_shapes(shapes, layout, nc):
    metadata = {} if nc else {"names": "{0: 'a', 1: 'b'}"}
    decoder, roles, names = select_decoder(shapes, metadata)
    assert decoder.layout == layout
    assert len(names) == (nc or 2)
    assert shapes[roles.prediction][0] == 1 and len(shapes[roles.prediction]) == 3


@pytest.mark.parametrize("shapes", [[(1, 1000)], [(1, 4, 8400)], [(1, 3, 640, 640), (1, 32, 160, 160)],
                                    [(1, 84, 8400), (1, 84, 8400)]])
def test_unknown_layouts_name_the_shapes(shapes):
    with pytest.raises(UnsupportedModelError, match=r"\(1, "):
        select_decoder(shapes, {})


def test_metadata_class_count_must_fit_shape():
    with pytest.raises(UnsupportedModelError, match="does not fit"):
        select_decoder([(1, 84, 8400)], {"rtdetect.layout": "v8", "rtdetect.names": '["a", "b"]'})


def independent_v8_postprocess(pred, conf, iou):
    """Torch decode + OpenCV NMS: shares no code with rtdetect."""
    p = torch.from_numpy(pred[0]).T
    scores, classes = p[:, 4:].max(dim=1)
    keep = scores > conf
    p, scores, classes = p[keep], scores[keep], classes[keep]
    xywh = torch.cat([p[:, :2] - p[:, 2:4] / 2, p[:, 2:4]], dim=1).double().numpy()
    idx = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), conf, iou), np.int64).ravel()
    xyxy = torch.cat([p[:, :2] - p[:, 2:4] / 2, p[:, :2] + p[:, 2:4] / 2], 1).numpy()
    return xyxy[idx], scores.numpy()[idx], classes.numpy()[idx]


@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg", "person.jpg"])
def test_real_yolov8_output_against_independent_postprocess(fall_detection_dir, data_dir, image):
    import onnxruntime as ort

    session = ort.InferenceSession(str(fall_detection_dir / "best_fp16.onnx"), providers=["CPUExecutionProvider"])
    tensor, _ = letterbox(cv2.imread(str(data_dir / image)), (640, 640))
    (pred,) = session.run(None, {"images": tensor})
    decoder, roles, names = select_decoder([pred.shape], dict(session.get_modelmeta().custom_metadata_map))
    assert names == ["Normal", "Fall"] and decoder.layout == "v8"
    cand = decoder.decode(pred, 0.25)
    kept = nms(cand.xyxy, cand.scores, cand.class_ids, 0.45)
    ref_xyxy, ref_scores, ref_cls = independent_v8_postprocess(pred, 0.25, 0.45)
    order = np.argsort(-ref_scores, kind="stable")
    assert len(kept) == len(order) > 0
    np.testing.assert_allclose(cand.xyxy[kept], ref_xyxy[order], atol=1e-3)
    np.testing.assert_allclose(cand.scores[kept], ref_scores[order], atol=1e-6)
    np.testing.assert_array_equal(cand.class_ids[kept], ref_cls[order])


def rowwise_reference(rows, nc, nm, conf, objectness):
    """One row at a time, in plain Python: what each decoder's docstring says."""
    out = []
    for row in rows:
        cls = [float(v) for v in row[(5 if objectness else 4):][:nc]]
        best = max(range(nc), key=lambda k: (cls[k], -k))  # highest score, lowest id on ties
        score = float(np.float32(row[4]) * np.float32(cls[best])) if objectness else cls[best]
        if (not objectness or row[4] > conf) and score > np.float32(conf):
            cx, cy, w, h = (float(v) for v in row[:4])
            out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, best))
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 300), nc=st.integers(1, 6), nm=st.sampled_from([0, 4]),
       conf=st.sampled_from([0.0, 0.25, 0.5]), layout=st.sampled_from(["v5", "v8"]))
def test_decoders_match_rowwise_reference(seed, n, nc, nm, conf, layout):
    rng = np.random.default_rng(seed)
    objectness = layout == "v5"
    width = (5 if objectness else 4) + nc + nm
    rows = rng.uniform(0, 1, (n, width)).astype(np.float32)
    rows[:, :4] *= 300
    rows[:, (5 if objectness else 4):][:, :nc] = np.round(rows[:, (5 if objectness else 4):][:, :nc], 1)  # ties
    decoder = AnchorBasedDecoder(nc, nm) if objectness else AnchorFreeDecoder(nc, nm)
    got = decoder.decode(rows[None] if objectness else rows.T[None].copy(), conf)
    expected = rowwise_reference(rows, nc, nm, conf, objectness)
    assert len(got) == len(expected)
    if expected:
        np.testing.assert_allclose(got.xyxy, [e[:4] for e in expected], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(got.scores, [e[4] for e in expected], rtol=1e-6)
        assert got.class_ids.tolist() == [e[5] for e in expected]


def test_real_yolov5_seg_output_against_independent_postprocess(data_dir, v5seg_onnx):
    """The default model's raw (1, 25200, 117) output: our decoder + NMS against torch + OpenCV."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(v5seg_onnx), providers=["CPUExecutionProvider"])
    tensor, _ = letterbox(cv2.imread(str(data_dir / "zidane.jpg")), (640, 640))
    outputs = session.run(None, {"images": tensor})
    decoder, roles, names = select_decoder([o.shape for o in outputs], dict(session.get_modelmeta().custom_metadata_map))
    assert decoder.layout == "v5" and len(names) == 80 and decoder.num_masks == 32
    cand = decoder.decode(outputs[roles.prediction], 0.25)
    kept = nms(cand.xyxy, cand.scores, cand.class_ids, 0.45)

    p = torch.from_numpy(outputs[roles.prediction][0])
    p = p[p[:, 4] > 0.25]
    scores, classes = (p[:, 5:85] * p[:, 4:5]).max(dim=1)
    keep = scores > 0.25
    p, scores, classes = p[keep], scores[keep], classes[keep]
    xywh = torch.cat([p[:, :2] - p[:, 2:4] / 2, p[:, 2:4]], 1).double().numpy()
    idx = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), 0.25, 0.45), np.int64).ravel()
    assert sorted(cand.scores[kept].tolist()) == pytest.approx(sorted(scores.numpy()[idx].tolist()), abs=1e-6)
    assert sorted(names[c] for c in cand.class_ids[kept]) == sorted(names[c] for c in classes.numpy()[idx])
    assert {"person", "tie"} <= {names[c] for c in cand.class_ids[kept]}


NAN, INF = np.float32("nan"), np.float32("inf")
# Candidates as [cx, cy, w, h, objectness, class 0, class 1, class 2]: what each one tests, and whether the
# non-finite rule (rtdetect/decode/base.py) keeps it.
NON_FINITE_ROWS = [
    ("finite", [100, 100, 20, 20, 1.0, 0.1, 0.9, 0.2], True),
    ("NaN at a later class", [100, 100, 20, 20, 1.0, 0.1, 0.9, NAN], False),
    ("NaN at class 0", [100, 100, 20, 20, 1.0, NAN, 0.9, 0.2], False),
    ("+Inf score", [100, 100, 20, 20, 1.0, 0.1, INF, 0.2], True),
    ("NaN size", [100, 100, NAN, 20, 1.0, 0.1, 0.9, 0.2], False),
    ("Inf centre and size (corner Inf - Inf)", [INF, 100, INF, 20, 1.0, 0.1, 0.9, 0.2], False),
    ("Inf size", [100, 100, INF, 20, 1.0, 0.1, 0.9, 0.2], True),
]


@pytest.mark.parametrize("layout", ["v5", "v8"])
def test_non_finite_scores_and_boxes_follow_one_rule(layout):
    """Issue 10 item 6: a NaN anywhere in a candidate's box or scores drops it, whichever class holds the
    NaN (NumPy's max propagates it; the GPU kernels follow the same rule); +Inf passes as a score."""
    rows = np.array([row for _, row, _ in NON_FINITE_ROWS], np.float32)
    if layout == "v5":
        got = AnchorBasedDecoder(3).decode(rows[None], 0.25)
    else:
        got = AnchorFreeDecoder(3).decode(np.delete(rows, 4, axis=1).T[None].copy(), 0.25)
    kept = [name for name, _, keep in NON_FINITE_ROWS if keep]
    assert len(got) == len(kept), kept
    assert not np.isnan(got.xyxy).any() and not np.isnan(got.scores).any()
    np.testing.assert_array_equal(got.scores, np.float32([0.9, INF, 0.9]))
    np.testing.assert_array_equal(got.class_ids, [1, 1, 1])


def test_end_to_end_rows_with_a_class_outside_the_model_are_dropped():
    """Issue 10 item 6: the float class is truncated toward zero only when it lies in [0, nc); NaN, huge or
    negative classes (whose int cast is undefined, so CPU and GPU disagreed) drop the row."""
    classes = [0.0, 2.7, NAN, 1e10, -1.0, -0.5, 3.0, INF]
    rows = np.zeros((len(classes), 6), np.float32)
    rows[:, :4] = [10, 10, 50, 50]
    rows[:, 4] = 0.9
    rows[:, 5] = classes
    got = EndToEndDecoder(3).decode(rows[None], 0.25)
    np.testing.assert_array_equal(got.class_ids, [0, 2])
