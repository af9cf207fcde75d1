// host/plan: the cost model's fit times against the table of docs/slurm.md ("The cost model"), worked by hand at the
// calibration point and its documented neighbours; and plan_run on a small config (two models, two contexts; a
// stand-in sinfo with one partition): the layer fits counted, the array's unit lists per model and per model x
// context, and a refused run that writes nothing. tests/e2e/test_plan.sh covers the command line and the scripts.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/plan.h"
#include "tests/mpi/ranks.h"
#include "tests/test.h"

static void close_to(const char *name, double got, double want) {
    CHECK(fabs(got - want) <= 1e-12 * fabs(want), "cost/%s (%.12g, by hand %.12g)", name, got, want);
}

static void cost_model(void) {
    // ridge: 0.50 s x (0.85 + 0.15 V/5000) x (0.174 + 0.133 r + 0.693 r^2), r = width/500, x (0.8 + 0.2 T/1000)
    // x 3.5 (nested alphas) x folds/5; every factor is 1 at the calibration point (5,000 x 500 x 1,000, 5 folds)
    close_to("ridge_calibration_point", plan_ridge_seconds(5000, 500, 1000, 0, 5), 0.5);
    close_to("ridge_nested_alphas_x3.5", plan_ridge_seconds(5000, 500, 1000, 1, 5), 1.75);
    close_to("ridge_10_folds_x2", plan_ridge_seconds(5000, 500, 1000, 0, 10), 1.0);
    close_to("ridge_40000_samples", plan_ridge_seconds(40000, 500, 1000, 0, 5), 0.5 * 2.05);
    close_to("ridge_2000_columns", plan_ridge_seconds(5000, 2000, 1000, 0, 5), 0.5 * (0.174 + 0.532 + 11.088));
    close_to("ridge_125_columns", plan_ridge_seconds(5000, 125, 1000, 0, 5), 0.5 * (0.174 + 0.03325 + 0.0433125));
    close_to("ridge_20000_targets", plan_ridge_seconds(5000, 500, 20000, 0, 5), 0.5 * 4.8);
    // PCA: (3.4 s x V/5000 x (d/4096)^2 + 4.0 s x (d/4096)^3) x route (1, 0.68, 3.86, 3.37); 7.4 s at the
    // calibration point, where docs/PERFORMANCE.md measured 7.36, 5.01, 28.4 and 24.8 s
    close_to("pca_exact_all_words", plan_pca_seconds(5000, 4096, 0, 0), 7.4);
    close_to("pca_randomized", plan_pca_seconds(5000, 4096, 0, 1), 7.4 * 0.68);
    close_to("pca_per_fold", plan_pca_seconds(5000, 4096, 1, 0), 7.4 * 3.86);
    close_to("pca_per_fold_randomized", plan_pca_seconds(5000, 4096, 1, 1), 7.4 * 3.37);
    close_to("pca_half_width_twice_the_words", plan_pca_seconds(10000, 2048, 0, 0), 3.4 * 2 / 4 + 4.0 / 8);
    double measured[4] = {7.36, 5.01, 28.4, 24.8};
    int within = 1;
    for (int k = 0; k < 4; k++) within &= fabs(plan_pca_seconds(5000, 4096, k / 2, k % 2) / measured[k] - 1) < 0.02;
    CHECK(within, "cost/pca_routes_within_2%%_of_the_measured_times");
}

// plan_run with its stdout and stderr in log; the exit status
static int run_plan(const PlanOptions *o, const char *log) {
    fflush(stdout);
    fflush(stderr);
    int out = dup(fileno(stdout)), err = dup(fileno(stderr));
    FILE *f = fopen(log, "w");
    if (out < 0 || err < 0 || !f) return -1;
    dup2(fileno(f), fileno(stdout));
    dup2(fileno(f), fileno(stderr));
    fclose(f);
    int rc = plan_run(o);
    fflush(stdout);
    fflush(stderr);
    dup2(out, fileno(stdout));
    dup2(err, fileno(stderr));
    close(out);
    close(err);
    return rc;
}

static int file_has(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static int file_is(const char *path, const char *text) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strcmp(buf, text) == 0;
}

static void small_config(const char *dir) {
    char path[600], cmd[2048], bin[600], env[2400];
    // a one-partition cluster: the line sinfo prints for plan's format (partition|gres|cores|MB|limit|nodes)
    snprintf(bin, sizeof bin, "%s/bin", dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && printf '#!/bin/sh\\necho \"debug*|(null)|4|8000|1:00:00|2\"\\n' > '%s/sinfo' && "
             "chmod +x '%s/sinfo'",
             bin, bin, bin);
    CHECK(system(cmd) == 0, "setup/stand_in_sinfo");
    snprintf(env, sizeof env, "%s:%s", bin, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", env, 1);
    snprintf(path, sizeof path, "%s/two.yaml", dir);
    snprintf(cmd, sizeof cmd,
             "{ echo 'models:'; echo '  - {name: a, path: data/models/stories260K.gguf}';"
             " echo '  - {name: b, path: tests/fixtures/stories260K-3layers.gguf}';"
             " sed -n '/^stimulus:/,$p' jobs/presets/test-stories260k.yaml; } > '%s'",
             path);
    CHECK(system(cmd) == 0, "setup/config_of_two_models");

    char out[700], log[700], units[800], output[700];
    snprintf(output, sizeof output, "output.path=%s/results/results.h5", dir);
    const char *over[2] = {output, "context.policy=[full, \"tokens:8\"]"};
    PlanOptions o = {path, over, 2, 0, 0, 0, NULL, out, 0};
    snprintf(out, sizeof out, "%s/per-model", dir);
    snprintf(log, sizeof log, "%s/per-model.log", dir);
    int rc = run_plan(&o, log);
    CHECK(rc == 0, "per_model/exit_0");
    // hidden states 0..5 and 0..3, under two contexts
    CHECK(file_has(log, "  20 layer fits"), "per_model/layer_fits_(5+1+3+1)x2");
    CHECK(file_has(log, "partition debug: 2 node(s) of 4 cores, 8 GiB, 0 GPU(s); time limit set"),
          "per_model/partition_from_sinfo");
    CHECK(file_has(log, "on 1 node(s) x 2 rank(s) x 2 thread(s) = 4 cores"), "per_model/two_ranks_of_half_the_cores");
    snprintf(units, sizeof units, "%s/units.tsv", out);
    char want[1024];
    snprintf(want, sizeof want, "# array tasks of %s: model <tab> context (* = every context)\na\t*\nb\t*\n", path);
    CHECK(file_is(units, want), "per_model/units_tsv_one_task_per_model");

    o.per_context = 1;
    snprintf(out, sizeof out, "%s/per-context", dir);
    snprintf(log, sizeof log, "%s/per-context.log", dir);
    rc = run_plan(&o, log);
    snprintf(units, sizeof units, "%s/units.tsv", out);
    snprintf(want, sizeof want,
             "# array tasks of %s: model <tab> context (* = every context)\n"
             "a\tfull\na\ttokens:8\nb\tfull\nb\ttokens:8\n",
             path);
    CHECK(rc == 0 && file_is(units, want), "per_context/units_tsv_one_task_per_model_and_context");
    snprintf(units, sizeof units, "%s/array.sh", out);
    CHECK(file_has(units, "--array=0-3 "), "per_context/array_of_4_tasks");

    // more nodes than the partition has: status 1, the reason, nothing written
    o.nodes = 3;
    snprintf(out, sizeof out, "%s/refused", dir);
    snprintf(log, sizeof log, "%s/refused.log", dir);
    rc = run_plan(&o, log);
    struct stat sb;
    CHECK(rc == 1 && stat(out, &sb) != 0, "refused/more_nodes_than_the_partition_exit_1_nothing_written");
    CHECK(file_has(log, "brainsweep plan: ERROR partition debug has 2 node(s), but the plan asks for 3"),
          "refused/one_message_naming_the_partition");
    snprintf(output, sizeof output, "%s/results", dir);
    CHECK(stat(output, &sb) != 0, "refused/no_output_folder_made_by_any_run");
}

TEST_MAIN("test_plan") {
    ranks_begin(&argc, &argv);  // plan is one process: rank 0 runs everything
    char dir[256];
    ranks_tmpdir(dir, sizeof dir, "bs-plan");
    if (comm_rank() == 0) {
        cost_model();
        small_config(dir);
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) printf("# could not remove %s\n", dir);
    }
    MPI_Finalize();
}
