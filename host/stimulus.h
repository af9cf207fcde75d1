/*
 * stimulus: the words a listener heard, with their times, and the text a model reads.
 *
 * Reads a Praat TextGrid (long or short text format, UTF-8 or UTF-16 with BOM: the intervals of one
 * tier) or a table of words (.tsv or .csv with a header: a word column and onset/offset columns in
 * seconds, e.g. the Podcast transcript or Le Petit Prince's word list). Pauses ("sp", "sil") and
 * empty words are dropped; words are trimmed and NFC-normalised (utf8proc). The text is the words
 * joined by single spaces, except that clitics split off by forced aligners ("'s", "'ll", "n't",
 * ...) attach to the word before ("what 's" -> "what's"); with leading_space it starts with one
 * space, as GPT-2-style pipelines feed text. Each word keeps its byte range in that text, which is
 * how words meet tokens (tokenizer.h) and how hidden states get a time. Times are one clock: finite,
 * from 0 s, each word's offset at or after its onset and onsets in order (a table of several runs
 * that each restart at 0 s is refused, naming the line; give each run its own clock or file).
 *
 * Ownership: Stimulus owns its arrays; stim_free releases them. Errors: the readers return -1 and
 * fill err with the file name, the line and the problem (missing tier, malformed file, times out of
 * order, no words), quoting file bytes through base_escape.
 */
#ifndef HOST_STIMULUS_H
#define HOST_STIMULUS_H

#include <stddef.h>

typedef struct {
    size_t n_words;     // W
    char **label;       // (W) the word as written in the TextGrid, trimmed and NFC-normalised
    double *onset;      // (W) seconds, the TextGrid's clock
    double *offset;     // (W)
    size_t *start;      // (W) byte range of the word in text
    size_t *end;        // (W)
    char *text;         // NUL-terminated
    size_t text_len;
    double t_min, t_max;  // extent of the tier
} Stimulus;

typedef struct {
    const char *tier;            // TextGrid: the tier of words ("word")
    const char *word_column;     // tables: NULL = "word"
    const char *onset_column;    // tables: NULL = "onset", else "start"
    const char *offset_column;   // tables: NULL = "offset", else "end"
    const char *const *skip;     // labels that mark pauses (after trimming); NULL = {"sp", "sil", ""}
    size_t n_skip;
    int leading_space;           // the text starts with a space
} StimOptions;

// by the file's extension: .TextGrid (any case), else a table (.tsv: tabs, .csv: commas)
int stim_load(const char *path, const StimOptions *opt, Stimulus *out, char *err);

// skip: labels that mark pauses (compared after trimming); NULL/0 means {"sp", "sil", ""}.
int stim_load_textgrid(const char *path, const char *tier, const char *const *skip, size_t n_skip, Stimulus *out,
                       char *err);
int stim_load_table(const char *path, const StimOptions *opt, Stimulus *out, char *err);
void stim_free(Stimulus *s);

// 1 if a word attaches to the previous one without a space (a clitic such as "'s" or "n't")
int stim_is_clitic(const char *word);

#endif  // HOST_STIMULUS_H
