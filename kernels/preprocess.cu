// Letterbox preprocessing in one pass: uint8 BGR frame -> network input, NCHW RGB in [0, 1].
//
// The reference is rtdetect/preprocess.py: cv2.resize(INTER_LINEAR) of the frame to (new_h, new_w),
// placed at (pad_y, pad_x) on a (dst_h, dst_w) canvas filled with 114, then RGB, / 255, NCHW.
// One thread per canvas pixel (grid-stride loop); each writes its three channel planes.
//
// Sampling follows cv2's INTER_LINEAR: half-pixel centres, src = (dst + 0.5) * (src_size / new_size) - 0.5,
// taps clamped to the frame edge (a coordinate below 0 or at/after the last pixel uses that edge pixel
// alone), two taps per axis even when shrinking (cv2 does not area-average for INTER_LINEAR). cv2 blends in
// 11-bit fixed point; this blends in float32 and rounds to the nearest uint8, so results agree within one
// grey level.
#include "common.cuh"

#define RT_PAD_VALUE 114.0f

// Source tap along one axis for destination index d: lower index, weight of the upper tap.
__device__ __forceinline__ void rt_linear_tap(int d, float scale, int src_size, int* lower, float* frac) {
    const float coord = ((float)d + 0.5f) * scale - 0.5f;
    int i = (int)floorf(coord);
    float f = coord - (float)i;
    if (i < 0) {
        i = 0;
        f = 0.0f;
    }
    if (i >= src_size - 1) {
        i = src_size - 1;
        f = 0.0f;
    }
    *lower = i;
    *frac = f;
}

// One letterboxed BGR pixel (as floats in [0, 255], already rounded to whole grey levels).
__device__ __forceinline__ void rt_sample_bgr(const unsigned char* src, long long src_pitch, int src_h, int src_w,
                                              int rx, int ry, float scale_y, float scale_x, float bgr[3]) {
    int x0, y0;
    float fx, fy;
    rt_linear_tap(rx, scale_x, src_w, &x0, &fx);
    rt_linear_tap(ry, scale_y, src_h, &y0, &fy);
    const int x1 = rt_min_i(x0 + 1, src_w - 1);
    const int y1 = rt_min_i(y0 + 1, src_h - 1);
    const unsigned char* row0 = src + (long long)y0 * src_pitch;
    const unsigned char* row1 = src + (long long)y1 * src_pitch;
    for (int c = 0; c < 3; ++c) {
        const float top = (float)row0[3 * x0 + c] * (1.0f - fx) + (float)row0[3 * x1 + c] * fx;
        const float bottom = (float)row1[3 * x0 + c] * (1.0f - fx) + (float)row1[3 * x1 + c] * fx;
        const float value = top * (1.0f - fy) + bottom * fy;
        bgr[c] = fminf(floorf(value + 0.5f), 255.0f);
    }
}

// src: (src_h, src_w, 3) uint8 BGR, row y at src + y * src_pitch bytes.
// dst: (1, 3, dst_h, dst_w) OutT, RGB planes. The frame is resized to (new_h, new_w) at (pad_y, pad_x);
// scale_y = src_h / new_h and scale_x = src_w / new_w (float32, computed on the host in double).
template <typename OutT>
__device__ __forceinline__ void rt_letterbox(const unsigned char* __restrict__ src, long long src_pitch, int src_h,
                                             int src_w, OutT* __restrict__ dst, int dst_h, int dst_w, int new_h, int new_w, int pad_y,
                                             int pad_x, float scale_y, float scale_x) {
    const long long plane = (long long)dst_h * dst_w;
    const float inv255 = 1.0f / 255.0f;
    for (long long idx = rt_global_thread(); idx < plane; idx += rt_grid_stride()) {
        const int y = (int)(idx / dst_w);
        const int x = (int)(idx - (long long)y * dst_w);
        const int rx = x - pad_x;
        const int ry = y - pad_y;
        if (rx < 0 || rx >= new_w || ry < 0 || ry >= new_h) {
            const float pad = RT_PAD_VALUE / 255.0f;  // as the reference: 114 / 255 rounded once
            rt_store(dst, idx, pad);
            rt_store(dst, plane + idx, pad);
            rt_store(dst, 2 * plane + idx, pad);
            continue;
        }
        float bgr[3];
        rt_sample_bgr(src, src_pitch, src_h, src_w, rx, ry, scale_y, scale_x, bgr);
        rt_store(dst, idx, bgr[2] * inv255);
        rt_store(dst, plane + idx, bgr[1] * inv255);
        rt_store(dst, 2 * plane + idx, bgr[0] * inv255);
    }
}

extern "C" __global__ void letterbox_bgr_to_nchw_f32(const unsigned char* __restrict__ src, int src_pitch, int src_h,
                                                     int src_w, float* __restrict__ dst, int dst_h, int dst_w, int new_h, int new_w,
                                                     int pad_y, int pad_x, float scale_y, float scale_x) {
    rt_letterbox(src, src_pitch, src_h, src_w, dst, dst_h, dst_w, new_h, new_w, pad_y, pad_x, scale_y, scale_x);
}

extern "C" __global__ void letterbox_bgr_to_nchw_f16(const unsigned char* __restrict__ src, int src_pitch, int src_h,
                                                     int src_w, __half* __restrict__ dst, int dst_h, int dst_w, int new_h, int new_w,
                                                     int pad_y, int pad_x, float scale_y, float scale_x) {
    rt_letterbox(src, src_pitch, src_h, src_w, dst, dst_h, dst_w, new_h, new_w, pad_y, pad_x, scale_y, scale_x);
}
