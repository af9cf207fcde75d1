#include "host/ieeg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/anatomy.h"
#include "host/base.h"
#include "host/edf.h"
#include "host/featcache.h"
#include "host/h5io.h"
#include "host/highgamma.h"
#include "host/log.h"
#include "host/responsive.h"

#define RESPONSES_SCHEMA "brainsweep-ieeg-responses"

void ieeg_free(IeegResponses *r) {
    if (!r) return;
    free(r->resp);
    free(r->el);
    if (r->error)
        for (size_t s = 0; s < r->n_subjects; s++) free(r->error[s]);
    free(r->error);
    free(r->subject);
    memset(r, 0, sizeof *r);
}

// ----------------------------------------------------------------------------
// one run's envelope: (C, n) at *rate, z-scored per channel

static void zscore_rows(float *x, size_t C, size_t n) {
    for (size_t c = 0; c < C; c++) {
        float *row = x + c * n;
        double s = 0, ss = 0;
        for (size_t k = 0; k < n; k++) s += row[k];
        double mean = s / (double)n;
        for (size_t k = 0; k < n; k++) ss += (row[k] - mean) * (row[k] - mean);
        double sd = sqrt(ss / (double)(n > 1 ? n - 1 : 1));
        float inv = sd > 0 ? (float)(1.0 / sd) : 0.0f;
        for (size_t k = 0; k < n; k++) row[k] = (float)((row[k] - mean) * inv);
    }
}

// A channel whose samples are all equal (a dead contact, a file of zeros) yields no word responses but
// noise: one warning per run names the file, the subject and the channels. x is (C, N) as read.
static void warn_flat_channels(const IeegRun *run, char *const *names, size_t C, const float *x, size_t N) {
    char list[320] = "";
    size_t n_flat = 0, used = 0;
    for (size_t c = 0; c < C; c++) {
        size_t k = 1;
        while (k < N && x[c * N + k] == x[c * N]) k++;
        if (k < N) continue;
        if (used < sizeof list) {
            char q[BASE_QUOTE_LEN];
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", n_flat ? ", " : "",
                                     base_escape(q, sizeof q, names[c], strlen(names[c])));
        }
        n_flat++;
    }
    if (n_flat == 0) return;
    if (used >= sizeof list) memcpy(list + sizeof list - 4, "...", 4);
    log_warn("%s (subject %s): %zu of %zu channel(s) are flat (every sample equal): %s; they carry no signal",
             run->data, run->subject, n_flat, C, list);
}

// the EDF's signals for the electrodes, CAR, high-gamma: env (C, *n) malloc'd
static int envelope_from_edf(const IeegOptions *o, const IeegRun *run, char *const *names, size_t C, float **env,
                             size_t *n_out, double *rate_out, IeegResponses *timing, char *err) {
    double t0 = base_wall();
    Edf e;
    if (edf_open(run->data, &e, err)) return -1;
    int rc = -1;
    size_t *which = base_malloc(C * sizeof(size_t), "signal indices");
    float *x = NULL;
    HgPlan *plan = NULL;
    for (size_t c = 0; c < C; c++) {
        int i = edf_find_signal(&e, names[c]);
        if (i < 0 || e.sig[i].annotation) {
            char q[BASE_QUOTE_LEN];
            base_errf(err, "%s: channel '%s' of %s is not a signal of the recording", run->data,
                      base_escape(q, sizeof q, names[c], strlen(names[c])),
                      run->channels);
            goto done;
        }
        which[c] = (size_t)i;
    }
    double fs = e.sig[which[0]].rate;
    if (fabs(fs - run->rate) > 1e-6 * run->rate) {
        base_errf(err, "%s: signals are sampled at %g Hz but %s says SamplingFrequency %g", run->data, fs, run->json,
                  run->rate);
        goto done;
    }
    size_t N = edf_samples(&e, which[0]);
    x = base_malloc(base_mul(C, N) * sizeof(float), "recording");
    if (edf_read(&e, which, C, 0, N, x, err)) goto done;
    warn_flat_channels(run, names, C, x, N);
    timing->seconds_read += base_wall() - t0;
    t0 = base_wall();
    if (o->car) {
        unsigned char *good = base_malloc(C, "good channels");
        memset(good, 1, C);
        hg_car(x, good, C, N);
        free(good);
    }
    double line = o->line_freq > 0 ? o->line_freq : o->line_freq < 0 ? 0 : run->line_freq;
    HgOptions ho = {o->band_lo, o->band_hi, line, o->notch_width, o->envelope_rate, o->full_rate};
    char why[BASE_ERR_LEN];
    if (!(plan = hg_plan(N, fs, &ho, why))) {
        base_errf(err, "%s: %s", run->data, why);
        goto done;
    }
    size_t n = hg_out_len(plan);
    *env = base_malloc(base_mul(C, n) * sizeof(float), "envelope");
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t c = 0; c < C; c++) hg_envelope(plan, x + c * N, *env + c * n);
    *n_out = n;
    *rate_out = hg_out_rate(plan);  // M fs / N: within 1/N of envelope_rate
    timing->seconds_envelope += base_wall() - t0;
    rc = 0;
done:
    hg_plan_free(plan);
    free(x);
    free(which);
    edf_close(&e);
    return rc;
}

// a preprocessed envelope: /highgamma (n, channels) with attribute rate, /channels (names)
static int envelope_from_h5(const IeegRun *run, char *const *names, size_t C, float **env, size_t *n_out,
                            double *rate_out, char *err) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(run->data, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return base_errf(err, "%s: not a readable HDF5 file", run->data);
    int rc = -1, rank;
    hsize_t dims[H5IO_MAX_RANK];
    size_t n_names = 0;
    char **file_names = h5_read_strings(f, "/channels", &n_names);
    float *all = NULL;
    size_t *col = NULL;
    if (h5_dims(f, "/highgamma", dims, &rank) || rank != 2) {
        base_errf(err, "%s: no 2-D dataset /highgamma (samples x channels)", run->data);
        goto done;
    }
    if (!file_names || n_names != dims[1]) {
        base_errf(err, "%s: /channels must name each of the %llu columns of /highgamma", run->data,
                  (unsigned long long)dims[1]);
        goto done;
    }
    hid_t d = H5Dopen2(f, "/highgamma", H5P_DEFAULT);
    if (!h5_storage_ok(d)) {
        H5Dclose(d);
        base_errf(err, "%s: /highgamma is damaged (stored in fewer bytes than its shape needs)", run->data);
        goto done;
    }
    int no_rate = h5_read_attr_double(d, "rate", rate_out, 1) || !(*rate_out > 0);
    if (no_rate) {
        H5Dclose(d);
        base_errf(err, "%s: /highgamma needs a positive attribute 'rate' (samples per second)", run->data);
        goto done;
    }
    size_t n = (size_t)dims[0], Cf = (size_t)dims[1];
    // every channel asked for is found among the file's columns (col) before anything is sized from the file's
    // sample count (a file of no columns stores nothing, whatever number of samples it claims)
    col = base_malloc((C ? C : 1) * sizeof(size_t), "high-gamma columns");
    for (size_t c = 0; c < C; c++) {
        size_t j = 0;
        while (j < Cf && strcmp(file_names[j], names[c]) != 0) j++;
        col[c] = j;
        if (j == Cf) {
            char q[BASE_QUOTE_LEN];
            H5Dclose(d);
            base_errf(err, "%s: channel '%s' of %s is not in /channels", run->data,
                      base_escape(q, sizeof q, names[c], strlen(names[c])), run->channels);
            goto done;
        }
    }
    all = base_malloc(base_mul(n, Cf) * sizeof(float), "high-gamma file");
    herr_t read = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, all);
    H5Dclose(d);
    if (read < 0) {
        base_errf(err, "%s: cannot read /highgamma as numbers", run->data);
        goto done;
    }
    *env = base_malloc(base_mul(C, n) * sizeof(float), "envelope");
    for (size_t c = 0; c < C; c++)
        for (size_t k = 0; k < n; k++) (*env)[c * n + k] = all[k * Cf + col[c]];
    *n_out = n;
    rc = 0;
done:
    free(col);
    free(all);
    h5_free_strings(file_names, n_names);
    H5Fclose(f);
    return rc;
}

// ----------------------------------------------------------------------------
// one subject

// rows of the output: words, or samples of the story's clock up to its last word's end
static size_t out_rows(const IeegOptions *o, const Stimulus *st) {
    return o->continuous ? (size_t)ceil(st->t_max * o->envelope_rate - 1e-9) : st->n_words;
}

typedef struct {
    size_t C;
    char **name;       // (C) the electrodes: good channels of the first run
    size_t *ch;        // (C) their row in the first run's channel table
    float *resp;       // (W, C)
    float *env;        // (C, n) every run's envelope, concatenated
    size_t n, cap;
    double *onset;     // (K) speech onsets, in samples of env's concatenated clock / rate
    size_t K;
    double rate;
} Subject;

static void subject_free(Subject *s) {
    free(s->name);
    free(s->ch);
    free(s->resp);
    free(s->env);
    free(s->onset);
}

static int add_run(const IeegOptions *o, IeegRun *run, const Stimulus *st, Subject *s, unsigned char *covered,
                   IeegResponses *timing, char *err) {
    for (size_t c = 0; c < s->C; c++) {
        size_t j = 0;
        while (j < run->n_channels && strcmp(run->ch[j].name, s->name[c]) != 0) j++;
        if (j == run->n_channels || !run->ch[j].good) {
            char q[BASE_QUOTE_LEN];
            return base_errf(err, "%s: electrode '%s' (good in the subject's first run) is %s here", run->channels,
                             base_escape(q, sizeof q, s->name[c], strlen(s->name[c])),
                             j == run->n_channels ? "missing" : "not a good ECOG/SEEG channel");
        }
    }
    float *env = NULL;
    size_t n = 0;
    double rate = 0;
    int rc = run->source == BIDS_EDF ? envelope_from_edf(o, run, s->name, s->C, &env, &n, &rate, timing, err)
                                     : envelope_from_h5(run, s->name, s->C, &env, &n, &rate, err);
    if (rc) return -1;
    if (s->rate && fabs(rate - s->rate) > 1e-3 * s->rate) {  // runs of other lengths differ by 1/N
        free(env);
        return base_errf(err, "%s: envelope rate %g Hz differs from the subject's other runs (%g Hz)", run->data,
                         rate, s->rate);
    }
    s->rate = rate;
    zscore_rows(env, s->C, n);
    double span = (double)n / rate;

    // the run's rows: words whose midpoint, or story samples whose time, lies in [stim_start, stim_start +
    // duration) of the story; each at its recording time
    size_t W = st->n_words, R = o->continuous ? out_rows(o, st) : W, nw = 0, first_out = R, last_out = 0;
    size_t *row = base_malloc(R * sizeof(size_t), "run rows");
    double *centre = base_malloc(R * sizeof(double), "row times");
    for (size_t i = 0; i < R; i++) {
        double story = o->continuous ? (double)i / o->envelope_rate : 0.5 * (st->onset[i] + st->offset[i]);
        if (covered[i] || story < run->stim_start || story >= run->stim_start + run->stim_duration) continue;
        double t = run->stim_onset + story - run->stim_start, half = o->continuous ? 0 : 0.5 * o->window;
        if (t - half < 0 || t + half > span - (o->continuous ? 1.0 / rate : 0)) {
            if (first_out == R) first_out = i;
            last_out = i;
            continue;
        }
        row[nw] = i;
        centre[nw++] = t;
    }
    if (first_out < R) {
        if (o->continuous)
            base_errf(err, "%s: story samples %.2f-%.2f s fall outside the recording (%.2f s, story starting at %.2f "
                           "s): check the events' onset or the recording's length",
                      run->data, (double)first_out / o->envelope_rate, (double)last_out / o->envelope_rate, span,
                      run->stim_onset);
        else {
            char q[BASE_QUOTE_LEN];
            base_errf(err, "%s: words %zu..%zu ('%s' at %.2f s of the story) fall outside the recording (%.2f s, "
                           "story starting at %.2f s): check the events' onset or the recording's length",
                      run->data, first_out + 1, last_out + 1,
                      base_escape(q, sizeof q, st->label[first_out], strlen(st->label[first_out])),
                      0.5 * (st->onset[first_out] + st->offset[first_out]), span, run->stim_onset);
        }
        free(row), free(centre), free(env);
        return -1;
    }
    float *means = base_malloc(base_mul(s->C, nw ? nw : 1) * sizeof(float), "row values");
    for (size_t c = 0; c < s->C; c++) {
        if (!o->continuous) {
            hg_window_means(means + c * nw, env + c * n, n, rate, centre, nw, o->window);
            continue;
        }
        for (size_t i = 0; i < nw; i++) {  // linear interpolation at the sample's recording time
            double u = centre[i] * rate;
            size_t k = (size_t)u;
            double a = env[c * n + k], b = k + 1 < n ? env[c * n + k + 1] : a;
            means[c * nw + i] = (float)(a + (u - (double)k) * (b - a));
        }
    }
    for (size_t i = 0; i < nw; i++) {
        covered[row[i]] = 1;
        for (size_t c = 0; c < s->C; c++) s->resp[row[i] * s->C + c] = means[c * nw + i];
    }
    // speech onsets (a word after a pause) of this run's part of the story, on the concatenated clock
    for (size_t w = 0; w < W; w++) {
        double gap = w == 0 ? INFINITY : st->onset[w] - st->offset[w - 1];
        double mid = 0.5 * (st->onset[w] + st->offset[w]), t = run->stim_onset + st->onset[w] - run->stim_start;
        if (mid < run->stim_start || mid >= run->stim_start + run->stim_duration) continue;
        if (gap < o->onset_gap || t - o->resp_window < 0 || t + o->resp_window > span) continue;
        s->onset = base_realloc(s->onset, (s->K + 1) * sizeof(double), "onsets");
        s->onset[s->K++] = (double)s->n / rate + t;
    }
    // append the envelope
    size_t total = s->n + n;
    float *cat = base_malloc(base_mul(s->C, total) * sizeof(float), "envelope");
    for (size_t c = 0; c < s->C; c++) {
        if (s->n) memcpy(cat + c * total, s->env + c * s->n, s->n * sizeof(float));  // the first run: no env yet
        memcpy(cat + c * total + s->n, env + c * n, n * sizeof(float));
    }
    free(s->env);
    s->env = cat;
    s->n = total;
    free(means), free(row), free(centre), free(env);
    return 0;
}

// the subject's electrodes and responses in s and *el, its space and the pmHG its distances are taken from
static int load_subject(const IeegOptions *o, IeegRun *runs, size_t n_runs, const Stimulus *st, const Atlas *atlas,
                        IeegResponses *timing, Subject *s, IeegElectrode **el, char space[64], double left[3],
                        double right[3], char *err) {
    for (size_t r = 0; r < n_runs; r++)
        if (bids_load_run(&runs[r], o->stim_event, err)) return -1;
    IeegRun *first = &runs[0];
    s->name = base_malloc(first->n_channels * sizeof(char *), "electrode names");
    s->ch = base_malloc(first->n_channels * sizeof(size_t), "electrode rows");
    for (size_t j = 0; j < first->n_channels; j++)
        if (first->ch[j].good) s->ch[s->C] = j, s->name[s->C++] = first->ch[j].name;
    if (s->C == 0) return base_errf(err, "%s: no good ECOG or SEEG channel", first->channels);
    if (!first->electrodes[0])
        return base_errf(err, "%s: no %s*_electrodes.tsv (positions are needed for the distance from Heschl's gyrus)",
                         first->data, first->subject);
    for (size_t c = 0; c < s->C; c++)
        if (!first->ch[s->ch[c]].has_xyz) {
            char q[BASE_QUOTE_LEN];
            return base_errf(err, "%s: good channel '%s' has no position (mark it bad in %s, or give x, y, z)",
                             first->electrodes, base_escape(q, sizeof q, s->name[c], strlen(s->name[c])),
                             first->channels);
        }
    if (o->has_pmhg) {
        memcpy(left, o->pmhg_left, 3 * sizeof(double));
        memcpy(right, o->pmhg_right, 3 * sizeof(double));
    } else if (anatomy_reference(first->space, left, right)) {
        char q[BASE_QUOTE_LEN];
        return base_errf(err, "%s: space '%s' has no built-in position of Heschl's gyrus: set ieeg.pmhg_left and "
                              "ieeg.pmhg_right",
                         first->electrodes, base_escape(q, sizeof q, first->space, strlen(first->space)));
    }
    size_t W = out_rows(o, st);
    s->resp = base_malloc(base_mul(W, s->C) * sizeof(float), "responses");
    unsigned char *covered = base_calloc(W, 1, "covered rows");
    int rc = 0;
    for (size_t r = 0; r < n_runs && rc == 0; r++) rc = add_run(o, &runs[r], st, s, covered, timing, err);
    size_t missing = 0, first_missing = W;
    for (size_t w = 0; w < W && rc == 0; w++)
        if (!covered[w]) missing++, first_missing = first_missing < w ? first_missing : w;
    free(covered);
    if (rc) return -1;
    if (missing && o->continuous)
        return base_errf(err, "%s: %zu story sample(s) from %.2f s lie in none of the subject's runs", first->data,
                         missing, (double)first_missing / o->envelope_rate);
    if (missing) {
        char q[BASE_QUOTE_LEN];
        return base_errf(err, "%s: %zu word(s) from word %zu ('%s' at %.2f s) lie in none of the subject's runs",
                         first->data, missing, first_missing + 1,
                         base_escape(q, sizeof q, st->label[first_missing], strlen(st->label[first_missing])),
                         st->onset[first_missing]);
    }

    double *t = base_malloc(s->C * 3 * sizeof(double), "responsiveness");
    resp_ttest(s->env, s->C, s->n, s->rate, s->onset, s->K, o->resp_window, o->resp_window, t, t + s->C,
               t + 2 * s->C);
    *el = base_calloc(s->C, sizeof(IeegElectrode), "electrodes");
    for (size_t c = 0; c < s->C; c++) {
        const BidsChannel *ch = &first->ch[s->ch[c]];
        IeegElectrode *e = &(*el)[c];
        snprintf(e->subject, sizeof e->subject, "%s", first->subject);
        snprintf(e->name, sizeof e->name, "%s", ch->name);
        memcpy(e->xyz, ch->xyz, sizeof e->xyz);
        e->distance = anatomy_distance(ch->xyz, left, right);
        snprintf(e->region, sizeof e->region, "%s", ch->region[0] ? ch->region : atlas->label[anatomy_label(atlas, ch->xyz)]);
        e->t = t[c], e->p = t[s->C + c], e->q = t[2 * s->C + c];
        e->responsive = e->q < o->fdr && e->t > 0;
    }
    free(t);
    snprintf(space, 64, "%s", first->space);
    return 0;
}

// ----------------------------------------------------------------------------
// a share of the subjects, as bytes that can travel between processes as they are (one build, one byte order):
//   header: magic, W, rate, n_subjects, seconds_read, seconds_envelope, n_entries;
//   per entry: subject index, name[64], error length and text; for a subject that passed, also its space[64],
//   electrodes file length and path, pmhg_left and pmhg_right, C, C electrodes, (W, C) responses.

static const char PART_MAGIC[8] = "BSIEEGP1";

typedef struct {
    unsigned char *b;
    size_t n, cap;
} Bytes;

static void put(Bytes *w, const void *x, size_t n) {
    if (w->n + n > w->cap) {
        w->cap = w->n + n > 2 * w->cap ? w->n + n : 2 * w->cap;
        w->b = base_realloc(w->b, w->cap, "iEEG part");
    }
    if (n) memcpy(w->b + w->n, x, n);
    w->n += n;
}

static void put_size(Bytes *w, size_t v) {
    uint64_t u = v;
    put(w, &u, sizeof u);
}

static void put_text(Bytes *w, const char *t) {
    put_size(w, strlen(t));
    put(w, t, strlen(t));
}

typedef struct {
    const unsigned char *b;
    size_t n, at;
} Cursor;

// NULL when fewer than n bytes are left
static const void *take(Cursor *c, size_t n) {
    if (n > c->n - c->at) return NULL;
    c->at += n;
    return c->b + c->at - n;
}

static int take_size(Cursor *c, size_t *v) {
    const void *p = take(c, sizeof(uint64_t));
    uint64_t u;
    if (!p) return -1;
    memcpy(&u, p, sizeof u);
    *v = (size_t)u;
    return 0;
}

// The part that prepares each subject: subjects by decreasing size (their recording files' bytes, what their work
// grows with), each to the part with the fewest bytes so far (ties: the lower part, then the earlier subject), so
// that every part, given the same files, deals the same way.
static size_t *deal_subjects(const IeegRun *runs, size_t n_runs, size_t n_subjects, size_t parts) {
    double *bytes = base_calloc(n_subjects ? n_subjects : 1, sizeof(double), "subject sizes");
    for (size_t r = 0, si = 0; r < n_runs; r++) {
        if (r > 0 && strcmp(runs[r].subject, runs[r - 1].subject) != 0) si++;
        struct stat sb;
        bytes[si] += stat(runs[r].data, &sb) == 0 ? (double)sb.st_size : 0;
    }
    size_t *order = base_malloc((n_subjects ? n_subjects : 1) * sizeof(size_t), "subjects");
    for (size_t i = 0; i < n_subjects; i++) order[i] = i;
    for (size_t i = 1; i < n_subjects; i++)  // insertion sort: stable, and datasets have tens of subjects
        for (size_t j = i; j > 0 && bytes[order[j]] > bytes[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    double *load = base_calloc(parts, sizeof(double), "part loads");
    size_t *owner = base_malloc((n_subjects ? n_subjects : 1) * sizeof(size_t), "subject owners");
    for (size_t i = 0; i < n_subjects; i++) {
        size_t best = 0;
        for (size_t p = 1; p < parts; p++)
            if (load[p] < load[best]) best = p;
        owner[order[i]] = best;
        load[best] += bytes[order[i]] > 0 ? bytes[order[i]] : 1;
    }
    free(bytes), free(order), free(load);
    return owner;
}

int ieeg_prepare_part(const IeegOptions *o, const Stimulus *st, size_t part, size_t parts, void **bytes,
                      size_t *len, char *err) {
    *bytes = NULL, *len = 0;
    IeegRun *runs;
    size_t n_runs;
    if (bids_find_runs(o->bids_root, o->task, o->source, &runs, &n_runs, err)) return -1;
    Atlas atlas;
    if (o->atlas && o->atlas[0]) {
        if (anatomy_load_atlas(o->atlas, &atlas, err)) {
            bids_free_runs(runs, n_runs);
            return -1;
        }
    } else {
        anatomy_default_atlas(&atlas);
    }
    size_t n_subjects = 0, W = out_rows(o, st), mine = 0;
    for (size_t r = 0; r < n_runs; r++) n_subjects += r == 0 || strcmp(runs[r].subject, runs[r - 1].subject) != 0;
    size_t *owner = deal_subjects(runs, n_runs, n_subjects, parts);
    for (size_t si = 0; si < n_subjects; si++) mine += owner[si] == part;
    IeegResponses timing = {0};
    Bytes w = {0};
    put(&w, PART_MAGIC, sizeof PART_MAGIC);
    put_size(&w, W);
    double rate = o->continuous ? o->envelope_rate : 0;
    put(&w, &rate, sizeof rate);
    put_size(&w, n_subjects);
    size_t at_seconds = w.n;
    put(&w, (double[2]){0, 0}, 2 * sizeof(double));
    put_size(&w, mine);
    for (size_t r0 = 0, si = 0; r0 < n_runs; si++) {
        size_t r1 = r0 + 1;
        while (r1 < n_runs && strcmp(runs[r1].subject, runs[r0].subject) == 0) r1++;
        if (owner[si] == part) {
            Subject s = {0};
            IeegElectrode *el = NULL;
            char why[BASE_ERR_LEN], space[64] = "", name[64] = "";
            double pmhg[6];
            snprintf(name, sizeof name, "%s", runs[r0].subject);
            int rc = load_subject(o, runs + r0, r1 - r0, st, &atlas, &timing, &s, &el, space, pmhg, pmhg + 3, why);
            put_size(&w, si);
            put(&w, name, sizeof name);
            put_text(&w, rc ? why : "");
            if (rc == 0) {
                put(&w, space, sizeof space);
                put_text(&w, runs[r0].electrodes);
                put(&w, pmhg, sizeof pmhg);
                put_size(&w, s.C);
                put(&w, el, s.C * sizeof(IeegElectrode));
                put(&w, s.resp, base_mul(W, s.C) * sizeof(float));
            }
            free(el);
            subject_free(&s);
        }
        r0 = r1;
    }
    memcpy(w.b + at_seconds, (double[2]){timing.seconds_read, timing.seconds_envelope}, 2 * sizeof(double));
    free(owner);
    bids_free_runs(runs, n_runs);
    anatomy_free_atlas(&atlas);
    *bytes = w.b, *len = w.n;
    return 0;
}

typedef struct {
    const char *name, *error, *space, *electrodes;  // error "" for a subject that passed; the rest then
    size_t error_len, electrodes_len, C;
    const double *pmhg;
    const unsigned char *el, *resp;  // C electrodes, (W, C) floats, unaligned
} Entry;

static int read_entry(Cursor *c, size_t W, size_t n_subjects, size_t *si, Entry *e) {
    memset(e, 0, sizeof *e);
    if (take_size(c, si) || *si >= n_subjects || !(e->name = take(c, 64)) || e->name[63] ||
        take_size(c, &e->error_len) || !(e->error = take(c, e->error_len)))
        return -1;
    if (e->error_len) return 0;
    if (!(e->space = take(c, 64)) || e->space[63] || take_size(c, &e->electrodes_len) ||
        !(e->electrodes = take(c, e->electrodes_len)) || !(e->pmhg = take(c, 6 * sizeof(double))) ||
        take_size(c, &e->C) || e->C > c->n / sizeof(IeegElectrode) || !(e->el = take(c, e->C * sizeof(IeegElectrode))) ||
        (W && e->C > c->n / W / sizeof(float)) || !(e->resp = take(c, W * e->C * sizeof(float))))
        return -1;
    return 0;
}

int ieeg_join(const IeegOptions *o, const void *const *bytes, const size_t *len, size_t parts, IeegResponses *out,
              char *err) {
    memset(out, 0, sizeof *out);
    Entry *entry = NULL;
    unsigned char *seen = NULL;
    size_t W = 0, n_subjects = 0;
    for (size_t p = 0; p < parts; p++) {
        Cursor c = {bytes[p], len[p], 0};
        const void *magic = take(&c, sizeof PART_MAGIC);
        size_t w, ns, n;
        double rate, seconds[2];
        const void *pr = NULL, *ps = NULL;
        int bad = !magic || memcmp(magic, PART_MAGIC, sizeof PART_MAGIC) || take_size(&c, &w) ||
                  !(pr = take(&c, sizeof rate)) || take_size(&c, &ns) || !(ps = take(&c, sizeof seconds)) ||
                  take_size(&c, &n);
        if (!bad) {
            memcpy(&rate, pr, sizeof rate), memcpy(seconds, ps, sizeof seconds);
            if (p == 0) {
                W = out->W = w, out->rate = rate, n_subjects = out->n_subjects = ns;
                entry = base_calloc(ns ? ns : 1, sizeof(Entry), "subjects");
                seen = base_calloc(ns ? ns : 1, 1, "subjects");
            }
            bad = w != W || rate != out->rate || ns != n_subjects;
            out->seconds_read += seconds[0], out->seconds_envelope += seconds[1];
        }
        for (size_t k = 0; !bad && k < n; k++) {
            size_t si;
            Entry e;
            bad = read_entry(&c, W, n_subjects, &si, &e) || seen[si];
            if (!bad) entry[si] = e, seen[si] = 1;
        }
        if (bad || c.at != c.n) {
            free(entry), free(seen);
            memset(out, 0, sizeof *out);
            return base_errf(err, "%s: the share %zu of %zu of its subjects' responses is damaged", o->bids_root, p + 1,
                             parts);
        }
    }
    for (size_t si = 0; si < n_subjects; si++)
        if (!seen[si]) {
            free(entry), free(seen);
            memset(out, 0, sizeof *out);
            return base_errf(err, "%s: subject %zu of %zu is in no share of the responses", o->bids_root, si + 1,
                             n_subjects);
        }
    // subjects in the dataset's order; one whose space differs from the first used subject's is left out
    out->subject = base_calloc(n_subjects ? n_subjects : 1, sizeof *out->subject, "subjects");
    out->error = base_calloc(n_subjects ? n_subjects : 1, sizeof(char *), "subject errors");
    size_t E = 0;
    for (size_t si = 0; si < n_subjects; si++) {
        Entry *e = &entry[si];
        snprintf(out->subject[si], sizeof out->subject[si], "%s", e->name);
        if (e->error_len) {
            out->error[si] = base_malloc(e->error_len + 1, "subject error");
            memcpy(out->error[si], e->error, e->error_len);
            out->error[si][e->error_len] = '\0';
        } else if (out->space[0] && strcmp(out->space, e->space) != 0) {
            char why[BASE_ERR_LEN], q[BASE_QUOTE_LEN], q2[BASE_QUOTE_LEN];
            base_errf(why, "%.*s: space '%s' differs from the other subjects' '%s' (distances would not compare)",
                      (int)e->electrodes_len, e->electrodes, base_escape(q, sizeof q, e->space, strlen(e->space)),
                      base_escape(q2, sizeof q2, out->space, strlen(out->space)));
            out->error[si] = base_strdup(why);
            e->error_len = 1;  // left out below
        } else {
            out->error[si] = base_strdup("");
            if (!out->space[0]) {
                snprintf(out->space, sizeof out->space, "%s", e->space);
                memcpy(out->pmhg_left, e->pmhg, 3 * sizeof(double));
                memcpy(out->pmhg_right, e->pmhg + 3, 3 * sizeof(double));
            }
            E += e->C;
        }
    }
    out->E = E;
    out->el = base_malloc((E ? E : 1) * sizeof(IeegElectrode), "electrodes");
    out->resp = base_malloc(base_mul(W, E ? E : 1) * sizeof(float), "responses");
    for (size_t si = 0, e0 = 0; si < n_subjects; si++) {
        const Entry *e = &entry[si];
        if (e->error_len) continue;
        memcpy(out->el + e0, e->el, e->C * sizeof(IeegElectrode));
        for (size_t w = 0; w < W; w++) memcpy(out->resp + w * E + e0, e->resp + w * e->C * sizeof(float), e->C * sizeof(float));
        e0 += e->C;
    }
    free(entry), free(seen);
    if (out->E == 0) {
        base_errf(err, "%s: no subject could be used (first problem: %s)", o->bids_root,
                  n_subjects ? out->error[0] : "no subject");
        ieeg_free(out);
        return -1;
    }
    return 0;
}

int ieeg_prepare(const IeegOptions *o, const Stimulus *st, IeegResponses *out, char *err) {
    memset(out, 0, sizeof *out);
    void *bytes;
    size_t len;
    if (ieeg_prepare_part(o, st, 0, 1, &bytes, &len, err)) return -1;
    int rc = ieeg_join(o, (const void *const *)&bytes, &len, 1, out, err);
    free(bytes);
    return rc;
}

// ----------------------------------------------------------------------------
// the responses file

int ieeg_save(const char *path, const IeegResponses *r, const char *key, char *err) {
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash && slash != tmp) {
        *slash = '\0';
        if (base_mkdirs(tmp)) return base_errf(err, "%s: cannot create the folder: %s", tmp, strerror(errno));
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return base_errf(err, "%s: cannot create the responses file: %s", tmp, strerror(errno));
    h5_attr_string(f, "schema", RESPONSES_SCHEMA);
    h5_attr_string(f, "key", key);
    h5_attr_string(f, "space", r->space);
    h5_attr_double(f, "pmhg_left", r->pmhg_left, 3);
    h5_attr_double(f, "pmhg_right", r->pmhg_right, 3);
    h5_attr_double(f, "rate", &r->rate, 1);
    size_t E = r->E;
    hsize_t d2[2] = {r->W, E};
    h5_write_array(f, "responses", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, r->resp, 2, d2,
                   r->rate > 0 ? "sample, electrode" : "word, electrode",
                   r->rate > 0 ? "z-scored high-gamma envelope on the story's clock (root attribute rate)"
                               : "z-scored high-gamma envelope, mean over the window centred on each word");
    hid_t g = h5_group(f, "electrodes");
    const char **s = base_malloc(3 * (E ? E : 1) * sizeof(char *), "names");
    double *v = base_malloc((E ? E : 1) * 7 * sizeof(double), "electrode values");
    int8_t *flag = base_malloc(E ? E : 1, "responsive");
    for (size_t e = 0; e < E; e++) {
        s[e] = r->el[e].subject, s[E + e] = r->el[e].name, s[2 * E + e] = r->el[e].region;
        memcpy(v + 3 * e, r->el[e].xyz, 3 * sizeof(double));
        v[3 * E + e] = r->el[e].distance, v[4 * E + e] = r->el[e].t, v[5 * E + e] = r->el[e].p,
                  v[6 * E + e] = r->el[e].q;
        flag[e] = (int8_t)r->el[e].responsive;
    }
    h5_write_strings(g, "subject", s, E, "the electrode's subject");
    h5_write_strings(g, "name", s + E, E, "the channel's name");
    h5_write_strings(g, "region", s + 2 * E, E, "region label (electrodes table, or the atlas's nearest centroid)");
    hsize_t dx[2] = {E, 3}, d1[1] = {E};
    h5_write_array(g, "xyz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, 2, dx, "electrode, xyz", "position (mm)");
    static const char *what[4][2] = {{"distance", "mm from posteromedial Heschl's gyrus of its hemisphere"},
                                     {"t", "responsiveness: t of post- vs pre-onset envelope"},
                                     {"p", "responsiveness: two-sided p"},
                                     {"q", "responsiveness: Benjamini-Hochberg q over the subject's electrodes"}};
    for (int k = 0; k < 4; k++)
        h5_write_array(g, what[k][0], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v + (3 + k) * E, 1, d1, "electrode",
                       what[k][1]);
    h5_write_array(g, "responsive", H5T_STD_I8LE, H5T_NATIVE_INT8, flag, 1, d1, "electrode",
                   "1: speech-responsive (q below the FDR level, t > 0)");
    H5Gclose(g);
    free(s), free(v), free(flag);
    const char **names = base_malloc((r->n_subjects ? r->n_subjects : 1) * sizeof(char *), "subjects");
    for (size_t i = 0; i < r->n_subjects; i++) names[i] = r->subject[i];
    g = h5_group(f, "subjects");
    h5_write_strings(g, "name", names, r->n_subjects, "every subject of the dataset");
    h5_write_strings(g, "error", (const char *const *)r->error, r->n_subjects,
                     "why a subject was left out; empty for the subjects used");
    H5Gclose(g);
    free(names);
    herr_t closed = H5Fclose(f);
    if (closed < 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return base_errf(err, "%s: cannot write the responses file: %s", path, strerror(errno));
    }
    return 0;
}

int ieeg_load(const char *path, const char *key, IeegResponses *r, char *why, char *err) {
    memset(r, 0, sizeof *r);
    if (!base_file_exists(path)) {
        snprintf(why, BASE_ERR_LEN, "%s does not exist", path);
        return 0;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return base_errf(err, "%s: not a readable HDF5 file", path);
    char schema[64] = "", *stored = base_malloc(65536, "key");
    int rc = -1, rank;
    hsize_t dims[H5IO_MAX_RANK];
    if (h5_read_attr_string(f, "schema", schema, sizeof schema) || strcmp(schema, RESPONSES_SCHEMA) != 0) {
        base_errf(err, "%s: not a brainsweep responses file", path);
        goto done;
    }
    if (h5_read_attr_string(f, "key", stored, 65536) || strcmp(stored, key) != 0) {
        snprintf(why, BASE_ERR_LEN, "%s was made from other data or options", path);
        rc = 0;
        goto done;
    }
    if (h5_dims(f, "/responses", dims, &rank) || rank != 2) {
        base_errf(err, "%s: no /responses matrix", path);
        goto done;
    }
    r->W = (size_t)dims[0], r->E = (size_t)dims[1];
    size_t E = r->E, n[4] = {0, 0, 0, 0};
    char **sub = h5_read_strings(f, "/electrodes/subject", &n[0]), **name = h5_read_strings(f, "/electrodes/name", &n[1]),
         **reg = h5_read_strings(f, "/electrodes/region", &n[2]);
    char **subjects = h5_read_strings(f, "/subjects/name", &r->n_subjects);
    char **errors = h5_read_strings(f, "/subjects/error", &n[3]);
    r->resp = base_malloc(base_mul(r->W, E ? E : 1) * sizeof(float), "responses");
    r->el = base_calloc(E ? E : 1, sizeof(IeegElectrode), "electrodes");
    double *v = base_malloc((E ? E : 1) * 7 * sizeof(double), "electrode values");
    int8_t *flag = base_malloc(E ? E : 1, "responsive");
    static const char *cols[] = {"/electrodes/distance", "/electrodes/t", "/electrodes/p", "/electrodes/q"};
    int ok = sub && name && reg && subjects && errors && n[0] == E && n[1] == E && n[2] == E &&
             n[3] == r->n_subjects;
    hid_t d;
    ok = ok && (d = H5Dopen2(f, "/responses", H5P_DEFAULT)) >= 0 &&
         H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, r->resp) >= 0 && H5Dclose(d) >= 0;
    ok = ok && (d = H5Dopen2(f, "/electrodes/xyz", H5P_DEFAULT)) >= 0 &&
         H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0 && H5Dclose(d) >= 0;
    for (int k = 0; k < 4 && ok; k++)
        ok = (d = H5Dopen2(f, cols[k], H5P_DEFAULT)) >= 0 &&
             H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v + (3 + k) * E) >= 0 && H5Dclose(d) >= 0;
    ok = ok && (d = H5Dopen2(f, "/electrodes/responsive", H5P_DEFAULT)) >= 0 &&
         H5Dread(d, H5T_NATIVE_INT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, flag) >= 0 && H5Dclose(d) >= 0;
    if (ok) {
        for (size_t e = 0; e < E; e++) {
            IeegElectrode *x = &r->el[e];
            snprintf(x->subject, sizeof x->subject, "%s", sub[e]);
            snprintf(x->name, sizeof x->name, "%s", name[e]);
            snprintf(x->region, sizeof x->region, "%s", reg[e]);
            memcpy(x->xyz, v + 3 * e, 3 * sizeof(double));
            x->distance = v[3 * E + e], x->t = v[4 * E + e], x->p = v[5 * E + e], x->q = v[6 * E + e];
            x->responsive = flag[e];
        }
        r->subject = base_calloc(r->n_subjects ? r->n_subjects : 1, sizeof *r->subject, "subjects");
        r->error = base_calloc(r->n_subjects ? r->n_subjects : 1, sizeof(char *), "subject errors");
        for (size_t i = 0; i < r->n_subjects; i++) {
            snprintf(r->subject[i], sizeof r->subject[i], "%s", subjects[i]);
            r->error[i] = base_strdup(errors[i]);
        }
        h5_read_attr_string(f, "space", r->space, sizeof r->space);
        h5_read_attr_double(f, "pmhg_left", r->pmhg_left, 3);
        h5_read_attr_double(f, "pmhg_right", r->pmhg_right, 3);
        h5_read_attr_double(f, "rate", &r->rate, 1);
        rc = 1;
    } else {
        base_errf(err, "%s: the responses file is incomplete (electrode tables missing or of the wrong length)", path);
    }
    free(v), free(flag);
    h5_free_strings(sub, n[0]), h5_free_strings(name, n[1]), h5_free_strings(reg, n[2]);
    h5_free_strings(subjects, r->n_subjects), h5_free_strings(errors, n[3]);
    if (rc != 1) ieeg_free(r);
done:
    free(stored);
    H5Fclose(f);
    return rc;
}

// ----------------------------------------------------------------------------
// the responses file as a cache

// What a responses file was made from: the preprocessing options, the words and their times, and
// each recording file's name, size and modification time. Caller frees.
static char *cache_key(const IeegOptions *o, const Stimulus *st, char *err) {
    IeegRun *runs;
    size_t n;
    if (bids_find_runs(o->bids_root, o->task, o->source, &runs, &n, err)) return NULL;
    uint64_t h = featcache_hash(st->text, st->text_len, 0);
    h = featcache_hash(st->onset, st->n_words * sizeof(double), h);
    h = featcache_hash(st->offset, st->n_words * sizeof(double), h);
    size_t cap = 1024 + n * (BIDS_PATH + 64), len = 0;
    char *key = base_malloc(cap, "responses key");
    len += (size_t)snprintf(key + len, cap - len,
                            "task=%s source=%d event=%s line=%g notch=%g car=%d band=%g-%g rate=%g exact=%d "
                            "window_ms=%g continuous=%d gap=%g resp=%g fdr=%g pmhg=%d:%g,%g,%g:%g,%g,%g atlas=%s "
                            "words=%016llx\n",
                            o->task, (int)o->source, o->stim_event, o->line_freq, o->notch_width, o->car, o->band_lo,
                            o->band_hi, o->envelope_rate, o->full_rate, o->window * 1000, o->continuous, o->onset_gap,
                            o->resp_window, o->fdr, o->has_pmhg ? 3 : 0, o->pmhg_left[0], o->pmhg_left[1],
                            o->pmhg_left[2], o->pmhg_right[0], o->pmhg_right[1], o->pmhg_right[2], o->atlas,
                            (unsigned long long)h);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(runs[i].data, &sb) != 0) memset(&sb, 0, sizeof sb);
        len += (size_t)snprintf(key + len, cap - len, "%s %lld %lld\n", runs[i].data, (long long)sb.st_size,
                                (long long)sb.st_mtime);
    }
    bids_free_runs(runs, n);
    return key;
}

int ieeg_cached(const IeegOptions *o, const char *path, const Stimulus *st, IeegCacheMode mode, IeegCompute compute,
                IeegResponses *r, char *err) {
    char why[BASE_ERR_LEN];
    char *key = cache_key(o, st, err);
    if (!key) return -1;
    int got = ieeg_load(path, key, r, why, err);
    if (got == 0 && mode == IEEG_CACHE_READ) got = base_errf(err, "%s: %s", path, why);
    if (got == 0) {
        log0("ieeg: %s; computing the word responses of %s", why, o->bids_root);
        double t = base_wall();
        int rc = (compute ? compute : ieeg_prepare)(o, st, r, err);
        if (rc == 0 && mode == IEEG_CACHE_MAKE) rc = ieeg_save(path, r, key, err);
        if (rc) got = -1;
        else
            log0("ieeg: %zu electrodes of %zu subject(s) in %.1f s (reading %.1f s, high-gamma %.1f s): %s", r->E,
                 r->n_subjects, base_wall() - t, r->seconds_read, r->seconds_envelope,
                 mode == IEEG_CACHE_MAKE ? path : "not saved (dry run)");
    } else if (got == 1 && mode != IEEG_CACHE_READ) {
        log0("ieeg: word responses from %s (made from the same data and options)", path);
    }
    free(key);
    for (size_t i = 0; got >= 0 && mode != IEEG_CACHE_READ && i < r->n_subjects; i++) {
        size_t n = 0, resp = 0;
        for (size_t e = 0; e < r->E; e++)
            if (strcmp(r->el[e].subject, r->subject[i]) == 0) n++, resp += r->el[e].responsive;
        if (r->error[i][0]) log_warn("ieeg: %s left out: %s", r->subject[i], r->error[i]);
        else log0("ieeg: %s: %zu electrodes, %zu speech-responsive", r->subject[i], n, resp);
    }
    return got;
}
