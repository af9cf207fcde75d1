/*
 * fuzz_yaml_config: a sweep config (YAML) through config_load, the typed parameter table with its bounds,
 * enum values, lists and unknown-key suggestions. Config files are written by hand, so duplicated sections,
 * wrong node kinds (a list where a map belongs), anchors and aliases all reach this parser.
 */
#include "host/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("sweep.yaml", data, size);
    char err[BASE_ERR_LEN] = "";
    SweepConfig cfg;
    int rc = config_load(path, NULL, 0, &cfg, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) {
        free(config_resolved_yaml(&cfg));
        config_free(&cfg);
    }
    return 0;
}
