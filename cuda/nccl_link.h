/*
 * nccl_link: device-to-device messages between the GPU ranks of one group through NCCL, for the residual stream
 * that the stages of a model split by layer ranges pass on (mpi/link.h chooses it, host/extract.h's StageLink
 * carries it). MPI would take the same bytes through host memory: a download, a host-to-host message and an upload
 * per batch; NCCL moves them GPU to GPU (NVLink or PCIe within a node, the network's GPU path between nodes).
 *
 * Plain C: including this needs no CUDA header. libnccl is loaded at run time (cuda/culibs.h), not linked.
 * Builds without nvcc have the same functions (cuda/none.c): nccl_link_ready says no, and the rest are never called.
 *
 * Setting up is collective over the group: one rank makes an id (nccl_link_id), every rank gets it (by MPI, from the
 * caller) and opens its end with the group's size and its rank in it. Each rank must have a GPU of its own, current
 * on the calling thread (gpu_bind): NCCL refuses two ranks of one communicator on one GPU.
 *
 * Messages: floats in device memory, blocking and in order between two ranks. A send waits for the device's earlier
 * work (the kernels that wrote the buffer, on whatever stream) before it starts; both calls return when the buffer
 * may be reused or read.
 *
 * Errors: nccl_link_ready, nccl_link_id and nccl_link_open return 0 / NULL with why; a failing message is fatal
 * (CHECK_NCCL: NCCL's error string and a hint).
 */
#ifndef CUDA_NCCL_LINK_H
#define CUDA_NCCL_LINK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { NCCL_LINK_ID_BYTES = 128 };  // an NCCL unique id (ncclUniqueId), passed between ranks as bytes

typedef struct NcclLink NcclLink;

// 1 when libnccl loads; else 0 with why (len bytes). version: NCCL's version code (e.g. 22809), when not NULL
int nccl_link_ready(int *version, char *why, size_t len);
// a new group's id into id (NCCL_LINK_ID_BYTES); 0 with why when NCCL cannot make one
int nccl_link_id(unsigned char *id, char *why, size_t len);
// this rank's end of the group of n ranks that id names; NULL with why when NCCL cannot start on this rank's GPU
NcclLink *nccl_link_open(const unsigned char *id, int n, int rank, char *why, size_t len);
void nccl_link_send(NcclLink *l, const float *x, size_t n, int peer);
void nccl_link_recv(NcclLink *l, float *x, size_t n, int peer);
void nccl_link_close(NcclLink *l);

#ifdef __cplusplus
}
#endif

#endif  // CUDA_NCCL_LINK_H
