#include "mpi/sweep.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/base.h"
#include "host/config.h"
#include "host/log.h"
#include "host/threads.h"
#include "mpi/comm.h"
#include "mpi/sweep_extract.h"
#include "mpi/sweep_fit.h"
#include "mpi/sweep_inputs.h"
#include "mpi/sweep_state.h"
#include "mpi/sweep_targets.h"
#include "mpi/sweep_write.h"

// ----------------------------------------------------------------------------
// stop signals: SIGTERM and SIGUSR1 (what Slurm sends before a time limit) ask every rank to leave at
// the next batch of its extraction or the next step of its fits (base_stop_signal); finished units
// are already in the store, the unit in hand is dropped and redone by the rerun

static void on_stop_signal(int sig) { base_stop_signal = sig; }

static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);  // a file-size limit becomes a write error with a message, not a silent death
}

// ----------------------------------------------------------------------------
// helpers

// ranks x threads = cores of the node, unless the user chose
static void set_threads(int threads) {
    if (threads <= 0 && (getenv("OMP_NUM_THREADS") || comm_size() == 1)) {
        threads_init(0);
        return;
    }
    if (threads <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN), local = comm_node_ranks();
        threads = (int)(cores / local > 0 ? cores / local : 1);
    }
    threads_init(threads);
}

// ----------------------------------------------------------------------------
// the sweep

// --only-model and --only-context by name, against the config
static int resolve_share(Sweep *s, const SweepOptions *opt, char *err) {
    const SweepConfig *c = &s->cfg;
    s->only_m = s->only_c = -1;
    for (size_t m = 0; opt->only_model && m < c->n_models; m++)
        if (strcmp(c->models[m].name, opt->only_model) == 0) s->only_m = (long)m;
    for (size_t ci = 0; opt->only_context && ci < c->contexts.n; ci++)
        if (strcmp(c->contexts.items[ci], opt->only_context) == 0) s->only_c = (long)ci;
    if (opt->only_model && s->only_m < 0)
        return base_errf(err, "%s: --only-model %s: no model of that name under models:", c->source, opt->only_model);
    if (opt->only_context && s->only_c < 0)
        return base_errf(err, "%s: --only-context %s: not one of context.policy", c->source, opt->only_context);
    return 0;
}

// --only-subject by label ("sub-01" or "01"), once the subjects and their groups are known: the group holding it
static int resolve_subject(Sweep *s, const char *subject, char *err) {
    s->only_g = -1;
    if (!subject) return 0;
    char want[80];
    snprintf(want, sizeof want, "%s%.70s", strncmp(subject, "sub-", 4) == 0 ? "" : "sub-", subject);
    for (size_t si = 0; si < s->S && s->only_g < 0; si++)
        if (strcmp(s->rec[si].subject, subject) == 0 || strcmp(s->rec[si].subject, want) == 0) s->only_g = (long)(si / s->group);
    if (s->only_g < 0)
        return base_errf(err, "%s: --only-subject %s: no subject of that name among the sweep's %zu", s->cfg.source,
                         subject, s->S);
    size_t first, n;
    sweep_group_subjects(s, (size_t)s->only_g, &first, &n);
    if (n > 1)
        log0("--only-subject %s: its subject group %ld holds subjects %s to %s (run.group_gib %g), all fitted by this "
             "run",
             subject, s->only_g, s->rec[first].subject, s->rec[first + n - 1].subject, s->cfg.group_gib);
    return 0;
}

// (layer, group) fits in the store's map: all of them (or this run's selection), and those done
static void count_fits(Sweep *s, int selected_only, size_t *all, size_t *done, size_t *failed) {
    *all = *done = 0;
    if (failed) *failed = 0;
    for (size_t m = 0; m < s->M; m++)
        for (size_t ci = 0; ci < s->C; ci++)
            for (size_t g = 0; g < s->G; g++) {
                if (selected_only && (!sweep_selected(s, m, ci) || !sweep_group_selected(s, g))) continue;
                for (size_t h = 0; h < sweep_layers(s, m); h++) {
                    int8_t st = *sweep_status(s, m, ci, h, g);
                    (*all)++, *done += st == UNIT_DONE;
                    if (failed) *failed += st == UNIT_FAILED;
                }
            }
}

// --no-results: this run's units are in the store for a later run to write; exit 3 when some failed
static int report_share(Sweep *s) {
    sweep_scan_store(s, NULL, NULL);
    size_t done, failed, all;
    count_fits(s, 1, &all, &done, &failed);
    log0("no results file (--no-results): %zu of this run's %zu layer fits done, %zu failed, kept in %s; the same "
         "command without --only-model, --only-context, --only-subject and --no-results writes the results",
         done, all, failed, s->store.dir);
    return failed ? SWEEP_EXIT_FAILED_UNITS : SWEEP_EXIT_OK;
}

static FILE *open_rank_log(const char *dir) {
    char path[CFG_STR + 32];
    snprintf(path, sizeof path, "%s/rank-%03d.log", dir, comm_rank());
    FILE *f = base_mkdirs(dir) == 0 ? fopen(path, "a") : NULL;
    if (!f) log_warn("run.log_dir: cannot open %s: %s; this rank keeps no log file", path, strerror(errno));
    return f;
}

int sweep_run(const SweepOptions *opt) {
    Sweep s;
    memset(&s, 0, sizeof s);
    sweep_targets_release(&s);  // holds no group
    char err[BASE_ERR_LEN] = "";
    double stage[N_STAGES] = {0}, t = base_wall(), t_all = t;
    int rc = 1;
    FILE *rank_log = NULL;

    if (!sweep_all_ok(config_load(opt->config_path, opt->overrides, opt->n_overrides, &s.cfg, err) != 0, err)) return 1;
    if (!sweep_all_ok(resolve_share(&s, opt, err) != 0, err)) goto done;
    if (s.cfg.log_dir[0] && !opt->dry_run) {
        rank_log = open_rank_log(s.cfg.log_dir);
        log_copy_to(rank_log);
    }
    s.dry_run = opt->dry_run;
    set_threads(s.cfg.threads);
    sweep_extract_budget(s.cfg.max_weight_gib);
    if (!sweep_all_ok(sweep_inputs_backend(&s, err) != 0, err)) goto done;
    if (!sweep_all_ok(sweep_inputs_load(&s, err) != 0, err)) goto done;
    if (!sweep_all_ok(sweep_inputs_targets(&s, err) != 0, err)) goto done;
    if (!sweep_all_ok(resolve_subject(&s, opt->only_subject, err) != 0, err)) goto done;
    sweep_inputs_banner(&s);
    stage[STAGE_INPUTS] = base_wall() - t;
    if (opt->dry_run) {
        log0("dry run: every input is valid; nothing written (%s)", s.cfg.output);
        rc = 0;
        goto done;
    }

    char *identity_text;
    sweep_inputs_identity(&s, &identity_text);
    store_init(&s.store, s.cfg.output, strtoull(s.identity, NULL, 16), s.S, s.R, s.cfg.save_weights ? s.P_max : 0,
               s.group);
    s.store_made = comm_rank() == 0 && !base_file_exists(s.store.dir);
    if (comm_rank() == 0 && store_prepare(&s.store, identity_text))
        log0("%s was left by another sweep (its config or inputs differ): emptied", s.store.dir);
    free(identity_text);
    comm_barrier();
    install_signals();
    s.status = base_calloc(s.M * s.C * s.H * s.G, 1, "unit status");
    s.extracted = base_calloc(s.M * s.C, sizeof(ResultsExtraction), "extract stats");
    sweep_scan_store(&s, NULL, NULL);
    log0("unit store %s (sweep identity %s)", s.store.dir, s.identity);
    if (opt->prepare) {
        log0("prepared (--prepare): inputs checked, unit store ready; no unit run");
        rc = 0;
        goto done;
    }

    t = base_wall();
    int stopped = sweep_extract_run(&s);
    stage[STAGE_EXTRACT] = base_wall() - t;
    if (stopped < 0) goto done;
    t = base_wall();
    if (!stopped) {
        sweep_scan_store(&s, NULL, NULL);
        stopped = sweep_fit_run(&s);
    }
    stage[STAGE_FIT] = base_wall() - t;
    if (stopped) {
        comm_barrier();
        sweep_scan_store(&s, NULL, NULL);
        size_t done, all;
        count_fits(&s, 0, &all, &done, NULL);
        log0("stopped by a signal: %zu of %zu layer fits done and kept in %s; rerun the same command to finish "
             "(exit status %d)",
             done, all, s.store.dir, SWEEP_EXIT_INTERRUPTED);
        rc = SWEEP_EXIT_INTERRUPTED;
        goto done;
    }
    if (opt->no_results) {
        rc = report_share(&s);
        goto done;
    }

    size_t failed = sweep_write_run(&s, stage, t_all);
    if (failed == 0 && comm_rank() == 0) store_remove(&s.store);
    size_t left_out = 0;
    for (size_t i = 0; i < s.ieeg.n_subjects; i++) left_out += s.ieeg.error[i][0] != '\0';
    if (left_out)
        log0("%zu subject(s) left out of the iEEG recordings (their reasons above; the others' results are complete)",
             left_out);
    rc = failed || left_out ? SWEEP_EXIT_FAILED_UNITS : 0;
done:
    log_copy_to(NULL);
    if (rank_log) fclose(rank_log);
    sweep_free(&s);
    return rc;
}

int sweep_ieeg(const SweepOptions *opt) {
    SweepConfig cfg;
    char err[BASE_ERR_LEN];
    if (config_load(opt->config_path, opt->overrides, opt->n_overrides, &cfg, err)) {
        fprintf(stderr, "ERROR %s\n", err);
        return SWEEP_EXIT_ERROR;
    }
    int rc = SWEEP_EXIT_ERROR;
    Stimulus st;
    IeegResponses r;
    memset(&r, 0, sizeof r);
    if (cfg.rec_format != REC_IEEG) {
        snprintf(err, sizeof err, "%.400s: recordings.format is not ieeg", cfg.source);
    } else if (stim_load(cfg.stimulus_file, &cfg.stim, &st, err) == 0) {
        set_threads(cfg.threads);  // run.threads, or the node's cores shared by its ranks, as in a sweep
        if (sweep_inputs_ieeg_responses(&cfg, &st, opt->dry_run, &r, err) == 0) {
            size_t left_out = 0;
            for (size_t i = 0; i < r.n_subjects; i++) left_out += r.error[i][0] != '\0';
            rc = left_out ? SWEEP_EXIT_FAILED_UNITS : SWEEP_EXIT_OK;
        }
        stim_free(&st);
    }
    if (rc == SWEEP_EXIT_ERROR) fprintf(stderr, "ERROR %s\n", err);
    ieeg_free(&r);
    config_free(&cfg);
    return rc;
}
