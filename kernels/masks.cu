// Instance masks for kept detections, and their translucent blend into the frame.
//
// Reference: rtdetect/masks.py (process_masks). For detection d with coefficients c_d (nm) and protos P
// (nm, mh, mw), logits L_d = c_d @ P. Frame pixel (x, y) is in mask d when its centre is in the box
// (x1 <= x + 0.5 < x2, y1 <= y + 0.5 < y2) and the logit sampled bilinearly at
// u = ((x + 0.5) * scale + pad_x) * ratio_x - 0.5 (ratio_x = mw / input_w as float32, clamped to
// [0, mw - 1]; v likewise) is > 0. Sampling interpolates vertically first, then horizontally, with the
// reference's float32 operation order, so a pixel can differ only where the logit itself differs in its
// last bits (the reference's matrix product sums in another order): where |logit| is ~1e-6 or less.
//
// Three kernels, each striding over detections with blockIdx.y and over pixels with blockIdx.x:
//   mask_logits_f32/f16  logits (max_det, mh, mw) float32, only over the proto cells the box samples
//   mask_rasterize       masks (max_det, frame_h, frame_w) uint8 0/1, whole frame (zeros outside the box)
//   mask_blend           paints mask d in palette[class_d mod n_colors] with opacity alpha into a BGR frame
// The number of detections is read from device memory (`count`, capped at max_det).
#include "common.cuh"

// Pixel index range [*first, *stop) whose centres c + 0.5 satisfy lo <= c + 0.5 < hi, within [0, size).
__device__ __forceinline__ void rt_box_pixels(float lo, float hi, int size, int* first, int* stop) {
    const int a = (int)ceilf(lo - 0.5f);
    const int b = (int)ceilf(hi - 0.5f);
    *first = rt_max_i(0, a);
    *stop = rt_min_i(size, rt_max_i(b, 0));
}

// Bilinear taps along one axis for frame pixel p: lower and upper grid index, weight of the upper one.
__device__ __forceinline__ void rt_proto_tap(int p, float scale, float pad, float ratio, int grid, int* lower,
                                             int* upper, float* weight) {
    float coord = (((float)p + 0.5f) * scale + pad) * ratio - 0.5f;
    coord = fminf(fmaxf(coord, 0.0f), (float)(grid - 1));
    const float f = floorf(coord);
    *lower = (int)f;
    *upper = rt_min_i(*lower + 1, grid - 1);
    *weight = coord - f;
}

// The geometry shared by the mask kernels (all float32 / int32 as the reference computes them).
struct RtMaskGeometry {
    int mh, mw;
    float scale, pad_x, pad_y, ratio_x, ratio_y;
    int frame_w, frame_h;
};

// Box d's pixel ranges; false when the box covers no pixel centre.
__device__ __forceinline__ bool rt_box_range(const float* box, const RtMaskGeometry& g, int* c0, int* c1, int* r0,
                                             int* r1) {
    rt_box_pixels(box[0], box[2], g.frame_w, c0, c1);
    rt_box_pixels(box[1], box[3], g.frame_h, r0, r1);
    return *c0 < *c1 && *r0 < *r1;
}

template <typename P>
__device__ __forceinline__ void rt_mask_logits(const float* coefs, const P* protos, const float* boxes,
                                               const unsigned* count, unsigned max_det, int nm, RtMaskGeometry g,
                                               float* logits) {
    const unsigned n = rt_min_u(*count, max_det);
    const long long cells = (long long)g.mh * g.mw;
    for (unsigned d = blockIdx.y; d < n; d += gridDim.y) {
        int c0, c1, r0, r1;
        if (!rt_box_range(boxes + 4 * d, g, &c0, &c1, &r0, &r1)) {
            continue;
        }
        // The proto cells sampled by the box's first and last pixels bound all others (u grows with x).
        int u0, u1, v0, v1, unused;
        float w;
        rt_proto_tap(c0, g.scale, g.pad_x, g.ratio_x, g.mw, &u0, &unused, &w);
        rt_proto_tap(c1 - 1, g.scale, g.pad_x, g.ratio_x, g.mw, &unused, &u1, &w);
        rt_proto_tap(r0, g.scale, g.pad_y, g.ratio_y, g.mh, &v0, &unused, &w);
        rt_proto_tap(r1 - 1, g.scale, g.pad_y, g.ratio_y, g.mh, &unused, &v1, &w);
        const int width = u1 - u0 + 1;
        const long long area = (long long)width * (v1 - v0 + 1);
        for (long long k = rt_global_thread(); k < area; k += rt_grid_stride()) {
            const long long cell = (long long)(v0 + (int)(k / width)) * g.mw + (u0 + (int)(k % width));
            float sum = 0.0f;
            for (int m = 0; m < nm; ++m) {
                sum += coefs[(long long)d * nm + m] * rt_load(protos, m * cells + cell);
            }
            logits[d * cells + cell] = sum;
        }
    }
}

// coefs (max_det, nm) float32; protos (nm, mh, mw); boxes (max_det, 4) float32 frame pixels;
// logits (max_det, mh, mw) float32 scratch (cells outside a box's footprint are left untouched).
#define RT_LOGITS_PARAMS(P)                                                                                  \
    const float *coefs, const P *protos, const float *boxes, const unsigned *count, unsigned max_det, int nm, \
        int mh, int mw, float scale, float pad_x, float pad_y, float ratio_x, float ratio_y, int frame_w,     \
        int frame_h, float *logits
#define RT_GEOMETRY RtMaskGeometry{mh, mw, scale, pad_x, pad_y, ratio_x, ratio_y, frame_w, frame_h}

extern "C" __global__ void mask_logits_f32(RT_LOGITS_PARAMS(float)) {
    rt_mask_logits(coefs, protos, boxes, count, max_det, nm, RT_GEOMETRY, logits);
}
extern "C" __global__ void mask_logits_f16(RT_LOGITS_PARAMS(__half)) {
    rt_mask_logits(coefs, protos, boxes, count, max_det, nm, RT_GEOMETRY, logits);
}

// masks (max_det, frame_h, frame_w) uint8: 1 inside mask d, 0 elsewhere, for d < count.
extern "C" __global__ void mask_rasterize(const float* logits, const float* boxes, const unsigned* count,
                                          unsigned max_det, int mh, int mw, float scale, float pad_x, float pad_y,
                                          float ratio_x, float ratio_y, int frame_w, int frame_h,
                                          unsigned char* masks) {
    const RtMaskGeometry g = RT_GEOMETRY;
    const unsigned n = rt_min_u(*count, max_det);
    const long long pixels = (long long)frame_h * frame_w;
    const long long cells = (long long)mh * mw;
    for (unsigned d = blockIdx.y; d < n; d += gridDim.y) {
        int c0, c1, r0, r1;
        const bool any = rt_box_range(boxes + 4 * d, g, &c0, &c1, &r0, &r1);
        const float* L = logits + d * cells;
        for (long long k = rt_global_thread(); k < pixels; k += rt_grid_stride()) {
            const int y = (int)(k / frame_w);
            const int x = (int)(k - (long long)y * frame_w);
            unsigned char inside = 0;
            if (any && x >= c0 && x < c1 && y >= r0 && y < r1) {
                int xl, xh, yl, yh;
                float wx, wy;
                rt_proto_tap(x, scale, pad_x, ratio_x, mw, &xl, &xh, &wx);
                rt_proto_tap(y, scale, pad_y, ratio_y, mh, &yl, &yh, &wy);
                const float left = L[yl * mw + xl] * (1.0f - wy) + L[yh * mw + xl] * wy;
                const float right = L[yl * mw + xh] * (1.0f - wy) + L[yh * mw + xh] * wy;
                inside = (left * (1.0f - wx) + right * wx) > 0.0f ? 1 : 0;
            }
            masks[d * pixels + k] = inside;
        }
    }
}

// frame: (frame_h, frame_w, 3) uint8 BGR, row y at frame + y * pitch bytes, painted in place. For each
// pixel, masks d = 0 .. count-1 in order: where mask d is set, every channel becomes
// floor(v * (1 - alpha) + colour * alpha + 0.5) (float32), colour = palette[class_d mod n_colors] (BGR).
// One thread per pixel, blocks over pixels only (gridDim.y must be 1).
extern "C" __global__ void mask_blend(unsigned char* frame, int pitch, int frame_h, int frame_w,
                                      const unsigned char* masks, const int* classes, const unsigned* count,
                                      unsigned max_det, const unsigned char* palette, int n_colors, float alpha) {
    const unsigned n = rt_min_u(*count, max_det);
    const long long pixels = (long long)frame_h * frame_w;
    const float keep = 1.0f - alpha;
    for (long long k = rt_global_thread(); k < pixels; k += rt_grid_stride()) {
        const int y = (int)(k / frame_w);
        const int x = (int)(k - (long long)y * frame_w);
        unsigned char* px = frame + (long long)y * pitch + 3LL * x;
        float bgr[3] = {(float)px[0], (float)px[1], (float)px[2]};
        bool painted = false;
        for (unsigned d = 0; d < n; ++d) {
            if (!masks[d * pixels + k]) {
                continue;
            }
            const int colour = ((classes[d] % n_colors) + n_colors) % n_colors;
            for (int c = 0; c < 3; ++c) {
                const float mixed = bgr[c] * keep + (float)palette[3 * colour + c] * alpha;
                bgr[c] = fminf(floorf(mixed + 0.5f), 255.0f);
            }
            painted = true;
        }
        if (painted) {
            for (int c = 0; c < 3; ++c) {
                px[c] = (unsigned char)bgr[c];
            }
        }
    }
}
