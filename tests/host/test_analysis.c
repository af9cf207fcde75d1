// host/analysis: every function on tiny inputs whose answers are worked out by hand in the comments,
// then on the random fixture of tests/golden/make_analysis_fixture.py (numpy/scipy, the same
// splitmix64 resamples and permutations, so the Monte Carlo parts compare exactly too).
#include <hdf5.h>
#include <math.h>

#include "host/analysis.h"
#include "tests/test.h"

#define FIXTURE "tests/fixtures/analysis/reference.h5"

static void hand_cases(void) {
    // splitmix64 seeded 0: its published first output
    uint64_t s = 0;
    CHECK(analysis_rng_next(&s) == 0xE220A8397B1DCDAFull, "rng/splitmix64_first_output");

    // x = 1 2 3, y = 1 3 2: means 2, 2; sxy = (-1)(-1) + 0 + (1)(0) = 1, sxx = syy = 2 -> r = 0.5.
    // A NaN pair is skipped; two pairs and a constant side are NaN.
    double x[4] = {1, 2, NAN, 3}, y[4] = {1, 3, 100, 2};
    CHECK(fabs(analysis_pearson(x, y, 4) - 0.5) < 1e-15, "pearson/hand_0.5_skipping_nan_pair");
    double up[4] = {2, 4, 6, 8}, down[4] = {8, 6, 4, 2}, flat[4] = {1, 1, 1, 1}, one[4] = {1, 2, 3, 4};
    CHECK(fabs(analysis_pearson(one, up, 4) - 1) < 1e-15 && fabs(analysis_pearson(one, down, 4) + 1) < 1e-15,
          "pearson/hand_plus_minus_1");
    CHECK(isnan(analysis_pearson(one, up, 2)) && isnan(analysis_pearson(one, flat, 4)), "pearson/nan_when_undefined");

    // 3 points in order: of the 3! orders only the identity and the reversal give |r| = 1 (others |r| = 0.5),
    // so p -> 1/3; 4000 shuffles give sd sqrt(2/9 / 4000) = 0.0075
    double r, p = analysis_permutation_p(one, up, 3, 4000, 5, &r);
    CHECK(r > 0.999999 && fabs(p - 1.0 / 3) < 0.03, "permutation/three_points_p_near_one_third (p %.4f)", p);
    CHECK(isnan(analysis_permutation_p(one, up, 3, 0, 5, NULL)), "permutation/no_permutations_nan");

    // r (3 layers, 2 electrodes) = [[0.1 0.3] [0.2 NaN] [0.5 0.1]]: curve (0.2, 0.2, 0.3);
    // electrode 0 peaks at 2 (0.5), weights 0 0.25 1 -> com = (0.25 + 2) / 1.25 = 1.8;
    // electrode 1 peaks at 0 (0.3), weights 1 - 0 -> com 0; brain scores (0.5 + 0.3) / 2 = 0.4 and 0.3 at 2
    double rr[6] = {0.1, 0.3, 0.2, NAN, 0.5, 0.1}, curve[3], best[2], com[2], mob, bom;
    int peak[2], bl;
    analysis_layer_curve(rr, 3, 2, curve);
    CHECK(fabs(curve[0] - 0.2) < 1e-15 && fabs(curve[1] - 0.2) < 1e-15 && fabs(curve[2] - 0.3) < 1e-15,
          "curve/hand_mean_skipping_nan");
    analysis_peaks(rr, 3, 2, peak, best, com);
    CHECK(peak[0] == 2 && peak[1] == 0 && best[0] == 0.5 && best[1] == 0.3, "peaks/hand_argmax");
    CHECK(fabs(com[0] - 1.8) < 1e-15 && com[1] == 0, "peaks/hand_centre_of_mass (%.3f %.3f)", com[0], com[1]);
    analysis_brain_scores(rr, 3, 2, &mob, &bom, &bl);
    CHECK(fabs(mob - 0.4) < 1e-15 && bom == 0.3 && bl == 2, "brain/hand_mean_of_best_and_best_of_mean");

    // first layer at 95% of 1.0 is 2 (0.96); at 50% it is 1; a curve below zero reaches nothing
    double c5[5] = {0.1, 0.5, 0.96, 1.0, 0.9}, neg[2] = {-0.2, -0.1};
    CHECK(analysis_first_reaching(c5, 5, 0.95) == 2 && analysis_first_reaching(c5, 5, 0.5) == 1 &&
              analysis_first_reaching(neg, 2, 0.95) == -1,
          "first_reaching/hand");

    // one electrode: every resample is it, CI = its value. Two electrodes 0 and 1: resample means
    // 0, 0.5, 1 with chances 1/4, 1/2, 1/4, so the 2.5% and 97.5% points are 0 and 1
    double lo, hi, single = 0.7, two[2] = {0, 1};
    analysis_bootstrap_curve(&single, 1, 1, 200, 3, 0.95, &lo, &hi);
    CHECK(lo == 0.7 && hi == 0.7, "bootstrap/one_electrode_ci_is_its_value");
    analysis_bootstrap_curve(two, 1, 2, 1000, 3, 0.95, &lo, &hi);
    CHECK(lo == 0 && hi == 1, "bootstrap/two_electrodes_ci_0_1 (%.3f %.3f)", lo, hi);

    // x = 5 1 NaN 3 2 4 in 2 bins: ranks 1(i1) 2(i4) 3(i3) 4(i5) 5(i0) -> bins floor(k 2 / 5) = 0 0 0 1 1
    double xb[6] = {5, 1, NAN, 3, 2, 4};
    int bin[6];
    analysis_quantile_bins(xb, 6, 2, bin);
    CHECK(bin[0] == 1 && bin[1] == 0 && bin[2] == -1 && bin[3] == 0 && bin[4] == 0 && bin[5] == 1,
          "bins/hand_equal_count");

    // r (1 layer, 4 electrodes) = 1 2 3 4 in groups 0 1 0 none, 3 groups -> 2, 2, NaN
    double rg[4] = {1, 2, 3, 4}, gc[3];
    int group[4] = {0, 1, 0, -1};
    analysis_group_curves(rg, 1, 4, group, 3, gc);
    CHECK(gc[0] == 2 && gc[1] == 2 && isnan(gc[2]), "groups/hand_means");

    // distance 10..60 with layer 1..6 in 3 bins: bin means (15, 35, 55) and (1.5, 3.5, 5.5), both r = 1;
    // of 6! orders 2 give |r| = 1, so p ~ (1 + 2000 · 2/720) / 2001 < 0.01; 3 bins cannot be significant (p ~ 1/3)
    double dist[6] = {10, 20, 30, 40, 50, 60}, layer[6] = {1, 2, 3, 4, 5, 6}, bd[3], bly[3];
    AnalysisHierarchy h;
    analysis_hierarchy(dist, layer, 6, 3, 2000, 9, bd, bly, &h);
    CHECK(h.n == 6 && fabs(h.r_electrodes - 1) < 1e-12 && fabs(h.r_bins - 1) < 1e-12, "hierarchy/hand_r_1");
    CHECK(bd[0] == 15 && bd[2] == 55 && bly[1] == 3.5, "hierarchy/hand_bin_means");
    CHECK(h.p_electrodes < 0.01 && h.p_bins > 0.2, "hierarchy/hand_p (%.4f, bins %.3f)", h.p_electrodes, h.p_bins);

    // CKA: one column is r^2 (x = 1 2 3, y = 1 3 2: 0.25); orthogonal centred columns give 0 (x = 1 2 3 4,
    // y = 1 -1 -1 1: Xc^T Yc = -1.5 + 0.5 - 0.5 + 1.5 = 0); an affine copy gives 1
    float fx[4] = {1, 2, 3, 4}, fy[3] = {1, 3, 2}, fo[4] = {1, -1, -1, 1}, fa[4] = {7, 9, 11, 13};
    CHECK(fabs(analysis_cka(fx, fy, 3, 1, 1) - 0.25) < 1e-6, "cka/hand_one_column_is_r_squared");
    CHECK(fabs(analysis_cka(fx, fo, 4, 1, 1)) < 1e-7 && fabs(analysis_cka(fx, fa, 4, 1, 1) - 1) < 1e-6,
          "cka/hand_orthogonal_0_affine_1");

    // profiles: A = [1 2 3; 3 2 1], B = [1 2 3; 1 3 2] -> S = [1 0.5; -1 -0.5], best match (0, 1)
    double ra[6] = {1, 2, 3, 3, 2, 1}, rb[6] = {1, 2, 3, 1, 3, 2}, S[4];
    int bm[2];
    analysis_profile_similarity(ra, 2, rb, 2, 3, S);
    analysis_best_match(S, 2, 2, bm);
    CHECK(fabs(S[0] - 1) < 1e-15 && fabs(S[1] - 0.5) < 1e-15 && fabs(S[2] + 1) < 1e-15 && bm[0] == 0 && bm[1] == 1,
          "pathways/hand_profile_similarity_and_best_match");

    // r = [0.1 0.4; 0.3 0.2], p = [0.5 0.01; 0.02 0.9]: best layers 1 and 0, p 0.02 and 0.01 times 2 layers
    // -> 0.04, 0.02; BH: 0.02 · 2/1 = 0.04, 0.04 · 2/2 = 0.04
    double rq[4] = {0.1, 0.4, 0.3, 0.2}, pq[4] = {0.5, 0.01, 0.02, 0.9}, q[2];
    analysis_best_layer_q(rq, pq, 2, 2, q);
    CHECK(fabs(q[0] - 0.04) < 1e-15 && fabs(q[1] - 0.04) < 1e-15, "significance/hand_bonferroni_then_bh");
}

// the fixture's dataset name as n values (double or int), or NULL when absent or another size
static void *read_fixture(hid_t f, const char *name, hid_t type, size_t n) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) return NULL;
    hid_t sp = H5Dget_space(d);
    void *v = NULL;
    if ((size_t)H5Sget_simple_extent_npoints(sp) == n) {
        v = malloc(n * H5Tget_size(type));
        if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) free(v), v = NULL;
    }
    H5Sclose(sp);
    H5Dclose(d);
    return v;
}

static double fixture_attr(hid_t f, const char *name) {
    double v = NAN;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a >= 0) H5Aread(a, H5T_NATIVE_DOUBLE, &v), H5Aclose(a);
    return v;
}

static int ints_equal(const int *a, const int *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static void fixture_cases(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(FIXTURE, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        CHECK(0, "fixture: " FIXTURE " not readable (committed; tests run from the repository root)");
        return;
    }
    size_t L = (size_t)fixture_attr(f, "L"), E = (size_t)fixture_attr(f, "E"), LB = (size_t)fixture_attr(f, "LB");
    size_t G = (size_t)fixture_attr(f, "G"), nb = (size_t)fixture_attr(f, "nb"), W = (size_t)fixture_attr(f, "W");
    size_t da = (size_t)fixture_attr(f, "da"), db = (size_t)fixture_attr(f, "db");
    size_t n_perm = (size_t)fixture_attr(f, "n_perm"), B = (size_t)fixture_attr(f, "B");
    double level = fixture_attr(f, "level");
    uint64_t seed = (uint64_t)fixture_attr(f, "seed");
    hid_t D = H5T_NATIVE_DOUBLE, I = H5T_NATIVE_INT;
    double *r = read_fixture(f, "r", D, L * E), *r_b = read_fixture(f, "r_b", D, LB * E);
    double *p = read_fixture(f, "p", D, L * E), *dist = read_fixture(f, "dist", D, E);
    double *x = read_fixture(f, "x", D, 30), *y = read_fixture(f, "y", D, 30);
    int *group = read_fixture(f, "group", I, E);
    float *X = read_fixture(f, "X", H5T_NATIVE_FLOAT, W * da), *Y = read_fixture(f, "Y", H5T_NATIVE_FLOAT, W * db);
    double *ref_curve = read_fixture(f, "curve", D, L), *ref_lo = read_fixture(f, "ci_lo", D, L);
    double *ref_hi = read_fixture(f, "ci_hi", D, L), *ref_best = read_fixture(f, "best", D, E);
    double *ref_com = read_fixture(f, "com", D, E), *ref_bd = read_fixture(f, "bin_dist", D, nb);
    double *ref_bl = read_fixture(f, "bin_layer", D, nb), *ref_q = read_fixture(f, "q", D, E);
    double *ref_prof = read_fixture(f, "profile", D, L * LB), *ref_gc = read_fixture(f, "group_curves", D, L * G);
    double *ref_pearson = read_fixture(f, "pearson", D, 2), *ref_h = read_fixture(f, "hierarchy", D, 4);
    double *ref_brain = read_fixture(f, "brain", D, 2), *ref_cka = read_fixture(f, "cka", D, 2);
    int *ref_peak = read_fixture(f, "peak", I, E), *ref_bins = read_fixture(f, "bins", I, E);
    int *ref_match = read_fixture(f, "best_match", I, L), *ref_first = read_fixture(f, "first95", I, 1);
    int *ref_bl_idx = read_fixture(f, "best_layer", I, 1);
    H5Fclose(f);
    if (!r || !r_b || !p || !dist || !x || !y || !group || !X || !Y || !ref_curve || !ref_lo || !ref_hi || !ref_best ||
        !ref_com || !ref_bd || !ref_bl || !ref_q || !ref_prof || !ref_gc || !ref_pearson || !ref_h || !ref_brain ||
        !ref_cka || !ref_peak || !ref_bins || !ref_match || !ref_first || !ref_bl_idx) {
        CHECK(0, "fixture/every_dataset_present_with_its_shape");
        return;
    }

    double pr, pp = analysis_permutation_p(x, y, 30, n_perm, seed, &pr);
    double got2[2] = {pr, pp};
    CHECK_CLOSE("fixture/pearson_r_and_permutation_p", got2, ref_pearson, 2, 1e-12, 1e-12);

    double *curve = malloc(L * 8), *lo = malloc(L * 8), *hi = malloc(L * 8);
    analysis_layer_curve(r, L, E, curve);
    CHECK_CLOSE("fixture/layer_curve", curve, ref_curve, L, 1e-14, 0);
    analysis_bootstrap_curve(r, L, E, B, seed, level, lo, hi);
    CHECK_CLOSE("fixture/bootstrap_ci_low", lo, ref_lo, L, 1e-14, 0);
    CHECK_CLOSE("fixture/bootstrap_ci_high", hi, ref_hi, L, 1e-14, 0);

    int *peak = malloc(E * sizeof(int)), *bins = malloc(E * sizeof(int)), *match = malloc(L * sizeof(int));
    double *best = malloc(E * 8), *com = malloc(E * 8), *layer = malloc(E * 8), *q = malloc(E * 8);
    analysis_peaks(r, L, E, peak, best, com);
    CHECK(ints_equal(peak, ref_peak, E), "fixture/peak_layers_equal (%zu electrodes, one without scores)", E);
    // the electrode without scores is NaN on both sides: compare the others
    size_t k = 0;
    for (size_t e = 0; e < E; e++)
        if (isfinite(ref_best[e])) {
            best[k] = best[e], com[k] = com[e];
            ref_best[k] = ref_best[e], ref_com[k++] = ref_com[e];
        }
    CHECK(k == E - 1, "fixture/one_electrode_without_scores (%zu of %zu scored)", k, E);
    CHECK_CLOSE("fixture/best_r", best, ref_best, k, 0, 0);
    CHECK_CLOSE("fixture/centre_of_mass", com, ref_com, k, 1e-12, 0);

    double brain[2];
    int bl;
    analysis_brain_scores(r, L, E, &brain[0], &brain[1], &bl);
    CHECK_CLOSE("fixture/brain_scores", brain, ref_brain, 2, 1e-14, 0);
    CHECK(bl == ref_bl_idx[0] && analysis_first_reaching(curve, L, 0.95) == ref_first[0],
          "fixture/best_layer_%d_and_first_95pct_layer_%d", ref_bl_idx[0], ref_first[0]);

    double *gc = malloc(L * G * 8);
    analysis_group_curves(r, L, E, group, G, gc);
    CHECK_CLOSE("fixture/region_curves", gc, ref_gc, L * G, 1e-14, 0);

    // hierarchy on the peak layers of the scored electrodes (as the fixture script does)
    for (size_t e = 0; e < E; e++) layer[e] = peak[e] < 0 ? NAN : peak[e];
    double *bd = malloc(nb * 8), *bly = malloc(nb * 8);
    AnalysisHierarchy h;
    analysis_hierarchy(dist, layer, E, nb, n_perm, seed, bd, bly, &h);
    for (size_t e = 0; e < E; e++) layer[e] = isfinite(layer[e]) ? dist[e] : NAN;  // the distances binned
    analysis_quantile_bins(layer, E, nb, bins);
    CHECK(ints_equal(bins, ref_bins, E), "fixture/quantile_bins_equal");
    CHECK_CLOSE("fixture/bin_mean_distance", bd, ref_bd, nb, 1e-12, 0);
    CHECK_CLOSE("fixture/bin_mean_layer", bly, ref_bl, nb, 1e-14, 0);
    double hgot[4] = {h.r_electrodes, h.p_electrodes, h.r_bins, h.p_bins};
    CHECK_CLOSE("fixture/hierarchy_r_p_electrodes_and_bins", hgot, ref_h, 4, 1e-12, 0);

    analysis_best_layer_q(r, p, L, E, q);
    k = 0;
    for (size_t e = 0; e < E; e++)
        if (isfinite(ref_q[e])) q[k] = q[e], ref_q[k++] = ref_q[e];
    CHECK_CLOSE("fixture/best_layer_q_scipy_bh", q, ref_q, k, 1e-15, 1e-12);

    double *prof = malloc(L * LB * 8);
    analysis_profile_similarity(r, L, r_b, LB, E, prof);
    analysis_best_match(prof, L, LB, match);
    CHECK_CLOSE("fixture/profile_similarity", prof, ref_prof, L * LB, 1e-12, 0);
    CHECK(ints_equal(match, ref_match, L), "fixture/best_matching_layers_equal");

    // float32 features through sgemm: a few 1e-7 relative per product, far below 1e-5
    float *X5 = malloc(W * 5 * sizeof(float));
    for (size_t w = 0; w < W; w++) memcpy(X5 + w * 5, X + w * da, 5 * sizeof(float));
    double cka[2] = {analysis_cka(X, Y, W, da, db), analysis_cka(X, X5, W, da, 5)};
    CHECK_CLOSE("fixture/linear_cka", cka, ref_cka, 2, 1e-5, 0);

    free(X5), free(prof), free(match), free(bd), free(bly), free(gc), free(q), free(layer), free(com), free(best);
    free(bins), free(peak);
    free(hi), free(lo), free(curve);
    void *all[] = {r, r_b, p, dist, x, y, group, X, Y, ref_curve, ref_lo, ref_hi, ref_best, ref_com, ref_bd, ref_bl,
                   ref_q, ref_prof, ref_gc, ref_pearson, ref_h, ref_brain, ref_cka, ref_peak, ref_bins, ref_match,
                   ref_first, ref_bl_idx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
}

TEST_MAIN("test_analysis") {
    hand_cases();
    fixture_cases();
}
