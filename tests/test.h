/*
 * test.h: the whole test harness. One executable per module; one line per case, then a summary.
 *
 *   CHECK(cond, fmt, ...)         record a pass or a failure with file:line and a message
 *   CHECK_CLOSE(name, got, ref, n, atol, rtol)  arrays, prints maxdiff and the worst index
 *   SKIP(name, reason)            a case that cannot run here (never a silent pass)
 *   SKIP_UNLESS_CI(name, reason)  a case CI provides for: a SKIP here, a FAIL where CI is set
 *   test_urand(&s), test_nrand(&s)  seeded uniform (0, 1) and normal numbers
 *   TEST_MAIN(name) { ... }       defines main; ends with "test_x: N passed, N failed, N skipped"
 *
 * Tests run on the OpenBLAS kernels the program itself would run on: TEST_MAIN first makes the same choice as
 * brainsweep's main (threads_choose_blas_kernels), so a machine whose OpenBLAS falls back to old kernels does not
 * test arithmetic that production never uses. OPENBLAS_CORETYPE set in the environment wins in both.
 *
 * Exit codes: 0 all passed (or skipped), 1 any failure. tests/run.sh sums the summary lines.
 * Paths in tests are relative to the repository root, where tests/run.sh runs them.
 */
#ifndef TESTS_TEST_H
#define TESTS_TEST_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/threads.h"

static int test_passed, test_failed, test_skipped;
static const char *test_name = "test";

static void test_report(int ok, const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ok) {
        test_passed++;
        printf("PASS %s/%s\n", test_name, msg);
    } else {
        test_failed++;
        printf("FAIL %s/%s  %s:%d\n", test_name, msg, file, line);
    }
    fflush(stdout);
}

// Reproducible random inputs: xorshift64* uniform in (0, 1), Box-Muller normals; each test file seeds its own state
__attribute__((unused)) static double test_urand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return ((*s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}
__attribute__((unused)) static double test_nrand(uint64_t *s) {
    return sqrt(-2 * log(test_urand(s))) * cos(2 * M_PI * test_urand(s));
}

#define CHECK(cond, ...) test_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define SKIP(name, reason)                                          \
    do {                                                            \
        test_skipped++;                                             \
        printf("SKIP %s/%s  %s\n", test_name, (name), (reason));    \
        fflush(stdout);                                             \
    } while (0)

// CI (the environment has CI set, as CI services do) installs and fetches everything the suite needs, so there a
// case that cannot run is a failure: CI must not pass on a case it could have run. Elsewhere it is a SKIP.
__attribute__((unused)) static int test_in_ci(void) {
    const char *ci = getenv("CI");
    return ci && ci[0] && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;
}
#define SKIP_UNLESS_CI(name, reason)                                                                  \
    do {                                                                                              \
        if (test_in_ci()) test_report(0, __FILE__, __LINE__, "%s  %s (a failure under CI)", (name), (reason)); \
        else SKIP(name, reason);                                                                      \
    } while (0)

// |got - ref| <= atol + rtol * |ref| everywhere; NaN or Inf on either side is a failure
__attribute__((unused)) static int test_close_impl(const char *file, int line, const char *name, const double *got, const double *ref,
                           size_t n, double atol, double rtol) {
    size_t worst = 0, bad = 0;
    double maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        int finite = isfinite(got[i]) && isfinite(ref[i]);
        if (!finite || d > atol + rtol * fabs(ref[i])) {
            if (bad < 5)
                printf("  mismatch %s[%zu]: got %.9g want %.9g\n", name, i, got[i], ref[i]);
            bad++;
        }
        if (!finite) d = INFINITY;
        if (d > maxdiff) {
            maxdiff = d;
            worst = i;
        }
    }
    test_report(bad == 0, file, line, "%s n=%zu maxdiff=%.3g worst=%zu atol=%.1g rtol=%.1g%s", name, n, maxdiff,
                worst, atol, rtol, bad ? " (mismatches above)" : "");
    return bad == 0;
}
#define CHECK_CLOSE(name, got, ref, n, atol, rtol) test_close_impl(__FILE__, __LINE__, name, got, ref, n, atol, rtol)

#define TEST_MAIN(name_)                                                                      \
    static void test_body(int argc, char **argv);                                             \
    int main(int argc, char **argv) {                                                         \
        threads_choose_blas_kernels(argv);                                                    \
        test_name = name_;                                                                    \
        test_body(argc, argv);                                                                \
        printf("%s: %d passed, %d failed, %d skipped\n", name_, test_passed, test_failed,    \
               test_skipped);                                                                 \
        return test_failed ? 1 : 0;                                                           \
    }                                                                                         \
    static void test_body(int argc, char **argv)

#endif  // TESTS_TEST_H
