#!/usr/bin/env python3
"""One timed forward pass of Hugging Face transformers on the CPU, every hidden state returned.

    PYTHON_WITH_TORCH_TRANSFORMERS bench/hf_forward.py MODEL TEXT_FILE MAX_TOKENS [THREADS]
    python3 bench/hf_forward.py --dry-run

MODEL is a .gguf file (read through transformers' GGUF loader) or a checkpoint folder; either way the model runs in
float32. The text is tokenized with the model's own tokenizer (BOS as the tokenizer adds it) and cut to MAX_TOKENS.
After one untimed warm-up, `model.base_model(ids, output_hidden_states=True)` is timed once under torch.no_grad().
Prints one JSON line: {"tokens", "seconds", "hidden_states", "threads", "transformers", "torch"}. Needs torch and
transformers, and for a .gguf also gguf and accelerate (transformers' GGUF loader refuses to run without them).
bench/compare_forward.py runs this in its own process, in turn with brainsweep and llama.cpp.
--dry-run checks the arguments' handling without torch and transformers (a "DRY skip" line names what is
absent) and exits 0, or 1 on a failure.
"""
import json
import os
import sys
import time

USAGE = __doc__.split("\n\n")[1]


def parse(argv):
    """(model, text file, max tokens, threads) from the command line, or a usage error."""
    if len(argv) not in (4, 5):
        sys.exit(USAGE)
    return argv[1], argv[2], int(argv[3]), int(argv[4]) if len(argv) > 4 else os.cpu_count()


def dry_run():
    import importlib.util

    ok = parse(["x", "m", "t.txt", "1024", "2"]) == ("m", "t.txt", 1024, 2) and parse(["x", "m", "t", "8"])[3] == os.cpu_count()
    print(f"DRY {'ok' if ok else 'fail'} hf_forward_arguments")
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"DRY skip hf_forward_runs: {' and '.join(missing)} not installed in this Python")
    else:
        import torch
        import transformers

        print(f"DRY ok hf_forward_imports: transformers {transformers.__version__} / torch {torch.__version__}")
    return 0 if ok else 1


def load(model_path):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if model_path.endswith(".gguf"):
        d, f = os.path.dirname(model_path), os.path.basename(model_path)
        cfg = AutoConfig.from_pretrained(d, gguf_file=f)
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, config=cfg, dtype=torch.float32)
    else:
        tok = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    return tok, model.eval()


def main():
    if sys.argv[1:2] == ["--dry-run"]:
        sys.exit(dry_run())
    model_path, text_file, max_tokens, threads = parse(sys.argv)
    import torch
    import transformers

    torch.set_num_threads(threads)
    tok, model = load(model_path)
    with open(text_file, encoding="utf-8") as f:
        ids = torch.tensor([tok(f.read())["input_ids"][:max_tokens]])
    with torch.no_grad():
        model.base_model(ids, output_hidden_states=True)  # warm-up
        t0 = time.perf_counter()
        out = model.base_model(ids, output_hidden_states=True)
        seconds = time.perf_counter() - t0
    print(json.dumps({"tokens": ids.shape[1], "seconds": seconds, "hidden_states": len(out.hidden_states),
                      "threads": threads, "transformers": transformers.__version__, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
