/*
 * fuzz_textgrid: a Praat TextGrid (long text format) through stim_load_textgrid with tier "word": the
 * tokeniser of the format, interval counts and times given as numbers of any size, and the UTF-8 labels
 * that become the story's text.
 */
#include "host/stimulus.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("story.TextGrid", data, size);
    char err[BASE_ERR_LEN] = "";
    Stimulus s;
    int rc = stim_load_textgrid(path, "word", NULL, 0, &s, err);
    fuzz_check_err(rc != 0, err);
    if (rc == 0) stim_free(&s);
    return 0;
}
