#ifndef TALLY_CJEMALLOC_SHIM_H
#define TALLY_CJEMALLOC_SHIM_H

// jemalloc (Debian's libjemalloc-dev) replaces the C library's malloc and free in tally-edge.
#include <jemalloc/jemalloc.h>

#endif
