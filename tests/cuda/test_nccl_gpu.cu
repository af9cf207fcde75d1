// The NCCL link of the pipeline stages (cuda/nccl_link.h): libnccl loads, an id is made, an end opens (or says why
// not), and floats sent from one GPU arrive bit for bit on another.
//
// Without libnccl every case SKIPs naming what failed to load. Without a usable GPU the open must fail with NCCL's
// reason (not crash), and the GPU cases SKIP with the runtime's answer. A message needs two GPUs (NCCL refuses two
// ranks of one communicator on one GPU): with one, that case SKIPs saying so.
#include <cuda_runtime.h>

#include <string.h>

#include <thread>

#include "cuda/nccl_link.h"
#include "cuda/ops.h"
extern "C" {
#include "tests/test.h"
}
#include "tests/cuda/gpu_test.h"  // defines: gpu_unusable

// rank r of a 2-rank link on GPU r: rank 0 sends n floats, rank 1 receives them, then the other way round
static void two_ranks(const unsigned char *id, int r, const float *send, float *got, size_t n, int *opened) {
    CHECK_CUDA(cudaSetDevice(r));
    char why[256];
    NcclLink *l = nccl_link_open(id, 2, r, why, sizeof why);
    *opened = l != NULL;
    if (!l) return;
    float *d = NULL;
    CHECK_CUDA(cudaMalloc(&d, n * sizeof(float)));
    if (r == 0) {
        CHECK_CUDA(cudaMemcpy(d, send, n * sizeof(float), cudaMemcpyHostToDevice));
        nccl_link_send(l, d, n, 1);
        nccl_link_recv(l, d, n, 1);
    } else {
        nccl_link_recv(l, d, n, 0);
        nccl_link_send(l, d, n, 0);
    }
    CHECK_CUDA(cudaMemcpy(got, d, n * sizeof(float), cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaFree(d));
    nccl_link_close(l);
}

TEST_MAIN("test_nccl_gpu") {
    char why[256], no_gpu_why[256];
    int version = 0;
    if (!nccl_link_ready(&version, why, sizeof why)) {
        SKIP("loads", why);
        return;
    }
    CHECK(version >= 20700, "loads (NCCL %d.%d.%d; send and receive need 2.7)", version / 10000, version % 10000 / 100,
          version % 100);
    unsigned char id[NCCL_LINK_ID_BYTES] = {0}, zero[NCCL_LINK_ID_BYTES] = {0};
    int made = nccl_link_id(id, why, sizeof why);
    CHECK(made && memcmp(id, zero, sizeof id) != 0, "makes_an_id %s", made ? "" : why);

    const char *no_gpu = gpu_unusable(no_gpu_why, sizeof no_gpu_why);
    NcclLink *one = nccl_link_open(id, 1, 0, why, sizeof why);
    if (no_gpu) {
        CHECK(one == NULL && strstr(why, "ncclCommInitRank"), "without_a_gpu_the_open_says_why (%s)", why);
        SKIP("one_rank_opens_and_closes", no_gpu);
        SKIP("two_gpus_pass_floats_bit_for_bit", no_gpu);
        return;
    }
    CHECK(one != NULL, "one_rank_opens_and_closes %s", one ? "" : why);
    nccl_link_close(one);
    int n_gpus = 0;
    CHECK_CUDA(cudaGetDeviceCount(&n_gpus));
    if (n_gpus < 2) {
        SKIP("two_gpus_pass_floats_bit_for_bit", "one GPU: NCCL refuses two ranks of one communicator on one GPU");
        return;
    }
    // an odd count, and values with every exponent and sign a float has, so any conversion or truncation shows
    const size_t n = 1000003;
    float *send = (float *)base_malloc(n * sizeof(float), "message"), *got[2];
    for (int r = 0; r < 2; r++) got[r] = (float *)base_calloc(n, sizeof(float), "message");
    uint32_t x = 0x9e3779b9u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        uint32_t bits = x & 0x7f7fffffu;  // never Inf or NaN
        memcpy(&send[i], &bits, sizeof bits);
    }
    unsigned char pair[NCCL_LINK_ID_BYTES];
    nccl_link_id(pair, why, sizeof why);
    int opened[2] = {0, 0};
    std::thread t1(two_ranks, pair, 1, send, got[1], n, &opened[1]);
    two_ranks(pair, 0, send, got[0], n, &opened[0]);
    t1.join();
    CHECK(opened[0] && opened[1] && memcmp(got[1], send, n * sizeof(float)) == 0 &&
              memcmp(got[0], send, n * sizeof(float)) == 0,
          "two_gpus_pass_floats_bit_for_bit (%zu floats there and back)", n);
    free(send), free(got[0]), free(got[1]);
}
