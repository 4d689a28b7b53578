// nms.cu with nms_scan's shared "removed" words cut to 2 (128 candidates per class segment), so that a test
// reaches the global-memory path of longer segments (above 65536 candidates in the real build) with a few
// hundred candidates.
#define RT_SCAN_MAX_WORDS 2
#include "nms.cu"
