// Decode raw detector outputs into a capped, compacted candidate list in network input pixels.
//
// References: rtdetect/decode/{anchor_based,anchor_free,end_to_end}.py. Boxes stay in input pixels, not
// clipped: NMS compares them there, as the CPU path does, and nms_gather maps the kept ones to frame pixels
// and clips them (Letterbox.to_original), so the two paths keep the same boxes at the frame's borders.
// One thread per model candidate (grid-stride loop). A candidate passes when its score is strictly
// greater than `conf`; its best class is the lowest class id among equal maxima. Non-finite outputs follow
// the CPU decoders' rule (rtdetect/decode/base.py): a NaN at any class or in the box corners drops the
// candidate, +-Inf are ordinary values, an end-to-end class outside [0, nc) drops the row. Passing candidates
// take a slot from `counter` with atomicAdd: slots below `capacity` are written, the rest are only
// counted, so the host reads overflow = counter - capacity (never silent). Slot order is whatever the
// atomics give; `out_source` records each slot's model candidate index so the order can be restored.
//
// Outputs, all of length `capacity`: out_boxes (capacity, 4) float32 x1 y1 x2 y2 in input pixels,
// out_scores float32, out_classes int32, out_source int32. Mask coefficients are not copied here: they
// stay in `pred` and nms_gather copies those of the kept candidates. `counter` (one uint32) must be zeroed
// before the launch.
#include "common.cuh"

// Claim a slot and write one candidate (its mask coefficients stay in the model output: the NMS gather
// copies those of the kept candidates, by `source`).
__device__ __forceinline__ void rt_emit(float x1, float y1, float x2, float y2, float score, int cls, int source,
                                        float* __restrict__ out_boxes,
                                        float* __restrict__ out_scores, int* __restrict__ out_classes,
                                        int* __restrict__ out_source, unsigned* counter, unsigned capacity) {
    const unsigned slot = atomicAdd(counter, 1u);
    if (slot >= capacity) {
        return;
    }
    out_boxes[4 * slot + 0] = x1;
    out_boxes[4 * slot + 1] = y1;
    out_boxes[4 * slot + 2] = x2;
    out_boxes[4 * slot + 3] = y2;
    out_scores[slot] = score;
    out_classes[slot] = cls;
    out_source[slot] = source;
}

__device__ __forceinline__ bool rt_any_nan(const float box[4]) {
    return box[0] != box[0] || box[1] != box[1] || box[2] != box[2] || box[3] != box[3];
}

// Best class of scores s(0) .. s(nc - 1): the lowest id among equal maxima; a NaN at any class makes the
// score NaN (as NumPy's max), which never passes. The loop has no exit that depends on a loaded value (a
// NaN, once taken, stays: nothing compares greater than it), so the compiler can unroll it and issue
// RT_CLASS_UNROLL loads before the first comparison instead of one dependent load per class.
#define RT_CLASS_UNROLL 8
template <typename T>
__device__ __forceinline__ float rt_best_class(const T* __restrict__ scores, long long stride, int nc, int* cls) {
    float best = rt_load(scores, 0);
    int best_class = 0;
    RT_PRAGMA_UNROLL(RT_CLASS_UNROLL)
    for (int c = 1; c < nc; ++c) {
        const float s = rt_load(scores, c * stride);
        // Bitwise, not short-circuit: a select, no branch between the unrolled loads.
        const bool take = (s > best) | ((s != s) & (best == best));
        best = take ? s : best;
        best_class = take ? c : best_class;
    }
    *cls = best_class;
    return best;
}

// Centre-size to corners, as rtdetect.decode.xywh_to_xyxy: half = size * 0.5, corners = centre -+ half.
__device__ __forceinline__ void rt_xywh_to_xyxy(float cx, float cy, float w, float h, float box[4]) {
    const float half_w = w * 0.5f;
    const float half_h = h * 0.5f;
    box[0] = cx - half_w;
    box[1] = cy - half_h;
    box[2] = cx + half_w;
    box[3] = cy + half_h;
}

// YOLOv8 / YOLO11: pred (4 + nc + nm, n) channels first.
template <typename T>
__device__ __forceinline__ void rt_decode_v8(const T* __restrict__ pred, int n, int nc, float conf,
                                             float* __restrict__ out_boxes, float* __restrict__ out_scores,
                                             int* __restrict__ out_classes, int* __restrict__ out_source,
                                             unsigned* counter, unsigned capacity) {
    for (long long i = rt_global_thread(); i < n; i += rt_grid_stride()) {
        int cls;
        const float best = rt_best_class(pred + 4LL * n + i, (long long)n, nc, &cls);
        if (!(best > conf)) {
            continue;
        }
        float box[4];
        rt_xywh_to_xyxy(rt_load(pred, i), rt_load(pred, (long long)n + i), rt_load(pred, 2LL * n + i),
                        rt_load(pred, 3LL * n + i), box);
        if (rt_any_nan(box)) {
            continue;
        }
        rt_emit(box[0], box[1], box[2], box[3], best, cls, (int)i, out_boxes, out_scores, out_classes, out_source,
                counter, capacity);
    }
}

// YOLOv5: pred (n, 5 + nc + nm) rows [cx, cy, w, h, obj, classes..., coefs...]; score = obj * best class.
template <typename T>
__device__ __forceinline__ void rt_decode_v5(const T* __restrict__ pred, int n, int nc, int nm, float conf,
                                             float* __restrict__ out_boxes, float* __restrict__ out_scores,
                                             int* __restrict__ out_classes, int* __restrict__ out_source,
                                             unsigned* counter, unsigned capacity) {
    const long long width = 5LL + nc + nm;
    for (long long i = rt_global_thread(); i < n; i += rt_grid_stride()) {
        const T* row = pred + i * width;
        const float obj = rt_load(row, 4);
        if (!(obj > conf)) {
            continue;
        }
        int cls;
        const float score = obj * rt_best_class(row + 5, 1LL, nc, &cls);
        if (!(score > conf)) {
            continue;
        }
        float box[4];
        rt_xywh_to_xyxy(rt_load(row, 0), rt_load(row, 1), rt_load(row, 2), rt_load(row, 3), box);
        if (rt_any_nan(box)) {
            continue;
        }
        rt_emit(box[0], box[1], box[2], box[3], score, cls, (int)i, out_boxes, out_scores, out_classes, out_source,
                counter, capacity);
    }
}

// End-to-end (YOLOv10 style): pred (n, 6 + nm) rows [x1, y1, x2, y2, score, class, coefs...].
// A class in [0, nc) is truncated toward zero, as NumPy's astype(int32); any other (NaN, huge, negative)
// drops the row, since its int cast is undefined.
template <typename T>
__device__ __forceinline__ void rt_decode_e2e(const T* __restrict__ pred, int n, int nc, int nm, float conf,
                                              float* __restrict__ out_boxes, float* __restrict__ out_scores,
                                              int* __restrict__ out_classes, int* __restrict__ out_source,
                                              unsigned* counter, unsigned capacity) {
    const long long width = 6LL + nm;
    for (long long i = rt_global_thread(); i < n; i += rt_grid_stride()) {
        const T* row = pred + i * width;
        const float score = rt_load(row, 4);
        const float cls = rt_load(row, 5);
        if (!(score > conf) || !(cls >= 0.0f && cls < (float)nc)) {
            continue;
        }
        const float box[4] = {rt_load(row, 0), rt_load(row, 1), rt_load(row, 2), rt_load(row, 3)};
        if (rt_any_nan(box)) {
            continue;
        }
        rt_emit(box[0], box[1], box[2], box[3], score, (int)cls, (int)i, out_boxes, out_scores, out_classes,
                out_source, counter, capacity);
    }
}

// The entry points share one parameter list:
//   pred, n, nc, nm, conf, out_boxes, out_scores, out_classes, out_source, counter, capacity
#define RT_DECODE_PARAMS(T)                                                                                    \
    const T *__restrict__ pred, int n, int nc, int nm, float conf, float *__restrict__ out_boxes,             \
        float *__restrict__ out_scores, int *__restrict__ out_classes, int *__restrict__ out_source,           \
        unsigned *__restrict__ counter, unsigned capacity
#define RT_DECODE_OUTPUTS out_boxes, out_scores, out_classes, out_source, counter, capacity

extern "C" __global__ void decode_v8_f32(RT_DECODE_PARAMS(float)) {
    (void)nm;  // v8 rows need no width: the coefficients are the last nm channels
    rt_decode_v8(pred, n, nc, conf, RT_DECODE_OUTPUTS);
}
extern "C" __global__ void decode_v8_f16(RT_DECODE_PARAMS(__half)) {
    (void)nm;  // v8 rows need no width: the coefficients are the last nm channels
    rt_decode_v8(pred, n, nc, conf, RT_DECODE_OUTPUTS);
}
extern "C" __global__ void decode_v5_f32(RT_DECODE_PARAMS(float)) {
    rt_decode_v5(pred, n, nc, nm, conf, RT_DECODE_OUTPUTS);
}
extern "C" __global__ void decode_v5_f16(RT_DECODE_PARAMS(__half)) {
    rt_decode_v5(pred, n, nc, nm, conf, RT_DECODE_OUTPUTS);
}
extern "C" __global__ void decode_e2e_f32(RT_DECODE_PARAMS(float)) {
    rt_decode_e2e(pred, n, nc, nm, conf, RT_DECODE_OUTPUTS);
}
extern "C" __global__ void decode_e2e_f16(RT_DECODE_PARAMS(__half)) {
    rt_decode_e2e(pred, n, nc, nm, conf, RT_DECODE_OUTPUTS);
}
