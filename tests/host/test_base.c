// host/base: quotes of file bytes made safe to print (base_escape).
#include <string.h>

#include "host/base.h"
#include "tests/test.h"

// escape src (n bytes) into a buffer of dstlen bytes and compare with want
static void check_escape(const char *name, const char *src, size_t n, size_t dstlen, const char *want) {
    char dst[256];
    memset(dst, 'Z', sizeof dst);
    const char *got = base_escape(dst, dstlen, src, n);
    // the bytes after the NUL up to dstlen stay untouched only if nothing was written past the limit
    int in_bounds = dst[sizeof dst - 1] == 'Z' && strlen(dst) < dstlen;
    CHECK(got == dst && in_bounds && strcmp(dst, want) == 0, "escape/%s  got '%s' want '%s'", name, dst, want);
}

static void check_escapes(void) {
    check_escape("printable_ascii_unchanged", "layer.0.weight", 14, 64, "layer.0.weight");
    check_escape("empty", "", 0, 8, "");
    check_escape("control_bytes_as_hex", "a\nb\x1b[31m\x7f", 9, 64, "a\\x0ab\\x1b[31m\\x7f");
    check_escape("embedded_nul_as_hex", "ab\0cd", 5, 64, "ab\\x00cd");
    check_escape("backslash_doubled", "a\\x41", 5, 64, "a\\\\x41");
    check_escape("utf8_kept", "caf\xc3\xa9 \xe2\x80\x99s \xf0\x9f\x98\x80", 15, 64,
                 "caf\xc3\xa9 \xe2\x80\x99s \xf0\x9f\x98\x80");
    check_escape("invalid_utf8_as_hex", "\xff\xc3(\xe2\x80", 5, 64, "\\xff\\xc3(\\xe2\\x80");
    check_escape("overlong_utf8_as_hex", "\xc0\xaf\xe0\x80\xaf", 5, 64, "\\xc0\\xaf\\xe0\\x80\\xaf");
    check_escape("surrogate_as_hex", "\xed\xa0\x80", 3, 64, "\\xed\\xa0\\x80");
    check_escape("c1_control_as_hex", "\xc2\x85", 2, 64, "\\xc2\\x85");
    check_escape("bidi_override_as_hex", "a\xe2\x80\xaez", 5, 64, "a\\xe2\\x80\\xaez");
    // truncation: dstlen 8 holds 7 characters
    check_escape("fits_exactly_no_dots", "abcdefg", 7, 8, "abcdefg");
    check_escape("one_too_many_dots", "abcdefgh", 8, 8, "abcd...");
    check_escape("escape_not_cut_in_half", "abc\x01xyz", 7, 8, "abc...");
    check_escape("utf8_kept_before_dots", "a\xe2\x80\x99xyzw", 8, 8, "a\xe2\x80\x99...");
    check_escape("utf8_not_cut_in_half", "ab\xe2\x80\x99xyz", 8, 8, "ab...");
    check_escape("smallest_buffer", "abcdef", 6, 4, "...");

    // a long word: the quote stays bounded whatever the source length
    static char word[200000];
    memset(word, 'a', sizeof word);
    char q[BASE_QUOTE_LEN];
    base_escape(q, sizeof q, word, sizeof word);
    CHECK(strlen(q) == BASE_QUOTE_LEN - 1 && strcmp(q + BASE_QUOTE_LEN - 4, "...") == 0,
          "escape/long_source_bounded  %zu bytes", strlen(q));
}

TEST_MAIN("test_base") {
    check_escapes();
}
