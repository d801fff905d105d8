/* .scap reading kernels: the sequential walks of a decompressed chunk.
 *
 * A .scap chunk is a run of blocks, each `u32 type, u32 total_length, body,
 * padding, u32 total_length`; an event block's body is `u16 cpuid, [u32 flags],
 * event header (u64 ts, u64 tid, u32 len, u16 type, [u32 nparams])`, then the
 * parameter length slots. Every length is in the record itself, so finding the
 * records is a pointer chase: one loop here, where numpy needs n log n vector
 * steps or a gather per field. The numpy versions (collector/scap/blocks.py
 * `_chain`, collector/scap/headers.py) are the reference: the tests check both
 * give the same columns on every sample capture and on damaged files.
 *
 * All reads are bounds-checked against the buffer; nothing here trusts a length
 * from the file. Little-endian hosts only (the loader builds for this machine;
 * .scap is little-endian).
 */
#define _POSIX_C_SOURCE 200809L /* pthread's */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline int64_t rd64(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }

enum { CHAIN_OK = 0, CHAIN_BAD_LENGTH = 1, CHAIN_BAD_TRAILER = 2 };

/* The length of the block at buf[pos:n], or 0 where the chain stops there: the
 * block is incomplete (*status stays CHAIN_OK: more bytes may complete it), has an
 * impossible length (CHAIN_BAD_LENGTH) or a trailer that does not repeat its length
 * (CHAIN_BAD_TRAILER; *bad_len then the length word). The one check of both walks. */
static inline uint32_t chain_next(const uint8_t *buf, int64_t n, int64_t pos,
                                  int64_t *status, int64_t *bad_len) {
    if (pos + 12 > n)
        return 0;
    uint32_t blen = rd32(buf + pos + 4);
    if (blen < 12 || (blen & 3)) {
        *status = CHAIN_BAD_LENGTH;
        *bad_len = blen;
        return 0;
    }
    if (pos + (int64_t)blen > n)
        return 0;
    if (rd32(buf + pos + blen - 4) != blen) {
        *status = CHAIN_BAD_TRAILER;
        *bad_len = blen;
        return 0;
    }
    return blen;
}

/* The blocks of buf[0:n] that follow each other from offset 0: their start
 * offsets into starts[] (at most cap), the count returned. Stops before the
 * first block that chain_next refuses; *end is the offset after the last block
 * given, *bad_len the length word of the block stopped at. */
EXPORT int64_t scap_chain(const uint8_t *buf, int64_t n, int64_t *starts, int64_t cap,
                          int64_t *end, int64_t *status, int64_t *bad_len) {
    int64_t pos = 0, k = 0;
    uint32_t blen;
    *status = CHAIN_OK;
    *bad_len = 0;
    while (k < cap && (blen = chain_next(buf, n, pos, status, bad_len)) != 0) {
        starts[k++] = pos;
        pos += blen;
    }
    *end = pos;
    return k;
}

/* scap_chain, giving each block as a row of 4 int64 (type, body start, body end,
 * base + its start) in rows[] (at most cap rows): the table BlockStream.chunks yields,
 * made here so the reading thread holds the GIL for no per-block pass. */
EXPORT int64_t scap_chain_rows(const uint8_t *buf, int64_t n, int64_t base, int64_t *rows,
                               int64_t cap, int64_t *end, int64_t *status, int64_t *bad_len) {
    int64_t pos = 0, k = 0;
    uint32_t blen;
    *status = CHAIN_OK;
    *bad_len = 0;
    while (k < cap && (blen = chain_next(buf, n, pos, status, bad_len)) != 0) {
        int64_t *r = rows + 4 * k++;
        r[0] = rd32(buf + pos);
        r[1] = pos + 8;
        r[2] = pos + blen - 4;
        r[3] = base + pos;
        pos += blen;
    }
    *end = pos;
    return k;
}

/* Block kinds, by type id (collector/scap/blocks.py EVENT_BLOCKS): bit 0 an event
 * block, bit 1 a v2 header (with nparams), bit 2 u32 flags after cpuid. */
static int kind_of(int64_t t) {
    switch (t) {
    case 0x204: case 0x8010ABCD: return 1;          /* EV, EV_INT */
    case 0x216: case 0x221: return 1 | 2;           /* EV_V2, EV_V2_LARGE */
    case 0x208: return 1 | 4;                       /* EVF */
    case 0x217: case 0x222: return 1 | 2 | 4;       /* EVF_V2, EVF_V2_LARGE */
    default: return 0;
    }
}

/* The event header of block b (a row of 4 int64: type, body start, body end, stream
 * offset) of buf[0:n], when it is an event block whose body holds its cpuid, flags and
 * event header: its columns at index m of the outputs (see scap_headers); else 0. */
static inline int header_at(const uint8_t *buf, int64_t n, const int64_t *b, int64_t evf_bit,
                            int64_t m, int64_t *s_out, int64_t *e_out, int64_t *p_out,
                            int64_t *v2_out, int64_t *etype, int64_t *flags, int64_t *nparams,
                            int64_t *elen, int64_t *cpu, int64_t *ts, int64_t *tid) {
    int kind = kind_of(b[0]);
    int64_t s = b[1], e = b[2];
    if (!(kind & 1))
        return 0;
    int v2 = (kind & 2) != 0, hasf = (kind & 4) != 0;
    int64_t need = 2 + 4 * hasf + (v2 ? 26 : 22);
    if (e - s < need || s < 0 || e > n)
        return 0;
    int64_t p = s + 2 + 4 * hasf;
    s_out[m] = s;
    e_out[m] = e;
    p_out[m] = p;
    v2_out[m] = v2;
    cpu[m] = rd16(buf + s);
    flags[m] = hasf ? ((int64_t)rd32(buf + s + 2) | evf_bit) : 0;
    ts[m] = rd64(buf + p);
    tid[m] = rd64(buf + p + 8);
    elen[m] = rd32(buf + p + 16);
    etype[m] = rd16(buf + p + 20);
    nparams[m] = v2 ? (int64_t)rd32(buf + p + 22) : -1;
    return 1;
}

/* The event headers of the blocks blks[first:nb] (rows of 4 int64: type, body
 * start, body end, stream offset). An event block whose body holds its cpuid,
 * flags and event header gives one row of the outputs (its block row in
 * row[]); the others are left out (the caller counts them as skipped blocks).
 * flags is the EVF flags | evf_bit (0 for EV blocks); nparams -1 for v1
 * headers. Returns the number of rows. */
EXPORT int64_t scap_headers(const uint8_t *buf, int64_t n, const int64_t *blks, int64_t first,
                            int64_t nb, int64_t evf_bit, int64_t *row, int64_t *s_out,
                            int64_t *e_out, int64_t *p_out, int64_t *v2_out, int64_t *etype,
                            int64_t *flags, int64_t *nparams, int64_t *elen, int64_t *cpu,
                            int64_t *ts, int64_t *tid) {
    int64_t m = 0;
    for (int64_t i = first; i < nb; i++) {
        if (header_at(buf, n, blks + 4 * i, evf_bit, m, s_out, e_out, p_out, v2_out, etype,
                      flags, nparams, elen, cpu, ts, tid))
            row[m++] = i;
    }
    return m;
}

/* scap_headers, and in the same loop what chunk.py's ChunkPath._chunk derives from each
 * event's header (its numpy lines are the reference): lp = p + 26 (v2) or 22, where the
 * length slots start; evend = min(p + elen, e), where the parameters must end; cat =
 * cat_lut[etype] (0 past n_types); is_enter = etype even; part = cat > 0 and not a
 * container event (k[4], k[5]). stats (int64[8]): [0] the events _chunk must take its
 * general path for (v1 headers; k[0] fd events of v2 blocks; k[1] flag bits set; types
 * >= n_types), [1] cat 0, [2] type k[2] (drop), [3] type k[3] (procinfo), [4] container
 * events, [5] events with ts > 0, [6] and [7] their least and greatest ts. With lean,
 * only etype, flags, nparams, cpu, ts and tid of the scap_headers columns are written
 * (row, s, e, p, v2 and elen are not: less to write when the chunk needs none of them). */
EXPORT int64_t scap_headers_cls(const uint8_t *buf, int64_t n, const int64_t *blks,
                                int64_t first, int64_t nb, int64_t evf_bit, int64_t *row,
                                int64_t *s_out, int64_t *e_out, int64_t *p_out,
                                int64_t *v2_out, int64_t *etype, int64_t *flags,
                                int64_t *nparams, int64_t *elen, int64_t *cpu, int64_t *ts,
                                int64_t *tid, const int8_t *cat_lut, int64_t n_types,
                                const int64_t *k, int64_t *lp, int64_t *evend, int8_t *cat,
                                int8_t *is_enter, int8_t *part, int64_t *stats,
                                int64_t lean) {
    int64_t m = 0, general = 0, cat0 = 0, drop = 0, pinfo = 0, cont = 0, timed = 0;
    int64_t lo = 0, hi = 0;
    for (int64_t i = first; i < nb; i++) {
        int64_t h[11]; /* one event's scap_headers columns, in their order */
        if (!header_at(buf, n, blks + 4 * i, evf_bit, 0, h, h + 1, h + 2, h + 3, h + 4, h + 5,
                       h + 6, h + 7, h + 8, h + 9, h + 10))
            continue;
        if (!lean) {
            row[m] = i;
            s_out[m] = h[0];
            e_out[m] = h[1];
            p_out[m] = h[2];
            v2_out[m] = h[3];
            elen[m] = h[7];
        }
        etype[m] = h[4];
        flags[m] = h[5];
        nparams[m] = h[6];
        cpu[m] = h[8];
        ts[m] = h[9];
        tid[m] = h[10];
        int64_t t = h[4], p = h[2], end = p + h[7];
        int v2 = h[3] != 0;
        general += !v2 || (t == k[0]) || (h[5] & k[1]) != 0 || t >= n_types;
        lp[m] = p + (v2 ? 26 : 22);
        evend[m] = end < h[1] ? end : h[1];
        int8_t c = t >= 0 && t < n_types ? cat_lut[t] : 0;
        int is_cont = t == k[4] || t == k[5];
        cat[m] = c;
        is_enter[m] = (t & 1) == 0;
        part[m] = c > 0 && !is_cont;
        cat0 += c == 0;
        drop += t == k[2];
        pinfo += t == k[3];
        cont += is_cont;
        int64_t v = h[9];
        if (v > 0) {
            if (!timed++ || v < lo)
                lo = v;
            if (timed == 1 || v > hi)
                hi = v;
        }
        m++;
    }
    stats[0] = general;
    stats[1] = cat0;
    stats[2] = drop;
    stats[3] = pinfo;
    stats[4] = cont;
    stats[5] = timed;
    stats[6] = lo;
    stats[7] = hi;
    return m;
}

/* Whether an event's npar length slots of `slot` bytes (2, or 4 for large-payload
 * types) at lp and its first n_all parameters lie within it (before end and the
 * buffer's n bytes): the one check of every parameter walk here. params_into gives the
 * n_all lengths and value offsets (ln, st: written even when they do not fit);
 * params_fit the length and offset of parameter `want` alone. */
static inline int params_into(const uint8_t *buf, int64_t n, int64_t lp, int64_t end,
                              int64_t npar, int64_t n_all, int64_t slot, int64_t *ln,
                              int64_t *st) {
    int64_t at = lp + npar * slot, lim = end < n ? end : n;
    if (lp < 0 || at > lim)
        return 0;
    const uint8_t *q = buf + lp;
    for (int64_t j = 0; j < n_all; j++) {
        ln[j] = slot == 4 ? (int64_t)rd32(q + 4 * j) : (int64_t)rd16(q + 2 * j);
        st[j] = at;
        at += ln[j];
    }
    return at <= lim;
}

/* Whether event k's slots and first n_all parameters lie within it (scap_params'
 * ok), and the length and offset of parameter j < n_all when asked. */
static int params_fit(const uint8_t *buf, int64_t n, int64_t lp, int64_t end, int64_t npar,
                      int64_t n_all, int64_t slot, int64_t want, int64_t *len_j,
                      int64_t *at_j) {
    int64_t at = lp + npar * slot, lim = end < n ? end : n;
    if (lp < 0 || at > lim)
        return 0;
    for (int64_t j = 0; j < n_all; j++) {
        int64_t ln = slot == 4 ? (int64_t)rd32(buf + lp + 4 * j) : (int64_t)rd16(buf + lp + 2 * j);
        if (j == want) {
            *len_j = ln;
            *at_j = at;
        }
        at += ln;
    }
    return at <= lim;
}

/* The first n_all parameters of m events that have npar length slots of `slot`
 * bytes each (2, or 4 for large-payload types), starting at lp[i], and must end
 * by end[i]: ok[i] says whether the slots and those parameters lie within the
 * event; for the ok events, in order, their lengths and value offsets go to the
 * rows of lens and starts (m_ok x n_all). Returns m_ok. */
EXPORT int64_t scap_params(const uint8_t *buf, int64_t n, const int64_t *lp, const int64_t *end,
                           int64_t m, int64_t npar, int64_t n_all, int64_t slot, int8_t *ok,
                           int64_t *lens, int64_t *starts) {
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        ok[i] = (int8_t)params_into(buf, n, lp[i], end[i], npar, n_all, slot,
                                    lens + k * n_all, starts + k * n_all);
        k += ok[i];
    }
    return k;
}

/* An integer parameter: 1 and its `size`-byte little-endian value (sign-extended when
 * is_signed; a u64 keeps its bits) where its length ln holds `size` bytes at `at`
 * within the buffer, else 0. */
static inline int int_at(const uint8_t *buf, int64_t n, int64_t ln, int64_t at, int64_t size,
                         int64_t is_signed, int64_t *v) {
    if (ln < size || at < 0 || at + size > n)
        return 0;
    const uint8_t *q = buf + at;
    switch (size) {
    case 1: *v = is_signed ? (int64_t)(int8_t)q[0] : (int64_t)q[0]; break;
    case 2: *v = is_signed ? (int64_t)(int16_t)rd16(q) : (int64_t)rd16(q); break;
    case 4: *v = is_signed ? (int64_t)(int32_t)rd32(q) : (int64_t)rd32(q); break;
    default: *v = rd64(q); break;
    }
    return 1;
}

/* An integer parameter of m events: the `size`-byte little-endian value at
 * starts[i] where lens[i] >= size (present[i] = 1), sign-extended when is_signed,
 * else 0 (present[i] = 0); a u64 keeps its bits. Out-of-buffer reads (never, after
 * scap_params' checks) count as absent. */
EXPORT void scap_int_param(const uint8_t *buf, int64_t n, const int64_t *lens,
                           const int64_t *starts, int64_t m, int64_t size, int64_t is_signed,
                           int64_t *out, int8_t *present) {
    for (int64_t i = 0; i < m; i++) {
        int64_t v = 0;
        present[i] = (int8_t)int_at(buf, n, lens[i], starts[i], size, is_signed, &v);
        out[i] = v;
    }
}

/* The generic exit events of rows w[0:m] (fastrows._fill's GENERIC_X branch, its
 * reference): per event i, its first n parameters' lengths and offsets at lens/starts
 * + i * stride. Parameter 0 (u16 PPM_SC id) gives sc_nr[min(id, 1023)], or -1 when it
 * is shorter than 2 bytes, as the syscall number of row w[i] if that row has none
 * yet (nr[w[i]] < 0); with n >= 8 (cdig's writer: res and the six raw arguments)
 * parameter 1 is the result (ret[w[i]]) and, with want_args, parameters 2-7 the
 * arguments (args[w[i]][j], have[w[i]][j] = 2), each only where at least 8 bytes. */
EXPORT void scap_generic_exit(const uint8_t *buf, int64_t n_buf, const int64_t *lens,
                              const int64_t *starts, int64_t stride, int64_t m, int64_t n,
                              const int64_t *w, const int64_t *sc_nr, int64_t want_args,
                              int64_t *nr, int64_t *ret, int64_t *args, int8_t *have) {
    for (int64_t i = 0; i < m; i++) {
        const int64_t *ln = lens + i * stride, *st = starts + i * stride;
        int64_t row = w[i];
        if (n >= 1) {
            int64_t v = -1;
            if (ln[0] >= 2 && st[0] >= 0 && st[0] + 2 <= n_buf) {
                int64_t sc = rd16(buf + st[0]);
                v = sc_nr[sc < 1023 ? sc : 1023];
            }
            if (nr[row] < 0)
                nr[row] = v;
        }
        if (n < 8)
            continue;
        if (ln[1] >= 8 && st[1] >= 0 && st[1] + 8 <= n_buf)
            ret[row] = rd64(buf + st[1]);
        if (!want_args)
            continue;
        for (int j = 0; j < 6; j++) {
            if (ln[2 + j] >= 8 && st[2 + j] >= 0 && st[2 + j] + 8 <= n_buf) {
                args[row * 6 + j] = rd64(buf + st[2 + j]);
                have[row * 6 + j] = 2;
            }
        }
    }
}

/* scap_params then scap_generic_exit for m generic exit events of npar parameters
 * (slot bytes a length), event i's length slots at lp[i], ending by end[i]: its
 * first min(npar, 8) parameters are checked as scap_params checks them and read where
 * they lie (no lens/starts rows made), into row w[i]. ok[i]: they fit. */
EXPORT void scap_generic_exit_at(const uint8_t *buf, int64_t n_buf, const int64_t *lp,
                                 const int64_t *end, int64_t m, int64_t npar, int64_t slot,
                                 const int64_t *w, const int64_t *sc_nr, int64_t want_args,
                                 int64_t *nr, int64_t *ret, int64_t *args, int8_t *have,
                                 int8_t *ok) {
    int64_t n = npar < 8 ? npar : 8;
    for (int64_t i = 0; i < m; i++) {
        int64_t ln[8], st[8];
        ok[i] = (int8_t)params_into(buf, n_buf, lp[i], end[i], npar, n, slot, ln, st);
        if (!ok[i])
            continue;
        scap_generic_exit(buf, n_buf, ln, st, 8, 1, n, w + i, sc_nr, want_args, nr, ret, args,
                          have);
    }
}

/* fastrows._fill's generic enter events (scap_params' check of their first n_all
 * parameters, then the u16 native id of parameter 1, where it has 2 bytes, as the
 * syscall number of row w[i]), in one loop; ok[i]: the parameters fit. */
EXPORT void scap_generic_enter_at(const uint8_t *buf, int64_t n_buf, const int64_t *lp,
                                  const int64_t *end, int64_t m, int64_t npar, int64_t n_all,
                                  int64_t slot, const int64_t *w, int64_t *nr, int8_t *ok) {
    for (int64_t i = 0; i < m; i++) {
        int64_t ln1 = 0, st1 = 0;
        ok[i] = (int8_t)params_fit(buf, n_buf, lp[i], end[i], npar, n_all, slot, 1, &ln1,
                                   &st1);
        if (!ok[i])
            continue;
        if (n_all >= 2 && ln1 >= 2 && st1 + 2 <= n_buf)
            nr[w[i]] = rd16(buf + st1);
    }
}

/* One string parameter as scap_str_into writes it: the bytes at `at`, at most
 * min(ln, width - 1), cut at the first NUL, to row (when not NULL), the rest of its
 * `width` bytes zeroed; out-of-range bytes give an empty string. Returns its length. */
static inline int64_t str_to_row(const uint8_t *buf, int64_t n, int64_t ln, int64_t at,
                                 int64_t width, uint8_t *row) {
    if (ln > width - 1)
        ln = width - 1;
    if (ln < 0 || at < 0 || at + ln > n)
        ln = 0;
    const uint8_t *q = buf + at;
    const uint8_t *z = ln ? memchr(q, 0, (size_t)ln) : NULL;
    int64_t s = z ? (int64_t)(z - q) : ln;
    if (row) {
        memcpy(row, q, (size_t)s);
        memset(row + s, 0, (size_t)(width - s));
    }
    return s;
}

/* A flag or command codec of collector/scap/bulk.py: kind 1, cn tables of 256 (the OR
 * of table i at byte i of v: ByteCodec); kind 2, a table of cn at v clipped to
 * [0, cn - 1] (LutCodec); else v itself. */
static inline int64_t codec_of(int64_t v, int64_t kind, int64_t cn, const int64_t *t) {
    if (kind == 1) {
        int64_t o = 0;
        for (int64_t i = 0; i < cn; i++)
            o |= t[256 * i + ((v >> (8 * i)) & 0xFF)];
        return o;
    }
    if (kind == 2)
        return t[v < 0 ? 0 : v >= cn ? cn - 1 : v];
    return v;
}

#define FILL_MAX_PARAMS 64
/* fastrows._fill of m events of one fast type (not generic) and side, in one loop (its
 * numpy and kernel lines after _readable are the reference). Event i: its npar length
 * slots of `slot` bytes at lp[i], ending by end[i], its first n_all parameters checked
 * as scap_params checks them (ok[i]; the others give nothing), then of its row
 * r = w[i]: nr[r] = nr_val; with ret_size (n_use >= 1), parameter 0 as scap_int_param
 * reads it (ret_size bytes, ret_signed) into ret[r] where present; per amap entry
 * (6 words: pi, size, signed, ai, codec kind, codec length; its table at codecs[j]),
 * where pi < n_use, the parameter is present and have[r][ai] < rank: args[r][ai] = its
 * value through the codec, have[r][ai] = rank; per pmap entry (4 words: pi, l column
 * 0 or 1, width, byte offset in the ext row) where pi < n_use, its length > 0 and the
 * row's l column is 0 or rank is 2: the string as scap_str_into writes it (into ext row
 * srow[r] when 0 <= srow[r] < x_rows), l[r] = its length + 1, is_ext[r] = 1. */
EXPORT void scap_fill_at(const uint8_t *buf, int64_t n_buf, const int64_t *lp,
                         const int64_t *end, int64_t m, int64_t npar, int64_t n_all,
                         int64_t slot, int64_t n_use, const int64_t *w, int64_t nr_val,
                         int64_t *nr, int64_t ret_size, int64_t ret_signed, int64_t *ret,
                         int64_t n_amap, const int64_t *amap, const int64_t *codecs,
                         int64_t rank, int64_t *args, int8_t *have, int64_t n_pmap,
                         const int64_t *pmap, int16_t *l1, int16_t *l2, int8_t *is_ext,
                         const int64_t *srow, uint8_t *xrows, int64_t x_stride,
                         int64_t x_rows, int8_t *ok) {
    if (n_all > FILL_MAX_PARAMS)
        n_all = FILL_MAX_PARAMS; /* (the caller keeps it within) */
    for (int64_t i = 0; i < m; i++) {
        int64_t ln[FILL_MAX_PARAMS], st[FILL_MAX_PARAMS], v;
        ok[i] = (int8_t)params_into(buf, n_buf, lp[i], end[i], npar, n_all, slot, ln, st);
        if (!ok[i])
            continue;
        int64_t r = w[i];
        nr[r] = nr_val;
        if (n_use < 1)
            continue;
        if (ret_size && int_at(buf, n_buf, ln[0], st[0], ret_size, ret_signed, &v))
            ret[r] = v;
        for (int64_t j = 0; j < n_amap; j++) {
            const int64_t *a = amap + 6 * j;
            int64_t pi = a[0], ai = a[3];
            if (pi >= n_use || have[r * 6 + ai] >= rank ||
                !int_at(buf, n_buf, ln[pi], st[pi], a[1], a[2], &v))
                continue;
            args[r * 6 + ai] = codec_of(v, a[4], a[5], (const int64_t *)(intptr_t)codecs[j]);
            have[r * 6 + ai] = (int8_t)rank;
        }
        for (int64_t j = 0; j < n_pmap; j++) {
            const int64_t *p = pmap + 4 * j;
            int64_t pi = p[0], width = p[2];
            int16_t *lc = p[1] ? l2 : l1;
            if (pi >= n_use || ln[pi] <= 0 || (lc[r] != 0 && rank != 2))
                continue;
            int64_t d = srow[r];
            int64_t s = str_to_row(buf, n_buf, ln[pi], st[pi], width,
                                   d >= 0 && d < x_rows ? xrows + d * x_stride + p[3] : NULL);
            lc[r] = (int16_t)(s + 1);
            is_ext[r] = 1;
        }
    }
}

/* The columns fastrows._fast_rows makes first for its m records (rows: each one's
 * event, its exit or a lone enter), in one pass (the numpy lines are the reference):
 * ts, tid, cpu, num of the event; key = row * 8 + 1; kind (kind_enter for an enter,
 * else kind_exit); shown = !(dflags & state_only); ent = the row's enter (the row
 * itself for an enter, enter_of[row] for an exit: -1 when none); lat = ts - the
 * enter's ts for a paired exit, else 0; srow = the record's index among those whose
 * event or enter is of a type with strings (has_str[type]), else -1. Returns that
 * count. */
EXPORT int64_t scap_fast_base(int64_t m, const int64_t *rows, const int8_t *is_enter,
                              const int64_t *enter_of, const int64_t *ts, const int64_t *tid,
                              const int64_t *cpu, const int64_t *num, const int64_t *dflags,
                              const int64_t *etype, int64_t n_types, const int8_t *has_str,
                              int64_t state_only, int64_t kind_enter, int64_t kind_exit,
                              int64_t *o_ts, int64_t *o_lat, int64_t *o_tid, int64_t *o_cpu,
                              int64_t *o_num, int64_t *o_key, int64_t *o_kind, int8_t *o_shown,
                              int64_t *o_ent, int64_t *o_srow) {
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        int64_t r = rows[i];
        int en = is_enter[r] != 0;
        int64_t e = en ? r : enter_of[r];
        o_ts[i] = ts[r];
        o_tid[i] = tid[r];
        o_cpu[i] = cpu[r];
        o_num[i] = num[r];
        o_key[i] = r * 8 + 1;
        o_kind[i] = en ? kind_enter : kind_exit;
        o_shown[i] = (dflags[r] & state_only) == 0;
        o_ent[i] = e;
        o_lat[i] = (e >= 0 && !en) ? ts[r] - ts[e] : 0;
        int64_t t = etype[r];
        int may = t >= 0 && t < n_types && has_str[t];
        if (!may && e >= 0) {
            int64_t te = etype[e];
            may = te >= 0 && te < n_types && has_str[te];
        }
        o_srow[i] = may ? k++ : -1;
    }
    return k;
}

/* Fast records into rows [at, at + m) of a record array (probes.layout.RECORD, `stride`
 * bytes a row; off[] its fields' byte offsets: ts_ns, latency_ns, cgroup_id, ret, args,
 * pid, tid, uid, gid, nr, kind, flags, cpu, comm): one pass writing each row once, in
 * place of a strided numpy assignment per field. Values are cast as numpy casts them
 * (to the field's width, modulo). comm: 16 bytes a row as given. */
EXPORT void scap_pack_records(uint8_t *rec, int64_t stride, int64_t at, int64_t m,
                              const int64_t *off, const int64_t *ts, const int64_t *lat,
                              const int64_t *cg, const int64_t *ret, const int64_t *args,
                              const int64_t *pid, const int64_t *tid, const int64_t *uid,
                              const int64_t *gid, const int64_t *nr, const int64_t *kind,
                              const uint8_t *flags, const int64_t *cpu, const uint8_t *comm) {
    for (int64_t i = 0; i < m; i++) {
        uint8_t *r = rec + (at + i) * stride;
        uint64_t u64;
        uint32_t u32;
        uint16_t u16;
        uint8_t u8;
        u64 = (uint64_t)ts[i]; memcpy(r + off[0], &u64, 8);
        u64 = (uint64_t)lat[i]; memcpy(r + off[1], &u64, 8);
        u64 = (uint64_t)cg[i]; memcpy(r + off[2], &u64, 8);
        memcpy(r + off[3], &ret[i], 8);
        memcpy(r + off[4], &args[6 * i], 48);
        u32 = (uint32_t)pid[i]; memcpy(r + off[5], &u32, 4);
        u32 = (uint32_t)tid[i]; memcpy(r + off[6], &u32, 4);
        u32 = (uint32_t)uid[i]; memcpy(r + off[7], &u32, 4);
        u32 = (uint32_t)gid[i]; memcpy(r + off[8], &u32, 4);
        u16 = (uint16_t)nr[i]; memcpy(r + off[9], &u16, 2);
        u8 = (uint8_t)kind[i]; r[off[10]] = u8;
        r[off[11]] = flags[i];
        u32 = (uint32_t)cpu[i]; memcpy(r + off[12], &u32, 4);
        memcpy(r + off[13], comm + 16 * i, 16);
    }
}

/* Row gather: for i < m, `width` bytes from src + idx[i] * src_stride to
 * dst + i * dst_stride (the records of a batch into their ext rows, one memcpy
 * each, where numpy's fancy index makes an intermediate copy of all the rows).
 * idx[i] outside [0, src_rows) is skipped. */
EXPORT void scap_gather_rows(uint8_t *dst, int64_t dst_stride, const uint8_t *src,
                             int64_t src_stride, int64_t src_rows, const int64_t *idx, int64_t m,
                             int64_t width) {
    for (int64_t i = 0; i < m; i++) {
        int64_t j = idx[i];
        if (j < 0 || j >= src_rows)
            continue;
        memcpy(dst + i * dst_stride, src + j * src_stride, (size_t)width);
    }
}

/* Row move: for i < m, `width` bytes from src + src_idx[i] * src_stride to
 * dst + dst_idx[i] * dst_stride (the fast path's strings into the ext rows of a
 * batch that also has rows of the per-event path). Indexes outside
 * [0, src_rows) or [0, dst_rows) are skipped. */
EXPORT void scap_move_rows(uint8_t *dst, int64_t dst_stride, int64_t dst_rows,
                           const int64_t *dst_idx, const uint8_t *src, int64_t src_stride,
                           int64_t src_rows, const int64_t *src_idx, int64_t m, int64_t width) {
    for (int64_t i = 0; i < m; i++) {
        int64_t d = dst_idx[i], j = src_idx[i];
        if (d < 0 || d >= dst_rows || j < 0 || j >= src_rows)
            continue;
        memcpy(dst + d * dst_stride, src + j * src_stride, (size_t)width);
    }
}

/* The syscall number of each of m fast records before any parameter is parsed (the
 * reader's prune: collector/scap/fastrows.py _pruned is the reference): its exit
 * event x[i] (or -1) first, then its enter e[i] (or -1) over it, each only when its
 * slots and first parameters lie within the event. A generic exit gives
 * sc_nr[its u16 PPM_SC id] (-1 without the parameter), a generic enter its u16
 * native id (where present), any other type nr_of[type]. Per event: etype, lp (its
 * length slots), npar (taken as at most 4095), end. Per type: nr_of, large (u32
 * slots), ncap (parameters checked: min(npar, ncap)). -1 where no side is readable. */
/* What event k says of its record's syscall number, before any parameter is parsed
 * (one side of scap_prune_nr): -2 nothing (its slots or first parameters do not lie
 * within it, a type past the tables, a generic enter without its id, a generic exit
 * without parameters), -1 none (a generic exit without its PPM_SC id), else the number:
 * sc_nr[its u16 PPM_SC id] (generic exit), its u16 native id (generic enter), nr_of[t]. */
static inline int64_t prune_side(const uint8_t *buf, int64_t n, int64_t k,
                                 const int64_t *etype, const int64_t *lp,
                                 const int64_t *npar, const int64_t *end, int64_t n_types,
                                 const int64_t *nr_of, const int8_t *large,
                                 const int64_t *ncap, const int64_t *sc_nr,
                                 int64_t generic_e, int64_t generic_x) {
    int64_t t = etype[k];
    if (t < 0 || t >= n_types)
        return -2;
    /* as the reference, which groups events by min(npar, 4095) */
    int64_t np_ = npar[k] < 4095 ? npar[k] : 4095, slot = large[t] ? 4 : 2;
    int64_t n_all = np_ < ncap[t] ? np_ : ncap[t];
    int64_t want = t == generic_x ? 0 : (t == generic_e ? 1 : -1);
    int64_t ln = 0, at = 0;
    if (!params_fit(buf, n, lp[k], end[k], np_, n_all, slot, want, &ln, &at))
        return -2;
    if (t == generic_x) {
        if (n_all < 1)
            return -2;
        if (ln >= 2 && at >= 0 && at + 2 <= n) {
            int64_t sc = rd16(buf + at);
            return sc_nr[sc < 1023 ? sc : 1023];
        }
        return -1;
    }
    if (t == generic_e)
        return n_all >= 2 && ln >= 2 && at >= 0 && at + 2 <= n ? (int64_t)rd16(buf + at) : -2;
    return nr_of[t];
}

/* A record's number: its enter's (e >= 0) where that says one, else its exit's (x),
 * else -1; the exit is not read when the enter decides (the reference takes the exit's,
 * then the enter's over it). */
static inline int64_t prune_nr_at(const uint8_t *buf, int64_t n, int64_t x, int64_t e,
                                  const int64_t *etype, const int64_t *lp,
                                  const int64_t *npar, const int64_t *end, int64_t n_types,
                                  const int64_t *nr_of, const int8_t *large,
                                  const int64_t *ncap, const int64_t *sc_nr,
                                  int64_t generic_e, int64_t generic_x) {
    int64_t v = e >= 0 ? prune_side(buf, n, e, etype, lp, npar, end, n_types, nr_of, large,
                                    ncap, sc_nr, generic_e, generic_x) : -2;
    if (v == -2 && x >= 0)
        v = prune_side(buf, n, x, etype, lp, npar, end, n_types, nr_of, large, ncap, sc_nr,
                       generic_e, generic_x);
    return v == -2 ? -1 : v;
}

EXPORT void scap_prune_nr(const uint8_t *buf, int64_t n, const int64_t *x, const int64_t *e,
                          int64_t m, const int64_t *etype, const int64_t *lp,
                          const int64_t *npar, const int64_t *end, int64_t n_types,
                          const int64_t *nr_of, const int8_t *large, const int64_t *ncap,
                          const int64_t *sc_nr, int64_t generic_e, int64_t generic_x,
                          int64_t *nr) {
    for (int64_t i = 0; i < m; i++)
        nr[i] = prune_nr_at(buf, n, x[i], e[i], etype, lp, npar, end, n_types, nr_of, large,
                            ncap, sc_nr, generic_e, generic_x);
}

/* The fast records of a chunk's m events that the reader's prune keeps, when the prune
 * is a function of the syscall number and the kind alone (fastrows.py _fast_rows and
 * _pruned with _kept are the reference): the events of cat 1 not handled by the
 * per-event path that are exits or unpaired enters, in order, each with its number as
 * scap_prune_nr gives it (from itself when an exit, and its enter e = enter_of[i]);
 * those without one (-1) are counted in stats[2] (internal) and left out; of the
 * others, the kept are those where keep_x[nr] (exits) or keep_e[nr] (enters) is set,
 * and, with first_ts, the first of least ts (the session's first time), always. The rows go to rows[] (room for m); stats[0] the records left out,
 * stats[1] those of them whose event is shown (dflags without state_only). Returns the
 * number of rows kept, or -1 at a number >= n_lut (the tables' size): not decided. */
EXPORT int64_t scap_prune_rows(const uint8_t *buf, int64_t n, int64_t m, const int64_t *etype,
                               const int8_t *is_enter, const int8_t *cat,
                               const int8_t *handled, const int64_t *enter_of,
                               const int8_t *paired, const int64_t *lp, const int64_t *npar,
                               const int64_t *end, int64_t n_types, const int64_t *nr_of,
                               const int8_t *large, const int64_t *ncap, const int64_t *sc_nr,
                               int64_t generic_e, int64_t generic_x, const int8_t *keep_x,
                               const int8_t *keep_e, int64_t n_lut, const int64_t *dflags,
                               int64_t state_only, const int64_t *ts, int64_t first_ts,
                               int64_t *rows, int64_t *stats) {
    int64_t c = 0, internal = 0, least = -1, least_ts = 0;
    /* pass 1: every candidate row in rows[], its keep bit in the sign (rows are >= 0) */
    for (int64_t i = 0; i < m; i++) {
        if (cat[i] != 1 || handled[i])
            continue;
        int ie = is_enter[i] != 0;
        if (ie && paired[i])
            continue;
        int64_t nr = prune_nr_at(buf, n, ie ? -1 : i, ie ? i : enter_of[i], etype, lp, npar,
                                 end, n_types, nr_of, large, ncap, sc_nr, generic_e,
                                 generic_x);
        if (nr < 0) {
            internal++;
            continue;
        }
        if (nr >= n_lut)
            return -1;
        int keep = ie ? keep_e[nr] : keep_x[nr];
        if (first_ts && (least < 0 || ts[i] < least_ts)) {
            least = c;
            least_ts = ts[i];
        }
        rows[c++] = keep ? i : ~i;
    }
    if (least >= 0 && rows[least] < 0)
        rows[least] = ~rows[least];
    /* pass 2: the kept, in place */
    int64_t k = 0, left = 0, left_shown = 0;
    for (int64_t j = 0; j < c; j++) {
        int64_t r = rows[j];
        if (r >= 0) {
            rows[k++] = r;
        } else {
            left++;
            left_shown += (dflags[~r] & state_only) == 0;
        }
    }
    stats[0] = left;
    stats[1] = left_shown;
    stats[2] = internal;
    return k;
}

/* A string parameter of m events into rows of dst (bulk.str_param, then a row move,
 * in one pass): the bytes at starts[i], at most min(lens[i], width - 1), cut at the
 * first NUL (a trailing NUL counted in the stored length included), go to
 * dst + dst_idx[i] * dst_stride, the rest of the row's `width` bytes zeroed;
 * slen[i] gets the string's length (no NUL). Out-of-range rows or bytes outside
 * buf give an empty string, and dst_idx[i] outside [0, dst_rows) writes nothing. */
EXPORT void scap_str_into(const uint8_t *buf, int64_t n, const int64_t *lens,
                          const int64_t *starts, int64_t m, int64_t width, uint8_t *dst,
                          int64_t dst_stride, int64_t dst_rows, const int64_t *dst_idx,
                          int64_t *slen) {
    for (int64_t i = 0; i < m; i++) {
        int64_t d = dst_idx[i];
        slen[i] = str_to_row(buf, n, lens[i], starts[i], width,
                             d >= 0 && d < dst_rows ? dst + d * dst_stride : NULL);
    }
}

/* I/O data of m events into rows of dst (bulk.rows_into): min(ln[i], width) bytes
 * at starts[i] to dst + dst_idx[i] * dst_stride; the rest of the row untouched.
 * Rows or bytes out of range are skipped. */
EXPORT void scap_bytes_into(const uint8_t *buf, int64_t n, const int64_t *ln,
                            const int64_t *starts, int64_t m, int64_t width, uint8_t *dst,
                            int64_t dst_stride, int64_t dst_rows, const int64_t *dst_idx) {
    for (int64_t i = 0; i < m; i++) {
        int64_t l = ln[i] < width ? ln[i] : width, at = starts[i], d = dst_idx[i];
        if (l <= 0 || at < 0 || at + l > n || d < 0 || d >= dst_rows)
            continue;
        memcpy(dst + d * dst_stride, buf + at, (size_t)l);
    }
}

/* Enter/exit pairing of n events (collector/scap/chunk.py pair_numpy is the
 * reference): among the events with part[k], each one's previous event of the same
 * thread (tid) in order; where that is an enter (even type) and this event its exit
 * (type + 1), enter_of[k] = that event and paired[it] = 1. first_of / last_of mark
 * the first and the last part event of each thread; the other events get -1 / 0.
 * A thread -> last event hash table (open addressing, grown by doubling). Returns
 * 0, or -1 when memory runs out (the outputs are then unusable). */
EXPORT int64_t scap_pair(const int64_t *tid, const int64_t *etype, const int8_t *part,
                         int64_t n, int64_t *enter_of, int8_t *paired, int8_t *first_of,
                         int8_t *last_of) {
    int64_t size = 256, used = 0;
    int64_t *key = malloc((size_t)size * sizeof *key), *val = malloc((size_t)size * sizeof *val);
    if (!key || !val) {
        free(key);
        free(val);
        return -1;
    }
    for (int64_t i = 0; i < size; i++)
        val[i] = -1;
    for (int64_t k = 0; k < n; k++) {
        enter_of[k] = -1;
        paired[k] = first_of[k] = last_of[k] = 0;
    }
    for (int64_t k = 0; k < n; k++) {
        if (!part[k])
            continue;
        if (2 * (used + 1) > size) {  /* keep the load under one half */
            int64_t ns = size * 2;
            int64_t *nk = malloc((size_t)ns * sizeof *nk), *nv = malloc((size_t)ns * sizeof *nv);
            if (!nk || !nv) {
                free(nk);
                free(nv);
                free(key);
                free(val);
                return -1;
            }
            for (int64_t i = 0; i < ns; i++)
                nv[i] = -1;
            for (int64_t i = 0; i < size; i++) {
                if (val[i] < 0)
                    continue;
                uint64_t h = ((uint64_t)key[i] * 0x9E3779B97F4A7C15ull) & (uint64_t)(ns - 1);
                while (nv[h] >= 0)
                    h = (h + 1) & (uint64_t)(ns - 1);
                nk[h] = key[i];
                nv[h] = val[i];
            }
            free(key);
            free(val);
            key = nk;
            val = nv;
            size = ns;
        }
        int64_t t = tid[k];
        uint64_t h = ((uint64_t)t * 0x9E3779B97F4A7C15ull) & (uint64_t)(size - 1);
        while (val[h] >= 0 && key[h] != t)
            h = (h + 1) & (uint64_t)(size - 1);
        if (val[h] < 0) {
            key[h] = t;
            first_of[k] = 1;
            used++;
        } else {
            int64_t a = val[h];
            if ((etype[a] & 1) == 0 && etype[k] == etype[a] + 1) {
                enter_of[k] = a;
                paired[a] = 1;
            }
        }
        val[h] = k;
    }
    for (int64_t i = 0; i < size; i++)
        if (val[i] >= 0)
            last_of[val[i]] = 1;
    free(key);
    free(val);
    return 0;
}

/* One chunk's C pass after its chain (collector/scap/chunk.py ChunkPath._chunk with
 * first 0): scap_headers_cls of its nb block rows, lean (stats[0-7]; stats[8]: the
 * events), then, when every row is an event the common path takes (stats[0] == 0, as
 * many events as rows), scap_pair of them. Returns 1 when paired, 0 when not asked, -1
 * when memory ran out. */
static int64_t cls_pair(const uint8_t *buf, int64_t n, const int64_t *rows, int64_t nb,
                        int64_t evf_bit, int64_t *etype, int64_t *flags, int64_t *nparams,
                        int64_t *cpu, int64_t *ts, int64_t *tid, const int8_t *cat_lut,
                        int64_t n_types, const int64_t *k, int64_t *lp, int64_t *evend,
                        int8_t *cat, int8_t *is_enter, int8_t *part, int64_t *stats,
                        int64_t *enter_of, int8_t *paired, int8_t *first_of,
                        int8_t *last_of) {
    for (int i = 0; i < 9; i++)
        stats[i] = 0;
    int64_t m = scap_headers_cls(buf, n, rows, 0, nb, evf_bit, NULL, NULL, NULL, NULL, NULL,
                                 etype, flags, nparams, NULL, cpu, ts, tid, cat_lut, n_types, k,
                                 lp, evend, cat, is_enter, part, stats, 1);
    stats[8] = m;
    if (stats[0] != 0 || m != nb)
        return 0;
    return scap_pair(tid, etype, part, m, enter_of, paired, first_of, last_of) == 0 ? 1 : -1;
}

/* A worker thread that runs cls_pair of one chunk while the caller (the parsing thread,
 * in Python) works on the chunk before: started by scap_async_start, its result taken
 * by scap_async_wait. A thread of C alone: it never takes Python's GIL, so it never
 * waits for the parsing thread to let it go (a Python thread did, at each return from
 * C, and the parsing then waited for it in turn). The arguments' buffers must stay
 * alive until the wait. One job at a time. */
#define PRUNE_WORDS 17
struct scap_async {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* 0 idle, 1 a job to run, 2 done, 3 quit */
    int64_t result;
    const uint8_t *buf;
    int64_t n, nb, evf_bit, n_types;
    const int64_t *rows, *k;
    const int8_t *cat_lut;
    int64_t *cols[10];  /* etype flags nparams cpu ts tid lp evend stats enter_of */
    int8_t *small[6];   /* cat is_enter part paired first_of last_of */
    int64_t pr[PRUNE_WORDS]; /* the prune's (see async_prune); pr[0] 0: none */
};

/* After a paired cls_pair, the fast records a prune of the syscall number and kind
 * keeps (scap_prune_rows, first_ts 0) with `handled` the events the caller's chunk
 * step takes out of the fast rows before it knows the enters left pending by the
 * chunk before: those of the slow types and the enters carried to the next chunk
 * (chunk.py: slow | carry without `override`). pr: [1, nr_of, n_nr, large, ncap,
 * sc_nr, generic_e, generic_x, keep_x, keep_e, n_lut, state_only, procexit_e,
 * procexit_old_e, handled (int8[m]), rows (int64[m]), out (int64[4]: left, left shown,
 * internal, the rows or -1 when a number is past the tables)]. */
static void async_prune(const uint8_t *buf, int64_t n, int64_t m, const int64_t *pr,
                        const int64_t *etype, const int64_t *lp, const int64_t *npar,
                        const int64_t *end, const int64_t *dflags, const int64_t *ts,
                        const int8_t *cat, const int8_t *is_enter, const int8_t *part,
                        const int8_t *paired, const int8_t *last_of,
                        const int64_t *enter_of) {
    int8_t *handled = (int8_t *)(intptr_t)pr[14];
    int64_t *out = (int64_t *)(intptr_t)pr[16];
    for (int64_t i = 0; i < m; i++) {
        int64_t t = etype[i];
        int carry = is_enter[i] && !paired[i] && last_of[i] && part[i] && t != pr[12] &&
                    t != pr[13];
        handled[i] = cat[i] == 2 || carry;
    }
    int64_t st[3] = {0, 0, 0};
    int64_t k = scap_prune_rows(buf, n, m, etype, is_enter, cat, handled, enter_of, paired,
                                lp, npar, end, pr[2], (const int64_t *)(intptr_t)pr[1],
                                (const int8_t *)(intptr_t)pr[3],
                                (const int64_t *)(intptr_t)pr[4],
                                (const int64_t *)(intptr_t)pr[5], pr[6], pr[7],
                                (const int8_t *)(intptr_t)pr[8], (const int8_t *)(intptr_t)pr[9],
                                pr[10], dflags, pr[11], ts, 0, (int64_t *)(intptr_t)pr[15], st);
    out[0] = st[0];
    out[1] = st[1];
    out[2] = st[2];
    out[3] = k;
}

static void *async_main(void *arg) {
    struct scap_async *a = arg;
    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (a->state != 1 && a->state != 3)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->state == 3)
            break;
        pthread_mutex_unlock(&a->mu);
        int64_t r = cls_pair(a->buf, a->n, a->rows, a->nb, a->evf_bit, a->cols[0], a->cols[1],
                             a->cols[2], a->cols[3], a->cols[4], a->cols[5], a->cat_lut,
                             a->n_types, a->k, a->cols[6], a->cols[7], a->small[0], a->small[1],
                             a->small[2], a->cols[8], a->cols[9], a->small[3], a->small[4],
                             a->small[5]);
        if (a->pr[0]) {
            int64_t *out = (int64_t *)(intptr_t)a->pr[16];
            out[3] = -2; /* not made */
            if (r == 1)
                async_prune(a->buf, a->n, a->cols[8][8], a->pr, a->cols[0], a->cols[6],
                            a->cols[2], a->cols[7], a->cols[1], a->cols[4], a->small[0],
                            a->small[1], a->small[2], a->small[3], a->small[5], a->cols[9]);
        }
        pthread_mutex_lock(&a->mu);
        a->result = r;
        a->state = 2;
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* A new worker (NULL when no thread could be made: the caller runs cls_pair itself). */
EXPORT void *scap_async_new(void) {
    struct scap_async *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (pthread_mutex_init(&a->mu, NULL) != 0) {
        free(a);
        return NULL;
    }
    if (pthread_cond_init(&a->cv, NULL) != 0) {
        pthread_mutex_destroy(&a->mu);
        free(a);
        return NULL;
    }
    if (pthread_create(&a->th, NULL, async_main, a) != 0) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return NULL;
    }
    return a;
}

/* Hand the worker cls_pair of one chunk (the arguments as cls_pair's, cols and small in
 * its order), then async_prune when pr (its words; NULL or pr[0] 0: none); -1 when it
 * has a job not yet waited for. */
EXPORT int64_t scap_async_start(void *h, const uint8_t *buf, int64_t n, const int64_t *rows,
                                int64_t nb, int64_t evf_bit, const int8_t *cat_lut,
                                int64_t n_types, const int64_t *k, int64_t **cols,
                                int8_t **small, const int64_t *pr) {
    struct scap_async *a = h;
    pthread_mutex_lock(&a->mu);
    if (a->state == 1) {
        pthread_mutex_unlock(&a->mu);
        return -1;
    }
    a->buf = buf;
    a->n = n;
    a->rows = rows;
    a->nb = nb;
    a->evf_bit = evf_bit;
    a->cat_lut = cat_lut;
    a->n_types = n_types;
    a->k = k;
    for (int i = 0; i < 10; i++)
        a->cols[i] = cols[i];
    for (int i = 0; i < 6; i++)
        a->small[i] = small[i];
    for (int i = 0; i < PRUNE_WORDS; i++)
        a->pr[i] = pr ? pr[i] : 0;
    a->state = 1;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* The result of the job last started (cls_pair's), once it is done; -2 when none was
 * started. */
EXPORT int64_t scap_async_wait(void *h) {
    struct scap_async *a = h;
    pthread_mutex_lock(&a->mu);
    while (a->state == 1)
        pthread_cond_wait(&a->cv, &a->mu);
    int64_t r = a->state == 2 ? a->result : -2;
    a->state = 0;
    pthread_mutex_unlock(&a->mu);
    return r;
}

/* Stop the worker (after its job, if one runs) and free it. */
EXPORT void scap_async_free(void *h) {
    struct scap_async *a = h;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    while (a->state == 1)
        pthread_cond_wait(&a->cv, &a->mu);
    a->state = 3;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
