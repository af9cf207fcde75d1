#!/usr/bin/env python3
"""Hugging Face transformers' forward pass on the GPU at the shape bench/decoder_speed times, for bench/gpu/decoder.sh.

    python3 bench/gpu/hf_speed.py CHECKPOINT TOKENS SEQ_LEN REPS
    python3 bench/gpu/hf_speed.py --dry-run

CHECKPOINT is a Llama folder (config.json and safetensors: bench/make_big_checkpoint.py's bf16 random weights),
loaded with LlamaForCausalLM in bfloat16 with attn_implementation "sdpa" onto the GPU. One batch of TOKENS tokens as
TOKENS / SEQ_LEN sequences of SEQ_LEN random ids (one long sequence, or the context experiment's windows, every
window of one length so no padding is needed), through `model.model(ids, output_hidden_states=True)` under
torch.inference_mode(), every hidden state of every row then copied to the host as float32: what decoder_speed
downloads and what an extraction keeps. Timed with the GPU synchronised: one warm-up, then the median of REPS.
Prints one line bench/gpu/decoder.sh reads:
    RESULT backend=transformers dtype=bf16 seconds=S tokens_per_s=X (torch T, transformers V)
--dry-run checks the arguments' handling without torch, transformers or a GPU (a "DRY skip" line names what is
absent) and exits 0, or 1 on a failure.
"""
import statistics
import sys
import time

USAGE = __doc__.split("\n\n")[1]


def parse(argv):
    """(checkpoint, tokens, seq_len, reps) from the command line, or a usage error."""
    if len(argv) != 5:
        sys.exit(USAGE)
    path, tokens, seq_len, reps = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    if tokens < 1 or seq_len < 1 or seq_len > tokens or tokens % seq_len or not 1 <= reps <= 100:
        sys.exit(f"hf_speed: TOKENS must be a multiple of SEQ_LEN and REPS 1..100 (got {tokens}, {seq_len}, {reps})\n"
                 + USAGE)
    return path, tokens, seq_len, reps


def dry_run():
    """the argument checks, and what a real run would lack here"""
    ok = parse(["hf_speed", "ckpt", "4096", "16", "3"]) == ("ckpt", 4096, 16, 3)
    for bad in (["hf_speed", "ckpt", "4096", "17", "3"], ["hf_speed", "ckpt", "16", "4096", "3"], ["hf_speed"]):
        try:
            parse(bad)
            ok = False
        except SystemExit:
            pass
    missing = []
    for module in ("torch", "transformers"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    skip = f"; DRY skip: no {', '.join(missing)} here" if missing else ""
    print(f"DRY {'ok' if ok else 'fail'} hf_speed_arguments{skip}")
    return 0 if ok else 1


def main():
    if sys.argv[1:2] == ["--dry-run"]:
        sys.exit(dry_run())
    path, tokens, seq_len, reps = parse(sys.argv)
    import torch
    import transformers

    if not torch.cuda.is_available():
        print("SKIP transformers: torch sees no GPU")
        sys.exit(77)
    try:  # `dtype` since transformers 4.56, `torch_dtype` before
        model = transformers.LlamaForCausalLM.from_pretrained(path, dtype=torch.bfloat16, attn_implementation="sdpa")
    except TypeError:
        model = transformers.LlamaForCausalLM.from_pretrained(path, torch_dtype=torch.bfloat16,
                                                              attn_implementation="sdpa")
    model = model.to("cuda").eval()
    gen = torch.Generator(device="cuda").manual_seed(5)
    ids = torch.randint(0, model.config.vocab_size, (tokens // seq_len, seq_len), device="cuda", generator=gen)

    def once():
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.model(input_ids=ids, output_hidden_states=True)
            states = [h.float().cpu() for h in out.hidden_states]
        torch.cuda.synchronize()
        return time.perf_counter() - t0, len(states)

    once()
    times = [once()[0] for _ in range(reps)]
    s = statistics.median(times)
    print(f"RESULT backend=transformers dtype=bf16 seconds={s:.4f} tokens_per_s={tokens / s:.1f} (torch "
          f"{torch.__version__}, transformers {transformers.__version__}; {tokens // seq_len} x {seq_len} tokens, "
          f"median of {reps})")


if __name__ == "__main__":
    main()
