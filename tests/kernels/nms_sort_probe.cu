// Probe of nms_sort's shared-memory histogram (kernels/nms.cu), for the bank-conflict test: nms.cu built
// unchanged except that RT_SHARED_TOUCH, through which every histogram access of a radix pass goes, records
// (barrier phase, access site, word index) per thread, and __syncthreads counts each thread's phases.
// After a launch of nms_sort, probe_take_touches hands the records over and clears them.
#include <vector>

struct ProbeTouch {
    unsigned phase, site, slot;
};
static std::vector<ProbeTouch> probe_touches[1024];  // one list per thread of the block
static unsigned probe_phases[1024];                  // __syncthreads passed, per thread

inline unsigned probe_touch(unsigned slot, unsigned site) {
    probe_touches[threadIdx.x].push_back(ProbeTouch{probe_phases[threadIdx.x], site, slot});
    return slot;
}

inline void probe_syncthreads() {
    ++probe_phases[threadIdx.x];
    __syncthreads();
}

#define RT_SHARED_TOUCH(slot, site) probe_touch((slot), (site))
#define __syncthreads() probe_syncthreads()
#include "nms.cu"
#undef __syncthreads

// One thread: out[4 * i ..] = {thread, phase, site, word} of every recorded access (at most capacity of
// them), count = how many were recorded; then the records and phase counts start afresh.
extern "C" __global__ void probe_take_touches(unsigned* out, unsigned capacity, unsigned* count) {
    if (threadIdx.x != 0 || blockIdx.x != 0) {
        return;
    }
    unsigned k = 0;
    for (unsigned t = 0; t < 1024; ++t) {
        for (const ProbeTouch& touch : probe_touches[t]) {
            if (k < capacity) {
                out[4 * k] = t;
                out[4 * k + 1] = touch.phase;
                out[4 * k + 2] = touch.site;
                out[4 * k + 3] = touch.slot;
            }
            ++k;
        }
        probe_touches[t].clear();
        probe_phases[t] = 0;
    }
    *count = k;
}
