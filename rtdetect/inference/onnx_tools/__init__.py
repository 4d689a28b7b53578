"""ONNX tooling on the CPU, for every backend: inspection and the fp16 variant (``variants``),
representative calibration frames (``calibration``) and the INT8 Q/DQ ONNX (``quantize``, ONNX Runtime
static quantization), and ONNX Runtime made quiet for every session rtdetect opens (``runtime``).
TensorRT builds from these files; ONNX Runtime and OpenVINO run them."""
