// mpi/dispatch: every unit handed out exactly once, in the order given (the sweep puts the costliest first, so
// they start first); outcomes counted (failed, stopped); a stop request ends the hand-out everywhere; the progress
// TSV has a row per finished unit; with affinities, a rank starts on the run it holds. On one rank (MPI_COMM_SELF) the dealing is static; on MPI_COMM_WORLD under
// mpirun -n 2 it is the server's (or, where MPI lacks MPI_THREAD_MULTIPLE, static longest-processing-time dealing,
// checked against the dealing worked by hand).
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "mpi/dispatch.h"
#include "tests/mpi/ranks.h"
#include "tests/test.h"

enum { N = 9 };
// costliest first, as the sweep orders them
static const double COST[N] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static DispatchPlan plan_of(const char *stage, size_t n, FILE *tsv) {
    return (DispatchPlan){.stage = stage, .cost = COST, .n = n, .progress_seconds = 0, .progress_tsv = tsv};
}

// one rank alone: units 0..n-1 in order, unit 3 failing; the totals and the progress rows
static void one_rank(void) {
    FILE *tsv = tmpfile();
    DispatchPlan p = plan_of("extract", N, tsv);
    Dispatch *d = dispatch_begin(MPI_COMM_SELF, &p, 1, NULL);
    long got[N + 1], u;
    size_t n = 0;
    int outcome = DISPATCH_OK;
    while ((u = dispatch_next(d, outcome, 0)) >= 0 && n <= N) {
        got[n++] = u;
        outcome = u == 3 ? DISPATCH_FAILED : DISPATCH_OK;
    }
    DispatchTotals t = dispatch_end(d);
    int in_order = n == N;
    for (size_t i = 0; in_order && i < n; i++) in_order = got[i] == (long)i;
    CHECK(in_order, "one_rank/units_0_to_8_in_the_order_given (%zu handed out)", n);
    CHECK(t.done == N && t.failed == 1 && !t.stopped, "one_rank/totals_9_done_1_failed (%zu, %zu, %d)", t.done,
          t.failed, t.stopped);
    CHECK(u == -1, "one_rank/minus_1_when_none_left");

    // the TSV: time, stage, unit, outcome, done, total
    rewind(tsv);
    char line[256], stage[32], what[32];
    size_t rows = 0, bad = 0;
    double when;
    long unit;
    size_t done, total;
    while (tsv && fgets(line, sizeof line, tsv)) {
        int k = sscanf(line, "%lf\t%31s\t%ld\t%31s\t%zu\t%zu", &when, stage, &unit, what, &done, &total);
        const char *want = unit == 3 ? "failed" : "ok";
        if (k != 6 || strcmp(stage, "extract") || unit != (long)rows || strcmp(what, want) || done != rows + 1 ||
            total != N)
            bad++;
        rows++;
    }
    CHECK(tsv && rows == N && bad == 0, "one_rank/progress_tsv_row_per_unit (%zu rows, %zu wrong)", rows, bad);
    if (tsv) fclose(tsv);

    // a stop request: the unit held when it comes is counted, no unit after it is handed out
    p = plan_of("fit", N, NULL);
    d = dispatch_begin(MPI_COMM_SELF, &p, 1, NULL);
    long a = dispatch_next(d, DISPATCH_OK, 0), b = dispatch_next(d, DISPATCH_OK, 0);
    long c = dispatch_next(d, DISPATCH_OK, 1);
    long after = dispatch_next(d, DISPATCH_OK, 0);
    t = dispatch_end(d);
    CHECK(a == 0 && b == 1 && c == -1 && after == -1, "one_rank/stop_ends_the_hand_out (%ld %ld %ld %ld)", a, b, c,
          after);
    CHECK(t.done == 2 && t.stopped, "one_rank/stop_counts_units_finished_before_it (%zu done, stopped %d)", t.done,
          t.stopped);

    // a unit left unfinished by a stop counts neither as done nor as failed
    d = dispatch_begin(MPI_COMM_SELF, &p, 1, NULL);
    a = dispatch_next(d, DISPATCH_OK, 0);
    b = dispatch_next(d, DISPATCH_STOPPED, 1);
    t = dispatch_end(d);
    CHECK(a == 0 && b == -1 && t.done == 0 && t.failed == 0 && t.stopped, "one_rank/stopped_unit_not_counted (%zu)",
          t.done);

    // nothing to hand out
    p = plan_of("fit", 0, NULL);
    d = dispatch_begin(MPI_COMM_SELF, &p, 1, NULL);
    a = dispatch_next(d, DISPATCH_OK, 0);
    t = dispatch_end(d);
    CHECK(a == -1 && t.done == 0, "one_rank/no_units");
}

// every rank of MPI_COMM_WORLD takes units until none are left; rank 0 checks the union
static void world(void) {
    int size = comm_size(), rank = comm_rank(), provided;
    MPI_Query_thread(&provided);
    int dynamic = size > 1 && provided == MPI_THREAD_MULTIPLE;
    DispatchPlan p = plan_of("fit", N, NULL);
    Dispatch *d = dispatch_begin(MPI_COMM_WORLD, &p, 1, NULL);
    // every rank holds its first unit before any asks again, so the first units are the first requests'
    long mine[N + 1], u = dispatch_next(d, DISPATCH_OK, 0);
    int n = 0;
    MPI_Barrier(MPI_COMM_WORLD);
    for (; u >= 0 && n <= N; u = dispatch_next(d, u == 5 ? DISPATCH_FAILED : DISPATCH_OK, 0)) mine[n++] = u;
    DispatchTotals t = dispatch_end(d);
    for (int i = n; i <= N; i++) mine[i] = -1;
    long *all = comm_rank() == 0 ? malloc(sizeof(long) * (size_t)(N + 1) * (size_t)size) : NULL;
    MPI_Gather(mine, N + 1, MPI_LONG, all, N + 1, MPI_LONG, 0, MPI_COMM_WORLD);
    long tot[3] = {(long)t.done, (long)t.failed, t.stopped}, tot_max[3], tot_min[3];
    MPI_Reduce(tot, tot_max, 3, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(tot, tot_min, 3, MPI_LONG, MPI_MIN, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        int times[N] = {0}, increasing = 1, firsts = 0, busy = 0;
        for (int r = 0; r < size; r++) {
            const long *l = all + (size_t)r * (N + 1);
            busy += l[0] >= 0;
            firsts += l[0] == 0 || l[0] == 1;
            for (int i = 0; i <= N && l[i] >= 0; i++) {
                if (l[i] < N) times[l[i]]++;
                if (i > 0 && l[i] <= l[i - 1]) increasing = 0;
            }
        }
        int once = 1;
        for (int i = 0; i < N; i++) once &= times[i] == 1;
        printf("# %d rank(s), %s dealing\n", size, dynamic ? "dynamic (server thread)" : "static");
        CHECK(once, "world/every_unit_handed_out_exactly_once");
        CHECK(increasing, "world/each_rank_gets_its_units_in_the_order_given");
        CHECK(tot_max[0] == N && tot_min[0] == N && tot_max[1] == 1 && tot_min[1] == 1 && tot_max[2] == 0,
              "world/same_totals_on_every_rank (done %ld..%ld, failed %ld..%ld)", tot_min[0], tot_max[0], tot_min[1],
              tot_max[1]);
        if (size < 2) {
            SKIP_UNLESS_CI("world/two_ranks", "one rank: run under mpirun -n 2 (tests/run.sh does)");
        } else if (dynamic) {
            // the first two requests get the two costliest units, whichever rank asks first
            CHECK(firsts == 2 && busy == 2, "world/the_two_costliest_units_start_first");
        } else {
            // longest-processing-time dealing of costs 9..1 over two ranks, by hand (a tie goes to rank 0):
            // 9 to r0 | 8, 7 to r1 (15) | 6 to r0 (15) | 5 to r0 (tie, 20) | 4, 3 to r1 (22) | 2, 1 to r0 (23)
            const long want0[] = {0, 3, 4, 7, 8, -1}, want1[] = {1, 2, 5, 6, -1};
            CHECK(memcmp(all, want0, sizeof want0) == 0 && memcmp(all + N + 1, want1, sizeof want1) == 0,
                  "world/static_dealing_longest_processing_time_first");
        }
    }
    free(all);

    // a stop asked by the last rank once every rank holds a unit: its request gets -1 though units are left, and
    // every rank's totals say stopped; under the server every later request gets -1 too (static dealing sends no
    // messages: there each rank stops at its own request, and a signal reaches every rank)
    d = dispatch_begin(MPI_COMM_WORLD, &p, 1, NULL);
    long first = dispatch_next(d, DISPATCH_OK, 0), after = -1;
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == size - 1) after = dispatch_next(d, DISPATCH_OK, 1);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank != size - 1) after = dispatch_next(d, DISPATCH_OK, 0);
    t = dispatch_end(d);
    long ok = first >= 0 && (after == -1 || (!dynamic && rank != size - 1)) && t.stopped && t.done == (size_t)size,
         all_ok;
    MPI_Reduce(&ok, &all_ok, 1, MPI_LONG, MPI_MIN, 0, MPI_COMM_WORLD);
    if (rank == 0) CHECK(all_ok == 1, "world/stop_ends_the_hand_out_on_every_rank");
}

// affinity under the server: runs 3 (units 0-1), 5 (2-4) and 7 (5-8); rank 0 holds 7 and rank 1 holds 5 before any
// unit, so each one's first unit is the first of its own run whichever asks first, and every unit still goes out
// exactly once
static void affinity(void) {
    int size = comm_size(), rank = comm_rank(), provided;
    MPI_Query_thread(&provided);
    static const long AFF[N] = {3, 3, 5, 5, 5, 7, 7, 7, 7};
    DispatchPlan p = plan_of("fit", N, NULL);
    p.affinity = AFF;
    Dispatch *d = dispatch_begin(MPI_COMM_WORLD, &p, 1, NULL);
    dispatch_prefer(d, rank == 0 ? 7 : rank == 1 ? 5 : -1);
    long mine[N + 1], u;
    int n = 0;
    while ((u = dispatch_next(d, DISPATCH_OK, 0)) >= 0 && n <= N) mine[n++] = u;
    dispatch_end(d);
    for (int i = n; i <= N; i++) mine[i] = -1;
    long *all = rank == 0 ? malloc(sizeof(long) * (size_t)(N + 1) * (size_t)size) : NULL;
    MPI_Gather(mine, N + 1, MPI_LONG, all, N + 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        int times[N] = {0}, once = 1;
        for (int r = 0; r < size; r++)
            for (int i = 0; i <= N && all[(size_t)r * (N + 1) + i] >= 0; i++) times[all[(size_t)r * (N + 1) + i]]++;
        for (int i = 0; i < N; i++) once &= times[i] == 1;
        CHECK(once, "affinity/every_unit_handed_out_exactly_once");
        if (size != 2 || provided != MPI_THREAD_MULTIPLE)
            SKIP_UNLESS_CI("affinity/each_rank_starts_on_its_own_run", "needs the server: mpirun -n 2 (tests/run.sh)");
        else
            CHECK(all[0] == 5 && all[N + 1] == 2, "affinity/each_rank_starts_on_its_own_run (rank 0: %ld, rank 1: %ld)",
                  all[0], all[N + 1]);
    }
    free(all);
}

TEST_MAIN("test_dispatch") {
    ranks_begin(&argc, &argv);
    if (comm_rank() == 0) one_rank();
    world();
    affinity();
    MPI_Finalize();
}
