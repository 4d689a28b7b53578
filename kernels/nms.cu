// Class-aware greedy NMS on the device, matching rtdetect/nms/reference.py exactly.
//
// The rule (rtdetect/nms/__init__.py): visit candidates by score descending, ties by lower index; keep a
// candidate unless an already kept candidate of the same class overlaps it with IoU > iou_thres (float32,
// exact operation order, union <= 0 gives IoU 0); stop after max_det kept.
//
// Five launches, all reading the candidate count from device memory (`count`, capped at `capacity`):
//  1. nms_sort     (one block)  the visiting order (`order`, and `rank` = position in it): score
//                               descending, then tie key, then index; and `sorted`: grouped by class, in
//                               visiting order within a class. n <= 1 returns at once; n <= RT_SMALL_SORT
//                               ranks every candidate against all others in shared memory (two barriers);
//                               larger n takes a stable LSD radix sort on 4-bit digits (tie key, score,
//                               class passes) whose histogram accesses are free of bank conflicts.
//  2. nms_segments (one block)  the class segments of `sorted` and how many 64x64 mask tiles each needs.
//  3. nms_mask     (any grid, 64 threads) one 64x64 tile per step: bit j of row i is set when j comes after
//                               i in the same class segment and IoU(i, j) > thr. Rows are segment-relative:
//                               word w of row i covers segment positions 64w .. 64w + 63. Only the tiles on
//                               or above each segment's diagonal exist, packed one after another (64 words
//                               each, in nms_segments' order), so the bitmask is as large as the candidates
//                               that passed need, not capacity^2.
//  4. nms_scan     (any grid)   one block per segment walks its rows in order, 64 rows per step: thread 0
//                               settles the step's rows from the diagonal word, then all threads OR the kept
//                               rows into the later words. Writes keep[rank] = 0 or 1.
//  5. nms_select   (one block)  the first max_det kept candidates in visiting order -> out_index, out_count.
// When the tiles needed (seg_info[1]) exceed the bitmask's `tile_capacity`, kernels 3-5 do nothing but report
// no detection; the host reads seg_info[1], grows the bitmask and runs the frame again (never a wrong answer).
// Classes are independent under the rule, so settling them per segment and then taking kept candidates
// in visiting order gives exactly the reference's answer, max_det included.
#include "common.cuh"

#define RT_TILE 64
#define RT_RADIX_BITS 4
#define RT_RADIX 16
#define RT_SORT_MAX_THREADS 256
// The radix histogram: RT_RADIX rows of blockDim.x counters (rt_hist_counter).
#define RT_HIST_SLOTS (RT_RADIX * RT_SORT_MAX_THREADS)
// Up to this many candidates nms_sort ranks them directly (4 keys each in the histogram's shared memory);
// the radix passes take over where they cost less. Arithmetic (not measured on a GPU), T = 256 threads =
// 8 warps on 4 schedulers, so cycles ~ 2 x one thread's instructions:
//   block sort: 2 ranking loops of ceil(n / T) * n steps, ~9 instructions each (2 shared loads, compare,
//               select, add): ~0.14 n^2 cycles (37 k at n = 512, 147 k ~ 80 us at n = 1024);
//   radix sort: P passes (YOLOv8: 4 tie + 8 score + 2 class = 14; 10 without tie keys) of ~640 + 35 n / T
//               instructions, ~20 barriers (~40 cycles each) and two dependent rounds of global loads
//               (~500 cycles each): P * (3080 + 0.27 n) cycles (45 k at n = 512, 47 k ~ 26 us at 1024).
// They cross near n = 570 with 14 passes and n = 480 with 10: 512. Capped by the shared memory at 1024.
#define RT_SMALL_SORT 512
// nms_scan keeps one segment's "removed" bits in shared memory for segments of up to RT_SCAN_MAX_WORDS * 64
// = 65536 candidates, and in the global `spill` words beyond (one row of `words` per block).
#ifndef RT_SCAN_MAX_WORDS  // a test lowers it to reach the global path with few candidates
#define RT_SCAN_MAX_WORDS 1024
#endif

// IoU by the rule's exact operation order (see the file header); symmetric in a and b bit for bit.
__device__ __forceinline__ float rt_iou(const float* a, const float* b) {
    const float w = fmaxf(0.0f, fminf(a[2], b[2]) - fmaxf(a[0], b[0]));
    const float h = fmaxf(0.0f, fminf(a[3], b[3]) - fmaxf(a[1], b[1]));
    const float inter = w * h;
    const float area_a = fmaxf(0.0f, a[2] - a[0]) * fmaxf(0.0f, a[3] - a[1]);
    const float area_b = fmaxf(0.0f, b[2] - b[0]) * fmaxf(0.0f, b[3] - b[1]);
    const float uni = (area_a + area_b) - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

// Score -> 32-bit key whose ascending order is descending score. -0 counts as +0 and every NaN sorts
// last, as in NumPy's argsort(-scores).
__device__ __forceinline__ unsigned rt_descending_score_key(float score) {
    if (score != score) {
        return 0xFFFFFFFFu;
    }
    const unsigned bits = score == 0.0f ? 0u : __float_as_uint(score);
    const unsigned ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
    return ~ascending;
}

// Radix digit of candidate `item` for pass `pass`: tie passes, then 8 score passes, then class passes.
__device__ __forceinline__ unsigned rt_sort_digit(unsigned item, int pass, int tie_passes, const float* scores,
                                                  const int* classes, const int* tie_keys) {
    unsigned key;
    int shift;
    if (pass < tie_passes) {
        key = (unsigned)tie_keys[item];
        shift = pass * RT_RADIX_BITS;
    } else if (pass < tie_passes + 8) {
        key = rt_descending_score_key(scores[item]);
        shift = (pass - tie_passes) * RT_RADIX_BITS;
    } else {
        key = (unsigned)classes[item];
        shift = (pass - tie_passes - 8) * RT_RADIX_BITS;
    }
    return (key >> shift) & (RT_RADIX - 1);
}

// Shared-memory slot of the histogram counter of digit d, column (thread) t: RT_RADIX rows of `threads`.
// Every access of a radix pass is to a column in step across the warp (a thread's own column, or its
// column - offset in the scan), so a lane's bank depends on its column alone: no bank conflicts whatever
// digit each thread holds. (The scan used to read 16 consecutive counters per thread: 16-word stride,
// up to 16-way conflicts.)
__device__ __forceinline__ unsigned rt_hist_counter(unsigned d, unsigned t, unsigned threads) {
    return d * threads + t;
}

// Counter (d, t) of the histogram `hist`. Every histogram access of a radix pass goes through here, so
// that a probe can see the shared-memory words each lane touches: RT_SHARED_TOUCH(slot, site) may observe
// slot (the word index) and must return it; site tells the accesses apart (tests/kernels/nms_sort_probe.cu
// records them to count bank conflicts). Here it is nothing.
#ifndef RT_SHARED_TOUCH
#define RT_SHARED_TOUCH(slot, site) (slot)
#endif
#define RT_HIST_AT(hist, d, t, threads) (hist)[RT_SHARED_TOUCH(rt_hist_counter((d), (t), (threads)), __LINE__)]

// One stable counting-sort pass: each thread owns its rt_thread_chunk of the positions of `src`.
// Counter (d, t) = how many of thread t's items have digit d. The output position of (d, t)'s first item
// is the total of digits below d plus the counts of digit d in threads before t: each row is scanned
// along the threads (all 16 rows at once, Hillis-Steele), and the row totals give the digit bases.
__device__ __forceinline__ void rt_radix_pass(const unsigned* src, unsigned* dst, unsigned n, int pass,
                                              int tie_passes, const float* scores, const int* classes,
                                              const int* tie_keys, unsigned* hist) {
    const unsigned tid = threadIdx.x;
    const unsigned threads = blockDim.x;
    unsigned begin, end;
    rt_thread_chunk(n, &begin, &end);
    for (int d = 0; d < RT_RADIX; ++d) {
        RT_HIST_AT(hist, d, tid, threads) = 0;
    }
    for (unsigned p = begin; p < end; ++p) {
        RT_HIST_AT(hist, rt_sort_digit(src[p], pass, tie_passes, scores, classes, tie_keys), tid, threads) += 1;
    }
    __syncthreads();
    unsigned mine[RT_RADIX];
    for (int d = 0; d < RT_RADIX; ++d) {
        mine[d] = RT_HIST_AT(hist, d, tid, threads);
    }
    for (unsigned offset = 1; offset < threads; offset <<= 1) {
        unsigned add[RT_RADIX];
        for (int d = 0; d < RT_RADIX; ++d) {
            add[d] = tid >= offset ? RT_HIST_AT(hist, d, tid - offset, threads) : 0u;
        }
        __syncthreads();
        for (int d = 0; d < RT_RADIX; ++d) {
            RT_HIST_AT(hist, d, tid, threads) += add[d];
        }
        __syncthreads();
    }
    unsigned first[RT_RADIX];
    unsigned base = 0;
    for (int d = 0; d < RT_RADIX; ++d) {
        first[d] = base + RT_HIST_AT(hist, d, tid, threads) - mine[d];
        base += RT_HIST_AT(hist, d, threads - 1, threads);  // the same word for all lanes: a broadcast
    }
    __syncthreads();
    for (int d = 0; d < RT_RADIX; ++d) {
        RT_HIST_AT(hist, d, tid, threads) = first[d];
    }
    __syncthreads();
    for (unsigned p = begin; p < end; ++p) {
        const unsigned item = src[p];
        const unsigned d = rt_sort_digit(item, pass, tie_passes, scores, classes, tie_keys);
        dst[RT_HIST_AT(hist, d, tid, threads)++] = item;
    }
    __syncthreads();
}

// The key bits the radix passes look at (4 per pass), as a mask: the block sort compares the same bits.
__device__ __forceinline__ unsigned rt_pass_mask(int passes) {
    return passes >= 8 ? 0xFFFFFFFFu : (1u << (RT_RADIX_BITS * passes)) - 1u;
}

// nms_sort for 2 <= n <= RT_SMALL_SORT: each candidate's position is the number of candidates before it,
// first by (score key, tie key, index) -> order / rank, then by (class, visiting position) -> sorted. The
// same answer as the radix passes, with two barriers. keys: 4 * RT_SMALL_SORT shared words.
__device__ __forceinline__ void rt_small_sort(unsigned n, const float* scores, const int* classes,
                                              const int* __restrict__ tie_keys, unsigned tie_mask,
                                              unsigned class_mask, unsigned* __restrict__ order,
                                              unsigned* __restrict__ rank, unsigned* __restrict__ sorted,
                                              unsigned* keys) {
    unsigned* score_key = keys;
    unsigned* tie = keys + RT_SMALL_SORT;
    unsigned* cls = keys + 2 * RT_SMALL_SORT;
    unsigned* visit = keys + 3 * RT_SMALL_SORT;
    for (unsigned p = threadIdx.x; p < n; p += blockDim.x) {
        score_key[p] = rt_descending_score_key(scores[p]);
        tie[p] = tie_keys ? ((unsigned)tie_keys[p] & tie_mask) : 0u;
        cls[p] = (unsigned)classes[p] & class_mask;
    }
    __syncthreads();
    for (unsigned i = threadIdx.x; i < n; i += blockDim.x) {
        const unsigned key = score_key[i], key_tie = tie[i];
        unsigned before = 0;
        for (unsigned j = 0; j < n; ++j) {
            const unsigned k = score_key[j];
            before += (k < key || (k == key && (tie[j] < key_tie || (tie[j] == key_tie && j < i)))) ? 1u : 0u;
        }
        visit[i] = before;
        order[before] = i;
        rank[i] = before;
    }
    __syncthreads();
    for (unsigned i = threadIdx.x; i < n; i += blockDim.x) {
        const unsigned c = cls[i], v = visit[i];
        unsigned before = 0;
        for (unsigned j = 0; j < n; ++j) {
            before += (cls[j] < c || (cls[j] == c && visit[j] < v)) ? 1u : 0u;
        }
        sorted[before] = i;
    }
}

// Sort candidate indices 0 .. n-1 (one block of at most RT_SORT_MAX_THREADS threads).
// tie_keys: per-candidate non-negative int32 tie-break keys (e.g. the model's candidate index) or null for
// "the candidate index itself"; tie_bits / class_bits: how many low bits of the tie keys / class ids vary.
// Outputs (length capacity): order[r] = candidate visited r-th, rank[i] = visiting position of candidate i,
// sorted = candidates grouped by class, visiting order within a class. work is capacity scratch entries.
extern "C" __global__ void nms_sort(const float* __restrict__ scores, const int* __restrict__ classes,
                                    const int* __restrict__ tie_keys, const unsigned* __restrict__ count,
                                    unsigned capacity, int tie_bits, int class_bits, unsigned* __restrict__ order,
                                    unsigned* __restrict__ rank, unsigned* __restrict__ sorted,
                                    unsigned* __restrict__ work) {
    __shared__ unsigned hist[RT_HIST_SLOTS];
    const unsigned n = rt_min_u(*count, capacity);  // the same for every thread: the returns are uniform
    const int tie_passes = tie_keys ? (tie_bits + RT_RADIX_BITS - 1) / RT_RADIX_BITS : 0;
    const int class_passes = (class_bits + RT_RADIX_BITS - 1) / RT_RADIX_BITS;
    if (n <= 1) {
        if (n == 1 && threadIdx.x == 0) {
            order[0] = rank[0] = sorted[0] = 0;
        }
        return;
    }
    if (n <= RT_SMALL_SORT) {
        rt_small_sort(n, scores, classes, tie_keys, rt_pass_mask(tie_passes), rt_pass_mask(class_passes), order,
                      rank, sorted, hist);
        return;
    }
    const int passes = tie_passes + 8 + class_passes;
    // Ping-pong between `sorted` and `work` so that the last pass lands in `sorted`.
    unsigned* src = (passes % 2 == 0) ? sorted : work;
    unsigned* dst = (passes % 2 == 0) ? work : sorted;
    for (unsigned p = threadIdx.x; p < n; p += blockDim.x) {
        src[p] = p;
    }
    __syncthreads();
    for (int pass = 0; pass < passes; ++pass) {
        rt_radix_pass(src, dst, n, pass, tie_passes, scores, classes, tie_keys, hist);
        unsigned* swap = src;
        src = dst;
        dst = swap;
        if (pass == tie_passes + 7) {  // visiting order complete: score descending, ties by key
            for (unsigned p = threadIdx.x; p < n; p += blockDim.x) {
                order[p] = src[p];
                rank[src[p]] = p;
            }
            __syncthreads();
        }
    }
}

// Class segments of `sorted` (one block): seg_start[s] for s < S and seg_start[S] = n; tile_offset[s] =
// number of mask tiles of the segments before s (a segment of m rows has k = ceil(m / 64) tile rows and
// k (k + 1) / 2 tiles on or above the diagonal); seg_info = {S, total tiles}. Arrays have capacity + 1.
// Each thread owns a contiguous chunk of positions (then of segments), so one block scan places them all.
extern "C" __global__ void nms_segments(const int* __restrict__ classes, const unsigned* __restrict__ sorted,
                                        const unsigned* __restrict__ count, unsigned capacity,
                                        unsigned* __restrict__ seg_start, unsigned* __restrict__ tile_offset,
                                        unsigned* __restrict__ seg_info) {
    __shared__ unsigned scratch[1024];
    const unsigned n = rt_min_u(*count, capacity);
    unsigned begin, end;
    rt_thread_chunk(n, &begin, &end);
    unsigned mine = 0;
    for (unsigned p = begin; p < end; ++p) {
        mine += (p == 0 || classes[sorted[p]] != classes[sorted[p - 1]]) ? 1u : 0u;
    }
    unsigned segments;
    unsigned next = rt_block_exclusive_scan(mine, scratch, &segments);
    for (unsigned p = begin; p < end; ++p) {
        if (p == 0 || classes[sorted[p]] != classes[sorted[p - 1]]) {
            seg_start[next++] = p;
        }
    }
    if (threadIdx.x == 0) {
        seg_start[segments] = n;
    }
    __syncthreads();
    rt_thread_chunk(segments, &begin, &end);
    mine = 0;
    for (unsigned s = begin; s < end; ++s) {
        const unsigned k = (seg_start[s + 1] - seg_start[s] + RT_TILE - 1) / RT_TILE;
        mine += k * (k + 1) / 2;
    }
    unsigned tiles;
    unsigned offset = rt_block_exclusive_scan(mine, scratch, &tiles);
    for (unsigned s = begin; s < end; ++s) {
        tile_offset[s] = offset;
        const unsigned k = (seg_start[s + 1] - seg_start[s] + RT_TILE - 1) / RT_TILE;
        offset += k * (k + 1) / 2;
    }
    if (threadIdx.x == 0) {
        tile_offset[segments] = tiles;
        seg_info[0] = segments;
        seg_info[1] = tiles;
    }
}

// Tile number `local` of a k x k upper triangle enumerated row by row -> (row, column).
__device__ __forceinline__ void rt_triangle_tile(unsigned local, unsigned k, unsigned* row, unsigned* col) {
    unsigned r = 0;
    unsigned first = 0;  // number of tiles in rows before r
    // Rows shrink by one tile each; jump close with a float estimate, then settle exactly.
    const float kf = (float)k + 0.5f;
    const float est = kf - sqrtf(kf * kf - 2.0f * (float)local);
    if (est > 1.0f) {
        r = (unsigned)est - 1;
        if (r >= k) {
            r = k - 1;
        }
        first = r * k - r * (r - 1) / 2;
        while (first > local) {
            --r;
            first -= k - r;
        }
    }
    while (local >= first + (k - r)) {
        first += k - r;
        ++r;
    }
    *row = r;
    *col = r + (local - first);
}

// Tile (row, col) of a segment with k tile rows: its number in the segment's upper triangle, row by row.
__device__ __forceinline__ unsigned rt_tile_number(unsigned row, unsigned col, unsigned k) {
    return row * k - row * (row - 1) / 2 + (col - row);
}

// 64 threads per block; blocks stride over the tiles listed by nms_segments. mask holds tile_capacity
// tiles of 64 uint64 rows: word t of tile g is row t of the tile's 64 rows (its bits: the tile's columns).
extern "C" __global__ void nms_mask(const float* __restrict__ boxes, const unsigned* __restrict__ sorted,
                                    const unsigned* __restrict__ seg_start, const unsigned* __restrict__ tile_offset,
                                    const unsigned* __restrict__ seg_info, unsigned tile_capacity, float iou_thres,
                                    unsigned long long* __restrict__ mask) {
    __shared__ float column_boxes[RT_TILE * 4];
    const unsigned segments = seg_info[0];
    const unsigned tiles = seg_info[1];
    if (tiles > tile_capacity) {
        return;  // the host grows the bitmask and runs again
    }
    const unsigned t = threadIdx.x;
    for (unsigned tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const unsigned s = rt_item_of(tile_offset, segments, tile);
        const unsigned start = seg_start[s];
        const unsigned end = seg_start[s + 1];
        unsigned row_tile, col_tile;
        rt_triangle_tile(tile - tile_offset[s], (end - start + RT_TILE - 1) / RT_TILE, &row_tile, &col_tile);
        const unsigned col0 = start + col_tile * RT_TILE;
        const unsigned i = start + row_tile * RT_TILE + t;
        if (col0 + t < end) {
            const unsigned item = sorted[col0 + t];
            for (int c = 0; c < 4; ++c) {
                column_boxes[4 * t + c] = boxes[4 * item + c];
            }
        }
        __syncthreads();
        if (i < end) {
            float row_box[4];
            const unsigned item = sorted[i];
            for (int c = 0; c < 4; ++c) {
                row_box[c] = boxes[4 * item + c];
            }
            const unsigned columns = rt_min_u(RT_TILE, end - col0);
            unsigned long long bits = 0;
            for (unsigned m = (col_tile == row_tile) ? t + 1 : 0; m < columns; ++m) {
                if (rt_iou(row_box, column_boxes + 4 * m) > iou_thres) {
                    bits |= 1ULL << m;
                }
            }
            mask[(unsigned long long)tile * RT_TILE + t] = bits;
        }
        __syncthreads();
    }
}

// Blocks stride over the class segments; each settles its segment 64 rows at a time (see the header)
// and writes keep[rank[candidate]] for every row. spill: gridDim.x * words uint64 (words = ceil(capacity /
// 64)), used by segments of more than RT_SCAN_MAX_WORDS words.
extern "C" __global__ void nms_scan(const unsigned long long* __restrict__ mask, const unsigned* __restrict__ sorted,
                                    const unsigned* __restrict__ rank, const unsigned* __restrict__ seg_start,
                                    const unsigned* __restrict__ tile_offset, const unsigned* __restrict__ seg_info,
                                    unsigned tile_capacity, unsigned words, unsigned long long* __restrict__ spill,
                                    unsigned char* __restrict__ keep) {
    __shared__ unsigned long long shared_removed[RT_SCAN_MAX_WORDS];
    __shared__ unsigned long long kept_rows;
    const unsigned segments = seg_info[0];
    if (seg_info[1] > tile_capacity) {
        return;
    }
    for (unsigned s = blockIdx.x; s < segments; s += gridDim.x) {
        const unsigned start = seg_start[s];
        const unsigned size = seg_start[s + 1] - start;
        const unsigned nwords = (size + RT_TILE - 1) / RT_TILE;
        const unsigned long long* tiles = mask + (unsigned long long)tile_offset[s] * RT_TILE;
        unsigned long long* removed =
            nwords <= RT_SCAN_MAX_WORDS ? shared_removed : spill + (unsigned long long)blockIdx.x * words;
        for (unsigned w = threadIdx.x; w < nwords; w += blockDim.x) {
            removed[w] = 0;
        }
        __syncthreads();
        for (unsigned step = 0; step < nwords; ++step) {
            const unsigned row0 = start + step * RT_TILE;
            const unsigned rows = rt_min_u(RT_TILE, size - step * RT_TILE);
            if (threadIdx.x == 0) {
                unsigned long long gone = removed[step];
                unsigned long long kept = 0;
                for (unsigned k = 0; k < rows; ++k) {
                    if (!((gone >> k) & 1ULL)) {
                        kept |= 1ULL << k;
                        gone |= tiles[(unsigned long long)rt_tile_number(step, step, nwords) * RT_TILE + k];
                    }
                }
                kept_rows = kept;
            }
            __syncthreads();
            const unsigned long long kept = kept_rows;
            for (unsigned w = step + 1 + threadIdx.x; w < nwords; w += blockDim.x) {
                const unsigned long long* tile = tiles + (unsigned long long)rt_tile_number(step, w, nwords) * RT_TILE;
                unsigned long long acc = 0;
                for (unsigned long long bits = kept; bits; bits &= bits - 1) {
                    const unsigned k = (unsigned)__ffsll((long long)bits) - 1;
                    acc |= tile[k];
                }
                removed[w] |= acc;
            }
            for (unsigned k = threadIdx.x; k < rows; k += blockDim.x) {
                keep[rank[sorted[row0 + k]]] = (unsigned char)((kept >> k) & 1ULL);
            }
            __syncthreads();
        }
    }
}

// One block: the first max_det kept candidates in visiting order -> out_index (candidate indices), and
// their number -> out_count (0 when the bitmask was too small: see the header). Each thread owns a
// contiguous chunk of visiting positions.
extern "C" __global__ void nms_select(const unsigned char* __restrict__ keep, const unsigned* __restrict__ order,
                                      const unsigned* __restrict__ count, unsigned capacity,
                                      const unsigned* __restrict__ seg_info, unsigned tile_capacity,
                                      unsigned max_det, int* __restrict__ out_index,
                                      unsigned* __restrict__ out_count) {
    __shared__ unsigned scratch[1024];
    const unsigned n = seg_info[1] > tile_capacity ? 0u : rt_min_u(*count, capacity);
    unsigned begin, end;
    rt_thread_chunk(n, &begin, &end);
    unsigned mine = 0;
    for (unsigned r = begin; r < end; ++r) {
        mine += keep[r];
    }
    unsigned kept;
    unsigned next = rt_block_exclusive_scan(mine, scratch, &kept);
    for (unsigned r = begin; r < end && next < max_det; ++r) {
        if (keep[r]) {
            out_index[next++] = (int)order[r];
        }
    }
    if (threadIdx.x == 0) {
        *out_count = rt_min_u(kept, max_det);
    }
}

// Where the letterbox put the frame (input = frame * scale + pad; the frame is frame_w x frame_h), and
// whether boxes are mapped to the frame at all (clip = 0: copied as they are).
struct RtLetterbox {
    float scale, pad_x, pad_y, frame_w, frame_h;
    int clip;
};

// Input pixels -> frame pixels, exactly as Letterbox.to_original: subtract pad, divide, clip to the frame.
__device__ __forceinline__ float rt_unletterbox(float v, float pad, float scale, float limit) {
    return fminf(fmaxf((v - pad) / scale, 0.0f), limit);
}

// Copy the kept candidates (out_index[k], k < *kept_count) into detection arrays of max_det rows:
// boxes (., 4) float32 (mapped to frame pixels and clipped, after NMS as on the CPU), scores float32,
// classes int32, source int32, coefs (., nm) float32. The mask coefficients are copied here, once, from
// where the decoder left them (the model output): coefficient m of model candidate s is
// coefs[s * coef_row + m * coef_step].
template <typename T>
__device__ __forceinline__ void rt_gather(const int* __restrict__ index, const unsigned* __restrict__ kept_count,
                                          const float* __restrict__ boxes, const float* __restrict__ scores,
                                          const int* __restrict__ classes, const int* __restrict__ source,
                                          const T* __restrict__ coefs, int coef_row, int coef_step, int nm,
                                          RtLetterbox lb, float* __restrict__ det_boxes, float* __restrict__ det_scores,
                                          int* __restrict__ det_classes, int* __restrict__ det_source,
                                          float* __restrict__ det_coefs) {
    const unsigned n = *kept_count;
    for (unsigned k = rt_global_thread(); k < n; k += rt_grid_stride()) {
        const unsigned i = (unsigned)index[k];
        for (int c = 0; c < 4; ++c) {
            const float v = boxes[4 * i + c];
            det_boxes[4 * k + c] = !lb.clip  ? v
                                   : c % 2 ? rt_unletterbox(v, lb.pad_y, lb.scale, lb.frame_h)
                                           : rt_unletterbox(v, lb.pad_x, lb.scale, lb.frame_w);
        }
        const int model_row = source[i];
        det_scores[k] = scores[i];
        det_classes[k] = classes[i];
        det_source[k] = model_row;
        const T* row = coefs + (long long)model_row * coef_row;
        for (int m = 0; m < nm; ++m) {
            det_coefs[(unsigned long long)k * nm + m] = rt_load(row, (long long)m * coef_step);
        }
    }
}

#define RT_GATHER_PARAMS(T)                                                                                      \
    const int *__restrict__ index, const unsigned *__restrict__ kept_count, const float *__restrict__ boxes,      \
        const float *__restrict__ scores, const int *__restrict__ classes, const int *__restrict__ source,         \
        const T *__restrict__ coefs, int coef_row, int coef_step, int nm, float scale, float pad_x, float pad_y,   \
        float frame_w, float frame_h, int clip, float *__restrict__ det_boxes,                                     \
        float *__restrict__ det_scores, int *__restrict__ det_classes, int *__restrict__ det_source,               \
        float *__restrict__ det_coefs
#define RT_GATHER_ARGS                                                                                           \
    index, kept_count, boxes, scores, classes, source, coefs, coef_row, coef_step, nm,                           \
        RtLetterbox{scale, pad_x, pad_y, frame_w, frame_h, clip}, det_boxes, det_scores, det_classes, det_source,   \
        det_coefs

// Coefficients in a float32 / float16 model output.
extern "C" __global__ void nms_gather_f32(RT_GATHER_PARAMS(float)) { rt_gather(RT_GATHER_ARGS); }
extern "C" __global__ void nms_gather_f16(RT_GATHER_PARAMS(__half)) { rt_gather(RT_GATHER_ARGS); }
