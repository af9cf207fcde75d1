#!/usr/bin/env python3
"""Write tests/fixtures/edf/annotated.edf byte by byte from the EDF+ specification, and
annotated.expected.txt with the values and annotations a reader must return.

Standard library only, so the fixture does not depend on any EDF package's reading of the spec.
The file is EDF+C: 2 data records of 1 s, two data signals with different digital and physical
ranges and different rates (64 and 32 samples per record), and an "EDF Annotations" signal with a
time-keeping TAL per record, a TAL with a duration, one with a negative onset and no duration, and
one carrying two annotations (one with UTF-8 text).

Run from the repository root: python3 tests/golden/make_edf_fixture.py
"""
import math
import os
import struct

OUT = os.path.join("tests", "fixtures", "edf")
N_RECORDS, RECORD_SECONDS = 2, 1

# label, transducer, unit, prefilter, phys_min, phys_max, dig_min, dig_max, samples per record
SIGNALS = [
    ("EEG Fz", "AgAgCl electrode", "uV", "HP:0.1Hz LP:75Hz", -500, 500, -2048, 2047, 64),
    ("ECG lead", "", "mV", "", -3200, 3200, -32768, 32767, 32),
    ("EDF Annotations", "", "", "", -1, 1, -32768, 32767, 30),
]

# per record: the time-keeping TAL first, then the annotations (0x15 before a duration, 0x14 after
# the onset/duration and after every text, 0x00 closing each TAL)
TALS = [
    [b"+0\x14\x14\x00",
     b"+0.5\x150\x14stimulus onset\x14\x00",
     b"-0.25\x14pre-start note\x14\x00"],
    [b"+1\x14\x14\x00",
     b"+1.25\x150.75\x14response\x14" + "button ü".encode("utf-8") + b"\x14\x00"],
]
# what the reader must report: onset, duration, text (time-keeping entries excluded)
ANNOTATIONS = [(0.5, 0.0, "stimulus onset"), (-0.25, 0.0, "pre-start note"),
               (1.25, 0.75, "response"), (1.25, 0.75, "button ü")]


def field(text, width):
    raw = str(text).encode("ascii")
    assert len(raw) <= width, (text, width)
    return raw + b" " * (width - len(raw))


def digital_values(i):
    """All N_RECORDS * spr digital samples of data signal i."""
    n = N_RECORDS * SIGNALS[i][8]
    if i == 0:  # a ramp over the whole digital range, both ends included
        return [-2048 + (k * 4095) // (n - 1) for k in range(n)]
    # a sine of period 32 samples reaching -32768 and 32767
    return [max(-32768, min(32767, math.floor(32767.5 * math.sin(2 * math.pi * k / 32)))) for k in range(n)]


def physical(d, s):
    _, _, _, _, pmin, pmax, dmin, dmax, _ = s
    return (d - dmin) * (pmax - pmin) / (dmax - dmin) + pmin


def main():
    os.makedirs(OUT, exist_ok=True)
    ns = len(SIGNALS)
    header = (field("0", 8) + field("sub-01 X X X", 80) + field("Startdate 02-MAR-2002 X X X", 80)
              + field("02.03.02", 8) + field("10.20.30", 8) + field(256 * (ns + 1), 8) + field("EDF+C", 44)
              + field(N_RECORDS, 8) + field(RECORD_SECONDS, 8) + field(ns, 4))
    # the header stores each field for all signals in turn: label, transducer, unit, phys min/max,
    # dig min/max, prefiltering, samples per record (SIGNALS keeps the text fields together)
    for col, width in [(0, 16), (1, 80), (2, 8), (4, 8), (5, 8), (6, 8), (7, 8), (3, 80), (8, 8)]:
        header += b"".join(field(s[col], width) for s in SIGNALS)
    header += b" " * 32 * ns  # reserved
    assert len(header) == 256 * (ns + 1)

    dig = [digital_values(0), digital_values(1)]
    data = b""
    for r in range(N_RECORDS):
        for i in range(2):
            spr = SIGNALS[i][8]
            data += struct.pack("<%dh" % spr, *dig[i][r * spr:(r + 1) * spr])
        tals = b"".join(TALS[r])
        room = 2 * SIGNALS[2][8]
        assert len(tals) <= room
        data += tals + b"\x00" * (room - len(tals))
    with open(os.path.join(OUT, "annotated.edf"), "wb") as f:
        f.write(header + data)

    with open(os.path.join(OUT, "annotated.expected.txt"), "w", encoding="utf-8") as f:
        f.write("# written by tests/golden/make_edf_fixture.py with annotated.edf; tab-separated\n")
        f.write("patient\tsub-01 X X X\n")
        f.write("recording\tStartdate 02-MAR-2002 X X X\n")
        f.write("start\t02.03.02\t10.20.30\n")
        f.write("records\t%d\t%r\n" % (N_RECORDS, float(RECORD_SECONDS)))
        for i, s in enumerate(SIGNALS):
            f.write("signal\t%d\t%s\t%s\t%s\t%s\t%r\t%r\t%d\t%d\t%d\n" % ((i,) + s[:4] + (float(s[4]), float(s[5]))
                                                                     + s[6:]))
        for r in range(N_RECORDS):
            f.write("onset\t%d\t%r\n" % (r, float(r * RECORD_SECONDS)))
        for onset, duration, text in ANNOTATIONS:
            f.write("annotation\t%r\t%r\t%s\n" % (onset, duration, text))
        for i in range(2):
            f.write("values\t%d\t%s\n" % (i, " ".join(repr(physical(d, SIGNALS[i])) for d in dig[i])))


if __name__ == "__main__":
    main()
