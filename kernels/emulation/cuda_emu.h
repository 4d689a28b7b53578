// CUDA emulation for g++: compiles the kernels in kernels/*.cu unchanged as C++20 and runs them on the CPU.
//
// Model (what a kernel may rely on, and all the rtdetect kernels use):
//  * Blocks run one after another. A block's threads are real std::threads (one per CUDA thread), so
//    threads interleave freely and a missing __syncthreads is a real race, as on a GPU.
//  * __syncthreads() is a std::barrier shared by the block's threads. Every barrier phase is checked:
//    if some thread arrives from __syncthreads and another from the end of the block (a thread returned
//    early, or a __syncthreads under divergent control flow), the launch reports an error.
//  * __shared__ variables become function-local statics. That is shared memory's semantics exactly as
//    long as one block runs at a time in the whole process: blocks of a launch run in sequence, and
//    launches are serialised by a process-wide mutex (emu::launch). Like real shared memory, its
//    contents at block start are unspecified (here: whatever the previous block left).
//  * threadIdx, blockIdx, blockDim, gridDim are thread_local variables set by the launcher.
//  * Atomics go through std::atomic_ref (sequentially consistent); ordinary memory between barriers
//    follows the C++ memory model, which the barrier's happens-before makes as strong as CUDA's block scope.
//  * __half is a 16-bit value with round-to-nearest-even conversion from float, like __float2half_rn.
// Not provided on purpose: warp intrinsics (__shfl*, __ballot*, warp-synchronous code), dynamic shared
// memory, cooperative groups, textures; a kernel using them does not compile here.
#pragma once

#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using uint3 = dim3;

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace emu {

// Where a thread is when it arrives at the block barrier; all threads of one phase must agree.
enum class Arrival : unsigned char { sync_threads, block_end, grid_end };

// Checks every barrier phase (runs once per phase, after all threads arrived, before any leaves).
struct PhaseCheck {
    Arrival* arrivals = nullptr;       // one slot per thread of the block
    unsigned threads = 0;
    std::atomic<bool>* diverged = nullptr;
    unsigned long long* sync_phases = nullptr;  // __syncthreads phases of the launch (tests count them)
    void operator()() noexcept {
        for (unsigned t = 1; t < threads; ++t) {
            if (arrivals[t] != arrivals[0]) {
                diverged->store(true);
            }
        }
        if (arrivals[0] == Arrival::sync_threads) {
            ++*sync_phases;
        }
    }
};
using BlockBarrier = std::barrier<PhaseCheck>;

// The running thread's block barrier and arrival slot, set by the launcher.
inline thread_local BlockBarrier* current_barrier = nullptr;
inline thread_local Arrival* current_arrival = nullptr;

inline void arrive(Arrival kind) {
    *current_arrival = kind;
    current_barrier->arrive_and_wait();
}

// A thread that has run all its blocks leaves the barrier for good, so that the others never wait for it
// (after a divergent barrier the phases no longer line up; the launch then still ends, with an error).
inline void leave() {
    *current_arrival = Arrival::grid_end;
    current_barrier->arrive_and_drop();
}

}  // namespace emu

inline void __syncthreads() { emu::arrive(emu::Arrival::sync_threads); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- atomics (return the old value, like CUDA) ----
inline int atomicAdd(int* p, int v) { return std::atomic_ref<int>(*p).fetch_add(v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return std::atomic_ref<unsigned long long>(*p).fetch_add(v);
}
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_or(v); }
inline unsigned long long atomicOr(unsigned long long* p, unsigned long long v) {
    return std::atomic_ref<unsigned long long>(*p).fetch_or(v);
}
inline int atomicMax(int* p, int v) {
    std::atomic_ref<int> ref(*p);
    int old = ref.load();
    while (old < v && !ref.compare_exchange_weak(old, v)) {
    }
    return old;
}
inline unsigned atomicCAS(unsigned* p, unsigned expected, unsigned desired) {
    std::atomic_ref<unsigned>(*p).compare_exchange_strong(expected, desired);
    return expected;
}

// ---- bit and float intrinsics ----
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline int __ffsll(long long v) { return __builtin_ffsll(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clzll(long long v) { return v == 0 ? 64 : __builtin_clzll((unsigned long long)v); }

// ---- __half ----
struct __half {
    std::uint16_t bits;
};

// float -> binary16, round to nearest even; overflow to infinity; NaN to a quiet NaN.
inline __half __float2half_rn(float value) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t magnitude = x & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) {
        return __half{static_cast<std::uint16_t>(sign | 0x7FFFu)};
    }
    if (magnitude >= 0x477FF000u) {  // >= 65520 rounds to infinity (also infinity itself)
        return __half{static_cast<std::uint16_t>(sign | 0x7C00u)};
    }
    if (magnitude >= 0x38800000u) {  // normal half: >= 2^-14
        const std::uint32_t mantissa = magnitude & 0x7FFFFFu;
        const std::uint32_t exponent = (magnitude >> 23) - 127u + 15u;
        std::uint32_t h = (exponent << 10) | (mantissa >> 13);
        const std::uint32_t rest = mantissa & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) {
            ++h;  // a carry into the exponent is the correct rounding
        }
        return __half{static_cast<std::uint16_t>(sign | h)};
    }
    if (magnitude <= 0x33000000u) {  // <= 2^-25: rounds to zero (2^-25 itself is a tie, even is zero)
        return __half{sign};
    }
    // Subnormal half: units of 2^-24. magnitude = m * 2^(e - 150) with the implicit bit in m.
    const std::uint32_t e = magnitude >> 23;
    const std::uint32_t m = (magnitude & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // 14 .. 24
    std::uint32_t h = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1u);
    const std::uint32_t half_unit = 1u << (shift - 1u);
    if (rest > half_unit || (rest == half_unit && (h & 1u))) {
        ++h;
    }
    return __half{static_cast<std::uint16_t>(sign | h)};
}

inline float __half2float(__half h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
    const std::uint32_t exponent = (h.bits >> 10) & 0x1Fu;
    const std::uint32_t mantissa = h.bits & 0x3FFu;
    if (exponent == 0x1Fu) {
        return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));
    }
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
        const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

inline unsigned short __half_as_ushort(__half h) { return h.bits; }
inline __half __ushort_as_half(unsigned short bits) { return __half{bits}; }
