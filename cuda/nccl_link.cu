// Device-to-device messages through NCCL (contract: cuda/nccl_link.h).
#include "cuda/nccl_link.h"

#include <stdio.h>
#include <string.h>

#include "cuda/culibs.h"
#include "cuda/ops.h"  // CHECK_CUDA

static_assert(sizeof(ncclUniqueId) == NCCL_LINK_ID_BYTES, "NCCL's unique id changed size");

struct NcclLink {
    ncclComm_t comm;
    cudaStream_t stream;
};

int nccl_link_ready(int *version, char *why, size_t len) {
    if (!culibs_nccl_ready(why, len)) return 0;
    int v = 0;
    ncclResult_t r = culibs_nccl.get_version(&v);
    if (r != ncclSuccess) {
        snprintf(why, len, "ncclGetVersion failed: %s", culibs_nccl.error_string(r));
        return 0;
    }
    if (version) *version = v;
    return 1;
}

int nccl_link_id(unsigned char *id, char *why, size_t len) {
    ncclUniqueId u;
    ncclResult_t r = culibs_nccl.get_unique_id(&u);
    if (r != ncclSuccess) {
        snprintf(why, len, "ncclGetUniqueId failed: %s", culibs_nccl.error_string(r));
        return 0;
    }
    memcpy(id, &u, sizeof u);
    return 1;
}

NcclLink *nccl_link_open(const unsigned char *id, int n, int rank, char *why, size_t len) {
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    NcclLink *l = (NcclLink *)base_calloc(1, sizeof *l, "NCCL link");
    ncclResult_t r = culibs_nccl.comm_init_rank(&l->comm, n, u, rank);
    if (r != ncclSuccess) {
        snprintf(why, len, "ncclCommInitRank (rank %d of %d) failed: %s", rank, n, culibs_nccl.error_string(r));
        free(l);
        return NULL;
    }
    CHECK_CUDA(cudaStreamCreateWithFlags(&l->stream, cudaStreamNonBlocking));
    return l;
}

void nccl_link_send(NcclLink *l, const float *x, size_t n, int peer) {
    // the decoder wrote x on its own stream: all of the device's work before the message
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_NCCL(culibs_nccl.send(x, n, ncclFloat32, peer, l->comm, l->stream));
    CHECK_CUDA(cudaStreamSynchronize(l->stream));
}

void nccl_link_recv(NcclLink *l, float *x, size_t n, int peer) {
    CHECK_NCCL(culibs_nccl.recv(x, n, ncclFloat32, peer, l->comm, l->stream));
    CHECK_CUDA(cudaStreamSynchronize(l->stream));
}

void nccl_link_close(NcclLink *l) {
    if (!l) return;
    CHECK_NCCL(culibs_nccl.comm_destroy(l->comm));
    CHECK_CUDA(cudaStreamDestroy(l->stream));
    free(l);
}
