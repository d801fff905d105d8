/* Kernels of the capture reader (collector/capture/format.py): each has a numpy
 * path there that gives the same bytes (tests/unit/test_native_replay.py).
 *
 * cdig_rows:       Arrow columns interleaved into fixed-size records in one pass
 *                  (numpy writes a structured array field by field: a pass over
 *                  every record's bytes per field).
 * cdig_fixed:      a binary column's values as zero-padded fixed-width rows.
 * cdig_crc32_fold: CRC-32 (zlib's) of a buffer by carry-less multiplication,
 *                  ~10x zlib's table CRC, ~3.5x that again with VPCLMULQDQ on
 *                  AVX-512 (CDIG_CRC_SSE set: the 128-bit folds only, for the
 *                  tests); 0 where the CPU lacks PCLMUL.
 * cdig_crc32_combine: zlib's crc32_combine (the CRC of A then B from the CRCs of
 *                  A and B and B's length): the batch digest from its columns'.
 * cdig_fd_journal: a batch state that is only a journal of stamped fd answers (the
 *                  common state: json.loads built ~1000 objects a batch for it) as
 *                  columns; anything else is left to json (collector/capture/journal.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define API __attribute__((visibility("default")))

/* Row i of out (stride bytes apart) gets, for each column c, sizes[c] bytes of
 * cols[c] (element i) at offset offs[c]. Rows with plain[i] set are also copied
 * whole to plain_out, in order (plain may be NULL). */
API void cdig_rows(int64_t n, int64_t k, const void *const *cols, const int64_t *sizes,
                   const int64_t *offs, int64_t stride, uint8_t *out,
                   const uint8_t *plain, uint8_t *plain_out)
{
    for (int64_t i = 0; i < n; i++) {
        uint8_t *row = out + i * stride;
        for (int64_t c = 0; c < k; c++) {
            const uint8_t *src = (const uint8_t *)cols[c];
            switch (sizes[c]) {
            case 8: memcpy(row + offs[c], src + i * 8, 8); break;
            case 4: memcpy(row + offs[c], src + i * 4, 4); break;
            case 2: memcpy(row + offs[c], src + i * 2, 2); break;
            case 1: row[offs[c]] = src[i]; break;
            default: memcpy(row + offs[c], src + i * sizes[c], (size_t)sizes[c]);
            }
        }
        if (plain && plain[i]) {
            memcpy(plain_out, row, (size_t)stride);
            plain_out += stride;
        }
    }
}

/* For each of m rows (rows[j], or j when rows is NULL) of a binary column with
 * 32-bit offsets (n + 1 of them) and dlen bytes of data: its bytes, at most width,
 * from out + j * stride + at, the rest of the width zeroed. Offsets outside the
 * data (a crafted file's) give empty values: never a read outside the buffers. */
API void cdig_fixed(int64_t m, const int64_t *rows, int64_t n, const int32_t *offsets,
                    const uint8_t *data, int64_t dlen, int64_t width, uint8_t *out,
                    int64_t stride, int64_t at)
{
    for (int64_t j = 0; j < m; j++) {
        int64_t r = rows ? rows[j] : j;
        int64_t start = 0, len = 0;
        if (r >= 0 && r < n) {
            start = offsets[r];
            len = (int64_t)offsets[r + 1] - start;
        }
        if (start < 0 || start > dlen)
            start = len = 0;
        if (len > dlen - start)
            len = dlen - start;
        if (len > width)
            len = width;
        if (len < 0)
            len = 0;
        uint8_t *dst = out + j * stride + at;
        memcpy(dst, data + start, (size_t)len);
        memset(dst + len, 0, (size_t)(width - len));
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Folding by 4 x 128 bits, then Barrett reduction, with the constants of the
 * bit-reflected CRC-32 polynomial (Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", as in Chromium's zlib). len: a multiple of 16,
 * at least 64; crc: the running CRC, inverted (as zlib keeps it inside). */
static uint32_t tail128(__m128i x1, const uint8_t *buf, int64_t len);

__attribute__((target("pclmul,sse4.1")))
static uint32_t fold(const uint8_t *buf, int64_t len, uint32_t crc)
{
    static const uint64_t __attribute__((aligned(16))) k1k2[] = {0x0154442bd4, 0x01c6e41596};
    static const uint64_t __attribute__((aligned(16))) k3k4[] = {0x01751997d0, 0x00ccaa009e};
    __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    x0 = _mm_load_si128((const __m128i *)k1k2);
    buf += 64;
    len -= 64;
    while (len >= 64) {
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
        x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
        x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
        x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
        y5 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
        y6 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
        y7 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
        y8 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
        buf += 64;
        len -= 64;
    }
    x0 = _mm_load_si128((const __m128i *)k3k4);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);
    return tail128(x1, buf, len);
}

/* The folded 128 bits x1, then the len bytes at buf (a multiple of 16, any number)
 * folded in 16 at a time, reduced to the CRC (still inverted, as fold's). */
__attribute__((target("pclmul,sse4.1")))
static uint32_t tail128(__m128i x1, const uint8_t *buf, int64_t len)
{
    static const uint64_t __attribute__((aligned(16))) k3k4[] = {0x01751997d0, 0x00ccaa009e};
    static const uint64_t __attribute__((aligned(16))) k5k0[] = {0x0163cd6124, 0x0000000000};
    static const uint64_t __attribute__((aligned(16))) poly[] = {0x01db710641, 0x01f7011641};
    __m128i x0, x2, x3, x5;

    x0 = _mm_load_si128((const __m128i *)k3k4);
    while (len >= 16) {
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
        buf += 16;
        len -= 16;
    }
    /* 128 -> 64 bits */
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
    x3 = _mm_setr_epi32(~0, 0, ~0, 0);
    x1 = _mm_srli_si128(x1, 8);
    x1 = _mm_xor_si128(x1, x2);
    x0 = _mm_loadl_epi64((const __m128i *)k5k0);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, x3);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    /* Barrett reduction to 32 bits */
    x0 = _mm_load_si128((const __m128i *)poly);
    x2 = _mm_and_si128(x1, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

/* fold by 4 x 512 bits with VPCLMULQDQ (AVX-512), the same CRC as fold (Chromium's
 * zlib crc32_avx512_simd_): its constants are x^(2048 +- 32) mod P, then those of 512
 * and (tail128's) 128 bits, bit-reflected. len: a multiple of 16, at least 256. */
__attribute__((target("avx512f,vpclmulqdq,pclmul,sse4.1")))
static uint32_t fold512(const uint8_t *buf, int64_t len, uint32_t crc)
{
    static const uint64_t __attribute__((aligned(64))) k1k2[] = {
        0x011542778a, 0x01322d1430, 0x011542778a, 0x01322d1430,
        0x011542778a, 0x01322d1430, 0x011542778a, 0x01322d1430};
    static const uint64_t __attribute__((aligned(64))) k3k4[] = {
        0x0154442bd4, 0x01c6e41596, 0x0154442bd4, 0x01c6e41596,
        0x0154442bd4, 0x01c6e41596, 0x0154442bd4, 0x01c6e41596};
    static const uint64_t __attribute__((aligned(16))) k5k6[] = {0x01751997d0, 0x00ccaa009e};
    __m512i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;
    __m128i a0, a1, a2, a3;

    x1 = _mm512_loadu_si512((const void *)(buf + 0x00));
    x2 = _mm512_loadu_si512((const void *)(buf + 0x40));
    x3 = _mm512_loadu_si512((const void *)(buf + 0x80));
    x4 = _mm512_loadu_si512((const void *)(buf + 0xc0));
    x1 = _mm512_xor_si512(x1, _mm512_castsi128_si512(_mm_cvtsi32_si128((int)crc)));
    x0 = _mm512_load_si512((const void *)k1k2);
    buf += 256;
    len -= 256;
    while (len >= 256) {
        x5 = _mm512_clmulepi64_epi128(x1, x0, 0x00);
        x6 = _mm512_clmulepi64_epi128(x2, x0, 0x00);
        x7 = _mm512_clmulepi64_epi128(x3, x0, 0x00);
        x8 = _mm512_clmulepi64_epi128(x4, x0, 0x00);
        x1 = _mm512_clmulepi64_epi128(x1, x0, 0x11);
        x2 = _mm512_clmulepi64_epi128(x2, x0, 0x11);
        x3 = _mm512_clmulepi64_epi128(x3, x0, 0x11);
        x4 = _mm512_clmulepi64_epi128(x4, x0, 0x11);
        y5 = _mm512_loadu_si512((const void *)(buf + 0x00));
        y6 = _mm512_loadu_si512((const void *)(buf + 0x40));
        y7 = _mm512_loadu_si512((const void *)(buf + 0x80));
        y8 = _mm512_loadu_si512((const void *)(buf + 0xc0));
        x1 = _mm512_ternarylogic_epi64(x1, x5, y5, 0x96); /* three-way xor */
        x2 = _mm512_ternarylogic_epi64(x2, x6, y6, 0x96);
        x3 = _mm512_ternarylogic_epi64(x3, x7, y7, 0x96);
        x4 = _mm512_ternarylogic_epi64(x4, x8, y8, 0x96);
        buf += 256;
        len -= 256;
    }
    /* 4 x 512 bits into 512 */
    x0 = _mm512_load_si512((const void *)k3k4);
    x5 = _mm512_clmulepi64_epi128(x1, x0, 0x00);
    x1 = _mm512_clmulepi64_epi128(x1, x0, 0x11);
    x1 = _mm512_ternarylogic_epi64(x1, x2, x5, 0x96);
    x5 = _mm512_clmulepi64_epi128(x1, x0, 0x00);
    x1 = _mm512_clmulepi64_epi128(x1, x0, 0x11);
    x1 = _mm512_ternarylogic_epi64(x1, x3, x5, 0x96);
    x5 = _mm512_clmulepi64_epi128(x1, x0, 0x00);
    x1 = _mm512_clmulepi64_epi128(x1, x0, 0x11);
    x1 = _mm512_ternarylogic_epi64(x1, x4, x5, 0x96);
    while (len >= 64) {
        x2 = _mm512_loadu_si512((const void *)buf);
        x5 = _mm512_clmulepi64_epi128(x1, x0, 0x00);
        x1 = _mm512_clmulepi64_epi128(x1, x0, 0x11);
        x1 = _mm512_ternarylogic_epi64(x1, x2, x5, 0x96);
        buf += 64;
        len -= 64;
    }
    /* 512 bits into 128: each lane folded into the next */
    a0 = _mm_load_si128((const __m128i *)k5k6);
    a1 = _mm512_extracti32x4_epi32(x1, 0);
    a2 = _mm512_extracti32x4_epi32(x1, 1);
    a3 = _mm_clmulepi64_si128(a1, a0, 0x00);
    a1 = _mm_clmulepi64_si128(a1, a0, 0x11);
    a1 = _mm_xor_si128(_mm_xor_si128(a1, a3), a2);
    a2 = _mm512_extracti32x4_epi32(x1, 2);
    a3 = _mm_clmulepi64_si128(a1, a0, 0x00);
    a1 = _mm_clmulepi64_si128(a1, a0, 0x11);
    a1 = _mm_xor_si128(_mm_xor_si128(a1, a3), a2);
    a2 = _mm512_extracti32x4_epi32(x1, 3);
    a3 = _mm_clmulepi64_si128(a1, a0, 0x00);
    a1 = _mm_clmulepi64_si128(a1, a0, 0x11);
    a1 = _mm_xor_si128(_mm_xor_si128(a1, a3), a2);
    return tail128(a1, buf, len);
}
#endif

/* The CRC-32 (zlib.crc32's) of the first (len & ~15) bytes of buf, continuing
 * crc; *done is set to the bytes covered (0: none, the caller does them all). */
API uint32_t cdig_crc32_fold(const uint8_t *buf, int64_t len, uint32_t crc, int64_t *done)
{
    *done = 0;
#if defined(__x86_64__)
    if (len >= 64 && __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1")) {
        int64_t chunk = len & ~(int64_t)15;
        *done = chunk;
        if (chunk >= 256 && getenv("CDIG_CRC_SSE") == NULL &&
            __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq"))
            return ~fold512(buf, chunk, ~crc);
        return ~fold(buf, chunk, ~crc);
    }
#endif
    (void)buf;
    (void)len;
    return crc;
}

/* GF(2) polynomials modulo the reflected CRC-32 polynomial, as zlib 1.2.12's
 * crc32_combine: a * b mod p, and x^(2^k * n) mod p. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = (uint32_t)1 << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ 0xedb88320u : b >> 1;
    }
    return p;
}

API uint32_t cdig_crc32_combine(uint32_t crc1, uint32_t crc2, int64_t len2)
{
    uint32_t x2n = (uint32_t)1 << 30; /* x^1, then x^2, x^4 ... (squared each bit) */
    uint32_t p = (uint32_t)1 << 31;   /* x^0 */
    uint64_t n = len2 > 0 ? (uint64_t)len2 : 0;
    /* len2 bytes are 8 * len2 bits: start at x^8 */
    x2n = multmodp(x2n, x2n);
    x2n = multmodp(x2n, x2n);
    x2n = multmodp(x2n, x2n);
    while (n) {
        if (n & 1)
            p = multmodp(x2n, p);
        n >>= 1;
        if (n)
            x2n = multmodp(x2n, x2n);
    }
    return multmodp(p, crc1) ^ crc2;
}

/* A JSON integer as json.loads reads it (-?(0|[1-9][0-9]*)), of at most 18 digits (so
 * it fits 64 bits, as bounded.load_json's fast path asks), at s[*i]; 0 if not one. */
static int json_int(const uint8_t *s, int64_t n, int64_t *i, int64_t *out)
{
    int64_t j = *i, v = 0, digits = 0;
    int neg = 0;
    if (j < n && s[j] == '-') {
        neg = 1;
        j++;
    }
    if (j >= n || s[j] < '0' || s[j] > '9')
        return 0;
    if (s[j] == '0' && j + 1 < n && s[j + 1] >= '0' && s[j + 1] <= '9')
        return 0; /* a leading zero: not JSON */
    while (j < n && s[j] >= '0' && s[j] <= '9') {
        if (++digits > 18)
            return 0;
        v = v * 10 + (s[j] - '0');
        j++;
    }
    if (j < n && (s[j] == '.' || s[j] == 'e' || s[j] == 'E'))
        return 0; /* a float */
    *out = neg ? -v : v;
    *i = j;
    return 1;
}

static int lit(const uint8_t *s, int64_t n, int64_t *i, const char *t)
{
    int64_t k = (int64_t)strlen(t);
    if (*i + k > n || memcmp(s + *i, t, (size_t)k) != 0)
        return 0;
    *i += k;
    return 1;
}

/* The state text s (n bytes) when it is exactly, as the writer's json.dumps writes it
 * (no spaces): {"journal":[E,...]} or {"journal":[E,...],"drops":INT}, every E being
 * ["fd",INT,INT,A,INT] (pid, fd, answer, the asking record's number) with A null or a
 * string of printable ASCII without a quote or backslash (no escapes: its text is its
 * value). Entry k's numbers go to pid[k], fd[k], at[k]; its answer's text is
 * s[ans[2k], ans[2k+1]) (both -1: null). *drops: the drop count, if given (*has_drops
 * set). Returns the entries (at most cap), or -1: not this shape (json reads it). */
API int64_t cdig_fd_journal(const uint8_t *s, int64_t n, int64_t cap, int64_t *pid,
                            int64_t *fd, int64_t *at, int64_t *ans, int64_t *drops,
                            int64_t *has_drops)
{
    int64_t i = 0, k = 0;
    *has_drops = 0;
    if (!lit(s, n, &i, "{\"journal\":["))
        return -1;
    for (;;) {
        if (k >= cap)
            return -1;
        if (!lit(s, n, &i, "[\"fd\",") || !json_int(s, n, &i, &pid[k]) || !lit(s, n, &i, ",") ||
            !json_int(s, n, &i, &fd[k]) || !lit(s, n, &i, ","))
            return -1;
        if (lit(s, n, &i, "null")) {
            ans[2 * k] = ans[2 * k + 1] = -1;
        } else {
            if (i >= n || s[i] != '"')
                return -1;
            int64_t start = ++i;
            while (i < n && s[i] != '"') {
                if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '\\')
                    return -1;
                i++;
            }
            if (i >= n)
                return -1;
            ans[2 * k] = start;
            ans[2 * k + 1] = i++;
        }
        if (!lit(s, n, &i, ",") || !json_int(s, n, &i, &at[k]) || !lit(s, n, &i, "]"))
            return -1;
        k++;
        if (lit(s, n, &i, ","))
            continue;
        if (!lit(s, n, &i, "]"))
            return -1;
        break;
    }
    if (lit(s, n, &i, ",\"drops\":")) {
        if (!json_int(s, n, &i, drops))
            return -1;
        *has_drops = 1;
    }
    if (!lit(s, n, &i, "}") || i != n)
        return -1;
    return k;
}
