// EDF/EDF+ reader and writer: a round trip, a hand-built EDF+ fixture, malformed files and mixed rates.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/edf.h"
#include "tests/test.h"

#define FIXTURE "tests/fixtures/edf/annotated.edf"
#define EXPECTED "tests/fixtures/edf/annotated.expected.txt"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static char dir[] = "/tmp/test_edf_XXXXXX";

// where field `col` (0 label .. 8 samples per record, in header order) of signal i starts, ns signals
static size_t sig_field(size_t ns, int col, size_t i) {
    static const size_t before[] = {0, 16, 96, 104, 112, 120, 128, 136, 216}, width[] = {16, 80, 8, 8, 8, 8, 8, 80, 8};
    return 256 + ns * before[col] + i * width[col];
}
enum { C_LABEL, C_TRANSDUCER, C_UNIT, C_PMIN, C_PMAX, C_DMIN, C_DMAX, C_PREFILTER, C_SPR };

static void write_file(const char *path, const char *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n) DIE("", "cannot write %s", path);
    fclose(f);
}

// a copy of the valid file with `text` space-padded into [at, at + width)
static void write_patched(const char *path, const char *good, size_t n, size_t at, size_t width, const char *text) {
    char *b = base_malloc(n, "patched EDF");
    memcpy(b, good, n);
    memset(b + at, ' ', width);
    memcpy(b + at, text, strlen(text));
    write_file(path, b, n);
    free(b);
}

// 1 if edf_open refuses path with an err naming it and containing keyword
static int refused(const char *path, const char *keyword, char *err) {
    Edf e;
    err[0] = '\0';
    int rc = edf_open(path, &e, err);
    if (rc == 0) edf_close(&e);
    unlink(path);
    return rc == -1 && strstr(err, path) && strstr(err, keyword);
}

static void test_round_trip(void) {
    enum { NS = 5 };
    const char *label[NS] = {"LFP 1", "LFP 2", "ECoG grid A1", "Photo", "Resp"};
    const char *unit[NS] = {"uV", "uV", "uV", "V", "a.u."};
    double pmin[NS] = {-1000, -200, -5000, 0, -1.5}, pmax[NS] = {1000, 200, 5000, 5, 1.5};
    size_t n = 1690;  // 3.3 s at 512 Hz: the fourth 1-s record is padded
    float *data = base_malloc(NS * n * sizeof(float), "data");
    double *want = base_malloc(NS * n * sizeof(double), "want");
    for (size_t i = 0; i < NS; i++)
        for (size_t k = 0; k < n; k++) {
            double mid = (pmin[i] + pmax[i]) / 2, half = (pmax[i] - pmin[i]) / 2;
            // channel 3 swings 20% past its range at both ends, so clipping is exercised
            double v = mid + half * (i == 3 ? 1.2 * sin(k * 0.05) : 0.6 * sin(k * 0.01 * (i + 1)) +
                                                                         0.1 * test_nrand(&rng));
            data[i * n + k] = (float)v;
            want[i * n + k] = fmin(fmax(data[i * n + k], pmin[i]), pmax[i]);
        }
    EdfAnnotation ann[4] = {{0.25, 0, "start"},
                            {1.5, 2.0, "\xce\xa9 stimulus \xe2\x80\x94 \xc3\xbc"},  // UTF-8: Ω, em dash, ü
                            {3.1, 0.125, "end"},
                            {-0.5, 0, "before the start"}};
    EdfWriteSpec spec = {.label = label, .unit = unit, .phys_min = pmin, .phys_max = pmax, .n_signals = NS,
                         .n_samples = n, .rate = 512, .record_seconds = 1, .ann = ann, .n_ann = 4};
    char path[256], tmp[300], err[BASE_ERR_LEN] = "";
    snprintf(path, sizeof path, "%s/round.edf", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = edf_write(path, &spec, data, err);
    CHECK(rc == 0 && base_file_exists(path) && !base_file_exists(tmp), "round/write (%s)", rc ? err : "ok");

    Edf e;
    rc = edf_open(path, &e, err);
    CHECK(rc == 0, "round/open (%s)", rc ? err : "ok");
    if (rc) return;
    CHECK(e.plus == 1 && e.discontinuous == 0 && e.n_records == 4 && e.record_seconds == 1 && e.n_signals == NS + 1 &&
              e.header_bytes == 256 * (NS + 2),
          "round/header (plus %d, %zu records of %g s, %zu signals, %zu header bytes)", e.plus, e.n_records,
          e.record_seconds, e.n_signals, e.header_bytes);
    CHECK(strcmp(e.patient, "X X X X") == 0 && strcmp(e.recording, "Startdate X X X X") == 0 &&
              strcmp(e.start_date, "01.01.85") == 0 && strcmp(e.start_time, "00.00.00") == 0,
          "round/header_text_defaults ('%s', '%s', %s %s)", e.patient, e.recording, e.start_date, e.start_time);
    size_t ok = 0;
    for (size_t i = 0; i < NS; i++)
        ok += strcmp(e.sig[i].label, label[i]) == 0 && strcmp(e.sig[i].unit, unit[i]) == 0 && e.sig[i].rate == 512 &&
              e.sig[i].samples_per_record == 512 && e.sig[i].phys_min == pmin[i] && e.sig[i].phys_max == pmax[i] &&
              e.sig[i].dig_min == -32768 && e.sig[i].dig_max == 32767 && !e.sig[i].annotation;
    CHECK(ok == NS, "round/signal_headers (%zu of %d as written)", ok, NS);
    CHECK(e.sig[NS].annotation && strcmp(e.sig[NS].label, "EDF Annotations") == 0 &&
              e.record_bytes == 2 * (NS * 512 + e.sig[NS].samples_per_record),
          "round/annotation_signal ('%s', %zu bytes per record)", e.sig[NS].label, e.record_bytes);
    CHECK(edf_find_signal(&e, "ECoG grid A1") == 2 && edf_find_signal(&e, "Resp") == 4 &&
              edf_find_signal(&e, "resp") == -1 && edf_find_signal(&e, "LFP") == -1,
          "round/find_signal");
    CHECK(edf_samples(&e, 0) == 2048, "round/samples_include_padding (%zu)", edf_samples(&e, 0));
    // file order: record 0 holds "start" and the negative onset (in the given order), then 1.5 s, then 3.1 s
    ok = e.n_annotations == 4 && strcmp(e.ann[0].text, "start") == 0 && strcmp(e.ann[1].text, ann[3].text) == 0 &&
         e.ann[1].onset == -0.5 && e.ann[2].onset == 1.5 && e.ann[2].duration == 2.0 &&
         strcmp(e.ann[2].text, ann[1].text) == 0 && e.ann[3].onset == 3.1 && e.ann[3].duration == 0.125 &&
         strcmp(e.ann[3].text, "end") == 0 && e.ann[0].onset == 0.25 && e.ann[0].duration == 0;
    CHECK(ok, "round/annotations_exact (%zu, UTF-8 '%s')", e.n_annotations, e.n_annotations > 2 ? e.ann[2].text : "");
    ok = 0;
    for (size_t r = 0; r < e.n_records; r++) ok += e.record_onset[r] == (double)r;
    CHECK(ok == 4, "round/record_onsets (%zu of 4)", ok);

    size_t all[NS] = {0, 1, 2, 3, 4}, T = edf_samples(&e, 0);
    float *out = base_malloc(NS * T * sizeof(float), "out");
    rc = edf_read(&e, all, NS, 0, T, out, err);
    CHECK(rc == 0, "round/read_all (%s)", rc ? err : "ok");
    double *got = base_malloc(T * sizeof(double), "got"), *zero = base_calloc(T, sizeof(double), "zero");
    for (size_t i = 0; i < NS; i++) {
        // half a digital step, plus float rounding of the output
        double atol = (pmax[i] - pmin[i]) / 65535 / 2 + 1e-6 * fmax(fabs(pmin[i]), fabs(pmax[i]));
        char name[64];
        for (size_t k = 0; k < T; k++) got[k] = out[i * T + k];
        snprintf(name, sizeof name, "round/values_%s", label[i]);
        CHECK_CLOSE(name, got, want + i * n, n, atol, 0);
        snprintf(name, sizeof name, "round/padding_is_zero_%s", label[i]);
        CHECK_CLOSE(name, got + n, zero, T - n, atol, 0);
    }
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < n; k++) lo = fmin(lo, out[3 * T + k]), hi = fmax(hi, out[3 * T + k]);
    CHECK(lo == 0 && fabs(hi - 5) < 1e-6, "round/clipped_to_range [%g, %g]", lo, hi);

    // a sub-range across records 1..3, signals in another order, equals the slice of the full read
    size_t pick[2] = {3, 0}, s0 = 700, m = 900;
    float *part = base_malloc(2 * m * sizeof(float), "part");
    rc = edf_read(&e, pick, 2, s0, m, part, err);
    CHECK(rc == 0 && memcmp(part, out + 3 * T + s0, m * sizeof(float)) == 0 &&
              memcmp(part + m, out + s0, m * sizeof(float)) == 0,
          "round/subrange_equals_slice [%zu, %zu) of signals 3, 0", s0, s0 + m);
    rc = edf_read(&e, pick, 2, 2000, 49, part, err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, "samples [2000, 2049)"), "round/read_past_end_refused: %s",
          err);
    size_t annsig = NS;
    rc = edf_read(&e, &annsig, 1, 0, 10, part, err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, "annotation signal"), "round/annotation_signal_not_data: %s",
          err);
    edf_close(&e);
    edf_close(&e);  // twice is harmless
    CHECK(e.fd == -1 && e.sig == NULL, "round/close_twice");

    // writer refusals leave no file behind
    const char *long_label[NS] = {"a label longer than sixteen", "b", "c", "d", "e"};
    EdfWriteSpec bad = spec;
    bad.label = long_label;
    snprintf(path, sizeof path, "%s/bad.edf", dir);
    rc = edf_write(path, &bad, data, err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, "label") && !base_file_exists(path),
          "write/long_label_refused: %s", err);
    bad = spec;
    bad.rate = 100.5;
    rc = edf_write(path, &bad, data, err);
    CHECK(rc == -1 && strstr(err, path) && strstr(err, "whole number"), "write/fractional_record_refused: %s", err);
    rc = edf_write("/nonexistent-dir/x.edf", &spec, data, err);
    CHECK(rc == -1 && strstr(err, "/nonexistent-dir/x.edf.tmp") && strstr(err, "No such file"),
          "write/unwritable_path: %s", err);
    free(data), free(want), free(out), free(got), free(zero), free(part);
}

// ----------------------------------------------------------------------------
// the hand-built fixture against the values its script computed

static size_t split_tabs(char *line, char **f, size_t cap) {
    size_t n = 0;
    char *s = line;
    while (n < cap && s) f[n++] = strsep(&s, "\t");
    return n;
}

static void test_fixture(void) {
    char err[BASE_ERR_LEN] = "";
    size_t len;
    char *txt = base_read_file(EXPECTED, &len, err);
    Edf e;
    int rc = txt ? edf_open(FIXTURE, &e, err) : -1;
    CHECK(rc == 0, "fixture/open (%s)", rc ? err : "ok");
    if (rc) {
        free(txt);
        return;
    }
    CHECK(e.plus && !e.discontinuous && e.n_records == 2 && e.record_seconds == 1 && e.n_signals == 3 &&
              e.header_bytes == 1024 && e.record_bytes == 2 * (64 + 32 + 30),
          "fixture/layout (%zu records, %zu signals, %zu-byte records)", e.n_records, e.n_signals, e.record_bytes);
    size_t lines = 0, good = 0, n_ann = 0, n_values = 0;
    char *save, *f[16];
    for (char *line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue;
        size_t nf = split_tabs(line, f, 16);
        lines++;
        if (!strcmp(f[0], "patient")) good += !strcmp(e.patient, f[1]);
        else if (!strcmp(f[0], "recording")) good += !strcmp(e.recording, f[1]);
        else if (!strcmp(f[0], "start")) good += !strcmp(e.start_date, f[1]) && !strcmp(e.start_time, f[2]);
        else if (!strcmp(f[0], "records"))
            good += e.n_records == strtoul(f[1], NULL, 10) && e.record_seconds == strtod(f[2], NULL);
        else if (!strcmp(f[0], "signal") && nf == 11) {
            const EdfSignal *s = &e.sig[strtoul(f[1], NULL, 10)];
            good += !strcmp(s->label, f[2]) && !strcmp(s->transducer, f[3]) && !strcmp(s->unit, f[4]) &&
                    !strcmp(s->prefilter, f[5]) && s->phys_min == strtod(f[6], NULL) &&
                    s->phys_max == strtod(f[7], NULL) && s->dig_min == atoi(f[8]) && s->dig_max == atoi(f[9]) &&
                    s->samples_per_record == strtoul(f[10], NULL, 10) &&
                    s->rate == (double)s->samples_per_record / e.record_seconds &&
                    s->annotation == !strcmp(f[2], "EDF Annotations");
        } else if (!strcmp(f[0], "onset")) good += e.record_onset[strtoul(f[1], NULL, 10)] == strtod(f[2], NULL);
        else if (!strcmp(f[0], "annotation") && n_ann < e.n_annotations) {
            const EdfAnnotation *a = &e.ann[n_ann++];
            good += a->onset == strtod(f[1], NULL) && a->duration == strtod(f[2], NULL) && !strcmp(a->text, f[3]);
        } else if (!strcmp(f[0], "values")) {
            size_t i = strtoul(f[1], NULL, 10), T = edf_samples(&e, i);
            double *want = base_malloc(T * sizeof(double), "want"), *got = base_malloc(T * sizeof(double), "got");
            float *out = base_malloc(T * sizeof(float), "out");
            size_t nv = 0;
            for (char *p = f[2], *end; nv < T; p = end) {
                want[nv] = strtod(p, &end);
                if (end == p) break;
                nv++;
            }
            rc = edf_read(&e, &i, 1, 0, T, out, err);
            for (size_t k = 0; k < T; k++) got[k] = out[k];
            char name[64];
            snprintf(name, sizeof name, "fixture/values_%s", e.sig[i].label);
            // the reader's double formula rounded once to float: far inside the resolution
            good += rc == 0 && nv == T && CHECK_CLOSE(name, got, want, T, 1e-9, 1e-6);
            n_values++;
            // a range inside the second record equals the slice of the full read
            float part[17];
            rc = edf_read(&e, &i, 1, T / 2 + 3, 17, part, err);
            CHECK(rc == 0 && memcmp(part, out + T / 2 + 3, sizeof part) == 0, "fixture/subrange_%s", e.sig[i].label);
            free(want), free(got), free(out);
        }
    }
    CHECK(lines == 15 && good == lines && n_ann == 4 && e.n_annotations == 4 && n_values == 2,
          "fixture/matches_expected (%zu of %zu lines, %zu annotations)", good, lines, e.n_annotations);
    CHECK(e.n_annotations == 4 && !strcmp(e.ann[3].text, "button \xc3\xbc") && e.ann[1].onset == -0.25 &&
              e.ann[2].duration == 0.75,
          "fixture/multi_annotation_tal_negative_onset_utf8");

    // mixed rates: 64 and 32 samples per record
    size_t both[2] = {0, 1};
    float out[2 * 8];
    rc = edf_read(&e, both, 2, 0, 8, out, err);
    CHECK(rc == -1 && strstr(err, FIXTURE) && strstr(err, "different rates"), "mixed_rates/refused: %s", err);
    size_t bad = 7;
    rc = edf_read(&e, &bad, 1, 0, 8, out, err);
    CHECK(rc == -1 && strstr(err, FIXTURE) && strstr(err, "index 7"), "read/bad_index_refused: %s", err);
    edf_close(&e);
    free(txt);
}

// ----------------------------------------------------------------------------
// malformed files: each is a valid file with one thing broken

static void test_bad_files(void) {
    const char *label[2] = {"A", "B"};
    double pmin[2] = {-100, -1}, pmax[2] = {100, 1};
    size_t n = 300;
    float *data = base_calloc(2 * n, sizeof(float), "data");
    EdfAnnotation ann = {1.5, 0, "x"};
    EdfWriteSpec spec = {.label = label, .phys_min = pmin, .phys_max = pmax, .n_signals = 2, .n_samples = n,
                         .rate = 100, .record_seconds = 1, .ann = &ann, .n_ann = 1};
    char good[256], path[256], err[BASE_ERR_LEN] = "";
    snprintf(good, sizeof good, "%s/good.edf", dir);
    snprintf(path, sizeof path, "%s/bad.edf", dir);
    size_t size;
    char *g = edf_write(good, &spec, data, err) == 0 ? base_read_file(good, &size, err) : NULL;
    Edf e;
    int rc = g ? edf_open(good, &e, err) : -1;
    CHECK(rc == 0 && e.n_records == 3, "bad/valid_base_file (%s)", rc ? err : "ok");
    if (rc) {
        free(data), free(g);
        return;
    }
    size_t ns = e.n_signals, hb = e.header_bytes, rb = e.record_bytes, ann_at = e.sig[2].offset;
    edf_close(&e);

    write_file(path, g, size);
    CHECK(truncate(path, (off_t)(size - 100)) == 0 && refused(path, "truncated", err), "bad/truncated: %s", err);
    CHECK(strstr(err, "header says 3 data records"), "bad/truncated_message_gives_sizes: %s", err);
    char *longer = base_calloc(size + 10, 1, "longer");
    memcpy(longer, g, size);
    write_file(path, longer, size + 10);
    CHECK(refused(path, "trailing bytes", err), "bad/longer_than_declared: %s", err);
    free(longer);
    write_file(path, g, 100);
    CHECK(refused(path, "shorter than the 256-byte", err), "bad/shorter_than_header: %s", err);
    write_patched(path, g, size, 0, 8, "1");
    CHECK(refused(path, "version", err), "bad/wrong_version: %s", err);
    write_patched(path, g, size, 0, 1, "\xff");
    CHECK(refused(path, "BDF", err), "bad/bdf_named: %s", err);
    write_patched(path, g, size, 184, 8, "1280");
    CHECK(refused(path, "header bytes", err), "bad/header_bytes_mismatch: %s", err);
    write_patched(path, g, size, 236, 8, "three");
    CHECK(refused(path, "number of data records' is not an integer ('three')", err), "bad/non_numeric_field: %s",
          err);
    write_patched(path, g, size, 252, 4, "0");
    CHECK(refused(path, "0 signals", err), "bad/zero_signals: %s", err);
    write_patched(path, g, size, sig_field(ns, C_DMIN, 0), 8, "32767");
    CHECK(refused(path, "digital minimum 32767 and maximum 32767", err), "bad/dig_min_not_below_max: %s", err);
    write_patched(path, g, size, sig_field(ns, C_PMIN, 1), 8, "1");
    CHECK(refused(path, "physical minimum = maximum", err), "bad/phys_min_equals_max: %s", err);
    write_patched(path, g, size, sig_field(ns, C_SPR, 0), 8, "0");
    CHECK(refused(path, "0 samples per record", err), "bad/zero_samples_per_record: %s", err);
    write_patched(path, g, size, hb + ann_at, 1, "x");  // record 0's time-keeping TAL loses its sign
    CHECK(refused(path, "data record 0: annotation onset", err), "bad/malformed_tal: %s", err);
    snprintf(path, sizeof path, "%s/missing.edf", dir);
    CHECK(refused(path, "cannot open", err), "bad/nonexistent_file: %s", err);
    snprintf(path, sizeof path, "%s/bad.edf", dir);

    // -1 records: counted from the size when it divides, refused when it does not
    write_patched(path, g, size, 236, 8, "-1");
    rc = edf_open(path, &e, err);
    CHECK(rc == 0 && e.n_records == 3, "unknown_records/inferred (%s)", rc ? err : "ok");
    if (rc == 0) edf_close(&e);
    CHECK(truncate(path, (off_t)(size - 2)) == 0 && refused(path, "-1 (unknown)", err),
          "unknown_records/partial_record_refused: %s", err);

    // EDF+D: record 1's stamp moved from +1 to +7 s is a gap the reader must report
    char *d = base_malloc(size, "EDF+D");
    memcpy(d, g, size);
    memcpy(d + 192, "EDF+D", 5);
    CHECK(memcmp(d + hb + rb + ann_at, "+1\x14\x14", 4) == 0, "edfd/stamp_where_expected");
    d[hb + rb + ann_at + 1] = '7';
    write_file(path, d, size);
    rc = edf_open(path, &e, err);
    CHECK(rc == 0 && e.discontinuous && e.record_onset[0] == 0 && e.record_onset[1] == 7 && e.record_onset[2] == 2 &&
              e.n_annotations == 1 && e.ann[0].onset == 1.5,
          "edfd/record_onsets_from_stamps (%s)", rc ? err : "ok");
    if (rc == 0) edf_close(&e);
    unlink(path);
    unlink(good);
    free(d), free(g), free(data);
}

TEST_MAIN("test_edf") {
    if (!mkdtemp(dir)) DIE("", "cannot create %s", dir);
    test_round_trip();
    test_fixture();
    test_bad_files();
    char path[300];
    snprintf(path, sizeof path, "%s/round.edf", dir);
    unlink(path);
    CHECK(rmdir(dir) == 0, "cleanup/temp_dir_empty (%s)", dir);
}
