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
``models``         which ONNX to build from for an .onnx file, a .pt checkpoint or a zoo name
``device``         CUDA device facts and the primary context (retain, push/pop)
``toolkit``        the TensorRT build calls (parse, flags, profile, timing cache, serialise)
``builder``        ``build_engine(...) -> EnginePaths``: plan + cache + toolkit, rebuild of bad engines
``runtime``        ``EngineRunner``: deserialisation, named tensors, buffers once, one stream
``gpu_pipeline``   ``GpuPipeline``: frame in, ``Detections`` out, everything between on the device
``gpu_slots``      double-buffered frame upload
``gpu_graph``      CUDA graph capture of the fixed-shape part, with eager fallback
``cuda_graphs``    the CUDA driver's graph calls through ctypes (pycuda has no graph API)
``gpu_timing``     CUDA events per GPU stage
=================  =====================================================================================

The ``Engine`` protocol implementation is :class:`rtdetect.inference.tensorrt.TensorRTEngine`.
"""
