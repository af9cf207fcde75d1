/*
 * link: the StageLink (host/extract.h) between the pipeline stages of one part of a model split by layer ranges,
 * over the ranks of an extraction group: MPI or NCCL, chosen once per unit and the same on every rank of the group.
 *
 * The go-or-stop flag before each batch always travels by MPI. The residual stream travels
 *  - in place by MPI where the decoder's memory is the host's (the CPU decoder): no copies;
 *  - in place by NCCL, GPU to GPU, where the decoder runs on the GPU, run.transport is auto, every rank of the group
 *    has a GPU of its own (gpu_own) and libnccl loads (cuda/nccl_link.h);
 *  - else by MPI through host copies (a download before the send, an upload after the receive).
 * Whatever the transport, the stages compute the same states (tests/host/test_decoder.c: in place or through
 * copies, bit for bit).
 *
 * link_open is collective over the group (every rank, stage or idle): the ranks agree on the transport before any
 * opens an NCCL end, so one rank that cannot use NCCL keeps the whole group on MPI, with one log line saying why.
 * An NCCL end that fails to open after that agreement is fatal (the other ranks would wait in NCCL's set-up).
 */
#ifndef MPI_LINK_H
#define MPI_LINK_H

#include <mpi.h>

#include "cuda/nccl_link.h"
#include "host/extract.h"

typedef struct {
    StageLink stage;     // what extraction takes; valid while the Link lives at this address
    MPI_Comm group;
    int prev, next;      // the group ranks of the stages before and after this one (unused where there is none)
    NcclLink *nccl;      // the residual stream's NCCL end, or NULL
    char transport[96];  // what carries the residual stream, for the log
} Link;

typedef struct {
    int decoder_on_host;  // the decoder's memory is the host's (decoder_ops_cpu)
    int nccl_wanted;      // run.transport auto and the decoder on a GPU of this rank's own
} LinkChoice;

// collective over group; prev and next as above
void link_open(Link *l, MPI_Comm group, int prev, int next, const LinkChoice *choice);
void link_close(Link *l);

#endif  // MPI_LINK_H
