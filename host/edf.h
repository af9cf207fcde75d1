/*
 * edf: European Data Format (EDF, EDF+C, EDF+D) reader and an EDF+C writer, 16-bit samples.
 *
 * Used for BIDS iEEG (`*_ieeg.edf`). A file is a 256-byte ASCII header, 256 more header bytes per
 * signal (each field stored signal after signal), then n_records data records. A record holds,
 * signal after signal, samples_per_record little-endian int16 digital values of each signal; the
 * physical value is (dig - dig_min) * (phys_max - phys_min) / (dig_max - dig_min) + phys_min.
 * EDF+ (reserved field "EDF+C" or "EDF+D") adds "EDF Annotations" signals that carry
 * time-stamped annotation lists (TALs): "+onset[\x15duration]\x14text\x14[text\x14...]\0". The first
 * TAL of the first annotation signal of every record is the record's time-keeping stamp (its
 * start in seconds from the header's start date/time); it is not reported as an annotation.
 *
 * Shapes: edf_read fills out (n_which, n) channel-major, out[i*n + k] = sample s0 + k of signal
 * which[i]; edf_write takes data (n_signals, n_samples) channel-major. Sample k of a signal sits at
 * record_onset[k / samples_per_record] + (k % samples_per_record) / rate seconds.
 *
 * Validation policy (edf_open): the header must be well formed (version "0", numeric fields numeric,
 * 1..9999 signals, header bytes = 256 * (n_signals + 1), dig_min < dig_max within int16,
 * phys_min != phys_max, samples_per_record > 0, record duration > 0 unless every signal is an
 * annotation signal) and the data must be exactly n_records * record_bytes long: a shorter file
 * is truncated and a longer one has a header that does not describe it, so both are refused.
 * n_records == -1 (still recording) is inferred from the file size when it divides evenly.
 * EDF+ files must carry an annotation signal whose every record starts with a time-keeping TAL;
 * a malformed TAL is an error naming its record. Annotation signals are recognised in EDF+ only;
 * in plain EDF every signal is data. Labels and other text fields are stored trimmed of spaces.
 *
 * Ownership: Edf owns its strings, arrays and an open file descriptor until edf_close. After a
 * failed edf_open nothing is held (no edf_close needed); edf_close twice is harmless.
 * Errors: -1 with one sentence in err (BASE_ERR_LEN bytes) naming the file and the problem.
 * Threads: edf_read on one Edf may run from several threads at once (it uses pread, no shared
 * offset). It is single-threaded inside: reading 488 MB (265 channels x 30 min at 512 Hz) from the
 * page cache and converting it took 0.4 s on one core, and OpenMP over signals did not speed it up.
 */
#ifndef HOST_EDF_H
#define HOST_EDF_H

#include <stddef.h>

typedef struct {
    char label[17], transducer[81], unit[9], prefilter[81];
    double phys_min, phys_max;
    int dig_min, dig_max;
    size_t samples_per_record;
    double rate;       // samples_per_record / record_seconds; 0 in an annotation-only file
    int annotation;    // 1: an EDF+ "EDF Annotations" signal (not readable with edf_read)
    size_t offset;     // byte offset of this signal inside a data record
} EdfSignal;

// onset and duration in seconds from the header's start date/time; duration 0 when the TAL gives none.
// text is UTF-8 as stored, NUL-terminated.
typedef struct {
    double onset, duration;
    char *text;
} EdfAnnotation;

typedef struct {
    char *path;
    int plus;            // 1: EDF+ (reserved field starts with "EDF+C" or "EDF+D")
    int discontinuous;   // 1: EDF+D, records may have gaps between them (see record_onset)
    char patient[81], recording[81], start_date[9], start_time[9];   // start: "dd.mm.yy", "hh.mm.ss"
    size_t n_records;
    double record_seconds;
    size_t n_signals;
    EdfSignal *sig;      // (n_signals) data and annotation signals in file order
    size_t header_bytes, record_bytes;
    size_t n_annotations;
    EdfAnnotation *ann;  // (n_annotations) every TAL entry of every annotation signal, in file order
    double *record_onset;   // (n_records) seconds from the start: the time-keeping stamps in EDF+,
                            // r * record_seconds in plain EDF
    int fd;              // open for edf_read; -1 once closed
} Edf;

// Parses and validates the header, reads the annotations and record onsets. Keeps the file open.
int edf_open(const char *path, Edf *out, char *err);
// Physical values of the chosen signals (indices into sig), samples [s0, s0 + n) of each, into
// out (n_which, n). All chosen signals must have the same rate and be data signals. n == 0 reads
// nothing. -1 with err on a bad index, mixed rates, a range past the end or a read error.
int edf_read(const Edf *e, const size_t *which, size_t n_which, size_t s0, size_t n, float *out, char *err);
// index of the signal whose trimmed label equals label (case-sensitive), or -1
int edf_find_signal(const Edf *e, const char *label);
// samples of signal i in the file: n_records * samples_per_record (the last record's padding included)
size_t edf_samples(const Edf *e, size_t i);
void edf_close(Edf *e);

// Writer: EDF+C, 16-bit, one rate for all data signals, plus the "EDF Annotations" signal EDF+
// requires (time-keeping stamps and the annotations, if any). Header text must be printable ASCII
// that fits its field; phys_min/max and record_seconds must fit the 8-character header fields
// (phys_min is rounded down and phys_max up to fit; record_seconds must fit exactly), and
// rate * record_seconds must be a whole number.
typedef struct {
    const char *patient, *recording;       // NULL -> "X X X X" / "Startdate X X X X" (EDF+ "unknown")
    const char *start_date, *start_time;   // "dd.mm.yy", "hh.mm.ss"; NULL -> "01.01.85", "00.00.00"
    const char *const *label;              // (n_signals) at most 16 characters
    const char *const *unit;               // (n_signals) at most 8 characters; NULL -> all blank
    const double *phys_min, *phys_max;     // (n_signals) the physical range mapped to -32768..32767
    size_t n_signals, n_samples;           // n_samples per signal, > 0
    double rate, record_seconds;
    const EdfAnnotation *ann;              // (n_ann) text non-empty, without \x14 or \x15; may be NULL
    size_t n_ann;
} EdfWriteSpec;

// data: (n_signals, n_samples) physical values; values outside the range (and NaN) are clipped
// (NaN to the digital value of 0). The last record is padded with the digital value nearest to
// physical 0 when n_samples is not a multiple of the record length. Annotations go into the record
// that holds their onset (the first or last record when outside). Writes path + ".tmp", then
// renames it onto path, so a failed write leaves no half file. -1 with err (name + reason).
int edf_write(const char *path, const EdfWriteSpec *spec, const float *data, char *err);

#endif  // HOST_EDF_H
