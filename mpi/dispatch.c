#include "mpi/dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/base.h"
#include "mpi/comm.h"

enum { TAG_ASK = 1, TAG_REPLY = 2 };

struct Dispatch {
    MPI_Comm comm;          // private duplicate: the server's messages never meet the sweep's
    DispatchPlan plan;
    int rank, size, participant, dynamic;
    volatile const sig_atomic_t *stop_flag;
    // participant side
    long held;              // the unit this rank holds (-1: none yet)
    long prefer;            // the affinity this rank holds (-1: none)
    long *mine;             // static dealing: this rank's units in order
    size_t n_mine, next_mine, my_failed, my_done;
    // server side (rank 0, dynamic)
    pthread_t server;
    int n_participants;
    size_t next, done, failed;
    int stopped;
    // affinity runs: run k is units [run_start[k], run_end[k]), next_in[k] the next not handed out; holders[k] the
    // participants holding it, held_by[rank] the run each holds (-1 none)
    size_t n_runs, *run_start, *run_end, *next_in;
    int *holders;
    long *held_by;
    double done_cost, all_cost, t0, last_line;
};

// ----------------------------------------------------------------------------
// progress (rank 0)

static void fmt_duration(char *out, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(out, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 90) snprintf(out, n, "%lds", t);
    else if (t < 5400) snprintf(out, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(out, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

static void progress_line(const Dispatch *d, int final) {
    double el = base_wall() - d->t0;
    double eta = d->done_cost > 0 ? el * (d->all_cost - d->done_cost) / d->done_cost : -1;
    char e[32], r[32];
    fmt_duration(e, sizeof e, el);
    fmt_duration(r, sizeof r, eta);
    double rate = el > 0 ? (double)d->done / el * 60 : 0;
    if (isatty(fileno(stderr)) && !final)
        fprintf(stderr, "\r\033[K%s: %zu/%zu units, %zu failed, %.1f/min, %s elapsed, ETA %s", d->plan.stage, d->done,
                d->plan.n, d->failed, rate, e, r);
    else
        fprintf(stdout, "[r000 +%.1fs] progress %s: %zu/%zu units, %zu failed, %.1f units/min, %s elapsed%s%s\n",
                base_now(), d->plan.stage, d->done, d->plan.n, d->failed, rate, e, final ? "" : ", ETA ",
                final ? "" : r);
    if (isatty(fileno(stderr)) && final) fprintf(stderr, "\r\033[K");
    fflush(stdout);
    fflush(stderr);
}

static void record(Dispatch *d, long unit, int outcome) {
    if (outcome != DISPATCH_STOPPED) {
        d->done++;
        d->failed += outcome == DISPATCH_FAILED;
        d->done_cost += d->plan.cost ? d->plan.cost[unit] : 1.0;
    }
    if (d->plan.progress_tsv) {
        fprintf(d->plan.progress_tsv, "%.3f\t%s\t%ld\t%s\t%zu\t%zu\n", base_now(), d->plan.stage, unit,
                outcome == DISPATCH_FAILED ? "failed" : outcome == DISPATCH_STOPPED ? "stopped" : "ok", d->done,
                d->plan.n);
        fflush(d->plan.progress_tsv);
    }
}

// ----------------------------------------------------------------------------
// the server thread of rank 0

// the run of units of affinity a (-1 when a holds none)
static long run_of(const Dispatch *d, long a) {
    for (size_t k = 0; a >= 0 && k < d->n_runs; k++)
        if (d->plan.affinity[d->run_start[k]] == a) return (long)k;
    return -1;
}

// the next unit for a participant holding run k (-1: none): k's next unit, else the first of a run no one holds,
// else the first left
static long next_unit(Dispatch *d, long k) {
    if (!d->plan.affinity) return d->next < d->plan.n ? (long)d->next++ : -1;
    long pick = k >= 0 && d->next_in[k] < d->run_end[k] ? k : -1;
    for (size_t j = 0; pick < 0 && j < d->n_runs; j++)
        if (d->next_in[j] < d->run_end[j] && d->holders[j] == 0) pick = (long)j;
    for (size_t j = 0; pick < 0 && j < d->n_runs; j++)
        if (d->next_in[j] < d->run_end[j]) pick = (long)j;
    if (pick < 0) return -1;
    d->next++;
    return (long)d->next_in[pick]++;
}

// participant `who` now holds run k (-1: none)
static void hold(Dispatch *d, int who, long k) {
    if (!d->plan.affinity || d->held_by[who] == k) return;
    if (d->held_by[who] >= 0) d->holders[d->held_by[who]]--;
    if (k >= 0) d->holders[k]++;
    d->held_by[who] = k;
}

static void *serve(void *arg) {
    Dispatch *d = arg;
    int active = d->n_participants;
    double last = base_wall();
    int live = isatty(fileno(stderr));
    while (active > 0) {
        int flag = 0;
        MPI_Status st;
        CHECK_MPI(MPI_Iprobe(MPI_ANY_SOURCE, TAG_ASK, d->comm, &flag, &st));
        if (!flag) {
            if (d->stop_flag && *d->stop_flag) d->stopped = 1;
            double now = base_wall();
            if ((live && now - last > 0.5) ||
                (d->plan.progress_seconds > 0 && now - last > d->plan.progress_seconds)) {
                progress_line(d, 0);
                last = now;
            }
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
            continue;
        }
        long ask[4];  // previous unit (-1 none), its outcome, stop wanted, the affinity held (-1 none)
        CHECK_MPI(MPI_Recv(ask, 4, MPI_LONG, st.MPI_SOURCE, TAG_ASK, d->comm, MPI_STATUS_IGNORE));
        if (ask[0] >= 0) record(d, ask[0], (int)ask[1]);
        if (ask[2]) d->stopped = 1;
        long reply = -1;
        if (d->plan.affinity) hold(d, st.MPI_SOURCE, run_of(d, ask[3]));
        if (!d->stopped) reply = next_unit(d, d->plan.affinity ? d->held_by[st.MPI_SOURCE] : -1);
        if (reply >= 0 && d->plan.affinity) hold(d, st.MPI_SOURCE, run_of(d, d->plan.affinity[reply]));
        CHECK_MPI(MPI_Send(&reply, 1, MPI_LONG, st.MPI_SOURCE, TAG_REPLY, d->comm));
        if (reply < 0) active--;
    }
    return NULL;
}

// ----------------------------------------------------------------------------

Dispatch *dispatch_begin(MPI_Comm comm, const DispatchPlan *plan, int is_participant,
                         volatile const sig_atomic_t *stop_flag) {
    Dispatch *d = base_calloc(1, sizeof *d, "dispatch");
    d->plan = *plan;
    d->stop_flag = stop_flag;
    d->participant = is_participant != 0;
    d->held = -1;
    d->prefer = -1;
    d->t0 = d->last_line = base_wall();
    for (size_t i = 0; i < plan->n; i++) d->all_cost += plan->cost ? plan->cost[i] : 1.0;
    CHECK_MPI(MPI_Comm_dup(comm, &d->comm));
    CHECK_MPI(MPI_Comm_rank(d->comm, &d->rank));
    CHECK_MPI(MPI_Comm_size(d->comm, &d->size));
    int provided = MPI_THREAD_SINGLE;
    CHECK_MPI(MPI_Query_thread(&provided));
    d->dynamic = d->size > 1 && provided == MPI_THREAD_MULTIPLE;

    int *who = base_malloc((size_t)d->size * sizeof(int), "dispatch");
    CHECK_MPI(MPI_Allgather(&d->participant, 1, MPI_INT, who, 1, MPI_INT, d->comm));
    for (int r = 0; r < d->size; r++) d->n_participants += who[r];
    if (!d->dynamic && d->participant) {
        // longest-processing-time dealing: unit i to the participant with the least cost so far
        int me = 0;
        for (int r = 0; r < d->rank; r++) me += who[r];
        double *load = base_calloc((size_t)d->n_participants, sizeof(double), "dispatch");
        d->mine = base_malloc((plan->n ? plan->n : 1) * sizeof(long), "dispatch");
        for (size_t i = 0; i < plan->n; i++) {
            int best = 0;
            for (int p = 1; p < d->n_participants; p++)
                if (load[p] < load[best]) best = p;
            load[best] += plan->cost ? plan->cost[i] : 1.0;
            if (best == me) d->mine[d->n_mine++] = (long)i;
        }
        free(load);
    }
    free(who);
    if (d->dynamic && d->rank == 0 && plan->affinity) {
        d->run_start = base_malloc(3 * (plan->n ? plan->n : 1) * sizeof(size_t), "dispatch");
        d->run_end = d->run_start + (plan->n ? plan->n : 1), d->next_in = d->run_end + (plan->n ? plan->n : 1);
        for (size_t i = 0; i < plan->n; i++) {
            if (i == 0 || plan->affinity[i] != plan->affinity[i - 1]) d->run_start[d->n_runs] = d->next_in[d->n_runs] = i, d->n_runs++;
            d->run_end[d->n_runs - 1] = i + 1;
        }
        for (size_t k = 0; k < d->n_runs; k++)  // one run per affinity: contiguous, as the plan promises
            for (size_t j = 0; j < k; j++) ASSERT(plan->affinity[d->run_start[j]] != plan->affinity[d->run_start[k]]);
        d->holders = base_calloc(d->n_runs ? d->n_runs : 1, sizeof(int), "dispatch");
        d->held_by = base_malloc((size_t)d->size * sizeof(long), "dispatch");
        for (int r = 0; r < d->size; r++) d->held_by[r] = -1;
    }
    if (d->dynamic && d->rank == 0 && pthread_create(&d->server, NULL, serve, d) != 0)
        DIE("the system refused a thread", "cannot start the dispatch thread");
    return d;
}

long dispatch_next(Dispatch *d, int prev_outcome, int want_stop) {
    ASSERT(d->participant);
    if (d->held >= 0) {
        d->my_done += prev_outcome != DISPATCH_STOPPED;
        d->my_failed += prev_outcome == DISPATCH_FAILED;
        if (!d->dynamic && d->rank == 0) {
            record(d, d->held, prev_outcome);
            if (d->plan.progress_seconds > 0 && base_wall() - d->last_line > d->plan.progress_seconds &&
                d->done < d->plan.n) {
                progress_line(d, 0);
                d->last_line = base_wall();
            }
        }
    }
    long next = -1;
    if (d->dynamic) {
        long ask[4] = {d->held, prev_outcome, want_stop, d->prefer};
        CHECK_MPI(MPI_Send(ask, 4, MPI_LONG, 0, TAG_ASK, d->comm));
        CHECK_MPI(MPI_Recv(&next, 1, MPI_LONG, 0, TAG_REPLY, d->comm, MPI_STATUS_IGNORE));
    } else {
        if (want_stop) d->stopped = 1;
        if (!d->stopped && d->next_mine < d->n_mine) next = d->mine[d->next_mine++];
    }
    d->held = next;
    if (next >= 0 && d->plan.affinity) d->prefer = d->plan.affinity[next];
    return next;
}

void dispatch_prefer(Dispatch *d, long affinity) { d->prefer = affinity; }

DispatchTotals dispatch_end(Dispatch *d) {
    DispatchTotals t = {0, 0, 0};
    if (d->dynamic && d->rank == 0) pthread_join(d->server, NULL);
    if (d->dynamic) {
        long v[3] = {(long)d->done, (long)d->failed, d->stopped};
        CHECK_MPI(MPI_Bcast(v, 3, MPI_LONG, 0, d->comm));
        t = (DispatchTotals){(size_t)v[0], (size_t)v[1], (int)v[2]};
    } else {
        long v[3] = {(long)d->my_done, (long)d->my_failed, d->stopped}, sum[3];
        CHECK_MPI(MPI_Allreduce(v, sum, 2, MPI_LONG, MPI_SUM, d->comm));
        CHECK_MPI(MPI_Allreduce(&v[2], &sum[2], 1, MPI_LONG, MPI_MAX, d->comm));
        t = (DispatchTotals){(size_t)sum[0], (size_t)sum[1], (int)sum[2]};
    }
    if (d->rank == 0 && d->plan.n) {
        d->done = t.done, d->failed = t.failed;
        progress_line(d, 1);
    }
    MPI_Comm_free(&d->comm);
    free(d->run_start);
    free(d->holders);
    free(d->held_by);
    free(d->mine);
    free(d);
    return t;
}
