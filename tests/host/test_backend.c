// host/backend: run.device resolved against what a rank was offered.
#include <string.h>

#include "cuda/backend_cuda.h"
#include "host/backend.h"
#include "host/decoder_cpu.h"
#include "host/base.h"
#include "tests/test.h"

// a device backend stands in for the CUDA one the GPU issues bring: the resolution must hand it out unchanged
static const Backend fake_device = {.name = "fake-device", .decoder = NULL, .linalg = NULL};

static void check_resolve(void) {
    DeviceOffer none = {.backend = NULL, .why_not = "no CUDA device can run (no driver)"};
    DeviceOffer some = {.backend = &fake_device, .why_not = NULL};
    char note[256], err[BASE_ERR_LEN];

    err[0] = '\0';
    const Backend *b = backend_resolve(DEVICE_CPU, &some, note, sizeof note, err);
    CHECK(b == &backend_cpu && note[0] == '\0' && err[0] == '\0', "cpu_even_with_a_device_offered (note '%s')", note);
    CHECK(b->decoder && b->linalg, "cpu_backend_has_both_tables");

    b = backend_resolve(DEVICE_AUTO, &none, note, sizeof note, err);
    CHECK(b == &backend_cpu && strstr(note, "run.device auto: cpu") && strstr(note, "no driver"),
          "auto_without_device_is_cpu_and_says_why (note '%s')", note);

    b = backend_resolve(DEVICE_AUTO, &some, note, sizeof note, err);
    CHECK(b == &fake_device && strstr(note, "fake-device"), "auto_takes_the_offered_device (note '%s')", note);

    b = backend_resolve(DEVICE_CUDA, &some, note, sizeof note, err);
    CHECK(b == &fake_device && note[0] == '\0', "cuda_takes_the_offered_device");

    err[0] = '\0';
    b = backend_resolve(DEVICE_CUDA, &none, note, sizeof note, err);
    CHECK(b == NULL && strstr(err, "run.device: cuda") && strstr(err, "no driver") && strstr(err, "auto"),
          "cuda_without_device_is_an_error_naming_the_reason_and_the_way_out (err '%s')", err);

    // a note longer than its buffer is cut, never overrun
    char small[16];
    memset(small, 'Z', sizeof small);
    backend_resolve(DEVICE_AUTO, &none, small, 8, err);
    CHECK(strlen(small) == 7 && small[8] == 'Z', "note_bounded_by_its_buffer");
}

// the CUDA backend mpi/ offers: in a CUDA build the decoder's own table, with the fits' own where cuBLAS, cuSOLVER
// and cuFFT load (every entry point found: the libraries are loaded and resolved here without a GPU), else the
// CPU's fits with the reason; no backend in a build without CUDA
static void check_cuda_offer(void) {
    char why[256] = "", fits_why[256] = "";
    const Backend *b = backend_cuda_get(why, sizeof why);
    int fits = backend_cuda_fits(fits_why, sizeof fits_why);
    if (b) {
        CHECK(strcmp(b->name, "cuda") == 0 && b->decoder && b->decoder != &decoder_ops_cpu &&
                  strcmp(b->decoder->name, "cuda") == 0,
              "cuda_backend: decoder '%s' on the device", b->decoder ? b->decoder->name : "?");
        CHECK(fits ? b->linalg != &linalg_ops_cpu && strcmp(b->linalg->name, "cuda") == 0
                   : b->linalg == &linalg_ops_cpu && fits_why[0] != '\0',
              "cuda_backend: fits '%s'%s%s", b->linalg->name, fits ? "" : ", because ", fits_why);
        CHECK(b->decoder_bf16 && strcmp(b->decoder_bf16->name, "cuda bf16") == 0 && b->decoder_f16 &&
                  strcmp(b->decoder_f16->name, "cuda fp16") == 0,
              "cuda_backend: 16-bit decoders '%s' and '%s'", b->decoder_bf16 ? b->decoder_bf16->name : "?",
              b->decoder_f16 ? b->decoder_f16->name : "?");
    } else {  // a build without CUDA, or cuBLAS missing: a reason either way
        CHECK(why[0] != '\0' && !fits && fits_why[0] != '\0', "cuda_backend: none here, because %s", why);
    }
}

// run.gpu_weights against the stored type: auto follows a 16-bit checkpoint, float32 and other types stay float32,
// a named type is taken whatever is stored; a backend without 16-bit tables (the CPU) always gives its float32 one
static void check_decoder_choice(void) {
    static const DecoderOps f32 = {.name = "f32"}, bf16 = {.name = "bf16"}, f16 = {.name = "f16"};
    const Backend dev = {.name = "dev", .decoder = &f32, .decoder_bf16 = &bf16, .decoder_f16 = &f16};
    const struct {
        GpuWeights want;
        DType stored;
        const DecoderOps *dev;
    } cases[] = {{GPU_WEIGHTS_AUTO, DT_BF16, &bf16}, {GPU_WEIGHTS_AUTO, DT_F16, &f16},
                 {GPU_WEIGHTS_AUTO, DT_F32, &f32},   {GPU_WEIGHTS_AUTO, DT_Q4_1, &f32},
                 {GPU_WEIGHTS_F32, DT_BF16, &f32},   {GPU_WEIGHTS_BF16, DT_F32, &bf16},
                 {GPU_WEIGHTS_BF16, DT_F16, &bf16},  {GPU_WEIGHTS_F16, DT_BF16, &f16}};
    int ok = 1, cpu_ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ok &= backend_decoder(&dev, cases[i].want, cases[i].stored) == cases[i].dev;
        cpu_ok &= backend_decoder(&backend_cpu, cases[i].want, cases[i].stored) == &decoder_ops_cpu;
    }
    CHECK(ok, "gpu_weights_choose_the_table (%zu cases)", sizeof cases / sizeof *cases);
    CHECK(cpu_ok, "gpu_weights_leave_the_cpu_in_float32");
}

TEST_MAIN("test_backend") {
    check_resolve();
    check_decoder_choice();
    check_cuda_offer();
}
