/* Output lines of a batch, assembled straight into one buffer (collector/render.py).
 *
 * A line is a fixed program of pieces: literal text, an entry of a per-batch table
 * (a segment of keyed fields, or the text of a second) chosen by a per-row code,
 * and numbers of the row's columns. Python renders and escapes every table entry
 * (once per distinct combination of what it reads) and encodes it for the output
 * stream; this loop only copies those bytes and writes the numbers, then a newline
 * after each line. Nothing here interprets the text it copies.
 *
 * Bounds: the caller passes `row_max`, an upper bound of one line's length
 * (literals + the longest entry of each table + 20 per number + 9 per nanosecond
 * part + the newline); before a row the loop checks that `row_max` bytes are left.
 * A code outside its table stops the loop: -2 (the caller falls back to Python).
 */
#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum {
    OP_LIT = 0, /* a: entry */
    OP_TAB = 1, /* a: first entry, b: entries, c: code column */
    OP_U64 = 2, /* a: column (uint64), decimal */
    OP_I64 = 3, /* a: column (int64), decimal with a '-' when negative */
    OP_NS9 = 4, /* a: column (int64 ns): the nanoseconds of its second, 9 digits */
    OP_SEC = 5, /* a: column (int64 ns), b: first entry, c: entries, d: the first's second */
};

typedef struct {
    int64_t op, a, b, c, d;
} op_t;

static const char DIGITS2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline int n_digits(uint64_t v) {
    int n = 1;
    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

static inline void put_pairs(uint8_t *t, uint64_t v, int pairs) {
    for (int i = 0; i < pairs; i++) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        t[0] = (uint8_t)DIGITS2[2 * r];
        t[1] = (uint8_t)DIGITS2[2 * r + 1];
    }
}

/* The decimal digits of v, written in place (no copy through a scratch buffer). */
static inline uint8_t *put_small(uint8_t *p, uint64_t v) {
    int n = n_digits(v);
    uint8_t *t = p + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        t[0] = (uint8_t)DIGITS2[2 * r];
        t[1] = (uint8_t)DIGITS2[2 * r + 1];
    }
    if (v >= 10) {
        t[-2] = (uint8_t)DIGITS2[2 * v];
        t[-1] = (uint8_t)DIGITS2[2 * v + 1];
    } else {
        t[-1] = (uint8_t)('0' + v);
    }
    return p + n;
}

/* Past ten digits (a timestamp has 19) as two independent halves: the low ten
 * digits' divisions do not wait for the high ones'. */
static inline uint8_t *put_u64(uint8_t *p, uint64_t v) {
    if (v < 10000000000ull)
        return put_small(p, v);
    p = put_small(p, v / 10000000000ull);
    put_pairs(p + 10, v % 10000000000ull, 5);
    return p + 10;
}

static inline void split_second(int64_t ns, int64_t *sec, int64_t *frac) {
    int64_t q = ns / 1000000000, r = ns % 1000000000;
    if (r < 0) { /* floor division, as Python's // and % */
        r += 1000000000;
        q -= 1;
    }
    *sec = q;
    *frac = r;
}

static inline uint8_t *put_ns9(uint8_t *p, int64_t frac) {
    uint32_t v = (uint32_t)frac;
    for (int i = 8; i >= 1; i -= 2) {
        unsigned r = v % 100;
        v /= 100;
        p[i - 1] = (uint8_t)DIGITS2[2 * r];
        p[i] = (uint8_t)DIGITS2[2 * r + 1];
    }
    p[0] = (uint8_t)('0' + v);
    return p + 9;
}

/* Short entries (a JSON key, a separator) without a call to memcpy: two 8-byte
 * moves that may overlap. */
static inline uint8_t *put_entry(uint8_t *p, const uint8_t *blob, const int64_t *off,
                                 int64_t i) {
    int64_t start = off[i], len = off[i + 1] - start;
    const uint8_t *src = blob + start;
    if (len >= 8 && len <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + len - 8, 8);
        memcpy(p, &a, 8);
        memcpy(p + len - 8, &b, 8);
    } else if (len < 8) {
        for (int64_t k = 0; k < len; k++)
            p[k] = src[k];
    } else {
        memcpy(p, src, (size_t)len);
    }
    return p + len;
}

/* Every column and entry an op names exists: 0, else -3. */
static int64_t check_ops(const op_t *ops, int64_t nops, int64_t ncols, int64_t nentries) {
    for (int64_t k = 0; k < nops; k++) {
        const op_t *o = &ops[k];
        int64_t col = -1, first = 0, count = 0;
        switch (o->op) {
        case OP_LIT:
            first = o->a, count = 1;
            break;
        case OP_TAB:
            first = o->a, count = o->b, col = o->c;
            break;
        case OP_U64:
        case OP_I64:
        case OP_NS9:
            col = o->a;
            break;
        case OP_SEC:
            col = o->a, first = o->b, count = o->c;
            break;
        default:
            return -3;
        }
        if (o->op != OP_LIT && (col < 0 || col >= ncols))
            return -3;
        if (first < 0 || count < 0 || first > nentries - count)
            return -3;
    }
    return 0;
}

/* `cols[i]` points to column i: `nrows` 8-byte values; `off` has nentries + 1 items,
 * entry i being blob[off[i]:off[i + 1]]. Returns the bytes written, -1 when `cap` is
 * too small, -2 on a code outside its table, -3 on an op naming a column or entry
 * that is not there. */
EXPORT int64_t cdig_render_lines(const op_t *ops, int64_t nops, const int64_t *const *cols,
                                 int64_t ncols, const uint8_t *blob, const int64_t *off,
                                 int64_t nentries, int64_t nrows, int64_t row_max,
                                 uint8_t *out, int64_t cap) {
    if (check_ops(ops, nops, ncols, nentries) < 0)
        return -3;
    uint8_t *p = out;
    uint8_t *end = out + cap;
    for (int64_t row = 0; row < nrows; row++) {
        if (end - p < row_max)
            return -1;
        for (int64_t k = 0; k < nops; k++) {
            const op_t *o = &ops[k];
            switch (o->op) {
            case OP_LIT:
                p = put_entry(p, blob, off, o->a);
                break;
            case OP_TAB: {
                int64_t code = cols[o->c][row];
                if (code < 0 || code >= o->b)
                    return -2;
                p = put_entry(p, blob, off, o->a + code);
                break;
            }
            case OP_U64:
                p = put_u64(p, (uint64_t)cols[o->a][row]);
                break;
            case OP_I64: {
                int64_t v = cols[o->a][row];
                if (v < 0) {
                    *p++ = '-';
                    p = put_u64(p, (uint64_t)0 - (uint64_t)v);
                } else {
                    p = put_u64(p, (uint64_t)v);
                }
                break;
            }
            case OP_NS9: {
                int64_t sec, frac;
                split_second(cols[o->a][row], &sec, &frac);
                p = put_ns9(p, frac);
                break;
            }
            case OP_SEC: {
                int64_t sec, frac;
                split_second(cols[o->a][row], &sec, &frac);
                int64_t code = sec - o->d;
                if (code < 0 || code >= o->c)
                    return -2;
                p = put_entry(p, blob, off, o->b + code);
                break;
            }
            }
        }
        *p++ = '\n';
    }
    return p - out;
}

/* -- grouping ---------------------------------------------------------------------- */

typedef struct {
    const uint8_t *base;
    int64_t stride;       /* bytes from one row's value to the next */
    int64_t size;         /* 1, 2, 4 or 8 bytes */
    const uint8_t *shown; /* NULL, or a byte per row: the value counts where bit `bit` is
                           * set, else it reads as 0 (arguments a syscall does not show) */
    int64_t bit;
} keycol_t;

static inline uint64_t key_value(const keycol_t *k, int64_t row) {
    if (k->shown != NULL && !((k->shown[row] >> k->bit) & 1))
        return 0;
    const uint8_t *at = k->base + k->stride * row;
    switch (k->size) {
    case 1:
        return *at;
    case 2: {
        uint16_t v;
        memcpy(&v, at, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, at, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, at, 8);
        return v;
    }
    }
}

static inline int same_keys(const keycol_t *keys, int64_t nkeys, int64_t a, int64_t b) {
    for (int64_t k = 0; k < nkeys; k++)
        if (key_value(&keys[k], a) != key_value(&keys[k], b))
            return 0;
    return 1;
}

/* Rows equal on every key column share a code; codes are numbered in order of first
 * sight and first[code] is the code's first row. Exact: rows of equal hash are
 * compared value by value. The rows are 0 .. nrows - 1, or with `rowsel` the rows
 * it lists (codes[i] is then rowsel[i]'s, first[] holds row numbers). `slots`
 * (nslots, a power of two above nrows) and `hashes` (nrows) are scratch. Returns
 * the number of codes, -1 on bad sizes. */
EXPORT int64_t cdig_group_rows(const keycol_t *keys, int64_t nkeys, const int64_t *rowsel,
                               int64_t nrows, int64_t *codes, int64_t *first,
                               int64_t *slots, int64_t nslots, uint64_t *hashes) {
    if (nslots <= nrows || (nslots & (nslots - 1)) != 0)
        return -1;
    for (int64_t k = 0; k < nkeys; k++)
        if (keys[k].size != 1 && keys[k].size != 2 && keys[k].size != 4 &&
            keys[k].size != 8)
            return -1;
    memset(slots, 0xff, (size_t)nslots * sizeof *slots); /* -1: empty */
    uint64_t mask = (uint64_t)nslots - 1;
    int64_t n = 0;
    int skip_run = 0;
    int64_t prev = -1;
    for (int64_t i = 0; i < nrows; i++) {
        int64_t row = rowsel ? rowsel[i] : i;
        /* a run of equal rows (one thread's storm): the previous row's code, compared
         * without hashing; after a miss, not tried again for a few rows */
        if (i && !skip_run) {
            if (same_keys(keys, nkeys, prev, row)) {
                codes[i] = codes[i - 1];
                prev = row;
                continue;
            }
            skip_run = 8;
        } else if (skip_run) {
            skip_run--;
        }
        prev = row;
        uint64_t h = 0x243F6A8885A308D3ull;
        for (int64_t k = 0; k < nkeys; k++) {
            h = (h ^ key_value(&keys[k], row)) * 0x9E3779B97F4A7C15ull;
            h ^= h >> 29;
        }
        uint64_t s = h & mask;
        for (;;) {
            int64_t c = slots[s];
            if (c < 0) {
                slots[s] = n;
                hashes[n] = h;
                first[n] = row;
                codes[i] = n++;
                break;
            }
            if (hashes[c] == h && same_keys(keys, nkeys, first[c], row)) {
                codes[i] = c;
                break;
            }
            s = (s + 1) & mask;
        }
    }
    return n;
}
