#include "host/extract.h"

#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/decoder_cpu.h"
#include "host/log.h"

size_t extract_plan_chunks(size_t n_body, size_t body_window, size_t overlap, Chunk *out) {
    ASSERT(body_window > 0 && overlap < body_window);
    size_t n = 0, end = 0;
    do {
        size_t start = n == 0 ? 0 : end - overlap;
        size_t stop = start + body_window < n_body ? start + body_window : n_body;
        if (out) out[n] = (Chunk){start, stop, end};
        end = stop;
        n++;
    } while (end < n_body);
    return n;
}

int extract_resolve_policy(const ModelConfig *cfg, const ContextPolicy *in, ContextPolicy *out, char *err) {
    *out = *in;
    if (out->window == 0 || out->window > cfg->max_ctx) out->window = cfg->max_ctx;
    if (out->window < 2) return base_errf(err, "context window %d is too small (at least 2 tokens)", out->window);
    if (out->overlap < 0) out->overlap = out->window / 2;
    if (out->overlap >= out->window - 1)
        return base_errf(err, "context overlap %d must be smaller than the window %d minus BOS", out->overlap,
                         out->window);
    return 0;
}

int extract_word_states(const Model *m, Tokenizer *tok, const Stimulus *st, const ContextPolicy *policy, float *out,
                        ExtractStats *stats, char *err) {
    const ModelConfig *cfg = &m->cfg;
    ContextPolicy p;
    if (extract_resolve_policy(cfg, policy, &p, err)) return -1;
    memset(stats, 0, sizeof *stats);

    double t0 = base_wall();
    TokenSeq seq = {0};
    if (tok_encode(tok, st->text, st->text_len, &seq, err)) return -1;
    for (size_t i = 0; i < seq.n; i++)
        if (seq.ids[i] < 0 || seq.ids[i] >= cfg->vocab) {
            tokseq_free(&seq);
            return base_errf(err, "token id %d is outside the model's vocabulary of %d", seq.ids[i], cfg->vocab);
        }
    const int has_bos = tok_bos_id(tok) >= 0;
    const size_t n_body = seq.n - (size_t)has_bos;
    const size_t body_window = (size_t)p.window - (size_t)has_bos;
    int64_t *last = base_malloc(st->n_words * sizeof(int64_t), "word tokens");
    tok_word_last_tokens(&seq, st->start, st->end, st->n_words, last);
    for (size_t w = 0; w < st->n_words; w++) ASSERT(last[w] >= has_bos);  // every word has a token
    stats->seconds_tokenize = base_wall() - t0;
    stats->n_tokens = n_body;

    size_t n_chunks = extract_plan_chunks(n_body, body_window, (size_t)p.overlap, NULL);
    Chunk *chunks = base_malloc(n_chunks * sizeof(Chunk), "chunks");
    extract_plan_chunks(n_body, body_window, (size_t)p.overlap, chunks);
    int T_max = (int)((n_body < body_window ? n_body : body_window) + (size_t)has_bos);
    log_debug("%s: %zu tokens in %zu chunk(s) of up to %d; allocating %.1f MiB of activations", cfg->name, n_body,
              n_chunks, T_max, (double)decoder_cpu_scratch_bytes(cfg, T_max) / 1048576.0);
    DecoderScratch *scratch = decoder_cpu_scratch_create(cfg, T_max);
    int32_t *ids = base_malloc((size_t)T_max * sizeof(int32_t), "chunk ids");
    int *rows = base_malloc(st->n_words * sizeof(int), "capture rows");
    size_t *out_rows = base_malloc(st->n_words * sizeof(size_t), "capture rows");

    double t1 = base_wall();
    size_t w = 0;  // words are in token order, so each chunk takes the next run of words
    for (size_t c = 0; c < n_chunks; c++) {
        const Chunk *ch = &chunks[c];
        int T = 0;
        if (has_bos) ids[T++] = seq.ids[0];
        for (size_t i = ch->start; i < ch->end; i++) ids[T++] = seq.ids[i + (size_t)has_bos];
        size_t n_cap = 0;
        while (w < st->n_words && (size_t)last[w] - (size_t)has_bos < ch->end) {
            size_t body = (size_t)last[w] - (size_t)has_bos;
            ASSERT(body >= ch->report);
            rows[n_cap] = (int)(body - ch->start) + has_bos;
            out_rows[n_cap] = w;
            n_cap++;
            w++;
        }
        decoder_cpu_forward(m, scratch, ids, T, rows, out_rows, n_cap, out, st->n_words);
        stats->tokens_run += (size_t)T;
    }
    ASSERT(w == st->n_words);
    stats->n_chunks = n_chunks;
    stats->seconds_forward = base_wall() - t1;

    free(rows);
    free(out_rows);
    free(ids);
    free(chunks);
    free(last);
    decoder_cpu_scratch_free(scratch);
    tokseq_free(&seq);
    return 0;
}
