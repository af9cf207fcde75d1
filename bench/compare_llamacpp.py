#!/usr/bin/env python3
"""llama.cpp's prompt processing speed on the CPU, through llama-cpp-python, for comparison with brainsweep.

    PYTHON_WITH_LLAMA_CPP bench/compare_llamacpp.py GGUF_PATH TEXT_FILE [RUNS] [N_TOKENS] [THREADS]

RUNS defaults to 5, N_TOKENS to 2048 (capped at the model's training context), THREADS to all cores. The text is
tokenized with the GGUF's own tokenizer (BOS added where the model asks for it) and cut to N_TOKENS.

The model runs with n_ctx = n_batch = n_ubatch = the prompt's length (one batch, one micro-batch), THREADS threads
for both generation and batch, no logits for every token (only the last position goes through the output head, as
llama.cpp does for a prompt), no embeddings, flash attention off (llama-cpp-python's default). One timed run is
one `llm.eval(tokens)` on an empty context (`llm.reset()` before each; `eval` drops the KV cache past n_tokens),
after one untimed warm-up. Prints one JSON line: the settings, each run's seconds, the median and tokens/s.
bench/compare_forward.py runs this in its own process, in turn with brainsweep and transformers.
"""
import json
import os
import statistics
import sys
import time

import llama_cpp
from llama_cpp import _internals
from llama_cpp import Llama


def tokenize(gguf, text):
    """Tokens of text with the GGUF's tokenizer, and the model's training context, from a vocabulary-only load
    (which leaves n_ctx_train() at 0, so the context comes from the GGUF's `<arch>.context_length` key)."""
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = _internals.LlamaModel(path_model=gguf, params=params, verbose=False)
    try:
        meta = model.metadata()
        n_ctx_train = int(meta[f"{meta['general.architecture']}.context_length"])
        return model.tokenize(text.encode("utf-8"), add_bos=True, special=False), n_ctx_train
    finally:
        model.close()


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (Linux /proc/stat: all but idle and iowait), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def measure(gguf, text, runs=5, n_tokens=2048, threads=os.cpu_count(), flash_attn=False):
    """Time `runs` evaluations of an n_tokens-long prompt; returns a dict of the numbers (seconds, tokens/s)."""
    tokens, n_ctx_train = tokenize(gguf, text)
    n = min(n_tokens, n_ctx_train, len(tokens))
    tokens = tokens[:n]
    llm = Llama(model_path=gguf, n_ctx=n, n_batch=n, n_ubatch=n, n_threads=threads, n_threads_batch=threads,
                logits_all=False, embedding=False, flash_attn=flash_attn, verbose=False)
    try:
        llm.reset()
        llm.eval(tokens)  # warm-up
        times, other = [], []
        for _ in range(runs):
            llm.reset()
            b0, c0, t0 = busy_cpu_seconds(), time.process_time(), time.perf_counter()
            llm.eval(tokens)
            t1, c1, b1 = time.perf_counter(), time.process_time(), busy_cpu_seconds()
            times.append(t1 - t0)
            if b0 is not None:  # CPU time other processes took while this run was timed
                other.append(max(0.0, (b1 - b0) - (c1 - c0)))
            assert llm.n_tokens == n
    finally:
        llm.close()
    med = statistics.median(times)
    return {"llama_cpp_version": llama_cpp.__version__, "model": os.path.basename(gguf), "tokens": n,
            "runs": runs, "threads": threads, "n_batch": n, "flash_attn": flash_attn,
            "median_s": med, "min_s": min(times), "max_s": max(times), "tokens_per_s": n / med, "times_s": times,
            "other_cpu_s": other}


def main():
    if not 3 <= len(sys.argv) <= 6:
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        text = f.read()
    args = [int(a) for a in sys.argv[3:]]
    print(json.dumps(measure(sys.argv[1], text, *args)))


if __name__ == "__main__":
    main()
