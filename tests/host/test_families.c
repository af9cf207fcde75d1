// Seven decoder families from Hugging Face checkpoints (tiny random weights, fp32 and bf16 safetensors)
// against transformers' hidden states, for the full and tokens:8 policies
// (fixtures: tests/golden/make_family_fixtures.py).
#include <jansson.h>
#include <math.h>

#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/model.h"
#include "host/threads.h"
#include "tests/test.h"

static const char *VARIANTS[] = {"llama", "mistral",   "falcon", "falcon-newarch", "mpt",
                                 "gpt-neox", "gpt-neox-seq", "opt", "opt-postln", "gpt2"};

// each layer of got (blocks at offset, rows x dims[l]) against ref (the same blocks back to back)
static void compare(const char *name, const float *got, const size_t *offset, const float *ref, size_t rows,
                    const size_t *dims, size_t L1) {
    size_t r0 = 0;
    for (size_t l = 0; l < L1; l++) {
        double maxref = 0, maxerr = 0;
        for (size_t i = 0; i < rows * dims[l]; i++) {
            double r = ref[r0 + i], g = got[offset[l] + i];
            maxref = fmax(maxref, fabs(r));
            maxerr = isfinite(g) ? fmax(maxerr, fabs(g - r)) : INFINITY;
        }
        CHECK(maxerr <= 1e-4 * maxref, "%s/hidden_state_%zu max|err|/max|ref| = %.1e", name, l, maxerr / maxref);
        r0 += rows * dims[l];
    }
}

static void check_variant(const char *variant) {
    char err[BASE_ERR_LEN], path[512];
    snprintf(path, sizeof path, "tests/fixtures/families/%s/reference.json", variant);
    json_error_t jerr;
    json_t *ref = json_load_file(path, 0, &jerr);
    if (!ref) {
        CHECK(0, "%s: read %s: %s", variant, path, jerr.text);
        return;
    }
    json_t *jids = json_object_get(ref, "ids"), *jt = json_object_get(ref, "targets"), *jd = json_object_get(ref, "layer_dims");
    size_t T = json_array_size(jids), NT = json_array_size(jt), L1 = json_array_size(jd), body0 = (size_t)json_integer_value(json_object_get(ref, "body_offset"));
    int bos = json_is_integer(json_object_get(ref, "bos")) ? (int)json_integer_value(json_object_get(ref, "bos")) : -1;
    int N = (int)json_integer_value(json_object_get(ref, "N"));
    int32_t ids[128];
    int64_t pos[128], tg[32];
    size_t dims[16], offset[16];
    for (size_t t = 0; t < T; t++) ids[t] = (int32_t)json_integer_value(json_array_get(jids, t)), pos[t] = (int64_t)t;
    for (size_t i = 0; i < NT; i++) tg[i] = json_integer_value(json_array_get(jt, i));
    for (size_t l = 0; l < L1; l++) dims[l] = (size_t)json_integer_value(json_array_get(jd, l));

    for (int dt = 0; dt < 2; dt++) {
        const char *dtype = dt ? "bf16" : "fp32";
        char name[96];
        snprintf(path, sizeof path, "tests/fixtures/families/%s/%s", variant, dtype);
        Model *m = model_open(path, SIZE_MAX, err);
        CHECK(m != NULL, "%s/%s: opens%s%s", variant, dtype, m ? "" : ": ", m ? "" : err);
        if (!m) continue;
        CHECK((size_t)model_config(m)->n_layers + 1 == L1 && (size_t)model_final_dim(m) == dims[L1 - 1],
              "%s/%s: %d layers, last entry %d wide", variant, dtype, model_config(m)->n_layers, model_final_dim(m));
        CHECK(model_weight_dtype(m) == (dt ? DT_BF16 : DT_F32), "%s/%s: layers' matrices stored as %s (run.gpu_weights "
              "auto follows it)", variant, dtype, dtype);
        for (int policy = 0; policy < 2; policy++) {
            size_t rows = policy ? NT : T;
            snprintf(path, sizeof path, "tests/fixtures/families/%s/%s-%s.f32", variant, dtype, policy ? "tokens8" : "full");
            size_t bytes;
            float *want = (float *)base_read_file(path, &bytes, err);
            size_t total = extract_layer_offsets(m, rows, offset);
            float *got = base_malloc(total * sizeof(float), "states");
            ExtractStats st;
            int rc;
            if (policy == 0) {  // the ids as they are (BOS included), every position a word
                ContextPolicy full = {CTX_FULL, 0, 0, -1, WORD_LAST, 0};
                rc = extract_from_tokens(m, &decoder_ops_cpu, ids, T, -1, pos, pos, T, &full, NULL, got, &st, err);
            } else {  // each target on a fresh window of N tokens plus BOS
                ContextPolicy win = {CTX_TOKENS, N, 0, 0, WORD_LAST, 0};
                rc = extract_from_tokens(m, &decoder_ops_cpu, ids + body0, T - body0, bos, tg, tg, NT, &win, NULL, got,
                                         &st, err);
            }
            snprintf(name, sizeof name, "%s/%s/%s", variant, dtype, policy ? "tokens:8" : "full");
            CHECK(rc == 0 && want && bytes == total * sizeof(float), "%s: runs%s%s", name, rc ? ": " : "", rc ? err : "");
            if (rc == 0 && want && bytes == total * sizeof(float)) compare(name, got, offset, want, rows, dims, L1);
            free(got);
            free(want);
        }
        model_free(m);
    }
    json_decref(ref);
}

static void check_bad_checkpoints(void) {
    char err[BASE_ERR_LEN], cmd[1024];
    char dir[] = "/tmp/bs-families-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "bad/temporary_folder: mkdtemp %s", dir);
        return;
    }
    // a shard the index lists is missing
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/families/llama/fp32 %s/a && rm %s/a/model-00002-of-00004.safetensors",
             dir, dir);
    char path[600];
    snprintf(path, sizeof path, "%s/a", dir);
    Model *m = system(cmd) == 0 ? model_open(path, 0, err) : NULL;
    CHECK(!m && strstr(err, "model.safetensors.index.json: shard 'model-00002-of-00004.safetensors' listed in the index is missing"),
          "bad/missing_shard: %s", err);
    // a header whose offsets run past the file (truncated download)
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/families/gpt2/fp32 %s/b && truncate -s -1000 %s/b/model.safetensors", dir, dir);
    snprintf(path, sizeof path, "%s/b", dir);
    m = system(cmd) == 0 ? model_open(path, 0, err) : NULL;
    CHECK(!m && strstr(err, "run past the data") && strstr(err, "model.safetensors"), "bad/truncated_safetensors: %s", err);
    // a config whose sizes disagree with the tensors
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/families/mistral/fp32 %s/c && sed -i 's/\"intermediate_size\": 48/\"intermediate_size\": 50/' %s/c/config.json",
             dir, dir);
    snprintf(path, sizeof path, "%s/c", dir);
    m = system(cmd) == 0 ? model_open(path, 0, err) : NULL;
    CHECK(!m && strstr(err, "has shape [48, 32], expected [50, 32] from the config"), "bad/wrong_shape: %s", err);
    // malformed config.json, and an unsupported architecture
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/families/opt/fp32 %s/d && echo '{\"model_type\": ' > %s/d/config.json", dir, dir);
    snprintf(path, sizeof path, "%s/d", dir);
    m = system(cmd) == 0 ? model_open(path, 0, err) : NULL;
    CHECK(!m && strstr(err, "config.json: malformed JSON at line"), "bad/malformed_config: %s", err);
    snprintf(cmd, sizeof cmd, "cp -r tests/fixtures/families/opt/fp32 %s/e && sed -i 's/\"model_type\": \"opt\"/\"model_type\": \"bert\"/' %s/e/config.json", dir, dir);
    snprintf(path, sizeof path, "%s/e", dir);
    m = system(cmd) == 0 ? model_open(path, 0, err) : NULL;
    CHECK(!m && strstr(err, "model_type 'bert' is not supported; supported: llama") && strstr(err, "gpt2"),
          "bad/unsupported_architecture_lists_supported: %s", err);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
}

TEST_MAIN("test_families") {
    threads_init(0);
    for (size_t i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++) check_variant(VARIANTS[i]);
    check_bad_checkpoints();
}
