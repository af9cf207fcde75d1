#!/usr/bin/env python3
"""llama.cpp's prompt processing speed on the CPU, through llama-cpp-python, for comparison with brainsweep.

    PYTHON_WITH_LLAMA_CPP bench/compare_llamacpp.py GGUF_PATH TEXT_FILE [RUNS] [N_TOKENS] [THREADS] [FLASH_ATTN]
    python3 bench/compare_llamacpp.py --dry-run

RUNS defaults to 5, N_TOKENS to 2048 (capped at the model's training context), THREADS to all cores,
FLASH_ATTN to on (on|off). The text is tokenized with the GGUF's own tokenizer (BOS added where the model asks
for it) and cut to N_TOKENS.

The model runs with n_ctx = n_batch = n_ubatch = the prompt's length (one batch, one micro-batch), THREADS threads
for both generation and batch, no logits for every token (only the last position goes through the output head, as
llama.cpp does for a prompt), no embeddings, and flash attention on by default (llama-cpp-python's flash_attn=True:
llama.cpp's fused attention, the faster of its two CPU attention paths in docs/PERFORMANCE.md; llama-cpp-python's
own default is off: FLASH_ATTN off times that). One timed run is one `llm.eval(tokens)` on an empty context
(`llm.reset()` before each; `eval` drops the KV cache past n_tokens), after one untimed warm-up. Prints one JSON
line: the settings (flash_attn among them), each run's seconds, the median and tokens/s.
bench/compare_forward.py runs this in its own process, in turn with brainsweep and transformers.

--dry-run checks the arguments' handling without llama-cpp-python (which it reports on a "DRY skip" line when
it is absent) and exits 0, or 1 on a failure.
"""
import json
import os
import statistics
import sys
import time

USAGE = __doc__.split("\n\n")[1]


def tokenize(gguf, text):
    """Tokens of text with the GGUF's tokenizer, and the model's training context, from a vocabulary-only load
    (which leaves n_ctx_train() at 0, so the context comes from the GGUF's `<arch>.context_length` key)."""
    import llama_cpp
    from llama_cpp import _internals

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


def measure(gguf, text, runs=5, n_tokens=2048, threads=os.cpu_count(), flash_attn=True):
    """Time `runs` evaluations of an n_tokens-long prompt; returns a dict of the numbers (seconds, tokens/s)."""
    import llama_cpp
    from llama_cpp import Llama

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


def parse(argv):
    """(gguf, text file, runs, n_tokens, threads, flash_attn) from the command line, or a usage error."""
    if not 3 <= len(argv) <= 7:
        sys.exit(USAGE)
    nums = [int(a) for a in argv[3:6]]
    defaults = [5, 2048, os.cpu_count()]
    nums += defaults[len(nums):]
    flash = argv[6] if len(argv) > 6 else "on"
    if flash not in ("on", "off"):
        sys.exit(f"FLASH_ATTN is on or off, not {flash!r}\n" + USAGE)
    return argv[1], argv[2], nums[0], nums[1], nums[2], flash == "on"


def dry_run():
    import importlib.util

    ok = parse(["x", "m.gguf", "t.txt", "1", "1024", "2", "off"]) == ("m.gguf", "t.txt", 1, 1024, 2, False) and \
        parse(["x", "m.gguf", "t.txt"])[3:] == (2048, os.cpu_count(), True)
    print(f"DRY {'ok' if ok else 'fail'} llamacpp_arguments")
    if importlib.util.find_spec("llama_cpp") is None:
        print("DRY skip llamacpp_runs: llama-cpp-python is not installed in this Python")
    else:
        import llama_cpp

        print(f"DRY ok llamacpp_imports: llama-cpp-python {llama_cpp.__version__}, flash_attn enum "
              f"{llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED}")
    return 0 if ok else 1


def main():
    if sys.argv[1:2] == ["--dry-run"]:
        sys.exit(dry_run())
    gguf, text_file, runs, n_tokens, threads, flash = parse(sys.argv)
    with open(text_file, encoding="utf-8") as f:
        text = f.read()
    print(json.dumps(measure(gguf, text, runs, n_tokens, threads, flash)))


if __name__ == "__main__":
    main()
