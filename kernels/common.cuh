// Helpers shared by the rtdetect kernels: index arithmetic, typed loads and stores, a block-wide scan.
//
// Every kernel is compiled three ways from the same text: nvcc for the CI architectures, nvcc (through
// pycuda) on the user's machine, and g++ with kernels/emulation/cuda_emu.h for the CPU parity tests. So the
// kernels use only what the emulator provides: no warp intrinsics, no dynamic shared memory, no
// cooperative groups. Float maths relies on --fmad=false (nvcc) and -ffp-contract=off (g++) so that every
// a * b + c is rounded twice, exactly like NumPy float32.
#pragma once

#if defined(RT_NO_FP16_HEADER)
// NVRTC from NVIDIA's wheels has no cuda_fp16.h: the little of it the kernels use, as PTX conversions
// (the same instructions cuda_fp16.h's __half2float and __float2half_rn emit).
struct __align__(2) __half {
    unsigned short bits;
};
__device__ __forceinline__ float __half2float(__half h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits));
    return f;
}
__device__ __forceinline__ __half __float2half_rn(float f) {
    __half h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f));
    return h;
}
#elif defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

// `#pragma unroll n` for nvcc, its GCC spelling for the emulator's g++ (which rejects the CUDA one).
#define RT_STRINGIFY_(x) #x
#define RT_STRINGIFY(x) RT_STRINGIFY_(x)
#if defined(__CUDACC__)
#define RT_PRAGMA_UNROLL(n) _Pragma(RT_STRINGIFY(unroll n))
#else
#define RT_PRAGMA_UNROLL(n) _Pragma(RT_STRINGIFY(GCC unroll n))
#endif

// One thread's position in a 1-D grid, and the stride of a grid-stride loop.
__device__ __forceinline__ unsigned rt_global_thread() { return blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ unsigned rt_grid_stride() { return gridDim.x * blockDim.x; }

__device__ __forceinline__ int rt_min_i(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int rt_max_i(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ unsigned rt_min_u(unsigned a, unsigned b) { return a < b ? a : b; }

// The calling thread's contiguous share [*begin, *end) of n items split over the block's threads in order.
__device__ __forceinline__ void rt_thread_chunk(unsigned n, unsigned* begin, unsigned* end) {
    const unsigned chunk = (n + blockDim.x - 1) / blockDim.x;
    *begin = rt_min_u(threadIdx.x * chunk, n);
    *end = rt_min_u(*begin + chunk, n);
}

// The last index i in [0, n) with starts[i] <= k, for `starts` non-decreasing with starts[0] <= k < starts[n]:
// which packed item (a crop, a segment's tiles) holds element k. Empty items share their start with the
// next one, and the search skips them.
__device__ __forceinline__ unsigned rt_item_of(const unsigned* starts, unsigned n, unsigned k) {
    unsigned lo = 0, hi = n;  // invariant: starts[lo] <= k < starts[hi]
    while (hi - lo > 1) {
        const unsigned mid = (lo + hi) / 2;
        if (starts[mid] <= k) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// Loads that widen the stored element type to float32 (exact for __half).
__device__ __forceinline__ float rt_load(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float rt_load(const __half* p, long long i) { return __half2float(p[i]); }

// Stores that narrow a float32 to the element type (round to nearest even for __half).
__device__ __forceinline__ void rt_store(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void rt_store(__half* p, long long i, float v) { p[i] = __float2half_rn(v); }

// Exclusive prefix sum of one unsigned value (32 or 64 bits) per thread over the whole block (Hillis-Steele
// in shared memory). `scratch` is a __shared__ array of at least blockDim.x entries; blockDim.x may be any
// size. Every thread of the block must call it (it synchronises); on return *total holds the block's sum,
// and `scratch` may be reused.
template <typename U>
__device__ __forceinline__ U rt_block_exclusive_scan(U value, U* scratch, U* total) {
    const unsigned tid = threadIdx.x;
    const unsigned n = blockDim.x;
    scratch[tid] = value;
    __syncthreads();
    for (unsigned offset = 1; offset < n; offset <<= 1) {
        const U add = tid >= offset ? scratch[tid - offset] : U(0);
        __syncthreads();
        scratch[tid] += add;
        __syncthreads();
    }
    const U inclusive = scratch[tid];
    *total = scratch[n - 1];
    __syncthreads();
    return inclusive - value;
}
