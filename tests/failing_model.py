"""A real detector that the runtimes themselves fail to run on bright frames, for the tests of inference
failures: the model's first output gets a branch that reshapes two of the input's pixels to (1, 2) when
the input's brightest value is at most 0.5 and to (2, 3) when it is above, which no runtime can do. The
padding-grey warm-up (114/255) and darkened images (see :func:`darkened`) run; a real photo or video frame
makes ONNX Runtime raise, and OpenVINO raise from the request (asynchronously for a started request).
The detections of the frames that run are the original model's (the branch adds 0).
"""
from pathlib import Path

import cv2
import numpy as np

BRIGHT = 0.5  # inputs whose largest value is above this fail
DARK_SCALE = 0.4  # a darkened image's pixels are at most 0.4 * 255: below BRIGHT once normalised


def fail_on_bright(model_path, out_path) -> Path:
    """``model_path`` (an ONNX detector with one NCHW input) with the failing branch (see the module
    docstring) added before its first output; written to ``out_path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    images, output = graph.input[0].name, graph.output[0].name
    raw = f"{output}_unchecked"
    for node in graph.node:
        node.output[:] = [raw if name == output else name for name in node.output]
        node.input[:] = [raw if name == output else name for name in node.input]
    graph.initializer.extend([numpy_helper.from_array(np.array(BRIGHT, np.float32), "check_bright_limit"),
                              numpy_helper.from_array(np.array([0], np.int64), "check_zero"),
                              numpy_helper.from_array(np.array([1], np.int64), "check_one"),
                              numpy_helper.from_array(np.array([2], np.int64), "check_two"),
                              numpy_helper.from_array(np.array([-1], np.int64), "check_flat")])
    graph.node.extend([
        helper.make_node("ReduceMax", [images], ["check_max"], keepdims=0),
        helper.make_node("Greater", ["check_max", "check_bright_limit"], ["check_is_bright"]),
        helper.make_node("Cast", ["check_is_bright"], ["check_k0"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["check_k0", "check_one"], ["check_k"]),
        helper.make_node("Add", ["check_k", "check_one"], ["check_rows"]),  # 1 or 2
        helper.make_node("Add", ["check_k", "check_two"], ["check_cols"]),  # 2 or 3 (both vary: no -1 fusion)
        helper.make_node("Concat", ["check_rows", "check_cols"], ["check_shape"], axis=0),
        helper.make_node("Reshape", [images, "check_flat"], ["check_pixels"]),
        helper.make_node("Slice", ["check_pixels", "check_zero", "check_two"], ["check_pair"]),
        helper.make_node("Reshape", ["check_pair", "check_shape"], ["check_reshaped"]),
        helper.make_node("ReduceSum", ["check_reshaped"], ["check_sum"], keepdims=0),
        helper.make_node("Sub", ["check_sum", "check_sum"], ["check_nothing"]),
        helper.make_node("Add", [raw, "check_nothing"], [output]),
    ])
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))
    return Path(out_path)


def darkened(image_path, out_path) -> Path:
    """A copy of the image at ``image_path`` with every pixel scaled by ``DARK_SCALE`` (the failing
    model runs on it)."""
    image = cv2.imread(str(image_path))
    cv2.imwrite(str(out_path), (image.astype(np.float32) * DARK_SCALE).astype(np.uint8))
    return Path(out_path)


def dark_then_bright(data_dir, folder) -> Path:
    """An image folder at ``folder``: two darkened photos (the failing model runs on them), a real one (it
    fails), one more darkened."""
    folder = Path(folder)
    folder.mkdir()
    darkened(data_dir / "zidane.jpg", folder / "1.jpg")
    darkened(data_dir / "person.jpg", folder / "2.jpg")
    cv2.imwrite(str(folder / "3.jpg"), cv2.imread(str(data_dir / "bus.jpg")))
    darkened(data_dir / "dog.jpg", folder / "4.jpg")
    return folder
