"""TensorRT support: engine build and cache, the precision plan for TensorRT 10 and 11, INT8 calibration
into a Q/DQ ONNX, and the zero-copy GPU pipeline.

Nothing here imports ``tensorrt`` or ``pycuda`` at import time: every module that needs them imports
them inside the function that does, through :mod:`rtdetect.trt.deps`, which turns their absence into a
one-line ``TensorRTUnavailable`` naming ``pip install 'rtdetect[tensorrt]'``. The CPU-side parts (the
precision plan, the cache keys, the fp16 and Q/DQ ONNX variants) run anywhere.

Modules, one job each:

=================  =====================================================================================
``plan``           ``precision_plan(trt_version, precision) -> Plan``: which ONNX, which flags, typing
``cache``          engine cache: keys, paths, sidecar JSON, atomic writes, validation
``onnx_variants``  ONNX inspection, the detection-head node set, the fp16 variant
``calibration``    representative letterboxed frames from a video, an image folder or both
``quantize``       the INT8 Q/DQ ONNX (ONNX Runtime static quantization, symmetric, head kept float)
``device``         CUDA device facts and the primary context (retain, push/pop)
``builder``        ``build_engine(...) -> EnginePaths``: plan + cache + TensorRT builder
``buffers``        pinned host and device buffers per engine I/O tensor
``runtime``        deserialisation, named tensors, one stream, ``execute_async_v3``
``gpu_pipeline``   frame in, ``Detections`` out, everything between on the device
=================  =====================================================================================
"""
