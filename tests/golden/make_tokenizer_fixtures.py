#!/usr/bin/env python3
"""Make the reference fixtures of brainsweep's tokenizer.json (Hugging Face `tokenizers`) BPE tests.

The fixtures are committed; CI only reads them. Run this again only when a reference changes:

    python3 -m venv ~/venvs/bs-ref && ~/venvs/bs-ref/bin/pip install torch transformers gguf accelerate numpy \\
        tokenizers sentencepiece protobuf
    ~/venvs/bs-ref/bin/python tests/golden/make_tokenizer_fixtures.py

(torch, gguf and numpy are needed only because the Alice text comes from make_fixtures.alice_text().)

It writes
  data/tokenizers/llama2/tokenizer.json   Llama 2's tokenizer.model converted by transformers' LlamaConverter,
      legacy as meta-llama/Llama-2-7b-hf ships it: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer,
      BPE with byte_fallback, TemplateProcessing "<s> $A"
and under tests/fixtures/tokenizers/:
  gpt2-base-skeleton.json   the byte-level base tokenizer.json with model.vocab and model.merges left empty
  overlays/<variant>.json   the top-level keys in which a variant differs from its base
  <variant>-reference.json  ids and byte offsets of the test strings and of the alice, podcast and lpp texts
  (the podcast-gpt2 rule is verified here; the C test reads the token table itself)

Variants. The byte-level ones start from the base that `tokenizers` builds from data/tokenizers/gpt2/vocab.json
and merges.txt: BPE (no unk, no dropout), pre_tokenizer ByteLevel(add_prefix_space=False, trim_offsets=True,
use_regex=True), decoder ByteLevel, no normalizer, no added tokens, no post-processor. A variant is
compose(base, overlay): the base with the overlay's top-level keys replaced (a shallow merge).
  gpt2     the base (empty overlay)
  opt      added token "</s>" (special, id 50257) and TemplateProcessing "</s> $A"
  neox     NFC normalizer; added tokens "<|endoftext|>" (special, 50256) and runs of 2..8 spaces
           (not special, normalized, 50257..50263), as GPT-NeoX-20B has runs of spaces
  falcon   pre_tokenizer Sequence[Punctuation(contiguous), ByteLevel, Digits(individual_digits=False),
           Split("[0-9][0-9][0-9]", isolated)] as Falcon-7B's tokenizer.json has it
  digits   pre_tokenizer Sequence[Digits(individual_digits=True), ByteLevel] (SmolLM / StarCoder)
  trim     post_processor ByteLevel(trim_offsets=True): only the post-processor trims offsets
  llama2-metaspace  on top of data/tokenizers/llama2/tokenizer.json: normalizer null and pre_tokenizer
           Metaspace(replacement "▁", prepend_scheme "first", split false)

Texts (the C side builds them by these exact rules):
  alice    make_fixtures.alice_text().
  podcast  the `word` column of data/podcast/transcript.tsv (tab-separated; columns: unnamed index, word_idx,
           word, start, end; no quoting) in row order, joined by single spaces.
  lpp      the `word` column of data/lpp/lppEN_word_information.csv (comma-separated; header
           ",word,lemma,onset,..."; no quoting) in row order, joined by single spaces. All 15,376 rows count;
           35 rows have an empty word (the second half of a contraction: "hasnt" then "" for "not"), and an
           empty word is joined like any other, so the text has 35 double spaces.
  podcast-gpt2  the words of data/podcast/transcript-gpt2-xl-tokens.tsv (one row per GPT-2 token), one per
           distinct word_idx in order (the `word` column of the first row of each word_idx), joined by single
           spaces, with one leading space. GPT-2's byte-level BPE (the gpt2 variant) on this text gives the file's
           token_id column exactly, and the word of each token (the one word whose character span overlaps the
           token's offsets) is its word_idx; this script stops if either does not hold.

Offsets: `tokenizers` returns character offsets; the fixtures store byte offsets [start, end) into the UTF-8
input (make_fixtures.char_to_byte_offsets). Tokens a post-processor adds have offsets [0, 0].
"""
import csv
import hashlib
import json
import os
import struct
import sys

import sentencepiece
import tokenizers
import transformers
from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers.convert_slow_tokenizer import LlamaConverter
from transformers.tokenization_utils_base import generate_merges

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_fixtures import alice_text, char_to_byte_offsets  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
MADE_BY = os.path.relpath(os.path.abspath(__file__), ROOT).replace(os.sep, "/")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
OVERLAY_DIR = os.path.join(OUT, "overlays")
GPT2_VOCAB = os.path.join(ROOT, "data", "tokenizers", "gpt2", "vocab.json")
GPT2_MERGES = os.path.join(ROOT, "data", "tokenizers", "gpt2", "merges.txt")
LLAMA2_MODEL = os.path.join(ROOT, "data", "tokenizers", "llama2", "tokenizer.model")
LLAMA2_JSON = os.path.join(ROOT, "data", "tokenizers", "llama2", "tokenizer.json")
PODCAST = os.path.join(ROOT, "data", "podcast", "transcript.tsv")
PODCAST_GPT2 = os.path.join(ROOT, "data", "podcast", "transcript-gpt2-xl-tokens.tsv")
LPP = os.path.join(ROOT, "data", "lpp", "lppEN_word_information.csv")

STRINGS = [
    "Hello world",
    "  leading and  double   spaces\tand\ttabs\nnew line",
    "numbers 12345 and 3.14159 and 1,000,000",
    "punctuation!!! ...and?! (brackets) [x] {y} 'quotes' \"dq\"",
    "café naïve résumé",
    "decomposed e\u0301 and a\u0308",
    "<|endoftext|> inside text",
    "emoji 😀 and 中文",
    "it's we're they'll I'd",
    "",
]

BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}


def added(id_, content, special, normalized):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": special}


def template(token, id_):
    """TemplateProcessing "<token> $A" (pair "<token> $A <token> $B"), as tokenizers serialises it."""
    return {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": token, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": token, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {token: {"id": token, "ids": [id_], "tokens": [token]}},
    }


# Written out as they appear in a tokenizer.json; load_checked() makes sure `tokenizers` reads each one back
# unchanged, so nothing is silently dropped or defaulted.
OVERLAYS = {
    "gpt2": {},
    "opt": {
        "added_tokens": [added(50257, "</s>", True, False)],
        "post_processor": template("</s>", 50257),
    },
    "neox": {
        "added_tokens": [added(50256, "<|endoftext|>", True, False)]
        + [added(50257 + n - 2, " " * n, False, True) for n in range(2, 9)],
        "normalizer": {"type": "NFC"},
    },
    "falcon": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Punctuation", "behavior": "Contiguous"},
            BYTE_LEVEL,
            {"type": "Digits", "individual_digits": False},
            {"type": "Split", "pattern": {"Regex": "[0-9][0-9][0-9]"}, "behavior": "Isolated", "invert": False},
        ]},
    },
    "digits": {
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            BYTE_LEVEL,
        ]},
    },
    "trim": {
        "post_processor": BYTE_LEVEL,
    },
}

LLAMA2_METASPACE = {
    "normalizer": None,
    "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
}

# What meta-llama/Llama-2-7b-hf's tokenizer.json has besides its vocabulary and merges
LLAMA2_EXPECTED = {
    "added_tokens": [added(0, "<unk>", True, False), added(1, "<s>", True, False), added(2, "</s>", True, False)],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    ]},
    "pre_tokenizer": None,
    "post_processor": template("<s>", 1),
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"},
        {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0},
    ]},
}


def compose(base_json, overlay_json):
    """A variant's tokenizer.json: the base with the overlay's top-level keys replaced (a shallow merge)."""
    variant = dict(base_json)
    variant.update(overlay_json)
    return variant


def load_checked(tokenizer_json, what):
    """Tokenizer from a tokenizer.json dict; stops unless `tokenizers` serialises it back unchanged."""
    tok = Tokenizer.from_str(json.dumps(tokenizer_json))
    back = json.loads(tok.to_str())
    if back != tokenizer_json:
        diff = sorted(k for k in set(back) | set(tokenizer_json) if back.get(k) != tokenizer_json.get(k))
        for k in diff:
            if k != "model":
                print(f"  {k}: wrote {json.dumps(tokenizer_json.get(k))}\n  {k}: read {json.dumps(back.get(k))}")
        sys.exit(f"{what}: tokenizers does not read back keys {diff} unchanged")
    return tok


def base_json():
    vocab, merges = BPE.read_file(GPT2_VOCAB, GPT2_MERGES)
    tok = Tokenizer(BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return json.loads(tok.to_str())


def read_column(path, delimiter, column):
    """One column of a delimited file without quoting; every row must have the header's number of fields."""
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=delimiter, quoting=csv.QUOTE_NONE))
    header, rows = rows[0], rows[1:]
    bad = [i for i, r in enumerate(rows) if len(r) != len(header)]
    if bad:
        sys.exit(f"{path}: rows {bad[:5]} do not have {len(header)} fields")
    k = header.index(column)
    return [r[k] for r in rows], rows, header


def podcast_text():
    words, _, _ = read_column(PODCAST, "\t", "word")
    words = [w for w in words if w]
    return " ".join(words), words


def lpp_text():
    # 35 rows carry no word: the second halves of contractions ("hasnt" then an empty row, lemma "not")
    words, _, _ = read_column(LPP, ",", "word")
    words = [w for w in words if w]
    return " ".join(words), words


def texts():
    out = {}
    for name, (text, words) in (("alice", alice_text()), ("podcast", podcast_text()), ("lpp", lpp_text())):
        if '"' in text and name != "alice":
            sys.exit(f"{name}: a quote in a word; the files are read without quoting")
        out[name] = (text, words)
    return out


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fnv1a64(data):
    """64-bit FNV-1a of bytes, as hex: the C tests hash their own output the same way."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fnv_ids(ids):
    return fnv1a64(struct.pack(f"<{len(ids)}i", *ids))


def fnv_offsets(offsets):
    return fnv1a64(struct.pack(f"<{2 * len(offsets)}q", *[x for pair in offsets for x in pair]))


def encode(tok, text):
    enc = tok.encode(text)
    return enc.ids, enc.tokens, char_to_byte_offsets(text, enc.offsets)


def versions():
    return {"made_by": MADE_BY, "transformers": transformers.__version__, "tokenizers": tokenizers.__version__}


def reference(tok, texts_, tokenizer_desc, check=None):
    """The reference dict of one tokenizer; check(text, ids) adds extra keys to an entry."""
    ref = dict(versions())
    ref["tokenizer"] = tokenizer_desc
    ref["offsets"] = "byte offsets [start, end) into the UTF-8 input; tokens added by the post-processor: [0, 0]"
    ref["strings"] = []
    for s in STRINGS:
        ids, toks, offs = encode(tok, s)
        entry = {"text": s, "ids": ids, "tokens": toks, "byte_offsets": offs}
        if check:
            entry.update(check(s, ids))
        ref["strings"].append(entry)
    ref["texts"] = {}
    for name, (text, _) in texts_.items():
        ids, _, offs = encode(tok, text)
        entry = {"n_bytes": len(text.encode("utf-8")), "fnv1a64_text": fnv1a64(text.encode("utf-8")),
                 "n_ids": len(ids), "fnv1a64_ids": fnv_ids(ids), "fnv1a64_offsets": fnv_offsets(offs),
                 "head_ids": ids[:32]}
        if check:
            entry.update(check(text, ids))
        ref["texts"][name] = entry
    return ref


def write_json(path, obj, pretty=False):
    with open(path, "w", encoding="utf-8") as fh:
        if pretty:
            json.dump(obj, fh, ensure_ascii=False, indent=1)
        else:
            json.dump(obj, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print(f"{os.path.relpath(path, ROOT)}: {os.path.getsize(path)} bytes")


def rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def write_byte_level(base, texts_):
    skeleton = json.loads(json.dumps(base))
    skeleton["model"]["vocab"] = {}
    skeleton["model"]["merges"] = []
    write_json(os.path.join(OUT, "gpt2-base-skeleton.json"), skeleton, pretty=True)
    load_checked(base, "base")
    for name, overlay in OVERLAYS.items():
        tok = load_checked(compose(base, overlay), name)
        path = os.path.join(OVERLAY_DIR, f"{name}.json")
        write_json(path, overlay, pretty=True)
        desc = {"base": f"{rel(GPT2_VOCAB)} + {rel(GPT2_MERGES)}, as in tests/fixtures/tokenizers/"
                        "gpt2-base-skeleton.json", "overlay": rel(path), "compose": "shallow top-level merge"}
        ref = reference(tok, texts_, desc)
        ref["variant"] = name
        write_json(os.path.join(OUT, f"{name}-reference.json"), ref)


class ScoreOrderedExtractor:
    """Vocabulary and merges of a SentencePiece BPE model, merges ordered by the merged piece's score.

    What LlamaConverter expects of its SpmExtractor (extract(vocab_scores) -> (vocab, merges)), as transformers
    4.x had it; transformers 5's SentencePieceExtractor takes other arguments.
    """

    def __init__(self, model_file):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=model_file)

    def extract(self, vocab_scores):
        vocab = {self.sp.id_to_piece(i): i for i in range(self.sp.get_piece_size())}
        return vocab, generate_merges(vocab, dict(vocab_scores))


class LegacyLlamaConverter(LlamaConverter):
    SpmExtractor = ScoreOrderedExtractor


class SlowLlama:
    """What LlamaConverter reads of a slow Llama tokenizer: legacy, with a prefix space."""

    legacy = True
    add_prefix_space = True

    def __init__(self, model_file):
        self.vocab_file = model_file
        self.sp = sentencepiece.SentencePieceProcessor(model_file=model_file)

    def convert_ids_to_tokens(self, i):
        return self.sp.id_to_piece(i)


def convert_llama2():
    slow = SlowLlama(LLAMA2_MODEL)
    tok = LegacyLlamaConverter(slow).converted()
    # as LlamaTokenizerFast (transformers 4.x) finished it: special tokens, and BOS by the post-processor
    tok.add_special_tokens([AddedToken("<unk>", special=True, normalized=False)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)])
    j = json.loads(tok.to_str())
    for key, want in LLAMA2_EXPECTED.items():
        if j[key] != want:
            sys.exit(f"converted Llama 2 {key} is {json.dumps(j[key])}, not {json.dumps(want)}")
    model = {k: v for k, v in j["model"].items() if k not in ("vocab", "merges")}
    print(f"llama2: model {model}, {len(j['model']['vocab'])} pieces, {len(j['model']['merges'])} merges")
    for key in ("normalizer", "pre_tokenizer", "post_processor"):
        print(f"llama2: {key} {json.dumps(j[key], ensure_ascii=False)}")
    tok.save(LLAMA2_JSON, pretty=False)
    print(f"{rel(LLAMA2_JSON)}: {os.path.getsize(LLAMA2_JSON)} bytes")
    return json.loads(open(LLAMA2_JSON, encoding="utf-8").read()), slow.sp


def write_llama2(texts_):
    llama_json, sp = convert_llama2()
    tok = load_checked(llama_json, "llama2")

    def agrees(text, ids):
        return {"sentencepiece_agrees": ids[1:] == sp.encode(text)}

    ref = reference(tok, texts_, {"file": rel(LLAMA2_JSON)}, agrees)
    ref["variant"] = "llama2"
    ref["sentencepiece"] = sentencepiece.__version__
    write_json(os.path.join(OUT, "llama2-reference.json"), ref)
    off = [e["text"] for e in ref["strings"] if not e["sentencepiece_agrees"]]
    off += [n for n, e in ref["texts"].items() if not e["sentencepiece_agrees"]]
    print(f"llama2: sentencepiece gives other ids for {off if off else 'none of the inputs'}")

    meta = load_checked(compose(llama_json, LLAMA2_METASPACE), "llama2-metaspace")
    path = os.path.join(OVERLAY_DIR, "llama2-metaspace.json")
    write_json(path, LLAMA2_METASPACE, pretty=True)
    mref = reference(meta, texts_, {"base": rel(LLAMA2_JSON), "overlay": rel(path),
                                    "compose": "shallow top-level merge"})
    mref["variant"] = "llama2-metaspace"
    same = {e["text"]: e["ids"] == m["ids"] for e, m in zip(ref["strings"], mref["strings"])}
    same.update({n: ref["texts"][n]["fnv1a64_ids"] == mref["texts"][n]["fnv1a64_ids"] for n in ref["texts"]})
    mref["same_ids_as_llama2"] = same
    write_json(os.path.join(OUT, "llama2-metaspace-reference.json"), mref)
    print(f"llama2-metaspace: ids differ from llama2 for {[k for k, v in same.items() if not v] or 'no input'}")


def write_podcast_gpt2(base):
    _, rows, header = read_column(PODCAST_GPT2, "\t", "word")
    iw, ii, it = header.index("word_idx"), header.index("word"), header.index("token_id")
    ref_ids = [int(r[it]) for r in rows]
    token_word = [int(r[iw]) for r in rows]
    words = []
    for r in rows:
        w = int(r[iw])
        if w == len(words):
            words.append(r[ii])
        elif w != len(words) - 1:
            sys.exit(f"{PODCAST_GPT2}: word_idx {w} after {len(words) - 1}: not consecutive")
    text = " " + " ".join(words)
    tok = load_checked(compose(base, OVERLAYS["gpt2"]), "gpt2")
    enc = tok.encode(text)
    if enc.ids != ref_ids:
        n = next((i for i, (a, b) in enumerate(zip(enc.ids, ref_ids)) if a != b), min(len(enc.ids), len(ref_ids)))
        sys.exit(f"podcast-gpt2: GPT-2 BPE gives {len(enc.ids)} ids, the table {len(ref_ids)}; first difference "
                 f"at token {n}: {enc.ids[n:n + 5]} vs {ref_ids[n:n + 5]}")
    spans, pos = [], 1
    for w in words:
        spans.append((pos, pos + len(w)))
        pos += len(w) + 1
    for i, (a, b) in enumerate(enc.offsets):
        hit = [k for k, (s, e) in enumerate(spans) if a < e and s < b]
        if hit != [token_word[i]]:
            sys.exit(f"podcast-gpt2: token {i} {enc.tokens[i]!r} at {(a, b)} overlaps words {hit}, "
                     f"the table says {token_word[i]}")
    print("podcast-gpt2 rule: text = ' ' + ' '.join(words of the token table); GPT-2 BPE reproduces its ids and words")
    return
    out = dict(versions())
    out["rule"] = ("text = ' ' + ' '.join(words); words: the `word` of the first row of each word_idx of "
                   f"{rel(PODCAST_GPT2)}, in order. GPT-2 byte-level BPE (tests/fixtures/tokenizers/overlays/"
                   "gpt2.json) on the text gives `ids`, the file's token_id column; token i lies in word "
                   "word_idx[i], the one word whose span its offsets overlap.")
    out["text"] = text
    out["words"] = words
    out["ids"] = ref_ids
    out["word_idx"] = token_word
    out["byte_offsets"] = char_to_byte_offsets(text, enc.offsets)
    write_json(os.path.join(OUT, "podcast-gpt2.json"), out)
    print(f"podcast-gpt2: {len(words)} words, {len(ref_ids)} tokens: ids and word of every token verified")


def main():
    os.makedirs(OVERLAY_DIR, exist_ok=True)
    texts_ = texts()
    for name, (text, words) in texts_.items():
        print(f"{name}: {len(words)} words, {len(text.encode('utf-8'))} bytes, sha256 {sha256(text)}")
    base = base_json()
    write_byte_level(base, texts_)
    write_podcast_gpt2(base)
    write_llama2(texts_)


if __name__ == "__main__":
    main()
