// Readers of external input: GGUF, TextGrid, recordings, the config file; and the fMRI design.
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/base.h"
#include "host/config.h"
#include "host/dequant.h"
#include "host/features.h"
#include "host/gguf.h"
#include "host/model.h"
#include "host/recording.h"
#include "host/safetensors.h"
#include "host/stimulus.h"
#include "tests/test.h"

static char tmpdir[] = "/tmp/bs-test-XXXXXX";

static const char *write_tmp(const char *name, const char *text) {
    static char path[8][512];
    static int k = 0;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
    return p;
}

// ----------------------------------------------------------------------------
// GGUF

static void check_gguf(void) {
    char err[BASE_ERR_LEN];
    GgufFile *f = gguf_open("data/models/stories260K.gguf", err);
    CHECK(f != NULL, "gguf/open_stories260K");
    if (!f) return;
    uint32_t v;
    float eps;
    CHECK(f->version == 3 && f->n_tensors == 48, "gguf/version_3_48_tensors");
    CHECK(gguf_get_u32(f, "llama.block_count", &v) == 0 && v == 5, "gguf/block_count_5");
    CHECK(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps) == 0 && fabsf(eps - 1e-5f) < 1e-9f,
          "gguf/rms_eps");
    const GgufTensor *t = gguf_find_tensor(f, "blk.0.ffn_gate.weight");
    CHECK(t && t->ne[0] == 64 && t->ne[1] == 172 && t->type == GGML_F32, "gguf/tensor_dims_fastest_first");
    gguf_close(f);
    Model *m = model_open("data/models/stories260K.gguf", 0, err);
    const ModelConfig *mc = m ? model_config(m) : NULL;
    CHECK(mc && mc->n_heads == 8 && mc->n_kv_heads == 4 && mc->head_dim == 8 && mc->vocab == 512 &&
              mc->rope_theta == 10000.0f && mc->max_ctx == 2048 && mc->bos == 1,
          "gguf/llama_hyperparameters");
    model_free(m);

    // a file that is not GGUF, and one cut inside its tensor data
    CHECK(gguf_open(write_tmp("x.gguf", "GGML but not really"), err) == NULL && strstr(err, "not a GGUF file"),
          "gguf/bad_magic_refused: %s", err);
    CHECK(gguf_open("/nonexistent/model.gguf", err) == NULL && strstr(err, "/nonexistent/model.gguf"),
          "gguf/missing_file_named: %s", err);
    size_t len;
    char *buf = base_read_file("data/models/stories260K.gguf", &len, err);
    char cut[512];
    snprintf(cut, sizeof cut, "%s/cut.gguf", tmpdir);
    size_t sizes[] = {20, 30, 5000, len - 1};
    for (size_t i = 0; i < 4; i++) {
        FILE *o = fopen(cut, "wb");
        fwrite(buf, 1, sizes[i], o);
        fclose(o);
        GgufFile *g = gguf_open(cut, err);
        CHECK(g == NULL && strstr(err, "truncated") && strstr(err, cut), "gguf/truncated_at_%zu_refused", sizes[i]);
        gguf_close(g);
    }
    // a llama.block_count far beyond the tensor table is refused before anything is sized by it
    char *key = buf ? memmem(buf, len, "llama.block_count", 17) : NULL;
    CHECK(key != NULL, "gguf/block_count_key_found");
    if (key) {
        uint32_t huge = 0x7fffffffu;
        memcpy(key + 17 + 4, &huge, 4);  // after the key: u32 type, then the value
        snprintf(cut, sizeof cut, "%s/layers.gguf", tmpdir);
        FILE *o = fopen(cut, "wb");
        fwrite(buf, 1, len, o);
        fclose(o);
        Model *bad = model_open(cut, 0, err);
        CHECK(bad == NULL && strstr(err, cut) && strstr(err, "llama.block_count 2147483647 exceeds"),
              "gguf/huge_block_count_refused: %s", err);
        model_free(bad);
    }
    free(buf);
}

// a GGUF file written here, one 32-element tensor per storage type, read back through the reader
static void put(FILE *f, const void *p, size_t n) { fwrite(p, 1, n, f); }
static void put_u32(FILE *f, uint32_t v) { put(f, &v, 4); }
static void put_u64(FILE *f, uint64_t v) { put(f, &v, 8); }
static void put_str(FILE *f, const char *s) {
    put_u64(f, strlen(s));
    put(f, s, strlen(s));
}

static void check_gguf_types(void) {
    struct {
        const char *name;
        uint32_t type;
        uint8_t data[128];
        size_t bytes;
    } t[7] = {{"f32", GGML_F32, {0}, 128}, {"f16", GGML_F16, {0}, 64}, {"bf16", GGML_BF16, {0}, 64},
              {"q8_0", GGML_Q8_0, {0x00, 0x38}, 34}, {"q4_0", GGML_Q4_0, {0x00, 0x38}, 18},
              {"q4_1", GGML_Q4_1, {0x00, 0x38, 0x00, 0xBC}, 20}, {"q6_k", 14, {0}, 0}};
    float want[32];
    for (int j = 0; j < 32; j++) {
        want[j] = 0.25f * (float)j - 4.0f;  // exact in fp16 and bf16
        memcpy(t[0].data + 4 * j, &want[j], 4);
        uint32_t bits;
        memcpy(&bits, &want[j], 4);
        uint16_t bf = (uint16_t)(bits >> 16);
        // fp16 of want[j]: sign, exponent rebias 127 -> 15, top 10 mantissa bits
        uint16_t h = (uint16_t)(((bits >> 16) & 0x8000) | (want[j] == 0 ? 0 : ((((bits >> 23) & 0xff) - 112) << 10) | ((bits >> 13) & 0x3ff)));
        memcpy(t[1].data + 2 * j, &h, 2);
        memcpy(t[2].data + 2 * j, &bf, 2);
        t[3].data[2 + j] = (uint8_t)(int8_t)(j - 16);
    }
    for (int j = 0; j < 16; j++) t[4].data[2 + j] = t[5].data[4 + j] = (uint8_t)(j | (15 - j) << 4);
    char path[512];
    snprintf(path, sizeof path, "%s/types.gguf", tmpdir);
    FILE *f = fopen(path, "wb");
    put(f, "GGUF", 4);
    put_u32(f, 3);
    put_u64(f, 7);
    put_u64(f, 1);
    put_str(f, "general.alignment");
    put_u32(f, GGUF_UINT32);
    put_u32(f, 32);
    uint64_t off = 0;
    for (int i = 0; i < 7; i++) {
        put_str(f, t[i].name);
        put_u32(f, 1);
        put_u64(f, 32);
        put_u32(f, t[i].type);
        put_u64(f, off);
        off += (t[i].bytes + 31) / 32 * 32;
    }
    long pos = ftell(f);
    while (pos % 32) fputc(0, f), pos++;
    for (int i = 0; i < 7; i++) {
        put(f, t[i].data, t[i].bytes);
        for (size_t k = t[i].bytes; k % 32; k++) fputc(0, f);
    }
    fclose(f);

    char err[BASE_ERR_LEN];
    GgufFile *g = gguf_open(path, err);
    CHECK(g != NULL, "gguf/written_file_opens%s%s", g ? "" : ": ", g ? "" : err);
    if (!g) return;
    float out[32];
    TensorRef ref;
    for (int i = 0; i < 6; i++) {
        int rc = gguf_tensor_ref(g, gguf_find_tensor(g, t[i].name), &ref, err);
        if (rc == 0) tensor_to_f32(out, &ref);
        int ok = rc == 0 && ref.n_dims == 1 && ref.shape[0] == 32;
        for (int j = 0; j < 32 && ok; j++) {
            float w = i < 3 ? want[j]
                      : i == 3 ? 0.5f * (float)(j - 16)
                      : i == 4 ? 0.5f * (float)((j < 16 ? j : 31 - j) - 8)
                               : 0.5f * (float)(j < 16 ? j : 31 - j) - 1.0f;
            ok = out[j] == w;
        }
        CHECK(ok, "gguf/read_%s_tensor", t[i].name);
    }
    CHECK(gguf_tensor_ref(g, gguf_find_tensor(g, "q6_k"), &ref, err) == -1 && strstr(err, "stored as Q6_K"),
          "gguf/unsupported_type_named: %s", err);
    gguf_close(g);
}

// hand-made blocks: d = 0.5 (fp16 0x3800), m = -1 (0xBC00)
static void check_dequant(void) {
    uint8_t q8[Q8_0_BLOCK_BYTES] = {0x00, 0x38};
    for (int j = 0; j < 32; j++) q8[2 + j] = (uint8_t)(int8_t)(j - 16);
    uint8_t q40[Q4_0_BLOCK_BYTES] = {0x00, 0x38}, q41[Q4_1_BLOCK_BYTES] = {0x00, 0x38, 0x00, 0xBC};
    for (int j = 0; j < 16; j++) q40[2 + j] = q41[4 + j] = (uint8_t)(j | (15 - j) << 4);
    float a[32], b[32], c[32];
    dequant_q8_0_block(a, q8);
    dequant_q4_0_block(b, q40);
    dequant_q4_1_block(c, q41);
    int ok = 1;
    for (int j = 0; j < 32; j++) ok &= a[j] == 0.5f * (j - 16);
    CHECK(ok, "dequant/q8_0");
    ok = 1;
    for (int j = 0; j < 16; j++) ok &= b[j] == 0.5f * (j - 8) && b[j + 16] == 0.5f * (15 - j - 8);
    CHECK(ok, "dequant/q4_0_low_nibbles_first");
    ok = 1;
    for (int j = 0; j < 16; j++) ok &= c[j] == 0.5f * j - 1.0f && c[j + 16] == 0.5f * (15 - j) - 1.0f;
    CHECK(ok, "dequant/q4_1_scale_and_min");
    CHECK(fp16_to_f32(0x3C00) == 1.0f && fp16_to_f32(0xC000) == -2.0f && fp16_to_f32(0x0001) == ldexpf(1, -24) &&
              isinf(fp16_to_f32(0x7C00)) && isnan(fp16_to_f32(0x7E00)) && fp16_to_f32(0x8000) == 0.0f,
          "dequant/fp16_normal_subnormal_inf_nan");
    CHECK(bf16_to_f32(0x3F80) == 1.0f && bf16_to_f32(0xC0A0) == -5.0f, "dequant/bf16");
    float w[24];  // 2 heads x 6 rows x 2 cols: rows (0,1,2,3,4,5) -> (0,2,4,1,3,5)
    for (int i = 0; i < 24; i++) w[i] = (float)(i / 2);
    model_unpermute_rope_rows(w, 2, 6, 2);
    const float want[12] = {0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11};
    ok = 1;
    for (int r = 0; r < 12; r++) ok &= w[2 * r] == want[r] && w[2 * r + 1] == want[r];
    CHECK(ok, "model/unpermute_rope_rows_like_transformers");
}

// ----------------------------------------------------------------------------
// TextGrid

static const char *SHORT_TG =
    "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n3\n<exists>\n2\n"
    "\"IntervalTier\"\n\"phones\"\n0\n3\n1\n0\n3\n\"a\"\n"
    "\"IntervalTier\"\n\"word\"\n0\n3\n5\n0\n0.5\n\"sp\"\n0.5\n1\n\"what\"\n1\n1.2\n\"'s\"\n1.2\n2\n\"\"\"quoted\"\"\"\n"
    "2\n3\n\"  caf\xc3\xa9 \"\n";

static void check_textgrid(void) {
    char err[BASE_ERR_LEN];
    Stimulus s;
    int rc = stim_load_textgrid("data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid", "word", NULL, 0, &s, err);
    CHECK(rc == 0 && s.n_words == 2127, "textgrid/alice_2127_words (%zu)", rc ? 0 : s.n_words);
    if (rc == 0) {
        CHECK(strcmp(s.label[0], "Alice") == 0 && fabs(s.onset[0] - 20.05891632653599) < 1e-12 &&
                  fabs(s.t_max - 743.6344265311994) < 1e-12,
              "textgrid/first_word_and_extent");
        CHECK(strncmp(s.text, "Alice was beginning to get very tired", 37) == 0 && strstr(s.text, "what's the use"),
              "textgrid/text_joins_clitics ('what 's' -> \"what's\")");
        int ok = 1;
        for (size_t w = 0; w < s.n_words; w++)
            ok &= strncmp(s.text + s.start[w], s.label[w], s.end[w] - s.start[w]) == 0 &&
                  s.end[w] - s.start[w] == strlen(s.label[w]);
        CHECK(ok, "textgrid/word_byte_ranges_point_at_words");
        stim_free(&s);
    }
    rc = stim_load_textgrid(write_tmp("short.TextGrid", SHORT_TG), "word", NULL, 0, &s, err);
    CHECK(rc == 0 && s.n_words == 4, "textgrid/short_format (%s)", rc ? err : "ok");
    if (rc == 0) {
        CHECK(strcmp(s.text, "what's \"quoted\" caf\xc3\xa9") == 0, "textgrid/short_text '%s'", s.text);
        stim_free(&s);
    }
    // UTF-16 with BOM, as Praat writes non-ASCII files
    size_t n = strlen(SHORT_TG);
    char path[512];
    snprintf(path, sizeof path, "%s/utf16.TextGrid", tmpdir);
    FILE *f = fopen(path, "wb");
    fputc(0xFF, f), fputc(0xFE, f);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)SHORT_TG[i];
        if (ch == 0xc3) {  // U+00E9 from its two UTF-8 bytes
            fputc(0xE9, f), fputc(0, f);
            i++;
        } else {
            fputc(ch, f), fputc(0, f);
        }
    }
    fclose(f);
    rc = stim_load_textgrid(path, "word", NULL, 0, &s, err);
    CHECK(rc == 0 && s.n_words == 4 && strcmp(s.label[3], "caf\xc3\xa9") == 0, "textgrid/utf16_with_bom");
    if (rc == 0) stim_free(&s);
    CHECK(stim_load_textgrid(write_tmp("s2.TextGrid", SHORT_TG), "words", NULL, 0, &s, err) == -1 &&
              strstr(err, "no tier named 'words' (tiers: 'phones', 'word')"),
          "textgrid/missing_tier_lists_tiers: %s", err);
    CHECK(stim_load_textgrid(write_tmp("s3.TextGrid", "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n0\n"), "word",
                             NULL, 0, &s, err) == -1 && strstr(err, "malformed TextGrid"),
          "textgrid/truncated_file_refused: %s", err);
    CHECK(stim_is_clitic("'ll") && stim_is_clitic("n't") && !stim_is_clitic("don't") && !stim_is_clitic("Ma'am"),
          "textgrid/clitic_rule");

    // times on one clock: from 0 s, in order; the message names the file and the line
    static const char *const bad_tg[][2] = {
        {"-1\n0.5\n\"sp\"\n0.5\n1\n\"what\"", "interval at line 13 starts before 0 s"},
        {"0\n0.5\n\"sp\"\n0.5\n1\n\"what\"\n0.2\n1.2\n\"'s\"", "interval at line 19 runs backwards or out of order"},
    };
    for (size_t i = 0; i < 2; i++) {
        char tg[1024];
        snprintf(tg, sizeof tg,
                 "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n3\n<exists>\n1\n"
                 "\"IntervalTier\"\n\"word\"\n0\n3\n%d\n%s\n",
                 i ? 3 : 2, bad_tg[i][0]);
        const char *tg_path = write_tmp("times.TextGrid", tg);
        CHECK(stim_load_textgrid(tg_path, "word", NULL, 0, &s, err) == -1 && strstr(err, tg_path) &&
                  strstr(err, bad_tg[i][1]),
              "textgrid/bad_times_%zu_refused: %s", i, err);
    }
    static const char *const bad_table[][2] = {
        {"word\tonset\toffset\na\t-0.5\t0.1\n", "line 2: onset '-0.5' and offset '0.1' are not times in order"},
        {"word\tonset\toffset\na\t1\t0.5\n", "line 2: onset '1' and offset '0.5' are not times in order"},
        {"word\tonset\toffset\na\t0\t1\nb\t2\tinf\n", "line 3: onset '2' and offset 'inf' are not times"},
        {"word\tonset\toffset\na\t0\t1\nb\t1\t2\nc\t0.5\t0.9\n",
         "line 4: onset 0.5 s is before the previous word's onset 1 s"},
        {"word\tonset\toffset\na\t0\t1\nb\tx\x1b[2J\t2\n", "line 3: onset 'x\\x1b[2J' and offset '2'"},
    };
    for (size_t i = 0; i < 5; i++) {
        const char *tsv_path = write_tmp("times.tsv", bad_table[i][0]);
        CHECK(stim_load(tsv_path, NULL, &s, err) == -1 && strstr(err, tsv_path) && strstr(err, bad_table[i][1]),
              "table/bad_times_%zu_refused: %s", i, err);
    }
    const char *ok_path = write_tmp("overlap.tsv", "word\tonset\toffset\na\t0\t1\nb\t0.5\t2\nc\t0.5\t0.7\n");
    int rc_ok = stim_load(ok_path, NULL, &s, err);
    CHECK(rc_ok == 0 && s.n_words == 3, "table/overlapping_words_with_equal_onsets_kept: %s", rc_ok ? err : "ok");
    if (rc_ok == 0) stim_free(&s);
}

// ----------------------------------------------------------------------------
// recordings

static void check_recordings(void) {
    char err[BASE_ERR_LEN];
    Recording r;
    const char *names[] = {"A", "B", "C"};
    int rc = rec_load_text_matrix("data/alice/fmri-6mm/s18-timecourses.txt", 6, NULL, &r, err);
    CHECK(rc == 0 && r.n_rows == 362 && r.n_cols == 6 && strcmp(r.subject, "s18") == 0 &&
              fabs(r.data[0] - 80.890972) < 1e-9,
          "recording/alice_s18_362x6");
    if (rc == 0) rec_free(&r);
    CHECK(rec_load_text_matrix(write_tmp("a.txt", "1 2 3\n4 5\n"), 3, names, &r, err) == -1 &&
              strstr(err, "line 2 has 2 columns, expected 3"),
          "recording/short_row_refused: %s", err);
    CHECK(rec_load_text_matrix(write_tmp("b.txt", "1 2 3\n4 inf 6\n"), 3, names, &r, err) == -1 &&
              strstr(err, "column 2 (B): value is infinite"),
          "recording/inf_refused: %s", err);
    CHECK(rec_load_text_matrix(write_tmp("c.txt", "1 2 x3\n"), 3, names, &r, err) == -1 && strstr(err, "'x3' is not a number"),
          "recording/text_refused: %s", err);
    CHECK(rec_load_text_matrix(write_tmp("d.txt", "\n\n"), 3, names, &r, err) == -1 && strstr(err, "empty"),
          "recording/empty_refused: %s", err);
}

// ----------------------------------------------------------------------------
// the fMRI design

static void check_design(void) {
    // words at 0.5, 1.5, 2.5 (volume 0 and 1 at TR 2 from t0 = 0); features 1, 2, 4
    float x[3] = {1, 2, 4};
    double t[3] = {0.5, 1.5, 2.5}, out[3];
    VolumeGrid g = {0.0, 2.0, 3};
    feat_words_to_volumes(out, x, t, 3, 1, &g, RESAMPLE_SUM, 3);
    CHECK(out[0] == 3 && out[1] == 4 && out[2] == 0, "design/sum_bins_by_midpoint");
    // Lanczos: a constant word rate resamples to a constant away from the edges
    size_t W = 400;
    float *xw = base_malloc(W * sizeof(float), "x");
    double *tw = base_malloc(W * sizeof(double), "t"), vol[40];
    for (size_t w = 0; w < W; w++) xw[w] = 1.0f, tw[w] = 0.1 * (double)w;  // 10 words per second
    VolumeGrid g2 = {0.0, 1.0, 40};
    feat_words_to_volumes(vol, xw, tw, W, 1, &g2, RESAMPLE_LANCZOS, 3);
    double spread = 0;
    for (int j = 5; j < 35; j++) spread = fmax(spread, fabs(vol[j] - vol[10]));
    CHECK(spread < 1e-2 * vol[10] && fabs(vol[10] - 10.0) < 0.2, "design/lanczos_constant_rate (%.3f, spread %.1e)",
          vol[10], spread);
    free(xw), free(tw);
    CHECK(feat_lanczos(0, 3) == 1 && fabs(feat_lanczos(1, 3)) < 1e-15 && feat_lanczos(3, 3) == 0, "design/lanczos_kernel");

    double in[8] = {1, 10, 2, 20, 3, 30, 4, 40}, d[16];  // 4 volumes x 2 features
    int delays[2] = {0, 2};
    feat_delay(d, in, 4, 2, delays, 2);
    const double want[16] = {1, 10, 0, 0, 2, 20, 0, 0, 3, 30, 1, 10, 4, 40, 2, 20};
    int ok = 1;
    for (int i = 0; i < 16; i++) ok &= d[i] == want[i];
    CHECK(ok, "design/fir_delays_zero_padded");

    double z[6] = {1, 5, 2, 5, 3, 5};
    size_t constant = feat_zscore(z, 3, 2);
    CHECK(constant == 1 && fabs(z[0] + sqrt(1.5)) < 1e-12 && z[1] == 0 && z[3] == 0, "design/zscore_and_constant_column");

    // high-pass: a slow drift disappears, a fast oscillation survives
    size_t N = 362;
    double *y = base_malloc(2 * N * sizeof(double), "y");
    for (size_t i = 0; i < N; i++) {
        y[2 * i] = 3.0 + 0.01 * (double)i;            // linear drift
        y[2 * i + 1] = sin(2 * M_PI * (double)i / 10.0);  // 20 s period at TR 2
    }
    double before = 0;
    for (size_t i = 0; i < N; i++) before += y[2 * i + 1] * y[2 * i + 1];
    size_t K = feat_highpass(y, N, 2, 2.0, 128.0);
    double drift = 0, after = 0;
    for (size_t i = 0; i < N; i++) drift = fmax(drift, fabs(y[2 * i])), after += y[2 * i + 1] * y[2 * i + 1];
    CHECK(K == 12, "design/highpass_128s_removes_12_cosines (%zu)", K);
    CHECK(drift < 0.1 && after > 0.98 * before, "design/highpass_drift_gone_fast_kept (drift %.3f, kept %.3f)", drift,
          after / before);
    free(y);
}

// ----------------------------------------------------------------------------
// config

static const char *GOOD =
    "models:\n  - {name: tiny, path: data/models/stories260K.gguf}\n  - data/models/other.gguf\n"
    "stimulus:\n  file: data/alice/DownTheRabbitHoleFinal_exp120_pad_1.TextGrid\n"
    "recordings:\n  tr: 2\n  regions: [A, B]\n  files: data/alice/fmri-6mm/s1*-timecourses.txt\n"
    "design:\n  delays: [1, 3]\n";

static void check_config(void) {
    char err[BASE_ERR_LEN];
    SweepConfig c;
    int rc = config_load(write_tmp("good.yaml", GOOD), NULL, 0, &c, err);
    CHECK(rc == 0, "config/minimal_loads (%s)", rc ? err : "ok");
    if (rc) return;
    CHECK(c.n_models == 2 && strcmp(c.models[1].name, "other") == 0, "config/model_name_defaults_to_stem");
    CHECK(c.files.n == 1 && strcmp(c.files.items[0], "data/alice/fmri-6mm/s18-timecourses.txt") == 0,
          "config/glob_expanded");
    CHECK(c.design.n_delays == 2 && c.design.delays[1] == 3 && c.ridge.folds == 5 && c.ridge.n_alphas == 17 && fabs(c.ridge.alphas[0] - 0.1) < 1e-15 &&
              fabs(c.ridge.alphas[16] - 1e7) < 1e-3 && strcmp(c.tier, "word") == 0 && c.highpass_seconds == 128,
          "config/defaults_filled");
    // the resolved YAML parses back to the same values
    char *yaml = config_resolved_yaml(&c);
    SweepConfig c2;
    rc = config_load(write_tmp("resolved.yaml", yaml), NULL, 0, &c2, err);
    CHECK(rc == 0 && c2.ridge.n_alphas == c.ridge.n_alphas && memcmp(c2.ridge.alphas, c.ridge.alphas, c.ridge.n_alphas * sizeof(double)) == 0 &&
              c2.design.n_delays == 2 && c2.files.n == 1 && strcmp(c2.models[0].name, "tiny") == 0,
          "config/resolved_yaml_round_trips (%s)", rc ? err : "ok");
    if (rc == 0) config_free(&c2);
    free(yaml);
    config_free(&c);

    const char *ov[] = {"ridge.folds=3", "design.delays=[2]", "recordings.regions=[X, Y, Z]"};
    rc = config_load(write_tmp("good2.yaml", GOOD), ov, 3, &c, err);
    CHECK(rc == 0 && c.ridge.folds == 3 && c.design.n_delays == 1 && c.design.delays[0] == 2 && c.regions.n == 3, "config/overrides_apply");
    if (rc == 0) config_free(&c);
    const char *bad_ov[] = {"ridge.fold=3"};
    CHECK(config_load(write_tmp("good3.yaml", GOOD), bad_ov, 1, &c, err) == -1 && strstr(err, "no key ridge.fold"),
          "config/unknown_override_refused: %s", err);

    // each case replaces a line of GOOD (a section given twice is itself an error), or adds a section
    struct {
        const char *name, *line, *yaml, *want;
    } bad[] = {
        {"typo_key", "  delays: [1, 3]\n", "  delay: [1]\n",
         ":11: unknown key 'delay' in section 'design' (did you mean 'delays'?)"},
        {"range", NULL, "ridge:\n  folds: 1\n", ":13: ridge.folds: 1 is outside [2, 1000]"},
        {"type", "  tr: 2\n", "  tr: two\n", "recordings.tr: 'two' is not a number"},
        {"enum", "  delays: [1, 3]\n", "  delays: [1, 3]\n  resample: linear\n",
         "design.resample: 'linear' is not one of: sum|lanczos"},
        {"list", "  delays: [1, 3]\n", "  delays: 4\n", "design.delays must be a list"},
        {"alphas", NULL, "ridge:\n  alphas: [10, 1]\n", "ridge.alphas must be ascending"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[2048];
        const char *at = bad[i].line ? strstr(GOOD, bad[i].line) : GOOD + strlen(GOOD);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, bad[i].yaml,
                 bad[i].line ? at + strlen(bad[i].line) : "");
        const char *p = write_tmp("bad.yaml", text);
        rc = config_load(p, NULL, 0, &c, err);
        CHECK(rc == -1 && strstr(err, bad[i].want) && strstr(err, p), "config/%s_refused: %s", bad[i].name, err);
    }
    rc = config_load(write_tmp("noreq.yaml", "models: [a.gguf]\n"), NULL, 0, &c, err);
    CHECK(rc == -1 && strstr(err, "missing required key"), "config/missing_required_key: %s", err);
    rc = config_load(write_tmp("notyaml.yaml", "models: [a\n  b: c"), NULL, 0, &c, err);
    CHECK(rc == -1 && strstr(err, "not valid YAML"), "config/invalid_yaml: %s", err);
    char *doc = config_doc_markdown();
    CHECK(strstr(doc, "`ridge.select`") && strstr(doc, "**required**"), "config/doc_lists_every_key");
    free(doc);
}

// ----------------------------------------------------------------------------
// inputs that crashed or were accepted before the readers were fuzzed (tests/fuzz/): each must be one
// error naming the file

// a safetensors file: the 8-byte header length, the header, then data bytes of zeros
static const char *write_safetensors(const char *name, const char *header, size_t data_bytes) {
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    uint64_t n = strlen(header);
    fwrite(&n, 8, 1, f);
    fputs(header, f);
    for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
    fclose(f);
    return p;
}

static void check_fuzz_findings(void) {
    char err[BASE_ERR_LEN];
    Stimulus s;
    const char *tg = write_tmp("huge.TextGrid",
                               "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\nxmin = 0\nxmax = 3\n"
                               "tiers? <exists>\nsize = 1\nitem []:\n    item [1]:\n        class = \"IntervalTier\"\n"
                               "        name = \"word\"\n        xmin = 0\n        xmax = 3\n"
                               "        intervals: size = 1e70\n");
    CHECK(stim_load_textgrid(tg, "word", NULL, 0, &s, err) == -1 && strstr(err, tg) &&
              strstr(err, "the number of intervals near line 14 is 1e+70"),
          "fuzz/textgrid_interval_count_1e70_refused: %s", err);

    SweepConfig c;
    char text[2048];
    snprintf(text, sizeof text, "%sridge:\n  folds: 3\ndesign:\n  delays: [2]\n", GOOD);
    const char *twice = write_tmp("twice.yaml", text);
    CHECK(config_load(twice, NULL, 0, &c, err) == -1 && strstr(err, twice) &&
              strstr(err, ":14: section 'design' is given twice (first at line 10)"),
          "fuzz/config_section_given_twice_refused: %s", err);
    snprintf(text, sizeof text, "%sridge:\n  folds: 3\n  folds: 4\n", GOOD);
    const char *key_twice = write_tmp("twice2.yaml", text);
    CHECK(config_load(key_twice, NULL, 0, &c, err) == -1 && strstr(err, key_twice) &&
              strstr(err, ":14: key 'folds' is given twice in section 'ridge'"),
          "fuzz/config_key_given_twice_refused: %s", err);
    snprintf(text, sizeof text, "models:\n  - a.gguf\n%smodels:\n  - b.gguf\n", GOOD);
    CHECK(config_load(write_tmp("twice3.yaml", text), NULL, 0, &c, err) == -1 &&
              strstr(err, "section 'models' is given twice (first at line 1)"),
          "fuzz/config_models_given_twice_refused: %s", err);

    char dir[512];
    snprintf(dir, sizeof dir, "%s/opt-huge", tmpdir);
    mkdir(dir, 0755);
    write_tmp("opt-huge/config.json", "{\"model_type\": \"opt\", \"hidden_size\": 4294967304, \"num_hidden_layers\": 2, "
                                      "\"num_attention_heads\": 2, \"vocab_size\": 16}");
    Model *m = model_open(dir, 0, err);
    CHECK(!m && strstr(err, dir) && strstr(err, "'hidden_size' is 4294967304, out of range"),
          "fuzz/config_json_huge_hidden_size_refused: %s", err);
    model_free(m);

    // 2^32 x 2^32 elements: the count wraps to 0 in 64 bits and matched an empty byte range
    const char *wrap = write_safetensors(
        "wrap.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
    StCheckpoint *ck = st_open_file(wrap, err);
    CHECK(!ck && strstr(err, wrap) && strstr(err, "tensor 'w' has a shape whose element count overflows"),
          "fuzz/safetensors_wrapping_shape_refused: %s", err);
    st_close(ck);
    const char *overlap = write_safetensors(
        "overlap.safetensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
        16);
    ck = st_open_file(overlap, err);
    CHECK(!ck && strstr(err, overlap) && strstr(err, "tensors 'a' [0, 16) and 'b' [8, 16) overlap"),
          "fuzz/safetensors_overlapping_tensors_refused: %s", err);
    st_close(ck);
    const char *packed = write_safetensors(
        "packed.safetensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
        16);
    ck = st_open_file(packed, err);
    CHECK(ck && st_count(ck) == 3, "fuzz/safetensors_adjacent_and_empty_tensors_accepted (%s)", ck ? "ok" : err);
    st_close(ck);
}

TEST_MAIN("test_inputs") {
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    check_gguf();
    check_gguf_types();
    check_dequant();
    check_textgrid();
    check_recordings();
    check_design();
    check_config();
    check_fuzz_findings();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("# could not remove %s\n", tmpdir);
}
