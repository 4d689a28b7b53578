// Instance masks for kept detections, box-local, and their translucent blend into the frame.
//
// Reference: rtdetect/masks.py (process_masks -> BoxMasks). For detection d with coefficients c_d (nm) and
// protos P (nm, mh, mw), logits L_d = c_d @ P. Mask d is stored as a crop covering exactly the frame pixels
// whose centres are in its box (x1 <= x + 0.5 < x2, y1 <= y + 0.5 < y2; an empty box gives a 0x0 crop at
// the origin); pixel (x, y) of the crop is set when the logit sampled bilinearly at
// u = ((x + 0.5) * scale + pad_x) * ratio_x - 0.5 (ratio_x = mw / input_w as float32, clamped to
// [0, mw - 1]; v likewise) is > 0. Sampling interpolates vertically first, then horizontally, with the
// reference's float32 operation order, so a pixel can differ only where the logit itself differs in its
// last bits (the reference's matrix product sums in another order): where |logit| is ~1e-6 or less.
//
// Four kernels; the number of detections is read from device memory (`count`, capped at max_det):
//   mask_crops           (one block) each detection's crop rectangle and where its bytes start in one
//                        packed buffer (exclusive scan of the crop areas); info = {total bytes, n}
//   mask_logits_f32/f16  logits (max_det, mh, mw) float32, only over the proto cells each box samples
//   mask_rasterize       the crops, packed: crop d is rows of w_d bytes (0/1) at offsets[d]; blocks stride
//                        over all crop pixels of the frame (the grid does not depend on the frame size
//                        or max_det), only bytes below `capacity` are written
//   mask_blend           paints every pixel covered by a shown mask (class id >= 0): the thread of the last
//                        one covering it applies all of them in order, palette[class_d mod n_colors], alpha
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
__device__ __forceinline__ void rt_mask_logits(const float* __restrict__ coefs, const P* __restrict__ protos,
                                               const float* __restrict__ boxes, const unsigned* __restrict__ count,
                                               unsigned max_det, int nm, RtMaskGeometry g,
                                               float* __restrict__ logits) {
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
    const float *__restrict__ coefs, const P *__restrict__ protos, const float *__restrict__ boxes,          \
        const unsigned *__restrict__ count, unsigned max_det, int nm, int mh, int mw, float scale, float pad_x, \
        float pad_y, float ratio_x, float ratio_y, int frame_w, int frame_h, float *__restrict__ logits
#define RT_GEOMETRY RtMaskGeometry{mh, mw, scale, pad_x, pad_y, ratio_x, ratio_y, frame_w, frame_h}

extern "C" __global__ void mask_logits_f32(RT_LOGITS_PARAMS(float)) {
    rt_mask_logits(coefs, protos, boxes, count, max_det, nm, RT_GEOMETRY, logits);
}
extern "C" __global__ void mask_logits_f16(RT_LOGITS_PARAMS(__half)) {
    rt_mask_logits(coefs, protos, boxes, count, max_det, nm, RT_GEOMETRY, logits);
}

// info[0] of a frame whose crops need 2^32 - 1 bytes or more (offsets are 32-bit): nothing is rasterized,
// and the host refuses the frame (an 8K frame's 300 boxes could cover 10 GB; real frames need far less).
#define RT_CROPS_TOO_LARGE 0xFFFFFFFFu

// One block: rects[d] = {x0, y0, w, h} of crop d (frame pixels), offsets[d] = first byte of crop d in
// the packed buffer (offsets[n] = total), info = {total bytes, n}. Each thread owns a contiguous chunk of
// detections, so one block scan places them all. The sums are 64-bit, so a total too large for the
// offsets is seen (info[0] = RT_CROPS_TOO_LARGE, offsets 0) instead of wrapping.
extern "C" __global__ void mask_crops(const float* __restrict__ boxes, const unsigned* __restrict__ count,
                                      unsigned max_det, int frame_w, int frame_h, int* __restrict__ rects,
                                      unsigned* __restrict__ offsets, unsigned* __restrict__ info) {
    __shared__ unsigned long long scratch[1024];
    const RtMaskGeometry g = RtMaskGeometry{0, 0, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, frame_w, frame_h};
    const unsigned n = rt_min_u(*count, max_det);
    unsigned begin, end;
    rt_thread_chunk(n, &begin, &end);
    unsigned long long mine = 0;
    for (unsigned d = begin; d < end; ++d) {
        int c0, c1, r0, r1;
        if (!rt_box_range(boxes + 4 * d, g, &c0, &c1, &r0, &r1)) {
            c0 = c1 = r0 = r1 = 0;
        }
        rects[4 * d + 0] = c0;
        rects[4 * d + 1] = r0;
        rects[4 * d + 2] = c1 - c0;
        rects[4 * d + 3] = r1 - r0;
        mine += (unsigned long long)(c1 - c0) * (unsigned long long)(r1 - r0);
    }
    unsigned long long total;
    unsigned long long next = rt_block_exclusive_scan(mine, scratch, &total);
    const bool fits = total < RT_CROPS_TOO_LARGE;
    for (unsigned d = begin; d < end; ++d) {
        offsets[d] = fits ? (unsigned)next : 0u;
        next += (unsigned long long)rects[4 * d + 2] * (unsigned long long)rects[4 * d + 3];
    }
    if (threadIdx.x == 0) {
        offsets[n] = fits ? (unsigned)total : 0u;
        info[0] = fits ? (unsigned)total : RT_CROPS_TOO_LARGE;
        info[1] = n;
    }
}

// Is frame pixel (x, y) set in crop e?
__device__ __forceinline__ bool rt_crop_bit(const unsigned char* crops, const int* rects, const unsigned* offsets,
                                            unsigned e, int x, int y) {
    const int* r = rects + 4 * e;
    if (x < r[0] || y < r[1] || x >= r[0] + r[2] || y >= r[1] + r[3]) {
        return false;
    }
    return crops[offsets[e] + (unsigned)(y - r[1]) * (unsigned)r[2] + (unsigned)(x - r[0])] != 0;
}

// crops: the packed crops of mask_crops' layout, bytes 0/1; only bytes below `capacity` are written (the
// host compares info[0] with it and grows the buffer when a frame needs more).
extern "C" __global__ void mask_rasterize(const float* __restrict__ logits, const int* __restrict__ rects,
                                          const unsigned* __restrict__ offsets, const unsigned* __restrict__ info,
                                          int mh, int mw, float scale, float pad_x, float pad_y, float ratio_x,
                                          float ratio_y, unsigned capacity, unsigned char* __restrict__ crops) {
    const unsigned n = info[1];
    const unsigned total = info[0] == RT_CROPS_TOO_LARGE ? 0u : rt_min_u(info[0], capacity);
    const long long cells = (long long)mh * mw;
    for (unsigned k = rt_global_thread(); k < total; k += rt_grid_stride()) {
        const unsigned d = rt_item_of(offsets, n, k);
        const int* r = rects + 4 * d;
        const unsigned local = k - offsets[d];
        const int x = r[0] + (int)(local % (unsigned)r[2]);
        const int y = r[1] + (int)(local / (unsigned)r[2]);
        const float* L = logits + d * cells;
        int xl, xh, yl, yh;
        float wx, wy;
        rt_proto_tap(x, scale, pad_x, ratio_x, mw, &xl, &xh, &wx);
        rt_proto_tap(y, scale, pad_y, ratio_y, mh, &yl, &yh, &wy);
        const float left = L[yl * mw + xl] * (1.0f - wy) + L[yh * mw + xl] * wy;
        const float right = L[yl * mw + xh] * (1.0f - wy) + L[yh * mw + xh] * wy;
        crops[k] = (left * (1.0f - wx) + right * wx) > 0.0f ? 1 : 0;
    }
}

// frame: (H, W, 3) uint8 BGR, row y at frame + y * pitch bytes, painted in place. A detection whose class
// id is negative is hidden (not painted: the pipeline hides those a class filter drops). A pixel covered by
// the masks of shown detections d1 < d2 < ... is painted by the thread of its last one: for each of them in
// order, every channel becomes floor(v * (1 - alpha) + colour * alpha + 0.5) (float32), colour =
// palette[class_d mod n_colors] (BGR). Work is O(crop pixels x detections); pixels no shown mask covers
// are not touched. Needs info[0] <= capacity (the host guarantees it before blending).
extern "C" __global__ void mask_blend(unsigned char* __restrict__ frame, int pitch,
                                      const unsigned char* __restrict__ crops, const int* __restrict__ rects,
                                      const unsigned* __restrict__ offsets, const unsigned* __restrict__ info,
                                      unsigned capacity, const int* __restrict__ classes,
                                      const unsigned char* __restrict__ palette, int n_colors, float alpha) {
    const unsigned n = info[1];
    const unsigned total = rt_min_u(info[0], capacity);
    const float keep = 1.0f - alpha;
    for (unsigned k = rt_global_thread(); k < total; k += rt_grid_stride()) {
        if (!crops[k]) {
            continue;
        }
        const unsigned d = rt_item_of(offsets, n, k);
        if (classes[d] < 0) {
            continue;
        }
        const unsigned local = k - offsets[d];
        const int x = rects[4 * d] + (int)(local % (unsigned)rects[4 * d + 2]);
        const int y = rects[4 * d + 1] + (int)(local / (unsigned)rects[4 * d + 2]);
        bool last = true;
        for (unsigned e = d + 1; e < n && last; ++e) {
            last = classes[e] < 0 || !rt_crop_bit(crops, rects, offsets, e, x, y);
        }
        if (!last) {
            continue;
        }
        unsigned char* px = frame + (long long)y * pitch + 3LL * x;
        float bgr[3] = {(float)px[0], (float)px[1], (float)px[2]};
        for (unsigned e = 0; e <= d; ++e) {
            if (e < d && (classes[e] < 0 || !rt_crop_bit(crops, rects, offsets, e, x, y))) {
                continue;
            }
            const int colour = classes[e] % n_colors;
            for (int c = 0; c < 3; ++c) {
                const float mixed = bgr[c] * keep + (float)palette[3 * colour + c] * alpha;
                bgr[c] = fminf(floorf(mixed + 0.5f), 255.0f);
            }
        }
        for (int c = 0; c < 3; ++c) {
            px[c] = (unsigned char)bgr[c];
        }
    }
}
