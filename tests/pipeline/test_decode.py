import cv2
import numpy as np
import pytest
import torch

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
