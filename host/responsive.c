#include "host/responsive.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/base.h"    // defines: base_malloc, base_free
#include "host/signif.h"  // defines: signif_fdr_bh

// log B(a, 1/2). For large a, lgamma(a) and lgamma(a + 1/2) are ~a log a each and their difference would
// lose log10(a log a) digits, so it comes from Stirling's series with the difference taken analytically.
static long double log_beta_half(long double a) {
    if (a < 10) return lgammal(a) + lgammal(0.5L) - lgammal(a + 0.5L);
    long double x = a + 0.5L, ia = 1 / a, ix = 1 / x;
    long double corr_a = ia * (1.0L / 12 - ia * ia * (1.0L / 360 - ia * ia * (1.0L / 1260 - ia * ia / 1680)));
    long double corr_x = ix * (1.0L / 12 - ix * ix * (1.0L / 360 - ix * ix * (1.0L / 1260 - ix * ix / 1680)));
    long double diff = 0.5L * logl(a) + (a * log1pl(0.5L * ia) - 0.5L) + corr_x - corr_a;  // lgamma(a+1/2) - lgamma(a)
    return lgammal(0.5L) - diff;
}

// The continued fraction of I_x(a, b) (modified Lentz): I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * cf;
// converges fast for x < (a + 1) / (a + b + 2), in O(sqrt(max(a, b))) steps near that bound. In long double:
// for large a, I_x moves by a relative a * dx when x moves by dx, so x near 1 in double (dx = 1e-16) would
// cost 5e-10 at df = 1e7; the x87 format's 64-bit mantissa keeps that below 1e-12.
static long double beta_cf(long double a, long double b, long double x) {
    const long double tiny = 1e-300L;
    long double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (fabsl(d) < tiny ? tiny : d);
    long double h = d;
    for (long m = 1; m < 10000000; m++) {
        long double m2 = 2.0L * m;
        long double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d, c = 1 + num / c;
        d = 1 / (fabsl(d) < tiny ? tiny : d), c = fabsl(c) < tiny ? tiny : c;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d, c = 1 + num / c;
        d = 1 / (fabsl(d) < tiny ? tiny : d), c = fabsl(c) < tiny ? tiny : c;
        long double step = d * c;
        h *= step;
        if (fabsl(step - 1) < 1e-18L) break;
    }
    return h;
}

double resp_t_pvalue(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return 0;
    if (t == 0) return 1;
    long double a = 0.5L * df, b = 0.5L, t2 = (long double)t * t;
    // x = df / (df + t^2) and y = 1 - x, each from its own formula: neither is a difference of the other
    long double log_x = -log1pl(t2 / df), log_y = logl(t2) - logl(df + t2), x = 1 / (1 + t2 / df), y = t2 / (df + t2);
    long double lb = log_beta_half(a);
    if (x < (a + 1) / (a + b + 2)) return (double)(expl(a * log_x + b * log_y - lb) * beta_cf(a, b, x) / a);
    return (double)(1 - expl(b * log_y + a * log_x - lb) * beta_cf(b, a, y) / b);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t resp_ttest(const float *env, size_t C, size_t n, double rate, const double *onsets, size_t K, double pre,
                  double post, double *t, double *p, double *q) {
    size_t npre = (size_t)floor(pre * rate + 0.5), npost = (size_t)floor(post * rate + 0.5);
    double *on = base_malloc((K ? K : 1) * sizeof *on, "onsets");
    memcpy(on, onsets, K * sizeof *on);
    qsort(on, K, sizeof *on, by_value);
    // per used onset: onset sample and its trial [start, end)
    size_t *trial = base_malloc((K ? K : 1) * 3 * sizeof *trial, "trials");
    size_t used = 0;
    for (size_t k = 0; k < K; k++) {
        double s = floor(on[k] * rate + 0.5);
        if (!(s >= (double)npre) || !(s + (double)npost <= (double)n) || npre == 0 || npost == 0) continue;
        size_t o = (size_t)s, end = n;
        if (k + 1 < K) {
            double next = floor(on[k + 1] * rate + 0.5) - (double)npre;
            end = next < (double)(o + npost) ? o + npost : next > (double)n ? n : (size_t)next;
        }
        trial[3 * used] = o, trial[3 * used + 1] = o - npre, trial[3 * used + 2] = end;
        used++;
    }
    double *cum = base_malloc((n + 1) * sizeof *cum, "prefix sums");  // (n + 1)
    double *mean = base_malloc((used ? used : 1) * sizeof *mean, "trial means");
    for (size_t c = 0; c < C; c++) {
        const float *x = env + c * n;
        t[c] = p[c] = NAN;
        if (used == 0) continue;
        cum[0] = 0;
        for (size_t i = 0; i < n; i++) cum[i + 1] = cum[i] + x[i];
        double s_pre = 0, s_post = 0;
        for (size_t u = 0; u < used; u++) {
            size_t o = trial[3 * u], a = trial[3 * u + 1], e = trial[3 * u + 2];
            mean[u] = (cum[e] - cum[a]) / (double)(e - a);
            for (size_t i = o - npre; i < o; i++) s_pre += x[i] - mean[u];
            for (size_t i = o; i < o + npost; i++) s_post += x[i] - mean[u];
        }
        double n1 = (double)(used * npre), n2 = (double)(used * npost), m1 = s_pre / n1, m2 = s_post / n2;
        double ss = 0;  // two passes: the pooled variance from deviations, not from raw sums of squares
        for (size_t u = 0; u < used; u++) {
            size_t o = trial[3 * u];
            for (size_t i = o - npre; i < o; i++) ss += (x[i] - mean[u] - m1) * (x[i] - mean[u] - m1);
            for (size_t i = o; i < o + npost; i++) ss += (x[i] - mean[u] - m2) * (x[i] - mean[u] - m2);
        }
        double df = n1 + n2 - 2, se = sqrt(ss / df * (1 / n1 + 1 / n2));
        if (df > 0 && se > 0) {
            t[c] = (m2 - m1) / se;
            p[c] = resp_t_pvalue(t[c], df);
        }
    }
    signif_fdr_bh(q, p, C);
    base_free(&cum), base_free(&mean), base_free(&trial), base_free(&on);
    return used;
}
