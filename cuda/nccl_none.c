// cuda/nccl_link.h's contract for builds without NCCL: without nvcc (NO_CUDA, or none found), or with nvcc but no
// nccl.h (NCCL ships apart from the CUDA toolkit on many systems). nccl_link_ready says so, and no link can open, so
// the pipeline stages pass activations by MPI.
#include <stdio.h>

#include "cuda/nccl_link.h"
#include "host/base.h"

#define NO_NCCL "this build has no NCCL (built without nvcc, or without NCCL's nccl.h; install both and rebuild)"

int nccl_link_ready(int *version, char *why, size_t len) {
    if (version) *version = 0;
    snprintf(why, len, NO_NCCL);
    return 0;
}

int nccl_link_id(unsigned char *id, char *why, size_t len) {
    (void)id;
    snprintf(why, len, NO_NCCL);
    return 0;
}

NcclLink *nccl_link_open(const unsigned char *id, int n, int rank, char *why, size_t len) {
    (void)id, (void)n, (void)rank;
    snprintf(why, len, NO_NCCL);
    return NULL;
}

// no link can be open in this build: a call is a bug
void nccl_link_send(NcclLink *l, const float *x, size_t n, int peer) {
    (void)l, (void)x, (void)n, (void)peer;
    DIE("this is a bug in brainsweep", "an NCCL message in a build without NCCL");
}
void nccl_link_recv(NcclLink *l, float *x, size_t n, int peer) {
    (void)l, (void)x, (void)n, (void)peer;
    DIE("this is a bug in brainsweep", "an NCCL message in a build without NCCL");
}
void nccl_link_close(NcclLink *l) { (void)l; }
