#include "host/simulate.h"

#include <errno.h>
#include <fftw3.h>
#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/analysis.h"
#include "host/anatomy.h"
#include "host/base.h"
#include "host/edf.h"
#include "host/decoder_cpu.h"
#include "host/extract.h"
#include "host/features.h"
#include "host/h5io.h"
#include "host/model.h"
#include "host/stimulus.h"
#include "host/tokenizer.h"
#include "host/tsv.h"

#define SIM_TASK "podcast"
#define SIM_UV 20.0  // microvolts per unit of the simulated signal

// ----------------------------------------------------------------------------
// random numbers: one stream per (seed, subject, channel), so threads do not change the data

typedef SimRng Rng;

static uint64_t rng_next(Rng *r) {  // splitmix64
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double rng_unif(Rng *r) { return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static double rng_norm(Rng *r) { return sqrt(-2 * log(rng_unif(r))) * cos(2 * M_PI * rng_unif(r)); }
static Rng rng_for(uint64_t seed, uint64_t a, uint64_t b) {
    Rng r = {seed ^ (a * 0x632be59bd9b4e019ull) ^ (b * 0x85157af5ull + 0x1234567ull)};
    rng_next(&r);
    return r;
}

SimRng sim_rng(uint64_t seed, uint64_t a, uint64_t b) { return rng_for(seed, a, b); }
double sim_rng_norm(SimRng *r) { return rng_norm(r); }

static int write_text(const char *path, const char *text, char *err) {
    FILE *f = fopen(path, "w");
    if (!f) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    int bad = fputs(text, f) < 0;
    bad |= fclose(f) != 0;
    return bad ? base_errf(err, "%s: cannot write: %s", path, strerror(errno)) : 0;
}

// ----------------------------------------------------------------------------
// the story and the model's word signals

// the kept words as a table the dataset carries (stimuli/words.tsv), then loaded back as a Stimulus
int sim_story(const char *stimulus, double seconds, const char *words_path, Stimulus *st, char *err) {
    Stimulus all;
    if (stim_load(stimulus, NULL, &all, err)) return -1;
    FILE *f = fopen(words_path, "w");
    if (!f) {
        stim_free(&all);
        return base_errf(err, "%s: cannot create: %s", words_path, strerror(errno));
    }
    fprintf(f, "word\tonset\toffset\n");
    size_t kept = 0;
    for (size_t w = 0; w < all.n_words; w++)
        if (seconds <= 0 || all.offset[w] <= seconds)
            fprintf(f, "%s\t%.3f\t%.3f\n", all.label[w], all.onset[w], all.offset[w]), kept++;
    int bad = fclose(f) != 0;
    stim_free(&all);
    if (bad) return base_errf(err, "%s: cannot write: %s", words_path, strerror(errno));
    if (kept < 20) return base_errf(err, "%s: only %zu words in the first %g s", stimulus, kept, seconds);
    return stim_load(words_path, NULL, st, err);
}

// sig (H, W): each hidden state's words projected on a random direction, z-scored; beta (H, dmax)
int sim_word_signals(const char *model_path, uint64_t seed, const Stimulus *st, double **sig, float **beta, size_t *H,
                     size_t *dmax, char *err) {
    Model *m = model_open(model_path, (size_t)16 << 30, err);
    if (!m) return -1;
    Tokenizer *tok = tok_open_for_model(m, err);
    if (!tok) {
        model_free(m);
        return -1;
    }
    const ModelConfig *mc = model_config(m);
    ContextPolicy asked = {CTX_FULL, 0, 0, -1, WORD_LAST, 0}, pol;
    size_t W = st->n_words, L = (size_t)mc->n_layers;
    size_t *off = base_malloc((L + 1) * sizeof(size_t), "offsets");
    float *states = NULL;
    int rc = extract_resolve_policy(mc, tok_bos_id(tok) >= 0, &asked, &pol, err);
    if (rc == 0) {
        states = base_malloc(extract_layer_offsets(m, W, off) * sizeof(float), "hidden states");
        ExtractStats stats;
        rc = extract_word_states(m, &decoder_ops_cpu, tok, st, &pol, NULL, states, &stats, err);
    }
    if (rc == 0) {
        *H = L + 1;
        *dmax = (size_t)(mc->d_model > model_final_dim(m) ? mc->d_model : model_final_dim(m));
        *sig = base_malloc(base_mul(*H, W) * sizeof(double), "word signals");
        *beta = base_malloc(base_mul(*H, *dmax) * sizeof(float), "planted weights");
        double *x = base_malloc(base_mul(W, *dmax) * sizeof(double), "layer");
        for (size_t l = 0; l <= L; l++) {
            size_t d = l < L ? (size_t)mc->d_model : (size_t)model_final_dim(m);
            Rng r = rng_for(seed, 0xbe7a, l);
            for (size_t j = 0; j < *dmax; j++) (*beta)[l * *dmax + j] = j < d ? (float)rng_norm(&r) : NAN;
            for (size_t i = 0; i < W * d; i++) x[i] = states[off[l] + i];
            feat_zscore(x, W, d);
            double *s = *sig + l * W;
            for (size_t w = 0; w < W; w++) {
                double acc = 0;
                for (size_t j = 0; j < d; j++) acc += x[w * d + j] * (*beta)[l * *dmax + j];
                s[w] = acc;
            }
            feat_zscore(s, W, 1);
        }
        free(x);
    }
    free(states);
    free(off);
    tok_free(tok);
    model_free(m);
    return rc;
}

// ----------------------------------------------------------------------------
// one subject

typedef struct {
    char name[64], type[16], status[16], line[512];  // line: the source electrodes row ("" without position)
    int good, has_xyz, responsive, layer;
    double xyz[3], distance, snr;
} SimChannel;

static int selected(const char *subjects, const char *sub) {
    if (!subjects || !subjects[0]) return 1;
    size_t n = strlen(sub);
    for (const char *p = subjects; (p = strstr(p, sub)); p += n)
        if ((p == subjects || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

// the source's channels (and positions) of one subject, the kept ones in order
static int read_source(const SimOptions *o, const char *dir, const char *sub, SimChannel **out, size_t *n,
                       char *space, char *electrodes_header, char *err) {
    char pat[2048];
    snprintf(pat, sizeof pat, "%s/%s_*channels.tsv", dir, sub);
    glob_t gc, ge;
    if (glob(pat, 0, NULL, &gc) != 0) return base_errf(err, "%s: no %s_*channels.tsv", dir, sub);
    snprintf(pat, sizeof pat, "%s/%s_*electrodes.tsv", dir, sub);
    if (glob(pat, 0, NULL, &ge) != 0) {
        globfree(&gc);
        return base_errf(err, "%s: no %s_*electrodes.tsv", dir, sub);
    }
    const char *sp = strstr(ge.gl_pathv[0], "_space-");
    snprintf(space, 64, "%.*s", sp ? (int)strcspn(sp + 7, "_") : 5, sp ? sp + 7 : "Other");
    Tsv ch, el;
    int rc = -1;
    if (tsv_load(gc.gl_pathv[0], &ch, err)) goto out_glob;
    if (tsv_load(ge.gl_pathv[0], &el, err)) goto out_ch;
    int cn = tsv_column(&ch, (const char *[]){"name", NULL}), ct = tsv_column(&ch, (const char *[]){"type", NULL}),
        cs = tsv_column(&ch, (const char *[]){"status", NULL}), en = tsv_column(&el, (const char *[]){"name", NULL});
    int ex[3] = {tsv_column(&el, (const char *[]){"x", NULL}), tsv_column(&el, (const char *[]){"y", NULL}),
                 tsv_column(&el, (const char *[]){"z", NULL})};
    if (cn < 0 || ct < 0 || cs < 0 || en < 0 || ex[0] < 0 || ex[1] < 0 || ex[2] < 0) {
        base_errf(err, "%s or %s: missing columns (name, type, status; name, x, y, z)", gc.gl_pathv[0], ge.gl_pathv[0]);
        goto out_el;
    }
    electrodes_header[0] = '\0';
    for (size_t c = 0; c < el.n_cols; c++) strcat(strcat(electrodes_header, c ? "\t" : ""), el.header[c]);
    SimChannel *keep = base_calloc(ch.n_rows ? ch.n_rows : 1, sizeof(SimChannel), "channels");
    size_t k = 0, n_good = 0, n_bad = 0, n_other = 0;
    for (size_t r = 0; r < ch.n_rows; r++) {
        SimChannel c = {0};
        if (strcmp(tsv_get(&ch, r, cn), "EDF Annotations") == 0) continue;  // the source EDF's own, not a signal
        snprintf(c.name, sizeof c.name, "%s", tsv_get(&ch, r, cn));
        snprintf(c.type, sizeof c.type, "%s", tsv_get(&ch, r, ct));
        snprintf(c.status, sizeof c.status, "%s", tsv_get(&ch, r, cs));
        int ieeg = strcmp(c.type, "ECOG") == 0 || strcmp(c.type, "SEEG") == 0;
        for (size_t e = 0; e < el.n_rows; e++)
            if (strcmp(tsv_get(&el, e, en), c.name) == 0) {
                c.has_xyz = 1;
                for (int a = 0; a < 3; a++)
                    if (tsv_num(&el, e, ex[a], &c.xyz[a], err) || isnan(c.xyz[a])) c.has_xyz = 0;
                c.line[0] = '\0';
                for (size_t col = 0; col < el.n_cols; col++)
                    strcat(strcat(c.line, col ? "\t" : ""), tsv_get(&el, e, (int)col));
            }
        c.good = ieeg && strcmp(c.status, "bad") != 0 && c.has_xyz;
        if (!c.good && ieeg && strcmp(c.status, "bad") != 0) snprintf(c.status, sizeof c.status, "bad");
        int take = o->max_electrodes == 0 || (c.good ? n_good < o->max_electrodes : ieeg ? n_bad < 2 : n_other < 1);
        if (!take) continue;
        n_good += c.good, n_bad += ieeg && !c.good, n_other += !ieeg;
        keep[k++] = c;
    }
    *out = keep;
    *n = k;
    rc = 0;
out_el:
    tsv_free(&el);
out_ch:
    tsv_free(&ch);
out_glob:
    globfree(&gc);
    globfree(&ge);
    return rc;
}

// the planted layer and SNR of each good channel
static void plant(const SimOptions *o, size_t si, SimChannel *ch, size_t n, const char *space, size_t H) {
    double left[3], right[3];
    if (anatomy_reference(space, left, right)) anatomy_reference("MNI152", left, right);  // positions are MNI-like
    size_t L = H - 1;
    for (size_t c = 0; c < n; c++) {
        SimChannel *x = &ch[c];
        if (!x->good) continue;
        Rng r = rng_for(o->seed, 0x9a1 + si, c);
        x->distance = anatomy_distance(x->xyz, left, right);
        double depth = fmin(1.0, fmax(0.0, (x->distance - 15.0) / 45.0));
        long layer = lround(1.0 + (double)(L - 1) * depth + 0.3 * rng_norm(&r));
        x->layer = (int)(layer < 1 ? 1 : layer > (long)L ? (long)L : layer);
        x->snr = o->snr_min * pow(o->snr_max / o->snr_min, rng_unif(&r));
        x->responsive = x->distance <= 80.0 && rng_unif(&r) >= o->nonresponsive;
    }
}

// one channel's samples (N) at rate: see the header for the model
static void channel_signal(const SimOptions *o, const SimChannel *x, Rng *r, const double *sig, size_t W,
                           const double *centre, const unsigned char *speech, size_t n100, size_t N, fftw_plan inv,
                           fftw_complex *spec, double *buf, double *m, float *out) {
    size_t F = N / 2 + 1;
    double df = o->rate / (double)N;
    if (!x->good) {  // artefact channels (bad) and other types: noise, steps for the bad ones
        double level = strcmp(x->status, "bad") == 0 ? 10.0 : 1.0, step = 0;
        for (size_t i = 0; i < N; i++) {
            if (level > 1 && rng_unif(r) < 2e-4) step = 30 * rng_norm(r);
            out[i] = (float)(SIM_UV * (level * rng_norm(r) + step));
        }
        return;
    }
    // modulation at 100 Hz
    double prev[5] = {0};
    for (size_t k = 0; k < n100; k++) {  // xi: white noise smoothed over 5 samples, unit variance
        memmove(prev, prev + 1, 4 * sizeof(double));
        prev[4] = rng_norm(r);
        m[k] = (prev[0] + prev[1] + prev[2] + prev[3] + prev[4]) / sqrt(5.0);
    }
    if (x->responsive) {
        const double *s = sig + (size_t)x->layer * W;
        for (size_t w = 0; w < W; w++) {
            long k0 = lround(centre[w] * 100.0);
            for (long k = k0 - 12; k <= k0 + 12; k++) {
                if (k < 0 || (size_t)k >= n100) continue;
                double u = ((double)k / 100.0 - centre[w]) / 0.03;
                m[k] += x->snr * s[w] * exp(-0.5 * u * u);
            }
        }
        for (size_t k = 0; k < n100; k++) m[k] += 0.5 * speech[k];
    }
    // carrier: Gaussian noise band-limited to 65-160 Hz
    for (size_t f = 0; f < F; f++) {
        double hz = (double)f * df;
        int in = hz >= 65 && hz <= 160;
        spec[f][0] = in ? rng_norm(r) : 0;
        spec[f][1] = in ? rng_norm(r) : 0;
    }
    fftw_execute_dft_c2r(inv, spec, buf);
    double ss = 0;
    for (size_t i = 0; i < N; i++) ss += buf[i] * buf[i];
    double cscale = 1.0 / sqrt(ss / (double)N);
    for (size_t i = 0; i < N; i++) {
        double t = (double)i / o->rate * 100.0;
        size_t k = (size_t)t;
        double a = k + 1 < n100 ? m[k] + (t - (double)k) * (m[k + 1] - m[k]) : m[n100 - 1];
        out[i] = (float)(exp(0.35 * a) * buf[i] * cscale);
    }
    // background: power 1/f^2 (amplitude 1/f), rms 4
    for (size_t f = 0; f < F; f++) {
        double a = f == 0 ? 0 : 1.0 / fmax((double)f * df, 1.0);
        spec[f][0] = a * rng_norm(r);
        spec[f][1] = a * rng_norm(r);
    }
    fftw_execute_dft_c2r(inv, spec, buf);
    ss = 0;
    for (size_t i = 0; i < N; i++) ss += buf[i] * buf[i];
    double bscale = 4.0 / sqrt(ss / (double)N);
    double phase[3] = {2 * M_PI * rng_unif(r), 2 * M_PI * rng_unif(r), 2 * M_PI * rng_unif(r)};
    const double amp[3] = {3.0, 0.6, 0.3};
    for (size_t i = 0; i < N; i++) {
        double t = (double)i / o->rate, line = 0;
        for (int h = 0; h < 3; h++)
            if ((h + 1) * o->line_freq < o->rate / 2)
                line += amp[h] * sin(2 * M_PI * (h + 1) * o->line_freq * t + phase[h]);
        out[i] = (float)(SIM_UV * (out[i] + buf[i] * bscale + line));
    }
}

static int write_subject(const SimOptions *o, size_t si, const char *sub, SimChannel *ch, size_t C, const char *space,
                         const char *eheader, const Stimulus *st, const double *sig, FILE *truth, char *err) {
    char dir[2048], path[2300];
    snprintf(dir, sizeof dir, "%s/%s/ieeg", o->out_dir, sub);
    if (base_mkdirs(dir)) return base_errf(err, "%s: cannot create: %s", dir, strerror(errno));
    Rng r = rng_for(o->seed, 0x1ead, si);
    double lead = 8.0 + 6.0 * rng_unif(&r), duration = lead + st->t_max + 5.0;
    size_t N = (size_t)ceil(duration * o->rate), n100 = (size_t)ceil(duration * 100.0) + 2, W = st->n_words;
    double *centre = base_malloc(W * sizeof(double), "word centres");
    unsigned char *speech = base_calloc(n100, 1, "speech");
    for (size_t w = 0; w < W; w++) {
        centre[w] = lead + 0.5 * (st->onset[w] + st->offset[w]);
        for (size_t k = (size_t)ceil((lead + st->onset[w]) * 100); k <= (size_t)((lead + st->offset[w]) * 100) && k < n100;
             k++)
            speech[k] = 1;
    }
    float *data = base_malloc(base_mul(C, N) * sizeof(float), "simulated recording");
    double *probe = fftw_alloc_real(N);
    fftw_complex *pspec = fftw_alloc_complex(N / 2 + 1);
    fftw_plan inv;
#pragma omp critical(fftw_planner)  // FFTW's planner is not thread-safe (the fits plan theirs in host/linalg.c)
    inv = fftw_plan_dft_c2r_1d((int)N, pspec, probe, FFTW_ESTIMATE);
#pragma omp parallel
    {
        double *buf = fftw_alloc_real(N), *m = base_malloc(n100 * sizeof(double), "modulation");
        fftw_complex *spec = fftw_alloc_complex(N / 2 + 1);
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < C; c++) {
            Rng rc = rng_for(o->seed, 0xc4a0 + si, c);
            channel_signal(o, &ch[c], &rc, sig, W, centre, speech, n100, N, inv, spec, buf, m, data + c * N);
        }
        fftw_free(buf), fftw_free(spec), free(m);
    }
#pragma omp critical(fftw_planner)
    fftw_destroy_plan(inv);
    fftw_free(probe), fftw_free(pspec);

    const char **label = base_malloc(C * sizeof(char *), "labels"), **unit = base_malloc(C * sizeof(char *), "units");
    double *lo = base_malloc(2 * C * sizeof(double), "ranges"), *hi = lo + C;
    for (size_t c = 0; c < C; c++) {
        float peak = 0;
        for (size_t i = 0; i < N; i++) peak = fmaxf(peak, fabsf(data[c * N + i]));
        label[c] = ch[c].name, unit[c] = "uV";
        hi[c] = ceil(1.05 * peak + 1), lo[c] = -hi[c];
    }
    EdfAnnotation ann = {lead, st->t_max, "story start"};
    EdfWriteSpec spec = {sub, "Startdate X X X brainsweep-simulate", NULL, NULL, label, unit, lo, hi, C, N, o->rate,
                         1.0, &ann, 1};
    snprintf(path, sizeof path, "%s/%s_task-%s_ieeg.edf", dir, sub, SIM_TASK);
    int rc = edf_write(path, &spec, data, err);
    free(data), free(label), free(unit), free(lo), free(centre), free(speech);
    if (rc) return -1;

    char *text = base_malloc(256 + C * 640, "sidecar text");
    size_t len = (size_t)sprintf(text, "name\ttype\tunits\tlow_cutoff\thigh_cutoff\tsampling_frequency\tstatus\n");
    for (size_t c = 0; c < C; c++)
        len += (size_t)sprintf(text + len, "%s\t%s\tuV\tn/a\tn/a\t%g\t%s\n", ch[c].name, ch[c].type, o->rate,
                               ch[c].good ? "good" : "bad");
    snprintf(path, sizeof path, "%s/%s_task-%s_channels.tsv", dir, sub, SIM_TASK);
    if (write_text(path, text, err)) goto fail;
    len = (size_t)sprintf(text, "%s\n", eheader);
    for (size_t c = 0; c < C; c++)
        if (ch[c].has_xyz) len += (size_t)sprintf(text + len, "%s\n", ch[c].line);
    snprintf(path, sizeof path, "%s/%s_space-%s_electrodes.tsv", dir, sub, space);
    if (write_text(path, text, err)) goto fail;
    sprintf(text, "{\n  \"iEEGCoordinateSystem\": \"%s\",\n  \"iEEGCoordinateUnits\": \"mm\"\n}\n", space);
    snprintf(path, sizeof path, "%s/%s_space-%s_coordsystem.json", dir, sub, space);
    if (write_text(path, text, err)) goto fail;
    sprintf(text,
            "{\n  \"TaskName\": \"%s\",\n  \"SamplingFrequency\": %g,\n  \"PowerLineFrequency\": %g,\n"
            "  \"RecordingDuration\": %.6f,\n  \"iEEGReference\": \"simulated (none)\",\n"
            "  \"SoftwareFilters\": \"n/a\",\n  \"Manufacturer\": \"brainsweep simulate\"\n}\n",
            SIM_TASK, o->rate, o->line_freq, (double)N / o->rate);
    snprintf(path, sizeof path, "%s/%s_task-%s_ieeg.json", dir, sub, SIM_TASK);
    if (write_text(path, text, err)) goto fail;
    sprintf(text, "onset\tduration\ttrial_type\tstim_start\n%.6f\t%.6f\t%s\t0\n", lead, st->t_max, SIM_TASK);
    snprintf(path, sizeof path, "%s/%s_task-%s_events.tsv", dir, sub, SIM_TASK);
    if (write_text(path, text, err)) goto fail;
    for (size_t c = 0; c < C; c++) {
        const SimChannel *x = &ch[c];
        if (x->good)
            fprintf(truth, "%s\t%s\t%s\tgood\t%d\t%d\t%.4f\t%.3f\n", sub, x->name, x->type, x->responsive, x->layer,
                    x->snr, x->distance);
        else
            fprintf(truth, "%s\t%s\t%s\tbad\t0\tn/a\tn/a\tn/a\n", sub, x->name, x->type);
    }
    free(text);
    return 0;
fail:
    free(text);
    return -1;
}

int sim_make(const SimOptions *o, char *err) {
    char path[2300], words[2300];
    snprintf(path, sizeof path, "%s/stimuli", o->out_dir);
    if (base_mkdirs(path)) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/groundtruth", o->out_dir);
    if (base_mkdirs(path)) return base_errf(err, "%s: cannot create: %s", path, strerror(errno));
    snprintf(words, sizeof words, "%s/stimuli/words.tsv", o->out_dir);
    Stimulus st;
    if (sim_story(o->stimulus, o->seconds, words, &st, err)) return -1;
    double *sig = NULL;
    float *beta = NULL;
    size_t H = 0, dmax = 0;
    if (sim_word_signals(o->model_path, o->seed, &st, &sig, &beta, &H, &dmax, err)) {
        stim_free(&st);
        return -1;
    }
    snprintf(path, sizeof path, "%s/sub-*/ieeg", o->electrodes);
    glob_t g;
    int rc = -1;
    FILE *truth = NULL;
    double *dist = NULL, *lay = NULL;
    size_t n_resp = 0, cap = 0, n_subjects = 0;
    if (glob(path, 0, NULL, &g) != 0) {
        base_errf(err, "%s: no sub-*/ieeg folders (channels and electrodes tables) to take positions from",
                  o->electrodes);
        goto done;
    }
    snprintf(path, sizeof path, "%s/groundtruth/electrodes.tsv", o->out_dir);
    if (!(truth = fopen(path, "w"))) {
        base_errf(err, "%s: cannot create: %s", path, strerror(errno));
        goto done_glob;
    }
    fprintf(truth, "subject\tname\ttype\tstatus\tresponsive\tplanted_layer\tsnr\tdistance\n");
    char participants[8192] = "participant_id\n";
    for (size_t si = 0; si < g.gl_pathc; si++) {
        const char *dir = g.gl_pathv[si], *sp = strstr(dir, "sub-");
        char sub[64], space[64], eheader[512];
        snprintf(sub, sizeof sub, "%.*s", (int)strcspn(sp, "/"), sp);
        if (!selected(o->subjects, sub)) continue;
        SimChannel *ch = NULL;
        size_t C = 0;
        if (read_source(o, dir, sub, &ch, &C, space, eheader, err)) goto done_glob;
        plant(o, si, ch, C, space, H);
        int bad = write_subject(o, si, sub, ch, C, space, eheader, &st, sig, truth, err);
        for (size_t c = 0; c < C && !bad; c++)
            if (ch[c].good && ch[c].responsive) {
                if (n_resp == cap) {
                    cap = cap ? 2 * cap : 256;
                    dist = base_realloc(dist, cap * sizeof(double), "distances");
                    lay = base_realloc(lay, cap * sizeof(double), "layers");
                }
                dist[n_resp] = ch[c].distance, lay[n_resp++] = ch[c].layer;
            }
        free(ch);
        if (bad) goto done_glob;
        n_subjects++;
        strcat(strcat(participants, sub), "\n");
    }
    if (n_subjects == 0) {
        base_errf(err, "%s: no subject matches '%s'", o->electrodes, o->subjects ? o->subjects : "");
        goto done_glob;
    }
    if (fclose(truth) != 0) {
        truth = NULL;
        base_errf(err, "%s/groundtruth/electrodes.tsv: cannot write: %s", o->out_dir, strerror(errno));
        goto done_glob;
    }
    truth = NULL;
    snprintf(path, sizeof path, "%s/participants.tsv", o->out_dir);
    if (write_text(path, participants, err)) goto done_glob;
    snprintf(path, sizeof path, "%s/dataset_description.json", o->out_dir);
    if (write_text(path,
                   "{\n  \"Name\": \"brainsweep simulated iEEG with planted layers\",\n  \"BIDSVersion\": \"1.10.0\",\n"
                   "  \"DatasetType\": \"raw\",\n  \"GeneratedBy\": [{\"Name\": \"brainsweep simulate\"}],\n"
                   "  \"SourceDatasets\": [{\"URL\": \"doi:10.18112/openneuro.ds005574.v1.0.2\"}]\n}\n",
                   err))
        goto done_glob;
    double hr = analysis_pearson(dist, lay, n_resp);
    char json[4096];
    snprintf(json, sizeof json,
             "{\n  \"model\": \"%s\",\n  \"hidden_states\": %zu,\n  \"seed\": %llu,\n  \"words\": %zu,\n"
             "  \"story_seconds\": %.3f,\n  \"rate\": %g,\n  \"line_frequency\": %g,\n  \"snr_min\": %g,\n"
             "  \"snr_max\": %g,\n  \"nonresponsive\": %g,\n  \"responsive_electrodes\": %zu,\n"
             "  \"hierarchy_r\": %.6f\n}\n",
             o->model_path, H, (unsigned long long)o->seed, st.n_words, st.t_max, o->rate, o->line_freq, o->snr_min,
             o->snr_max, o->nonresponsive, n_resp, hr);
    snprintf(path, sizeof path, "%s/groundtruth/truth.json", o->out_dir);
    if (write_text(path, json, err)) goto done_glob;
    snprintf(path, sizeof path, "%s/groundtruth/weights.h5", o->out_dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        base_errf(err, "%s: cannot create", path);
        goto done_glob;
    }
    hsize_t db[2] = {H, dmax}, ds[2] = {H, st.n_words};
    h5_write_array(f, "beta", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, beta, 2, db, "hidden state, feature",
                   "planted direction per hidden state (NaN past a state's width)");
    h5_write_array(f, "signal", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, sig, 2, ds, "hidden state, word",
                   "z-scored projection of each hidden state on its direction: the planted word signal");
    H5Fclose(f);
    rc = 0;
done_glob:
    globfree(&g);
done:
    if (truth) fclose(truth);
    free(dist), free(lay), free(sig), free(beta);
    stim_free(&st);
    return rc;
}

// ----------------------------------------------------------------------------
// scoring a sweep against the truth

int sim_score(const char *dataset, const char *results, double snr_threshold, SimScore *sc, FILE *report, char *err) {
    memset(sc, 0, sizeof *sc);
    char path[2300];
    snprintf(path, sizeof path, "%s/groundtruth/electrodes.tsv", dataset);
    Tsv t;
    if (tsv_load(path, &t, err)) return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(results, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = -1, rank = 0;
    hsize_t dims[H5IO_MAX_RANK];
    size_t ns = 0, nn = 0;
    char **sub = NULL, **name = NULL;
    float *r = NULL;
    double *d = NULL, *planted = NULL, *found = NULL;
    if (f < 0) {
        base_errf(err, "%s: not a readable HDF5 file", results);
        goto done;
    }
    sub = h5_read_strings(f, "/electrodes/subject", &ns);
    name = h5_read_strings(f, "/electrodes/name", &nn);
    if (!sub || !name || h5_dims(f, "/scores/r", dims, &rank) || rank != 5 || ns != nn || dims[4] != ns) {
        base_errf(err, "%s: not the results of an ieeg sweep (no /electrodes table matching /scores/r)", results);
        goto done;
    }
    size_t H = (size_t)dims[2], E = ns;
    r = h5_read_new(f, "/scores/r", H5T_NATIVE_FLOAT, base_mul((size_t)(dims[0] * dims[1] * dims[3]), H * E));
    if (!r) {
        base_errf(err, "%s: cannot read /scores/r", results);
        goto done;
    }
    int cs = tsv_column(&t, (const char *[]){"subject", NULL}), cn = tsv_column(&t, (const char *[]){"name", NULL}),
        cr = tsv_column(&t, (const char *[]){"responsive", NULL}),
        cl = tsv_column(&t, (const char *[]){"planted_layer", NULL}), cq = tsv_column(&t, (const char *[]){"snr", NULL}),
        cd = tsv_column(&t, (const char *[]){"distance", NULL});
    if (cs < 0 || cn < 0 || cr < 0 || cl < 0 || cq < 0 || cd < 0) {
        base_errf(err, "%s: not a simulate ground-truth table", path);
        goto done;
    }
    d = base_malloc(3 * E * sizeof(double), "scores"), planted = d + E, found = d + 2 * E;
    if (report) fprintf(report, "subject\tname\tsnr\tdistance\tplanted\tpeak\tr_peak\n");
    for (size_t e = 0; e < E; e++) {
        size_t row = 0;
        while (row < t.n_rows && !(strcmp(tsv_get(&t, row, cs), sub[e]) == 0 && strcmp(tsv_get(&t, row, cn), name[e]) == 0))
            row++;
        if (row == t.n_rows || strcmp(tsv_get(&t, row, cr), "1") != 0) continue;
        double layer, snr, dist;
        if (tsv_num(&t, row, cl, &layer, err) || tsv_num(&t, row, cq, &snr, err) || tsv_num(&t, row, cd, &dist, err))
            goto done;
        size_t peak = 0;
        for (size_t h = 1; h < H; h++)  // model 0, context 0, subject 0: r[h, 0, e]
            if (r[h * E + e] > r[peak * E + e]) peak = h;
        if (!isfinite(r[peak * E + e])) continue;
        d[sc->n_hierarchy] = dist, planted[sc->n_hierarchy] = layer, found[sc->n_hierarchy++] = (double)peak;
        if (snr >= snr_threshold) {
            sc->scored++;
            sc->within_one += fabs((double)peak - layer) <= 1;
            sc->exact += (double)peak == layer;
        }
        if (report)
            fprintf(report, "%s\t%s\t%.3f\t%.1f\t%.0f\t%zu\t%.3f\n", sub[e], name[e], snr, dist, layer, peak,
                    r[peak * E + e]);
    }
    sc->hierarchy_planted = analysis_pearson(d, planted, sc->n_hierarchy);
    sc->hierarchy_found = analysis_pearson(d, found, sc->n_hierarchy);
    rc = 0;
done:
    free(r), free(d);
    h5_free_strings(sub, ns), h5_free_strings(name, nn);
    if (f >= 0) H5Fclose(f);
    tsv_free(&t);
    return rc;
}
