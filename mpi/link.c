// The pipeline stages' link over MPI or NCCL (contract: mpi/link.h).
#include "mpi/link.h"

#include <stdio.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"
#include "mpi/comm.h"

static void mpi_send(const float *x, size_t n, void *ctx) {
    const Link *l = ctx;
    comm_send_floats(l->group, x, n, l->next);
}

static void mpi_recv(float *x, size_t n, void *ctx) {
    const Link *l = ctx;
    comm_recv_floats(l->group, x, n, l->prev);
}

static void nccl_send(const float *x, size_t n, void *ctx) {
    const Link *l = ctx;
    nccl_link_send(l->nccl, x, n, l->next);
}

static void nccl_recv(float *x, size_t n, void *ctx) {
    const Link *l = ctx;
    nccl_link_recv(l->nccl, x, n, l->prev);
}

// NCCL on every rank of the group, or on none: 1 when this rank opened its end
static int open_nccl(Link *l, const LinkChoice *choice) {
    char why[BASE_ERR_LEN] = "";
    int version = 0;
    int can = !choice->decoder_on_host && choice->nccl_wanted && nccl_link_ready(&version, why, sizeof why);
    if (!choice->decoder_on_host && choice->nccl_wanted && !can)
        log_rank_file("pipeline stages: NCCL cannot run on this rank (%s): the group passes activations by MPI", why);
    if (!comm_min_int(l->group, can)) return 0;
    // the leader's id, with whether it could make one, to every rank
    unsigned char msg[1 + NCCL_LINK_ID_BYTES] = {0};
    if (comm_rank_in(l->group) == 0) {
        msg[0] = (unsigned char)nccl_link_id(msg + 1, why, sizeof why);
        if (!msg[0]) log_rank_file("pipeline stages: %s: the group passes activations by MPI", why);
    }
    comm_bcast_bytes(l->group, msg, sizeof msg, 0);
    if (!msg[0]) return 0;
    l->nccl = nccl_link_open(msg + 1, comm_size_in(l->group), comm_rank_in(l->group), why, sizeof why);
    if (!l->nccl)
        DIE("NCCL_DEBUG=INFO says why; run.transport: mpi passes the activations through host memory instead",
            "pipeline stages: %s", why);
    snprintf(l->transport, sizeof l->transport, "NCCL %d.%d.%d, GPU to GPU", version / 10000, version % 10000 / 100,
             version % 100);
    return 1;
}

void link_open(Link *l, MPI_Comm group, int prev, int next, const LinkChoice *choice) {
    memset(l, 0, sizeof *l);
    l->group = group, l->prev = prev, l->next = next;
    l->stage = (StageLink){.send = mpi_send, .recv = mpi_recv, .ctx = l};
    if (open_nccl(l, choice)) {
        l->stage.send_stream = nccl_send, l->stage.recv_stream = nccl_recv;
    } else if (choice->decoder_on_host) {
        l->stage.send_stream = mpi_send, l->stage.recv_stream = mpi_recv;
        snprintf(l->transport, sizeof l->transport, "MPI, in place in host memory");
    } else {
        snprintf(l->transport, sizeof l->transport, "MPI, through host copies of the GPU's stream");
    }
}

void link_close(Link *l) {
    nccl_link_close(l->nccl);
    l->nccl = NULL;
}
