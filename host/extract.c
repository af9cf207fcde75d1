#include "host/extract.h"

#include <stdlib.h>
#include <string.h>

#include "host/base.h"
#include "host/log.h"

#define DEFAULT_BATCH_TOKENS 4096

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

int extract_resolve_policy(const ModelConfig *cfg, int has_bos, const ContextPolicy *in, ContextPolicy *out, char *err) {
    *out = *in;
    if (out->batch_tokens <= 0) out->batch_tokens = DEFAULT_BATCH_TOKENS;
    if (out->kind == CTX_FULL) {
        if (out->window == 0 || out->window > cfg->max_ctx) out->window = cfg->max_ctx;
        if (out->window < 2) return base_errf(err, "context window %d is too small (at least 2 tokens)", out->window);
        if (out->overlap < 0) out->overlap = out->window / 2;
        if (out->overlap >= out->window - 1)
            return base_errf(err, "context overlap %d must be smaller than the window %d minus BOS", out->overlap,
                             out->window);
    } else {
        if (out->n < 1) return base_errf(err, "a %s context needs N >= 1", out->kind == CTX_TOKENS ? "tokens:N" : "words:N");
        if (out->kind == CTX_TOKENS && out->n + has_bos > cfg->max_ctx)
            return base_errf(err, "tokens:%d (plus BOS) exceeds the model's context of %d tokens", out->n, cfg->max_ctx);
        out->window = cfg->max_ctx;  // words:N windows are cut to this many tokens
    }
    return 0;
}

size_t extract_layer_offsets(const Model *m, size_t W, size_t *offset) {
    const ModelConfig *c = model_config(m);
    size_t total = 0;
    for (int l = 0; l <= c->n_layers; l++) {
        offset[l] = total;
        total += W * (size_t)(l < c->n_layers ? c->d_model : model_final_dim(m));
    }
    return total;
}

// ----------------------------------------------------------------------------
// sequences and the words each one reports

typedef struct {
    size_t start, end;        // body tokens run (BOS prepended when the model has one)
    size_t word_lo, word_hi;  // words [word_lo, word_hi) are reported from this sequence
} Seq;

// sequences of the policy; words are assigned in order
static Seq *plan_sequences(const ContextPolicy *p, int has_bos, size_t n_body, const int64_t *first,
                           const int64_t *last, size_t W, size_t *n_seq) {
    Seq *seqs;
    if (p->kind == CTX_FULL) {
        size_t body_window = (size_t)p->window - (size_t)has_bos;
        size_t nc = extract_plan_chunks(n_body, body_window, (size_t)p->overlap, NULL);
        Chunk *ch = base_malloc(nc * sizeof(Chunk), "chunks");
        extract_plan_chunks(n_body, body_window, (size_t)p->overlap, ch);
        seqs = base_malloc(nc * sizeof(Seq), "sequences");
        size_t w = 0;
        for (size_t c = 0; c < nc; c++) {
            seqs[c] = (Seq){ch[c].start, ch[c].end, w, w};
            while (w < W && (size_t)last[w] < ch[c].end) w++;
            seqs[c].word_hi = w;
        }
        free(ch);
        *n_seq = nc;
        return seqs;
    }
    seqs = base_malloc((W ? W : 1) * sizeof(Seq), "sequences");
    size_t limit = (size_t)p->window - (size_t)has_bos;  // words:N windows longer than the model are cut
    for (size_t w = 0; w < W; w++) {
        size_t end = (size_t)last[w] + 1, start;
        if (p->kind == CTX_TOKENS) {
            start = end > (size_t)p->n ? end - (size_t)p->n : 0;
        } else {
            size_t w0 = w + 1 > (size_t)p->n ? w + 1 - (size_t)p->n : 0;
            start = (size_t)first[w0];
            if (end - start > limit) start = end - limit;
        }
        seqs[w] = (Seq){start, end, w, w + 1};
    }
    *n_seq = W;
    return seqs;
}

// sequences [*lo, *hi) of part index of count: contiguous runs with about equal tokens
static void part_range(const Seq *seqs, size_t n_seq, int has_bos, const ExtractPart *part, size_t *lo, size_t *hi) {
    *lo = 0, *hi = n_seq;
    if (!part || part->count <= 1) return;
    double total = 0, run = 0;
    for (size_t s = 0; s < n_seq; s++) total += (double)(seqs[s].end - seqs[s].start + (size_t)has_bos);
    // sequence s belongs to the part its token midpoint falls in
    *lo = n_seq, *hi = 0;
    for (size_t s = 0; s < n_seq; s++) {
        double len = (double)(seqs[s].end - seqs[s].start + (size_t)has_bos);
        size_t owner = (size_t)((run + 0.5 * len) / total * (double)part->count);
        if (owner >= part->count) owner = part->count - 1;
        run += len;
        if (owner == part->index) {
            if (s < *lo) *lo = s;
            *hi = s + 1;
        }
    }
    if (*lo > *hi) *lo = *hi = 0;
}

int extract_from_tokens(Model *m, const DecoderOps *ops, const int32_t *body, size_t n_body, int bos,
                        const int64_t *first, const int64_t *last, size_t W, const ContextPolicy *policy,
                        const ExtractPart *part, float *out, ExtractStats *stats, char *err) {
    const ModelConfig *c = model_config(m);
    const int has_bos = bos >= 0;
    ContextPolicy p;
    if (extract_resolve_policy(c, has_bos, policy, &p, err)) return -1;
    for (size_t i = 0; i < n_body; i++)
        if (body[i] < 0 || body[i] >= c->vocab)
            return base_errf(err, "token id %d is outside the model's vocabulary of %d", body[i], c->vocab);
    if (bos >= c->vocab) return base_errf(err, "BOS id %d is outside the model's vocabulary of %d", bos, c->vocab);
    for (size_t w = 0; w < W; w++)
        ASSERT(first[w] >= 0 && first[w] <= last[w] && (size_t)last[w] < n_body && (w == 0 || last[w] >= last[w - 1]));
    memset(stats, 0, sizeof *stats);
    stats->n_tokens = n_body;

    size_t *offset = base_malloc(((size_t)c->n_layers + 1) * sizeof(size_t), "layer offsets");
    size_t total = extract_layer_offsets(m, W, offset);
    memset(out, 0, total * sizeof(float));
    size_t n_all, s_lo, s_hi;
    Seq *all = plan_sequences(&p, has_bos, n_body, first, last, W, &n_all);
    part_range(all, n_all, has_bos, part, &s_lo, &s_hi);
    Seq *seqs = all + s_lo;
    size_t n_seq = s_hi - s_lo;
    stats->word_lo = n_seq ? seqs[0].word_lo : 0;
    stats->word_hi = n_seq ? seqs[n_seq - 1].word_hi : 0;
    size_t longest = 0;
    for (size_t s = 0; s < n_seq; s++)
        if (seqs[s].end - seqs[s].start + (size_t)has_bos > longest) longest = seqs[s].end - seqs[s].start + (size_t)has_bos;
    int NT_max = (int)(longest > (size_t)p.batch_tokens ? longest : (size_t)p.batch_tokens), T_max = (int)longest;
    int n_stages = part && part->n_stages > 1 ? part->n_stages : 1, stage = n_stages > 1 ? part->stage : 0;
    // on a device, as many tokens a batch as its free memory holds; the stages of a split model must cut the same
    // batches, so they keep context.batch_tokens
    if (n_stages == 1 && longest > 0) {
        int want = NT_max;
        char why[BASE_ERR_LEN];
        if (decoder_fit_batch(ops, c, (int)longest, want, &NT_max, why)) {
            free(all), free(offset);
            return base_errf(err, "%s: %s", c->name[0] ? c->name : "the model", why);
        }
        if (NT_max < want)
            log_rank_file("%s: batches of %d tokens instead of %d, as the %s memory free allows", c->name, NT_max,
                          want, ops->name);
    }
    log_debug("%s: %zu sequence(s), batches of up to %d tokens: %.1f MiB of activations (%s)", c->name, n_seq,
              NT_max, (double)decoder_bytes(ops, c, NT_max, T_max) / 1048576.0, ops->name);
    Decoder *dec = decoder_create(ops, m, NT_max, T_max);
    int32_t *ids = base_malloc((size_t)NT_max * sizeof(int32_t), "batch ids");
    int *seq_start = base_malloc((n_seq + 1) * sizeof(int), "batch sequences");
    size_t cap_max = (size_t)NT_max;
    Capture *cap = base_malloc(cap_max * sizeof(Capture), "captures");
    // this rank's layers; the residual streams it takes and passes on: in the decoder's memory where the link
    // reaches it, else through host copies
    DecoderStage st = {0};
    decoder_stage_layers(c->n_layers, n_stages, stage, &st.first, &st.end);
    ASSERT(n_stages == 1 || part->link);
    const StageLink *link = n_stages > 1 ? part->link : NULL;
    st.in_place = link && link->send_stream && link->recv_stream;
    size_t stream_floats = (size_t)NT_max * (size_t)c->d_model;
    const int takes = st.first > 0, passes = st.end < c->n_layers;
    float *x_in = takes && !st.in_place ? base_malloc(stream_floats * sizeof(float), "stage input") : NULL;
    float *x_out = passes && !st.in_place ? base_malloc(stream_floats * sizeof(float), "stage output") : NULL;
    st.x_in = x_in, st.x_out = x_out;
    double layer_share = (double)(st.end - st.first) / c->n_layers;

    double t0 = base_wall();
    int stopped = 0;
    for (size_t s0 = 0; s0 < n_seq;) {
        // go (1) or stop (0): stage 0's decision, passed down the stages before each batch
        float go = base_stop_signal ? 0.0f : 1.0f;
        if (takes) link->recv(&go, 1, link->ctx);
        if (passes) link->send(&go, 1, link->ctx);
        if (go == 0.0f) {
            stopped = 1;
            break;
        }
        // pack sequences [s0, s1) into one batch
        TokenBatch b = {ids, seq_start, 0};
        int NT = 0;
        size_t n_cap = 0, s1 = s0;
        while (s1 < n_seq) {
            const Seq *sq = &seqs[s1];
            int len = (int)(sq->end - sq->start) + has_bos;
            if (b.n_seq > 0 && NT + len > NT_max) break;
            seq_start[b.n_seq++] = NT;
            if (has_bos) ids[NT++] = bos;
            int row0 = NT - (int)sq->start;  // row of body token i is row0 + i
            for (size_t i = sq->start; i < sq->end; i++) ids[NT++] = body[i];
            for (size_t w = sq->word_lo; w < sq->word_hi; w++) {
                size_t lo = p.repr == WORD_MEAN ? (size_t)first[w] : (size_t)last[w];
                if (lo < sq->start) lo = sq->start;  // a word cut by the window keeps the tokens it has
                float weight = 1.0f / (float)((size_t)last[w] + 1 - lo);
                for (size_t i = lo; i <= (size_t)last[w]; i++) {
                    ASSERT(n_cap < cap_max);
                    cap[n_cap++] = (Capture){row0 + (int)i, w, weight};
                }
            }
            s1++;
        }
        seq_start[b.n_seq] = NT;
        const size_t n_stream = (size_t)NT * (size_t)c->d_model;
        if (takes && st.in_place) link->recv_stream(decoder_stage_stream(dec), n_stream, link->ctx);
        else if (takes) link->recv(x_in, n_stream, link->ctx);
        decoder_forward_stage(dec, &b, cap, n_cap, out, offset, &st);
        if (passes && st.in_place) link->send_stream(decoder_stage_stream(dec), n_stream, link->ctx);
        else if (passes) link->send(x_out, n_stream, link->ctx);
        stats->tokens_run += (size_t)NT;
        stats->flops += decoder_flops(c, &b) * layer_share;
        stats->n_batches++;
        s0 = s1;
    }
    stats->n_sequences = n_seq;
    stats->seconds_forward = base_wall() - t0;

    free(x_in);
    free(x_out);
    free(cap);
    free(seq_start);
    free(ids);
    free(all);
    free(offset);
    decoder_free(dec);
    return stopped;
}

int extract_word_spans(const TokenSeq *story, int has_bos, const Stimulus *st, int64_t *first, int64_t *last,
                       char *why) {
    tok_word_token_span(story, st->start, st->end, st->n_words, first, last);
    int rc = 0;
    for (size_t w = 0; w < st->n_words; w++) {
        first[w] -= has_bos, last[w] -= has_bos;
        if (last[w] < 0 && rc == 0) {
            char q[BASE_QUOTE_LEN];
            rc = base_errf(why, "word %zu ('%s') tokenizes to nothing", w + 1,
                           base_escape(q, sizeof q, st->label[w], strlen(st->label[w])));
        }
    }
    return rc;
}

int extract_word_states(Model *m, const DecoderOps *ops, Tokenizer *tok, const Stimulus *st,
                        const ContextPolicy *policy, const ExtractPart *part, float *out, ExtractStats *stats,
                        char *err) {
    double t0 = base_wall();
    TokenSeq seq = {0};
    if (tok_encode(tok, st->text, st->text_len, &seq, err)) return -1;
    const int bos = tok_bos_id(tok);
    const size_t skip = bos >= 0 ? 1 : 0;  // the encoded sequence starts with BOS
    int64_t *first = base_malloc((st->n_words + 1) * sizeof(int64_t), "word tokens");
    int64_t *last = base_malloc((st->n_words + 1) * sizeof(int64_t), "word tokens");
    int rc = extract_word_spans(&seq, (int)skip, st, first, last, err);
    double t1 = base_wall();
    if (rc == 0)
        rc = extract_from_tokens(m, ops, seq.ids + skip, seq.n - skip, bos, first, last, st->n_words, policy, part,
                                 out, stats, err);
    if (rc == 0) stats->seconds_tokenize = t1 - t0;
    free(first);
    free(last);
    tokseq_free(&seq);
    return rc;
}
