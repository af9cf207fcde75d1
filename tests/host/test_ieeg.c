// The iEEG path on a small simulated dataset: the simulator's BIDS files read back (bids, edf), the
// word responses (ieeg) against the planted truth, the responses file round trip, and bad input:
// each broken subject is left out with a message naming its file while the others are unchanged.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/analysis.h"
#include "host/anatomy.h"
#include "host/base.h"
#include "host/bids.h"
#include "host/edf.h"
#include "host/h5io.h"
#include "host/ieeg.h"
#include "host/simulate.h"
#include "host/stimulus.h"
#include "host/tsv.h"
#include "tests/test.h"

static IeegOptions options(const char *root) {
    IeegOptions o = {root, "podcast", "podcast", BIDS_EDF, 0, 2, 1, 70, 150, 100, 0, 0.1, 0, 0.5, 0.5, 0.05, 0, {0}, {0},
                     ""};
    return o;
}

static void run(const char *cmd) {
    if (system(cmd) != 0) DIE("", "test setup failed: %s", cmd);
}

// the responses of one subject's electrodes, as a (W, n) block, for comparing two runs
static size_t subject_block(const IeegResponses *r, const char *sub, float *out) {
    size_t n = 0;
    for (size_t e = 0; e < r->E; e++)
        if (strcmp(r->el[e].subject, sub) == 0) {
            for (size_t w = 0; w < r->W; w++) out[w * 64 + n] = r->resp[w * r->E + e];
            n++;
        }
    return n;
}

// The word-window mean by its definition, computed another way than host/highgamma.c's closed form per segment:
// the linear interpolant of x (sampled at `rate`, first sample at time 0) averaged over M midpoints of
// [centre - width/2, centre + width/2]. The midpoint rule is exact on a line, so the only error comes from the
// ~width*rate sample points inside the window, each at most |change of slope| * h^2 / 8 with h = width*rate/M
// samples: of order 1e-9 for the slow sines used here. NaN where the window leaves the series.
static double interpolant_mean(const double *x, size_t n, double rate, double centre, double width) {
    const size_t M = 4000;
    double sum = 0;
    for (size_t m = 0; m < M; m++) {
        double t = (centre - 0.5 * width + ((double)m + 0.5) * width / (double)M) * rate;
        if (!(t >= 0) || t + 1 >= (double)n) return NAN;
        size_t i = (size_t)t;
        sum += x[i] + (t - (double)i) * (x[i + 1] - x[i]);
    }
    return sum / (double)M;
}

static int has(const char *err, const char *a, const char *b) { return strstr(err, a) && (!b || strstr(err, b)); }

TEST_MAIN("test_ieeg") {
    char dir[] = "/tmp/brainsweep-ieeg-XXXXXX", root[256], path[512], cmd[1200], err[BASE_ERR_LEN];
    if (!mkdtemp(dir)) DIE("", "cannot create %s", dir);
    snprintf(root, sizeof root, "%s/sim", dir);
    SimOptions so = {root, "data/models/stories260K.gguf", "data/podcast/transcript.tsv", "data/podcast/ecog",
                     "sub-01,sub-08", 240, 16, 512, 60, 1, 4, 0.2, 7};
    int rc = sim_make(&so, err);
    CHECK(rc == 0, "simulate/small_dataset (%s)", rc ? err : "written");

    // --- the BIDS layout, read back
    IeegRun *runs;
    size_t n_runs;
    rc = bids_find_runs(root, "podcast", BIDS_EDF, &runs, &n_runs, err);
    CHECK(rc == 0 && n_runs == 2 && strcmp(runs[0].subject, "sub-01") == 0 && strcmp(runs[1].subject, "sub-08") == 0,
          "bids/finds_one_run_per_subject (%zu)", n_runs);
    rc = bids_load_run(&runs[0], "podcast", err);
    CHECK(rc == 0 && runs[0].rate == 512 && runs[0].line_freq == 60 &&
              runs[0].stim_onset >= 8 && runs[0].stim_onset <= 14 && isinf(runs[0].stim_duration) == 0,
          "bids/sidecars (rate %g, line %g, story at %.2f s)", runs[0].rate, runs[0].line_freq, runs[0].stim_onset);
    CHECK(strcmp(runs[0].space, "MNI152NLin2009aSym") == 0, "bids/space_from_electrodes_name (%s)", runs[0].space);
    size_t good = 0, placed = 0;
    for (size_t c = 0; c < runs[0].n_channels; c++) good += runs[0].ch[c].good, placed += runs[0].ch[c].good && runs[0].ch[c].has_xyz;
    CHECK(good == 16 && placed == 16 && runs[0].n_channels >= 17, "bids/channels_good_and_placed (%zu of %zu)", good,
          runs[0].n_channels);
    Edf e;
    rc = edf_open(runs[0].data, &e, err);
    CHECK(rc == 0, "edf/simulated_file_opens");
    int labels = e.n_signals == runs[0].n_channels + 1;  // + the annotation signal
    for (size_t c = 0; labels && c < runs[0].n_channels; c++) labels = strcmp(e.sig[c].label, runs[0].ch[c].name) == 0;
    CHECK(labels && e.sig[0].rate == 512, "edf/signals_are_the_channels_table");
    CHECK(e.n_annotations == 1 && strcmp(e.ann[0].text, "story start") == 0 &&
              fabs(e.ann[0].onset - runs[0].stim_onset) < 1e-6,
          "edf/story_start_annotation_at_the_event_onset");
    size_t N = edf_samples(&e, 0);
    CHECK(N >= (size_t)((runs[0].stim_onset + 240) * 512), "edf/recording_covers_the_story (%zu samples)", N);
    edf_close(&e);
    bids_free_runs(runs, n_runs);

    // --- word responses against the truth
    Stimulus st;
    snprintf(path, sizeof path, "%s/stimuli/words.tsv", root);
    rc = stim_load(path, NULL, &st, err);
    CHECK(rc == 0 && st.n_words > 600, "stimulus/words_file (%zu words)", st.n_words);
    IeegOptions o = options(root);
    IeegResponses r;
    rc = ieeg_prepare(&o, &st, &r, err);
    CHECK(rc == 0 && r.E == 32 && r.W == st.n_words && r.n_subjects == 2 &&
              !r.error[0][0] && !r.error[1][0],
          "responses/every_good_electrode (%zu)", r.E);
    // --- the subjects shared among processes: every split joined equals the whole, byte for byte
    for (size_t parts = 1; parts <= 3; parts++) {
        void *share[3] = {0};
        size_t len[3] = {0};
        int ok = 1;
        for (size_t p = 0; p < parts; p++) ok &= ieeg_prepare_part(&o, &st, p, parts, &share[p], &len[p], err) == 0;
        IeegResponses j;
        ok = ok && ieeg_join(&o, (const void *const *)share, len, parts, &j, err) == 0;
        int same = ok && j.W == r.W && j.E == r.E && j.n_subjects == r.n_subjects && j.rate == r.rate &&
                   strcmp(j.space, r.space) == 0 && memcmp(j.resp, r.resp, r.W * r.E * sizeof(float)) == 0 &&
                   memcmp(j.el, r.el, r.E * sizeof(IeegElectrode)) == 0 &&
                   memcmp(j.pmhg_left, r.pmhg_left, sizeof r.pmhg_left) == 0;
        for (size_t i = 0; same && i < r.n_subjects; i++)
            same = strcmp(j.subject[i], r.subject[i]) == 0 && strcmp(j.error[i], r.error[i]) == 0;
        CHECK(same, "shares/%zu_joined_equal_the_whole (%s)", parts, ok ? "joined" : err);
        if (ok) ieeg_free(&j);
        if (parts == 2) {
            rc = ieeg_join(&o, (const void *const *)share, len, 1, &j, err);
            CHECK(rc != 0 && has(err, root, " of 2 is in no share"), "shares/a_missing_share_is_named (%s)",
                  err);
            size_t cut = len[1] - 5;
            rc = ieeg_join(&o, (const void *const *)share, (size_t[]){len[0], cut}, 2, &j, err);
            CHECK(rc != 0 && has(err, root, "share 2 of 2") && has(err, "damaged", NULL),
                  "shares/a_damaged_share_is_named (%s)", err);
        }
        for (size_t p = 0; p < parts; p++) free(share[p]);
    }
    {  // a subject in another space is left out where the shares are joined, as in one process
        snprintf(cmd, sizeof cmd,
                 "rm -rf %s/space && cp -r %s %s/space && cd %s/space/sub-08/ieeg && mv sub-08_space-MNI152NLin2009aSym_electrodes.tsv "
                 "sub-08_space-MNI305_electrodes.tsv",
                 dir, root, dir, dir);
        run(cmd);
        char other[300];
        snprintf(other, sizeof other, "%s/space", dir);
        IeegOptions os = options(other);
        void *share[2] = {0};
        size_t len[2] = {0};
        IeegResponses j;
        rc = ieeg_prepare_part(&os, &st, 0, 2, &share[0], &len[0], err) ||
             ieeg_prepare_part(&os, &st, 1, 2, &share[1], &len[1], err) ||
             ieeg_join(&os, (const void *const *)share, len, 2, &j, err);
        CHECK(rc == 0 && j.E == 16 && !j.error[0][0] && has(j.error[1], "sub-08_space-MNI305_electrodes.tsv", "differs"),
              "shares/a_subject_in_another_space_is_left_out (%s)", rc ? err : j.error[1]);
        if (rc == 0) ieeg_free(&j);
        free(share[0]), free(share[1]);
    }

    size_t finite = 0;
    for (size_t i = 0; i < r.W * r.E; i++) finite += isfinite(r.resp[i]);
    CHECK(finite == r.W * r.E, "responses/finite");
    Tsv truth;
    snprintf(path, sizeof path, "%s/groundtruth/electrodes.tsv", root);
    CHECK(tsv_load(path, &truth, err) == 0, "truth/table");
    double *signal = malloc(6 * st.n_words * sizeof(double)), *y = malloc(st.n_words * sizeof(double));
    {  // the planted word signals (hidden state, word)
        snprintf(path, sizeof path, "%s/groundtruth/weights.h5", root);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, "signal", H5P_DEFAULT);
        CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, signal) >= 0, "truth/planted_signals");
        H5Dclose(d), H5Fclose(f);
    }
    size_t strong = 0, tracked = 0, planted_resp = 0, found_resp = 0, distance_ok = 0;
    double worst = 1;
    for (size_t k = 0; k < r.E; k++) {
        size_t row = 0;
        while (row < truth.n_rows && !(strcmp(tsv_get(&truth, row, 0), r.el[k].subject) == 0 &&
                                       strcmp(tsv_get(&truth, row, 1), r.el[k].name) == 0))
            row++;
        if (row == truth.n_rows) continue;
        distance_ok += fabs(r.el[k].distance - atof(tsv_get(&truth, row, 7))) < 1e-3;
        if (strcmp(tsv_get(&truth, row, 4), "1") != 0) continue;
        planted_resp++;
        found_resp += r.el[k].responsive;
        if (atof(tsv_get(&truth, row, 6)) < 2) continue;
        for (size_t w = 0; w < r.W; w++) y[w] = r.resp[w * r.E + k];
        double c = analysis_pearson(y, signal + (size_t)atoi(tsv_get(&truth, row, 5)) * st.n_words, r.W);
        strong++, tracked += c > 0.5, worst = fmin(worst, c);
    }
    CHECK(distance_ok == r.E, "anatomy/distance_in_the_truth_table (%zu of %zu)", distance_ok, r.E);
    {  // distances worked by hand from data/podcast/ecog's MNI positions and pmHG at (-38, -30, 11) left and
       // (40, -27, 11) right (host/anatomy.h), not through anatomy_distance:
       //   sub-08 G2  (-54.4, -76.8, 3.2), left:  16.4^2 + 46.8^2 + 7.8^2 = 268.96 + 2190.24 + 60.84 = 2520.04,
       //              sqrt = 50.2 exactly
       //   sub-08 G15 (-73.6, -27.2, -5.2), left: 35.6^2 + 2.8^2 + 16.2^2 = 1267.36 + 7.84 + 262.44 = 1537.64,
       //              sqrt = 39.21275
       //   sub-01 G2  (60, -1.333333, -29.333333), right: 20^2 + 25.666667^2 + 40.333333^2
       //              = 400 + 658.77779 + 1626.77775 = 2685.55554, sqrt = 51.82235
        const struct {
            const char *sub, *name;
            double mm;
        } hand[] = {{"sub-08", "G2", 50.2}, {"sub-08", "G15", 39.21275}, {"sub-01", "G2", 51.82235}};
        size_t matched = 0;
        double maxdiff = 0;
        for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++)
            for (size_t k = 0; k < r.E; k++)
                if (strcmp(r.el[k].subject, hand[i].sub) == 0 && strcmp(r.el[k].name, hand[i].name) == 0)
                    matched++, maxdiff = fmax(maxdiff, fabs(r.el[k].distance - hand[i].mm));
        CHECK(matched == 3 && maxdiff < 1e-4, "anatomy/distances_worked_by_hand (%zu of 3 found, max diff %.1e mm)",
              matched, maxdiff);
        // a point 3, 4, 12 mm from the left pmHG is 13 mm away; one 6, 8, 0 mm from the right is 10 mm away
        double left[3], right[3];
        int known = anatomy_reference("MNI152NLin2009aSym", left, right) == 0;
        CHECK(known && fabs(anatomy_distance((double[3]){-35, -26, 23}, left, right) - 13) < 1e-12 &&
                  fabs(anatomy_distance((double[3]){46, -35, 11}, left, right) - 10) < 1e-12,
              "anatomy/pythagorean_distances_from_each_hemisphere");
    }
    CHECK(found_resp == planted_resp && planted_resp > 10, "responsive/planted_ones_found (%zu of %zu)", found_resp,
          planted_resp);
    CHECK(strong > 4 && tracked == strong, "responses/follow_the_planted_layer_signal (%zu of %zu with snr >= 2 at r "
                                           "> 0.5; lowest %.2f)",
          tracked, strong, worst);
    free(signal), free(y);
    tsv_free(&truth);

    // --- region labels: a configured atlas table (nearest centroid in the same hemisphere)
    {
        snprintf(path, sizeof path, "%s/atlas.tsv", dir);
        FILE *f = fopen(path, "w");
        fprintf(f, "label\tx\ty\tz\nnear\t50\t-20\t0\nfar\t50\t60\t60\nleft-only\t-50\t-20\t0\n");
        fclose(f);
        Atlas a;
        rc = anatomy_load_atlas(path, &a, err);
        CHECK(rc == 0 && a.n == 3 && strcmp(a.label[anatomy_label(&a, (double[3]){40, 0, 10})], "near") == 0 &&
                  strcmp(a.label[anatomy_label(&a, (double[3]){-10, 90, 90})], "left-only") == 0,
              "atlas/nearest_centroid_in_the_same_hemisphere");
        if (rc == 0) anatomy_free_atlas(&a);
        IeegOptions oa = o;
        oa.atlas = path;
        IeegResponses ra;
        rc = ieeg_prepare(&oa, &st, &ra, err);
        size_t labelled = 0;
        for (size_t k = 0; rc == 0 && k < ra.E; k++)
            labelled += strcmp(ra.el[k].region, ra.el[k].xyz[0] < 0 ? "left-only" : "near") == 0 ||
                        (ra.el[k].xyz[0] >= 0 && strcmp(ra.el[k].region, "far") == 0);
        CHECK(rc == 0 && labelled == ra.E, "atlas/every_electrode_labelled_from_the_table (%zu of %zu)", labelled, ra.E);
        if (rc == 0) ieeg_free(&ra);
        f = fopen(path, "w");
        fprintf(f, "label\tx\ty\nnear\t50\t-20\n");
        fclose(f);
        rc = ieeg_prepare(&oa, &st, &ra, err);
        CHECK(rc != 0 && has(err, "atlas.tsv", "label, x, y, z"), "atlas/bad_table_named (%s)", err);
    }

    // --- the responses file
    snprintf(path, sizeof path, "%s/responses.h5", dir);
    IeegResponses back;
    char why[BASE_ERR_LEN];
    CHECK(ieeg_save(path, &r, "key-1", err) == 0 && ieeg_load(path, "key-1", &back, why, err) == 1,
          "file/round_trip_loads");
    int same = back.W == r.W && back.E == r.E && memcmp(back.resp, r.resp, r.W * r.E * sizeof(float)) == 0;
    for (size_t k = 0; same && k < r.E; k++)
        same = strcmp(back.el[k].name, r.el[k].name) == 0 && back.el[k].q == r.el[k].q &&
               back.el[k].distance == r.el[k].distance && back.el[k].responsive == r.el[k].responsive &&
               strcmp(back.el[k].region, r.el[k].region) == 0;
    CHECK(same && strcmp(back.space, r.space) == 0, "file/round_trip_exact");
    ieeg_free(&back);
    rc = ieeg_load(path, "key-2", &back, why, err);
    CHECK(rc == 0 && strstr(why, "other data"), "file/other_key_is_stale (%s)", why);

    // --- bad input: one subject broken at a time, the other unchanged
    float *ref08 = malloc(r.W * 64 * sizeof(float)), *got08 = malloc(r.W * 64 * sizeof(float));
    size_t n08 = subject_block(&r, "sub-08", ref08);
    const char *edf01 = "sub-01/ieeg/sub-01_task-podcast_ieeg.edf";
    struct {
        const char *name, *setup, *file, *word;
    } cases[] = {
        {"edf_shorter_than_its_header", "truncate -s -1000 %s/%s", "sub-01_task-podcast_ieeg.edf", "truncated"},
        {"channel_absent_from_the_edf",
         "cd %s/sub-01/ieeg && printf 'GHOST\\tECOG\\tuV\\tn/a\\tn/a\\t512\\tgood\\n' >> sub-01_task-podcast_channels.tsv "
         "&& printf 'GHOST\\t50\\t-20\\t0\\t4\\tG\\n' >> sub-01_space-MNI152NLin2009aSym_electrodes.tsv",
         "sub-01_task-podcast_ieeg.edf", "GHOST"},
        {"good_electrode_without_position",
         "sed -i '2d' %s/sub-01/ieeg/sub-01_space-MNI152NLin2009aSym_electrodes.tsv", "electrodes.tsv", "no position"},
        {"words_outside_the_recording",
         "sed -i 's/^[0-9.]*\\t/100.0\\t/' %s/sub-01/ieeg/sub-01_task-podcast_events.tsv", "ieeg.edf", "outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(cmd, sizeof cmd, "rm -rf %s/bad && cp -r %s %s/bad", dir, root, dir);
        run(cmd);
        char bad[300];
        snprintf(bad, sizeof bad, "%s/bad", dir);
        if (i == 0) snprintf(cmd, sizeof cmd, cases[i].setup, bad, edf01);
        else snprintf(cmd, sizeof cmd, cases[i].setup, bad);
        run(cmd);
        IeegOptions ob = options(bad);
        IeegResponses rb;
        rc = ieeg_prepare(&ob, &st, &rb, err);
        int named = rc == 0 && rb.n_subjects == 2 && rb.error[0][0] && has(rb.error[0], cases[i].file, cases[i].word);
        CHECK(named, "bad_input/%s (%s)", cases[i].name, rc == 0 ? rb.error[0] : err);
        size_t n = rc == 0 ? subject_block(&rb, "sub-08", got08) : 0;
        int intact = rc == 0 && !rb.error[1][0] && n == n08;
        for (size_t w = 0; intact && w < r.W; w++) intact = memcmp(got08 + w * 64, ref08 + w * 64, n * sizeof(float)) == 0;
        CHECK(intact, "bad_input/%s_leaves_sub-08_unchanged", cases[i].name);
        if (rc == 0) ieeg_free(&rb);
    }
    free(ref08), free(got08);

    // preprocessed high-gamma (source highgamma): sub-08's sidecars with a known envelope per channel
    {
        snprintf(cmd, sizeof cmd,
                 "mkdir -p %s/hg/sub-08/ieeg && cp %s/sub-08/ieeg/*.tsv %s/sub-08/ieeg/*.json %s/hg/sub-08/ieeg/", dir,
                 root, root, dir);
        run(cmd);
        char hg[300];
        snprintf(hg, sizeof hg, "%s/hg", dir);
        IeegRun *hr;
        size_t nh;
        bids_find_runs(root, "podcast", BIDS_EDF, &hr, &nh, err);
        bids_load_run(&hr[1], "podcast", err);
        size_t C = 0, n = (size_t)((hr[1].stim_onset + st.t_max + 5) * 200);
        const char **names = malloc(hr[1].n_channels * sizeof(char *));
        for (size_t c = 0; c < hr[1].n_channels; c++)
            if (hr[1].ch[c].good) names[C++] = hr[1].ch[c].name;
        float *env = malloc(n * C * sizeof(float));
        double *row = malloc(n * sizeof(double));
        for (size_t k = 0; k < n; k++)
            for (size_t c = 0; c < C; c++) env[k * C + c] = (float)(1 + 0.5 * sin(2 * M_PI * (double)k / 200 * (0.3 + 0.01 * (double)c)));
        snprintf(path, sizeof path, "%s/sub-08/ieeg/sub-08_task-podcast_highgamma.h5", hg);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[2] = {n, C};
        h5_write_array(f, "highgamma", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, env, 2, dims, "sample, channel", "test");
        hid_t d = H5Dopen2(f, "highgamma", H5P_DEFAULT);
        h5_attr_double(d, "rate", (double[]){200}, 1);
        H5Dclose(d);
        h5_write_strings(f, "channels", names, C, "test");
        H5Fclose(f);
        IeegOptions oh = options(hg);
        oh.source = BIDS_HIGHGAMMA;
        IeegResponses rh;
        rc = ieeg_prepare(&oh, &st, &rh, err);
        CHECK(rc == 0 && rh.E == C && !rh.error[0][0], "highgamma/source_reads_the_matrix (%s)", rc ? err : rh.error[0]);
        double *centre = malloc(st.n_words * sizeof(double)), maxdiff = 0;
        for (size_t w = 0; w < st.n_words; w++) centre[w] = hr[1].stim_onset + 0.5 * (st.onset[w] + st.offset[w]);
        for (size_t c = 0; rc == 0 && c < C; c++) {  // the channel z-scored, then the word windows
            double sum = 0, ss = 0;
            for (size_t k = 0; k < n; k++) sum += env[k * C + c];
            for (size_t k = 0; k < n; k++) ss += (env[k * C + c] - sum / (double)n) * (env[k * C + c] - sum / (double)n);
            for (size_t k = 0; k < n; k++) row[k] = (env[k * C + c] - sum / (double)n) / sqrt(ss / (double)(n - 1));
            for (size_t w = 0; w < st.n_words; w++) {
                double diff = fabs(interpolant_mean(row, n, 200, centre[w], 0.1) - rh.resp[w * rh.E + c]);
                maxdiff = isnan(diff) ? INFINITY : fmax(maxdiff, diff);
            }
        }
        CHECK(rc == 0 && maxdiff < 1e-5, "highgamma/word_windows_of_the_zscored_matrix (max diff %.1e)", maxdiff);
        if (rc == 0) ieeg_free(&rh);
        free(names), free(env), free(row), free(centre);
        bids_free_runs(hr, nh);
    }

    // two runs of one subject, each holding part of the story (events stim_start / duration), sidecars
    // inherited from the names without the run entity: every word covered, responses as one run's
    {
        snprintf(cmd, sizeof cmd, "mkdir -p %s/runs/sub-08/ieeg && cp %s/sub-08/ieeg/*.tsv %s/sub-08/ieeg/*.json "
                                  "%s/runs/sub-08/ieeg/ && rm %s/runs/sub-08/ieeg/*_events.tsv",
                 dir, root, root, dir, dir);
        run(cmd);
        IeegRun *one;
        size_t n1;
        bids_find_runs(root, "podcast", BIDS_EDF, &one, &n1, err);
        bids_load_run(&one[1], "podcast", err);
        Edf src;
        edf_open(one[1].data, &src, err);
        size_t C = 0, *which = malloc(src.n_signals * sizeof(size_t));
        const char **label = malloc(src.n_signals * sizeof(char *));
        double *lo = malloc(src.n_signals * sizeof(double)), *hi = malloc(src.n_signals * sizeof(double));
        for (size_t i = 0; i < src.n_signals; i++)
            if (!src.sig[i].annotation)
                which[C] = i, label[C] = src.sig[i].label, lo[C] = src.sig[i].phys_min, hi[C++] = src.sig[i].phys_max;
        double split = 120, lead = one[1].stim_onset, fs = 512;
        size_t NS = edf_samples(&src, which[0]), cut1 = (size_t)((lead + split + 3) * fs),
               start2 = (size_t)((lead + split - 2) * fs);
        float *x = malloc(C * NS * sizeof(float)), *part = malloc(C * NS * sizeof(float));
        edf_read(&src, which, C, 0, NS, x, err);
        size_t len[2] = {cut1, NS - start2}, from[2] = {0, start2};
        int wrote = 0;
        for (int k = 0; k < 2; k++) {
            for (size_t c = 0; c < C; c++) memcpy(part + c * len[k], x + c * NS + from[k], len[k] * sizeof(float));
            EdfWriteSpec ws = {NULL, NULL, NULL, NULL, label, NULL, lo, hi, C, len[k], fs, 1.0, NULL, 0};
            snprintf(path, sizeof path, "%s/runs/sub-08/ieeg/sub-08_task-podcast_run-%d_ieeg.edf", dir, k + 1);
            wrote += edf_write(path, &ws, part, err) == 0;
            snprintf(path, sizeof path, "%s/runs/sub-08/ieeg/sub-08_task-podcast_run-%d_events.tsv", dir, k + 1);
            FILE *f = fopen(path, "w");
            if (k == 0) fprintf(f, "onset\tduration\ttrial_type\tstim_start\n%.6f\t%g\tpodcast\t0\n", lead, split);
            else fprintf(f, "onset\tduration\ttrial_type\tstim_start\n2.0\tn/a\tpodcast\t%g\n", split);
            fclose(f);
        }
        edf_close(&src);
        CHECK(wrote == 2, "runs/split_into_two_edf_files");
        char runs_root[300];
        snprintf(runs_root, sizeof runs_root, "%s/runs", dir);
        IeegOptions orr = options(runs_root);
        IeegResponses rr;
        rc = ieeg_prepare(&orr, &st, &rr, err);
        CHECK(rc == 0 && !rr.error[0][0] && rr.E == 16, "runs/two_runs_cover_every_word (%s)", rc ? err : rr.error[0]);
        float *whole = malloc(r.W * 64 * sizeof(float)), *split_r = malloc(r.W * 64 * sizeof(float));
        size_t nw = subject_block(&r, "sub-08", whole), ns = rc == 0 ? subject_block(&rr, "sub-08", split_r) : 0;
        double lowest = 1;
        double *a = malloc(r.W * sizeof(double)), *b = malloc(r.W * sizeof(double));
        for (size_t c = 0; c < ns && ns == nw; c++) {
            for (size_t w = 0; w < r.W; w++) a[w] = whole[w * 64 + c], b[w] = split_r[w * 64 + c];
            lowest = fmin(lowest, analysis_pearson(a, b, r.W));
        }
        CHECK(ns == nw && lowest > 0.95, "runs/responses_match_the_single_run (lowest r %.3f; z-scored per run)", lowest);
        if (rc == 0) ieeg_free(&rr);
        free(which), free(label), free(lo), free(hi), free(x), free(part), free(whole), free(split_r), free(a), free(b);
        bids_free_runs(one, n1);
    }

    // a rate below twice the band's top: a 256 Hz recording
    snprintf(root, sizeof root, "%s/slow", dir);
    SimOptions slow = so;
    slow.out_dir = root, slow.subjects = "sub-08", slow.seconds = 60, slow.rate = 256;
    rc = sim_make(&slow, err);
    CHECK(rc == 0, "simulate/256_hz (%s)", rc ? err : "written");
    IeegOptions os = options(root);
    IeegResponses rs;
    rc = ieeg_prepare(&os, &st, &rs, err);
    CHECK(rc != 0 && has(err, "sub-08_task-podcast_ieeg.edf", "256"),
          "bad_input/rate_below_twice_the_band (%s)", err);

    ieeg_free(&r);
    stim_free(&st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    run(cmd);
}
