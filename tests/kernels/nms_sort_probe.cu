// Probe of nms_sort's shared histogram layout (kernels/nms.cu), for the bank-conflict test: one thread
// writes the shared-memory slot of every counter. Built into an emulator library with nms.cu alone.
#include "nms.cu"

// slots[d * threads + t] = rt_hist_counter(d, t, threads); info = {RT_HIST_SLOTS, RT_RADIX}.
extern "C" __global__ void probe_hist_slots(unsigned threads, unsigned* slots, unsigned* info) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        for (unsigned i = 0; i < RT_RADIX * threads; ++i) {
            slots[i] = rt_hist_counter(i / threads, i % threads, threads);
        }
        info[0] = RT_HIST_SLOTS;
        info[1] = RT_RADIX;
    }
}
