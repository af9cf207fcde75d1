/*
 * fuzz_word_table: a word table through stim_load_table with the default word/onset/offset columns: quoting,
 * ragged rows, numbers that do not parse, and the words that become the story's text. The reader picks the
 * separator by extension, so the input is named .csv when its first line has a comma and no tab (else .tsv)
 * and one corpus covers both.
 */
#include "host/stimulus.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    int csv = memchr(data, ',', first) && !memchr(data, '\t', first);
    const char *path = fuzz_file(csv ? "words.csv" : "words.tsv", data, size);
    char err[BASE_ERR_LEN] = "";
    StimOptions opt = {0};
    Stimulus s;
    int rc = stim_load_table(path, &opt, &s, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) stim_free(&s);
    return 0;
}
