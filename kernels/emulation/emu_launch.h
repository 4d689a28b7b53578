// The CPU launcher for kernels compiled with cuda_emu.h, and a C entry point that Python calls via ctypes.
//
// A translation unit includes cuda_emu.h, then the kernel sources, then this header, and lists its kernels:
//     EMU_KERNEL_TABLE(EMU_KERNEL(letterbox_bgr_to_nchw_f32), EMU_KERNEL(nms_sort), ...)
// which defines
//     extern "C" int emu_launch(const char* name, const unsigned grid[3], const unsigned block[3],
//                               void** params, const size_t* sizes, int count, char* error, size_t error_size)
// with the CUDA driver's convention for parameters (params[i] points at the value of parameter i), plus
// the byte size of each so that a wrong signature on the Python side is an error, not memory corruption.
// It returns 0, or 1 with a message in `error`. emu_kernel_count / emu_kernel_name / emu_kernel_signature
// list the table, each signature as pycuda type codes (see type_code) so Python can check its own.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace emu {

// __syncthreads phases of the last launch (all blocks), for tests of a kernel's barrier cost.
inline std::atomic<unsigned long long> last_sync_phases{0};

// Runs `kernel()` for every thread of every block of the grid (see cuda_emu.h for the model).
// Returns false when some barrier phase had threads arriving from different places.
template <typename Body>
bool run_grid(dim3 grid, dim3 block, const Body& kernel) {
    static std::mutex one_launch_at_a_time;  // __shared__ statics are per process: one block at a time
    std::lock_guard<std::mutex> guard(one_launch_at_a_time);
    const unsigned threads = block.x * block.y * block.z;
    std::vector<Arrival> arrivals(threads, Arrival::block_end);
    std::atomic<bool> diverged{false};
    unsigned long long sync_phases = 0;
    BlockBarrier barrier(static_cast<std::ptrdiff_t>(threads),
                         PhaseCheck{arrivals.data(), threads, &diverged, &sync_phases});
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
            blockDim = block;
            gridDim = grid;
            current_barrier = &barrier;
            current_arrival = &arrivals[t];
            for (unsigned bz = 0; bz < grid.z; ++bz) {
                for (unsigned by = 0; by < grid.y; ++by) {
                    for (unsigned bx = 0; bx < grid.x; ++bx) {
                        blockIdx = dim3(bx, by, bz);
                        kernel();
                        arrive(Arrival::block_end);  // the block is over for everyone before the next starts
                    }
                }
            }
            leave();
        });
    }
    for (std::thread& worker : workers) {
        worker.join();
    }
    last_sync_phases.store(sync_phases);
    return !diverged.load();
}

// One character per kernel parameter type, as in pycuda's Function.prepare: P pointer, i int32,
// I uint32, f float32. A parameter of any other type makes the table fail to compile.
template <typename T>
constexpr char type_code() {
    if constexpr (std::is_pointer_v<T>) {
        return 'P';
    } else if constexpr (std::is_same_v<T, int>) {
        return 'i';
    } else if constexpr (std::is_same_v<T, unsigned>) {
        return 'I';
    } else {
        static_assert(std::is_same_v<T, float>, "kernel parameters must be pointers, int, unsigned or float");
        return 'f';
    }
}

// Calls a kernel with its parameters unpacked from a void** array.
template <auto Kernel>
struct Trampoline;

template <typename... Args, void (*Kernel)(Args...)>
struct Trampoline<Kernel> {
    static constexpr std::size_t count = sizeof...(Args);
    static constexpr std::size_t sizes[sizeof...(Args) + 1] = {sizeof(Args)..., 0};
    static constexpr char codes[sizeof...(Args) + 1] = {type_code<Args>()..., '\0'};

    static void call(void** params) { call_unpacked(params, std::index_sequence_for<Args...>{}); }

    template <std::size_t... I>
    static void call_unpacked(void** params, std::index_sequence<I...>) {
        Kernel(*static_cast<std::remove_reference_t<Args>*>(params[I])...);
    }
};

struct KernelEntry {
    const char* name;
    void (*call)(void** params);
    std::size_t count;
    const std::size_t* sizes;
    const char* codes;
};

inline int fail(char* error, std::size_t error_size, const char* message, const char* name) {
    std::snprintf(error, error_size, "%s: %s", name, message);
    return 1;
}

inline int launch_entry(const KernelEntry* table, std::size_t entries, const char* name, const unsigned* grid,
                        const unsigned* block, void** params, const std::size_t* sizes, int count, char* error,
                        std::size_t error_size) {
    for (std::size_t e = 0; e < entries; ++e) {
        const KernelEntry& entry = table[e];
        if (std::strcmp(entry.name, name) != 0) {
            continue;
        }
        if (count < 0 || static_cast<std::size_t>(count) != entry.count) {
            return fail(error, error_size, "wrong number of parameters", name);
        }
        for (std::size_t i = 0; i < entry.count; ++i) {
            if (sizes[i] != entry.sizes[i]) {
                char message[96];
                std::snprintf(message, sizeof message, "parameter %zu has %zu bytes, the kernel takes %zu", i,
                              sizes[i], entry.sizes[i]);
                return fail(error, error_size, message, name);
            }
        }
        const dim3 g(grid[0], grid[1], grid[2]);
        const dim3 b(block[0], block[1], block[2]);
        if (g.x * g.y * g.z == 0 || b.x * b.y * b.z == 0 || b.x * b.y * b.z > 1024) {
            return fail(error, error_size, "invalid launch configuration", name);
        }
        if (!run_grid(g, b, [&] { entry.call(params); })) {
            return fail(error, error_size, "__syncthreads reached by only part of a block (divergent barrier)",
                        name);
        }
        return 0;
    }
    return fail(error, error_size, "no such kernel in the emulator library", name);
}

}  // namespace emu

#define EMU_KERNEL(name) \
    ::emu::KernelEntry { #name, &::emu::Trampoline<&name>::call, ::emu::Trampoline<&name>::count, ::emu::Trampoline<&name>::sizes, \
                          ::emu::Trampoline<&name>::codes }

#define EMU_KERNEL_TABLE(...)                                                                                      \
    static const ::emu::KernelEntry emu_kernel_table[] = {__VA_ARGS__};                                            \
    extern "C" int emu_launch(const char* name, const unsigned* grid, const unsigned* block, void** params,       \
                              const std::size_t* sizes, int count, char* error, std::size_t error_size) {         \
        return ::emu::launch_entry(emu_kernel_table, sizeof emu_kernel_table / sizeof emu_kernel_table[0], name, \
                                   grid, block, params, sizes, count, error, error_size);                          \
    }                                                                                                              \
    extern "C" int emu_kernel_count() { return static_cast<int>(sizeof emu_kernel_table / sizeof emu_kernel_table[0]); } \
    extern "C" const char* emu_kernel_name(int i) { return emu_kernel_table[i].name; }                          \
    extern "C" unsigned long long emu_last_sync_phases() { return ::emu::last_sync_phases.load(); }            \
    extern "C" const char* emu_kernel_signature(int i) { return emu_kernel_table[i].codes; }
