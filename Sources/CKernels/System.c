// What the block workers need from the operating system and the processor.
#define _GNU_SOURCE
#include <sched.h>
#include "CKernels.h"

int l2l_available_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return CPU_COUNT(&set);
}

void l2l_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
