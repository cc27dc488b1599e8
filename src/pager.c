/*
 * pager.c - strict, allocation-free JSON scanning over a response body, plus the
 * rstrip rule used for text output. See pager.h for the contract.
 *
 * Speed matters here: a page is up to 1 MB and most of it is message text, so the
 * string scanner looks at eight bytes per step and only drops to byte-wise work
 * near a quote, a backslash or a control character.
 */
#include "pager.h"

#include <string.h>

static const char ERR_END[] = "unexpected end of input";
static const char ERR_CHAR[] = "unexpected character";

static int fail(cw_json *j, size_t pos, const char *what, int ch)
{
    j->err = what;
    j->err_pos = pos;
    j->err_char = ch;
    return -1;
}

/* Reports the byte at pos as unexpected, or the end of input if there is none. */
static int fail_at(cw_json *j, size_t pos)
{
    if (pos >= j->len)
        return fail(j, j->len, ERR_END, -1);
    return fail(j, pos, ERR_CHAR, (unsigned char)j->buf[pos]);
}

void cw_json_init(cw_json *j, const char *buf, size_t len)
{
    j->buf = buf;
    j->len = len;
    j->pos = 0;
    j->err = NULL;
    j->err_pos = 0;
    j->err_char = -1;
}

int cw_json_peek(cw_json *j)
{
    const char *b = j->buf;
    size_t p = j->pos, n = j->len;
    while (p < n && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t'))
        p++;
    j->pos = p;
    return p < n ? (unsigned char)b[p] : -1;
}

int cw_json_expect(cw_json *j, char c)
{
    if (cw_json_peek(j) != (unsigned char)c)
        return fail_at(j, j->pos);
    j->pos++;
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Nonzero when any of the eight bytes in v is '"', '\\' or below 0x20: the
 * classic "has a zero byte" / "has a byte less than n" word tricks. */
static int word_is_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"');
    uint64_t s = v ^ (ones * '\\');
    uint64_t t = ((q - ones) & ~q) | ((s - ones) & ~s) | ((v - ones * 0x20) & ~v);
    return (t & highs) != 0;
}

int cw_json_string(cw_json *j, cw_json_str *out)
{
    const char *b = j->buf;
    size_t n = j->len, p;
    int escapes = 0;

    if (j->pos >= n || b[j->pos] != '"')
        return fail_at(j, j->pos);
    p = j->pos + 1;
    for (;;) {
        unsigned char c;
        while (n - p >= 8) {
            uint64_t v;
            memcpy(&v, b + p, 8);
            if (word_is_special(v))
                break;
            p += 8;
        }
        if (p >= n)
            return fail(j, n, ERR_END, -1);
        c = (unsigned char)b[p];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(j, p, "control character in string", c);
        if (c != '\\') {
            p++;
            continue;
        }
        escapes = 1;
        if (p + 1 >= n)
            return fail(j, n, ERR_END, -1);
        switch (b[p + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            int k;
            for (k = 2; k < 6; k++) {
                if (p + (size_t)k >= n)
                    return fail(j, n, ERR_END, -1);
                if (hexval((unsigned char)b[p + (size_t)k]) < 0)
                    return fail(j, p, "invalid \\u escape", -1);
            }
            p += 6;
            break;
        }
        default:
            return fail(j, p, "invalid escape", -1);
        }
    }
    out->raw = b + j->pos + 1;
    out->len = p - (j->pos + 1);
    out->has_escapes = escapes;
    j->pos = p + 1;
    return 0;
}

long cw_json_hex4(const char *s)
{
    int a = hexval((unsigned char)s[0]), b = hexval((unsigned char)s[1]);
    int c = hexval((unsigned char)s[2]), d = hexval((unsigned char)s[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (long)(a << 12 | b << 8 | c << 4 | d);
}

size_t cw_utf8_put(char *d, unsigned long cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t cw_json_unescape(const cw_json_str *s, char *dst)
{
    const char *p = s->raw, *end = s->raw + s->len;
    char *d = dst;

    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        unsigned cp;
        if (bs == NULL)
            bs = end;
        memcpy(d, p, (size_t)(bs - p));
        d += bs - p;
        p = bs;
        if (p >= end)
            break;
        switch (p[1]) {
        case 'b': *d++ = '\b'; p += 2; continue;
        case 'f': *d++ = '\f'; p += 2; continue;
        case 'n': *d++ = '\n'; p += 2; continue;
        case 'r': *d++ = '\r'; p += 2; continue;
        case 't': *d++ = '\t'; p += 2; continue;
        case 'u': break;
        default: *d++ = p[1]; p += 2; continue;
        }
        cp = (unsigned)cw_json_hex4(p + 2);
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                (lo = (unsigned)cw_json_hex4(p + 2)) >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        /* 6 escaped bytes give at most 3, 12 give 4: dst never outruns s->len. */
        d += cw_utf8_put(d, cp);
    }
    return (size_t)(d - dst);
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Where the parts of a number token lie, as found by scan_number. */
typedef struct numparts {
    size_t start, int_start, int_end, frac_start, frac_end;
    int negative;
    int64_t exponent; /* saturated at +-EXP_CAP */
} numparts;

#define EXP_CAP ((int64_t)1 << 40)

static int scan_number(cw_json *j, numparts *np)
{
    const char *b = j->buf;
    size_t n = j->len, p = j->pos;

    np->start = p;
    np->negative = 0;
    np->exponent = 0;
    if (p < n && b[p] == '-') {
        np->negative = 1;
        p++;
    }
    np->int_start = p;
    if (p >= n)
        return fail(j, n, ERR_END, -1);
    if (b[p] == '0') {
        p++;
    } else if (b[p] >= '1' && b[p] <= '9') {
        while (p < n && is_digit(b[p]))
            p++;
    } else {
        return fail(j, np->start, "invalid number", -1);
    }
    np->int_end = p;
    np->frac_start = np->frac_end = p;
    if (p < n && b[p] == '.') {
        p++;
        np->frac_start = p;
        if (p >= n)
            return fail(j, n, ERR_END, -1);
        if (!is_digit(b[p]))
            return fail(j, np->start, "invalid number", -1);
        while (p < n && is_digit(b[p]))
            p++;
        np->frac_end = p;
    }
    if (p < n && (b[p] == 'e' || b[p] == 'E')) {
        int eneg = 0;
        p++;
        if (p < n && (b[p] == '+' || b[p] == '-'))
            eneg = b[p++] == '-';
        if (p >= n)
            return fail(j, n, ERR_END, -1);
        if (!is_digit(b[p]))
            return fail(j, np->start, "invalid number", -1);
        while (p < n && is_digit(b[p])) {
            if (np->exponent < EXP_CAP)
                np->exponent = np->exponent * 10 + (b[p] - '0');
            p++;
        }
        if (eneg)
            np->exponent = -np->exponent;
    }
    j->pos = p;
    return 0;
}

/* The k-th significant-position digit of the number, counting integer digits then
 * fraction digits, as if the decimal point were not there. */
static int digit_at(const cw_json *j, const numparts *np, size_t k)
{
    size_t ni = np->int_end - np->int_start;
    return j->buf[k < ni ? np->int_start + k : np->frac_start + (k - ni)] - '0';
}

int cw_json_int64(cw_json *j, int64_t *out)
{
    numparts np;
    size_t ni, nd, first, last, k;
    int64_t scale;
    uint64_t mag = 0, limit;

    if (cw_json_peek(j) < 0)
        return fail(j, j->len, ERR_END, -1);
    if (scan_number(j, &np) != 0)
        return -1;
    ni = np.int_end - np.int_start;
    nd = ni + (np.frac_end - np.frac_start);
    for (first = 0; first < nd && digit_at(j, &np, first) == 0; first++)
        ;
    if (first == nd) {
        *out = 0;
        return 0;
    }
    for (last = nd - 1; digit_at(j, &np, last) == 0; last--)
        ;
    /* value = digits[first..last] * 10^scale */
    scale = np.exponent - (int64_t)(np.frac_end - np.frac_start) + (int64_t)(nd - 1 - last);
    if (scale < 0)
        return fail(j, np.start, "number is not an integer", -1);
    if (last - first >= 19)
        return fail(j, np.start, "integer out of range", -1);
    for (k = first; k <= last; k++)
        mag = mag * 10 + (uint64_t)digit_at(j, &np, k);
    limit = np.negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; scale > 0; scale--) {
        if (mag > limit / 10)
            return fail(j, np.start, "integer out of range", -1);
        mag *= 10;
    }
    if (mag > limit)
        return fail(j, np.start, "integer out of range", -1);
    if (np.negative)
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        *out = (int64_t)mag;
    return 0;
}

static int literal(cw_json *j, const char *word, size_t wlen)
{
    size_t k;
    for (k = 0; k < wlen; k++) {
        if (j->pos + k >= j->len)
            return fail(j, j->len, ERR_END, -1);
        if (j->buf[j->pos + k] != word[k])
            return fail(j, j->pos, "invalid literal", -1);
    }
    j->pos += wlen;
    return 0;
}

int cw_json_null(cw_json *j)
{
    if (cw_json_peek(j) < 0)
        return fail(j, j->len, ERR_END, -1);
    return literal(j, "null", 4);
}

/* Consumes one scalar, or the opening bracket of a container (reported in *open). */
static int skip_scalar_or_open(cw_json *j, int *open)
{
    cw_json_str s;
    numparts np;
    int c = cw_json_peek(j);

    *open = 0;
    switch (c) {
    case -1: return fail(j, j->len, ERR_END, -1);
    case '{': case '[': *open = c; j->pos++; return 0;
    case '"': return cw_json_string(j, &s);
    case 't': return literal(j, "true", 4);
    case 'f': return literal(j, "false", 5);
    case 'n': return literal(j, "null", 4);
    default:
        if (c == '-' || is_digit(c))
            return scan_number(j, &np);
        return fail_at(j, j->pos);
    }
}

/* A key and its colon, inside an object being skipped. */
static int skip_key(cw_json *j)
{
    cw_json_str s;
    if (cw_json_peek(j) != '"')
        return fail_at(j, j->pos);
    if (cw_json_string(j, &s) != 0)
        return -1;
    return cw_json_expect(j, ':');
}

int cw_json_skip(cw_json *j)
{
    /* One bit per open container: 1 = object, 0 = array. */
    unsigned char kinds[CW_JSON_MAX_DEPTH / 8];
    size_t depth = 0;
    int open;

    for (;;) {
        /* Expecting a value. */
        if (skip_scalar_or_open(j, &open) != 0)
            return -1;
        if (open) {
            int c;
            if (depth == CW_JSON_MAX_DEPTH)
                return fail(j, j->pos - 1, "nesting too deep", -1);
            if (depth % 8 == 0)
                kinds[depth / 8] = 0;
            if (open == '{')
                kinds[depth / 8] |= (unsigned char)(1u << depth % 8);
            else
                kinds[depth / 8] &= (unsigned char)~(1u << depth % 8);
            depth++;
            c = cw_json_peek(j);
            if (c == (open == '{' ? '}' : ']')) {
                j->pos++;
                depth--;
            } else {
                if (open == '{' && skip_key(j) != 0)
                    return -1;
                continue;
            }
        }
        /* A value is complete: close containers until one wants another value. */
        for (;;) {
            int c, is_obj;
            if (depth == 0)
                return 0;
            is_obj = kinds[(depth - 1) / 8] >> (depth - 1) % 8 & 1;
            c = cw_json_peek(j);
            if (c == ',') {
                j->pos++;
                if (is_obj && skip_key(j) != 0)
                    return -1;
                break;
            }
            if (c != (is_obj ? '}' : ']'))
                return fail_at(j, j->pos);
            j->pos++;
            depth--;
        }
    }
}

size_t cw_rstrip_len(const char *s, size_t len)
{
    while (len > 0) {
        unsigned char c = (unsigned char)s[len - 1];
        if (!(c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)))
            break;
        len--;
    }
    return len;
}
