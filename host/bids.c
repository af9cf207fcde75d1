#include "host/bids.h"

#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/tsv.h"

void bids_free_runs(IeegRun *runs, size_t n) {
    if (!runs) return;
    for (size_t i = 0; i < n; i++) free(runs[i].ch);
    free(runs);
}

// the value of entity key ("task", "space", ...) in a BIDS file name, into out ("" when absent)
static void entity(const char *name, const char *key, char *out, size_t n) {
    out[0] = '\0';
    char pat[32];
    snprintf(pat, sizeof pat, "%s-", key);
    for (const char *p = name; (p = strstr(p, pat)); p++)
        if (p == name || p[-1] == '_' || p[-1] == '/') {
            p += strlen(pat);
            size_t len = strcspn(p, "_./");
            snprintf(out, n, "%.*s", (int)len, p);
            return;
        }
}

// the run's sidecar `<stem><suffix>`, or the same without the run entity (BIDS inheritance)
static void sidecar(const char *dir, const char *stem, const char *suffix, char *out) {
    snprintf(out, BIDS_PATH, "%s/%s%s", dir, stem, suffix);
    if (base_file_exists(out)) return;
    char base[256];
    snprintf(base, sizeof base, "%s", stem);
    char *run = strstr(base, "_run-");
    if (run) {
        char *rest = strchr(run + 1, '_');
        memmove(run, rest ? rest : run + strlen(run), strlen(rest ? rest : "") + 1);
        snprintf(out, BIDS_PATH, "%s/%s%s", dir, base, suffix);
        if (base_file_exists(out)) return;
    }
    out[0] = '\0';
}

static int by_subject_stem(const void *a, const void *b) {
    const IeegRun *x = a, *y = b;
    int c = strcmp(x->subject, y->subject);
    return c ? c : strcmp(x->stem, y->stem);
}

int bids_find_runs(const char *root, const char *task, BidsSource source, IeegRun **runs, size_t *n, char *err) {
    *runs = NULL;
    *n = 0;
    const char *suffix = source == BIDS_EDF ? "_ieeg.edf" : "_highgamma.h5";
    glob_t g;
    memset(&g, 0, sizeof g);
    char pat[BIDS_PATH];
    snprintf(pat, sizeof pat, "%s/sub-*/ieeg/sub-*%s", root, suffix);
    int rc = glob(pat, 0, NULL, &g);
    snprintf(pat, sizeof pat, "%s/sub-*/ses-*/ieeg/sub-*%s", root, suffix);
    if (rc == 0 || rc == GLOB_NOMATCH) rc = glob(pat, rc == 0 ? GLOB_APPEND : 0, NULL, &g);
    if (rc != 0 && rc != GLOB_NOMATCH) return base_errf(err, "%s: cannot list the dataset's ieeg folders", root);
    IeegRun *out = base_calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(IeegRun), "runs");
    size_t k = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i], *name = strrchr(path, '/') + 1;
        char t[128];
        entity(name, "task", t, sizeof t);
        if (task && task[0] && strcmp(t, task) != 0) continue;
        IeegRun *r = &out[k++];
        r->source = source;
        snprintf(r->data, sizeof r->data, "%s", path);
        snprintf(r->stem, sizeof r->stem, "%.*s", (int)(strlen(name) - strlen(suffix)), name);
        snprintf(r->subject, sizeof r->subject, "%.*s", (int)strcspn(name, "_"), name);
        char dir[BIDS_PATH];
        snprintf(dir, sizeof dir, "%.*s", (int)(name - 1 - path), path);
        sidecar(dir, r->stem, "_channels.tsv", r->channels);
        sidecar(dir, r->stem, "_ieeg.json", r->json);
        sidecar(dir, r->stem, "_events.tsv", r->events);
        // electrodes: one table per subject (and session), in any space
        char ses[64], epat[2 * BIDS_PATH];
        entity(name, "ses", ses, sizeof ses);
        snprintf(epat, sizeof epat, "%s/%s%s%s*_electrodes.tsv", dir, r->subject, ses[0] ? "_ses-" : "", ses);
        glob_t e;
        if (glob(epat, 0, NULL, &e) == 0) {
            snprintf(r->electrodes, sizeof r->electrodes, "%s", e.gl_pathv[0]);
            globfree(&e);
        }
    }
    globfree(&g);
    if (k == 0) {
        free(out);
        return base_errf(err, "%s: no iEEG runs (sub-*/[ses-*/]ieeg/sub-*%s%s%s)", root,
                         task && task[0] ? "_task-" : "", task && task[0] ? task : "", suffix);
    }
    qsort(out, k, sizeof *out, by_subject_stem);
    *runs = out;
    *n = k;
    return 0;
}

// ----------------------------------------------------------------------------
// sidecars

static int read_json(IeegRun *r, char *err) {
    json_error_t je;
    json_t *root = json_load_file(r->json, 0, &je);
    if (!root) return base_errf(err, "%s: not valid JSON (line %d: %s)", r->json, je.line, je.text);
    json_t *fs = json_object_get(root, "SamplingFrequency"), *lf = json_object_get(root, "PowerLineFrequency");
    int rc = 0;
    if (!json_is_number(fs) || !(json_number_value(fs) > 0))
        rc = base_errf(err, "%s: SamplingFrequency is missing or not a positive number", r->json);
    else r->rate = json_number_value(fs);
    r->line_freq = json_is_number(lf) ? json_number_value(lf) : 0;  // BIDS allows "n/a"
    json_decref(root);
    return rc;
}

static int read_channels(IeegRun *r, char *err) {
    Tsv t;
    if (tsv_load(r->channels, &t, err)) return -1;
    int cn = tsv_column(&t, (const char *[]){"name", NULL}), ct = tsv_column(&t, (const char *[]){"type", NULL}),
        cs = tsv_column(&t, (const char *[]){"status", NULL});
    if (cn < 0 || ct < 0) {
        tsv_free(&t);
        return base_errf(err, "%s: a channels table needs the columns name and type", r->channels);
    }
    r->n_channels = t.n_rows;
    r->ch = base_calloc(t.n_rows ? t.n_rows : 1, sizeof(BidsChannel), "channels");
    for (size_t i = 0; i < t.n_rows; i++) {
        BidsChannel *c = &r->ch[i];
        snprintf(c->name, sizeof c->name, "%s", tsv_get(&t, i, cn));
        snprintf(c->type, sizeof c->type, "%s", tsv_get(&t, i, ct));
        int ieeg = strcasecmp(c->type, "ECOG") == 0 || strcasecmp(c->type, "SEEG") == 0;
        c->good = ieeg && !(cs >= 0 && strcasecmp(tsv_get(&t, i, cs), "bad") == 0);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->ch[j].name, c->name) == 0) {
                tsv_free(&t);
                char q[BASE_QUOTE_LEN];
                return base_errf(err, "%s: channel '%s' is listed twice", r->channels,
                                 base_escape(q, sizeof q, c->name, strlen(c->name)));
            }
    }
    tsv_free(&t);
    return 0;
}

static int read_electrodes(IeegRun *r, char *err) {
    entity(strrchr(r->electrodes, '/') + 1, "space", r->space, sizeof r->space);
    if (!r->space[0]) {  // the space from the coordinate-system sidecar
        char cs[BIDS_PATH];
        snprintf(cs, sizeof cs, "%.*s_coordsystem.json", (int)(strlen(r->electrodes) - strlen("_electrodes.tsv")),
                 r->electrodes);
        json_t *root = json_load_file(cs, 0, NULL);
        json_t *sys = root ? json_object_get(root, "iEEGCoordinateSystem") : NULL;
        snprintf(r->space, sizeof r->space, "%s", json_is_string(sys) ? json_string_value(sys) : "Other");
        json_decref(root);
    }
    Tsv t;
    if (tsv_load(r->electrodes, &t, err)) return -1;
    int cn = tsv_column(&t, (const char *[]){"name", NULL});
    int cx[3] = {tsv_column(&t, (const char *[]){"x", NULL}), tsv_column(&t, (const char *[]){"y", NULL}),
                 tsv_column(&t, (const char *[]){"z", NULL})};
    int cr = tsv_column(&t, (const char *[]){"region", "anat", "label", "roi", NULL});
    int rc = 0;
    if (cn < 0 || cx[0] < 0 || cx[1] < 0 || cx[2] < 0) {
        rc = base_errf(err, "%s: an electrodes table needs the columns name, x, y, z", r->electrodes);
        goto done;
    }
    for (size_t i = 0; i < t.n_rows; i++) {
        const char *name = tsv_get(&t, i, cn);
        BidsChannel *c = NULL;
        for (size_t j = 0; j < r->n_channels && !c; j++)
            if (strcmp(r->ch[j].name, name) == 0) c = &r->ch[j];
        if (!c) continue;  // an electrode not recorded in this run
        double v[3];
        for (int k = 0; k < 3; k++)
            if ((rc = tsv_num(&t, i, cx[k], &v[k], err))) goto done;
        c->has_xyz = !isnan(v[0]) && !isnan(v[1]) && !isnan(v[2]);
        memcpy(c->xyz, v, sizeof v);
        if (cr >= 0 && strcmp(tsv_get(&t, i, cr), "n/a") != 0)
            snprintf(c->region, sizeof c->region, "%s", tsv_get(&t, i, cr));
    }
done:
    tsv_free(&t);
    return rc;
}

static int read_events(IeegRun *r, const char *stim_event, char *err) {
    r->stim_onset = 0;
    r->stim_start = 0;
    r->stim_duration = INFINITY;
    if (!r->events[0]) return 0;
    Tsv t;
    if (tsv_load(r->events, &t, err)) return -1;
    int co = tsv_column(&t, (const char *[]){"onset", NULL}), cd = tsv_column(&t, (const char *[]){"duration", NULL}),
        ct = tsv_column(&t, (const char *[]){"trial_type", NULL}),
        cs = tsv_column(&t, (const char *[]){"stim_start", NULL});
    int rc = 0;
    size_t row = t.n_rows;
    if (co < 0) {
        rc = base_errf(err, "%s: an events table needs an onset column", r->events);
        goto done;
    }
    for (size_t i = 0; i < t.n_rows && row == t.n_rows; i++)
        if (!stim_event || !stim_event[0] || (ct >= 0 && strcmp(tsv_get(&t, i, ct), stim_event) == 0)) row = i;
    if (row == t.n_rows) {
        rc = base_errf(err, "%s: no event with trial_type '%s' (the stimulus event, ieeg.stimulus_event)", r->events,
                       stim_event ? stim_event : "");
        goto done;
    }
    double v;
    if ((rc = tsv_num(&t, row, co, &v, err))) goto done;
    if (isnan(v)) {
        rc = base_errf(err, "%s: the stimulus event has no onset", r->events);
        goto done;
    }
    r->stim_onset = v;
    if (cs >= 0) {
        if ((rc = tsv_num(&t, row, cs, &v, err))) goto done;
        if (!isnan(v)) r->stim_start = v;
    }
    if (cd >= 0) {
        if ((rc = tsv_num(&t, row, cd, &v, err))) goto done;
        if (v > 0) r->stim_duration = v;
    }
done:
    tsv_free(&t);
    return rc;
}

int bids_load_run(IeegRun *r, const char *stim_event, char *err) {
    if (!r->json[0]) return base_errf(err, "%s: no %s_ieeg.json beside it (BIDS requires one)", r->data, r->stem);
    if (!r->channels[0])
        return base_errf(err, "%s: no %s_channels.tsv beside it (the channels' types and status)", r->data, r->stem);
    if (read_json(r, err) || read_channels(r, err)) return -1;
    if (r->electrodes[0] && read_electrodes(r, err)) return -1;
    return read_events(r, stim_event, err);
}
