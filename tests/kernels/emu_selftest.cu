// Kernels that test the emulator itself (kernels/emulation/cuda_emu.h), not rtdetect: half conversion,
// shared memory shared by a block, atomics, the barrier divergence check, the block scan helper, and an
// out-of-bounds write for the guard bytes. Real CUDA: the nvcc test compiles this file too.
#include "common.cuh"

// bits[i] = float -> half bits of in[i]; back[i] = half bits hin[i] -> float.
extern "C" __global__ void selftest_half(const float* in, unsigned short* bits, const unsigned short* hin,
                                         float* back, int n) {
    for (long long i = rt_global_thread(); i < n; i += rt_grid_stride()) {
        bits[i] = __half_as_ushort(__float2half_rn(in[i]));
        back[i] = __half2float(__ushort_as_half(hin[i]));
    }
}

// out[block * blockDim + t] = in[block * blockDim + (blockDim - 1 - t)], through shared memory.
extern "C" __global__ void selftest_block_reverse(const int* in, int* out) {
    __shared__ int tile[1024];
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x] = in[i];
    __syncthreads();
    out[i] = tile[blockDim.x - 1 - threadIdx.x];
}

// Every thread adds 1 to *counter `per_thread` times.
extern "C" __global__ void selftest_atomic_count(unsigned* counter, int per_thread) {
    for (int k = 0; k < per_thread; ++k) {
        atomicAdd(counter, 1u);
    }
}

// Thread 0 leaves before the barrier the others wait at: undefined on a GPU, an error in the emulator.
extern "C" __global__ void selftest_divergent_barrier(int* out) {
    if (threadIdx.x == 0) {
        return;
    }
    __syncthreads();
    out[threadIdx.x] = 1;
}

// One block: out[t] = exclusive prefix sum of in[0 .. t), total[0] = sum of all.
extern "C" __global__ void selftest_scan(const unsigned* in, unsigned* out, unsigned* total) {
    __shared__ unsigned scratch[1024];
    unsigned sum;
    out[threadIdx.x] = rt_block_exclusive_scan(in[threadIdx.x], scratch, &sum);
    if (threadIdx.x == 0) {
        total[0] = sum;
    }
}

// Writes one int just past the end of an n-int buffer.
extern "C" __global__ void selftest_out_of_bounds(int* p, int n) {
    if (rt_global_thread() == 0) {
        p[n] = 7;
    }
}
