/*
 * sigv4.c - AWS Signature Version 4 signer (see sigv4.h for the contract).
 *
 * Pure C over OpenSSL 3 one-shot digests; no Lua, no globals. Output strings are
 * built in growable buffers whose failure flag is sticky, so a run of appends needs
 * one check at the end instead of one per call.
 */
#include "sigv4.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 64
#define ALGORITHM "AWS4-HMAC-SHA256"

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} buf;

/* Always leaves room for, and writes, a terminating NUL so data can be handed out. */
static void buf_reserve(buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->failed)
        return;
    if (extra > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return;
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    cap = b->cap ? b->cap : 128;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return;
    }
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
}

static void buf_add(buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->failed || n == 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_addc(buf *b, char c)
{
    buf_add(b, &c, 1);
}

static void buf_adds(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_addstr(buf *b, cw_sigv4_str s)
{
    buf_add(b, s.ptr, s.len);
}

/* Hands the bytes to the caller; the buffer is left empty. */
static char *buf_take(buf *b, size_t *len)
{
    char *p = b->data;

    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

static void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* SigV4 wants every byte outside the unreserved set as %XX, upper-case hex. */
static void buf_add_encoded(buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c)) {
            buf_addc(b, (char)c);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            buf_add(b, esc, 3);
        }
    }
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX then re-encodes, so "%41" and "A" sign the same; a stray '%' is data. */
static void buf_add_reencoded(buf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && n - i >= 3) {
            int hi = hex_value((unsigned char)s[i + 1]);
            int lo = hex_value((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                char d = (char)(hi * 16 + lo);
                buf_add_encoded(b, &d, 1);
                i += 2;
                continue;
            }
        }
        buf_add_encoded(b, (const char *)&s[i], 1);
    }
}

static void to_hex(const unsigned char *md, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

static int sha256_hex(const char *data, size_t n, char out[SHA256_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (!EVP_Digest(data ? data : "", n, md, &md_len, EVP_sha256(), NULL) ||
        md_len != SHA256_LEN)
        return 0;
    to_hex(md, SHA256_LEN, out);
    return 1;
}

static int hmac_sha256(const unsigned char *key, size_t key_len, const char *data, size_t n,
                       unsigned char out[SHA256_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    if (key_len > INT_MAX)
        return 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)(data ? data : ""), n,
              md, &md_len) ||
        md_len != SHA256_LEN) {
        OPENSSL_cleanse(md, sizeof md);
        return 0;
    }
    memcpy(out, md, SHA256_LEN);
    OPENSSL_cleanse(md, sizeof md);
    return 1;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int days_in_month(int year, int month)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

static int digits(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int cw_sigv4_valid_amz_date(const char *s, size_t len)
{
    int year, month, day, hour, min, sec;

    if (!s || len != CW_SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return 0;
    year = digits(s, 4);
    month = digits(s + 4, 2);
    day = digits(s + 6, 2);
    hour = digits(s + 9, 2);
    min = digits(s + 11, 2);
    sec = digits(s + 13, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || min < 0 ||
        min > 59 || sec < 0 || sec > 60)
        return 0;
    return day <= days_in_month(year, month);
}

const char *cw_sigv4_strerror(int status)
{
    switch (status) {
    case CW_SIGV4_OK: return "success";
    case CW_SIGV4_ENOMEM: return "out of memory";
    case CW_SIGV4_ECRYPTO: return "OpenSSL digest failed";
    case CW_SIGV4_EDATE: return "X-Amz-Date is not a valid YYYYMMDDTHHMMSSZ time";
    case CW_SIGV4_EDUPDATE: return "more than one X-Amz-Date header";
    case CW_SIGV4_ECLOCK: return "cannot read the system clock";
    case CW_SIGV4_EARG: return "a required signing argument is empty or too long";
    default: return "unknown signing error";
    }
}

void cw_sigv4_result_free(cw_sigv4_result *res)
{
    if (!res)
        return;
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->authorization);
    free(res->signed_headers);
    free(res->credential_scope);
    memset(res, 0, sizeof *res);
}

/* ---- canonical URI ---------------------------------------------------------------- */

/*
 * Non-S3 rules: drop "." and empty segments, let ".." remove the previous one, keep a
 * trailing '/' only when the input had one and something is left, encode each segment.
 */
static int add_canonical_uri(buf *b, cw_sigv4_str path)
{
    const char *p = path.ptr ? path.ptr : "";
    size_t n = path.len, max = 1, top = 0, i = 0, k;
    cw_sigv4_str *segs;

    for (k = 0; k < n; k++)
        if (p[k] == '/')
            max++;
    segs = malloc(max * sizeof *segs);
    if (!segs)
        return 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if (j - i == 0 || (j - i == 1 && p[i] == '.')) {
            /* nothing to keep */
        } else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
            if (top > 0)
                top--;
        } else {
            segs[top].ptr = p + i;
            segs[top].len = j - i;
            top++;
        }
        i = j + 1;
    }
    buf_addc(b, '/');
    for (k = 0; k < top; k++) {
        if (k > 0)
            buf_addc(b, '/');
        buf_add_encoded(b, segs[k].ptr, segs[k].len);
    }
    if (top > 0 && n > 0 && p[n - 1] == '/')
        buf_addc(b, '/');
    free(segs);
    return 1;
}

/* ---- canonical query -------------------------------------------------------------- */

typedef struct qparam {
    size_t key_off, key_len, val_off, val_len;
    const char *key, *val;
} qparam;

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int cmp_qparam(const void *pa, const void *pb)
{
    const qparam *a = pa, *b = pb;
    int c = cmp_bytes(a->key, a->key_len, b->key, b->key_len);

    return c != 0 ? c : cmp_bytes(a->val, a->val_len, b->val, b->val_len);
}

static int add_canonical_query(buf *out, cw_sigv4_str query)
{
    const char *q = query.ptr;
    size_t n = query.len, max = 1, count = 0, i = 0, k;
    qparam *params;
    buf enc = { 0 };

    if (n == 0)
        return 1;
    for (k = 0; k < n; k++)
        if (q[k] == '&')
            max++;
    params = calloc(max, sizeof *params);
    if (!params)
        return 0;
    while (i <= n) {
        size_t j = i, eq;
        while (j < n && q[j] != '&')
            j++;
        if (j > i) {
            qparam *prm = &params[count++];
            eq = i;
            while (eq < j && q[eq] != '=')
                eq++;
            prm->key_off = enc.len;
            buf_add_reencoded(&enc, q + i, eq - i);
            prm->key_len = enc.len - prm->key_off;
            prm->val_off = enc.len;
            if (eq < j)
                buf_add_reencoded(&enc, q + eq + 1, j - eq - 1);
            prm->val_len = enc.len - prm->val_off;
        }
        i = j + 1;
    }
    buf_reserve(&enc, 0);
    if (enc.failed) {
        free(params);
        buf_free(&enc);
        return 0;
    }
    /* The buffer no longer moves, so offsets can become pointers for sorting. */
    for (k = 0; k < count; k++) {
        params[k].key = enc.data + params[k].key_off;
        params[k].val = enc.data + params[k].val_off;
    }
    if (count > 1)
        qsort(params, count, sizeof *params, cmp_qparam);
    for (k = 0; k < count; k++) {
        if (k > 0)
            buf_addc(out, '&');
        buf_add(out, params[k].key, params[k].key_len);
        buf_addc(out, '=');
        buf_add(out, params[k].val, params[k].val_len);
    }
    free(params);
    buf_free(&enc);
    return 1;
}

/* ---- canonical headers ------------------------------------------------------------ */

typedef struct hentry {
    size_t name_off, name_len, val_off, val_len, order;
    const char *name, *val;
} hentry;

static int cmp_hentry(const void *pa, const void *pb)
{
    const hentry *a = pa, *b = pb;
    int c = cmp_bytes(a->name, a->name_len, b->name, b->name_len);

    if (c != 0)
        return c;
    /* qsort is not stable; the input order decides how repeats are joined. */
    return a->order < b->order ? -1 : a->order > b->order;
}

static int is_unsigned_header(const char *name, size_t len)
{
    /* botocore's list plus Authorization: moto re-signs with botocore, and hop-by-hop
     * headers may be rewritten by proxies on the way. */
    static const char *const skip[] = {
        "authorization", "connection", "expect", "keep-alive", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
        "user-agent", "x-amzn-trace-id",
    };
    size_t i;

    for (i = 0; i < sizeof skip / sizeof skip[0]; i++)
        if (strlen(skip[i]) == len && memcmp(skip[i], name, len) == 0)
            return 1;
    return 0;
}

static void add_lower_trimmed(buf *b, cw_sigv4_str s)
{
    const char *p = s.ptr ? s.ptr : "";
    size_t start = 0, end = s.len, i;

    while (start < end && is_space((unsigned char)p[start]))
        start++;
    while (end > start && is_space((unsigned char)p[end - 1]))
        end--;
    for (i = start; i < end; i++) {
        char c = p[i];
        buf_addc(b, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
    }
}

/* Trim, and squeeze each run of whitespace (folded line breaks included) to one space. */
static void add_squeezed(buf *b, cw_sigv4_str s)
{
    const char *p = s.ptr ? s.ptr : "";
    size_t i;
    int pending_space = 0, any = 0;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_space(c)) {
            pending_space = any;
            continue;
        }
        if (pending_space)
            buf_addc(b, ' ');
        buf_addc(b, (char)c);
        pending_space = 0;
        any = 1;
    }
}

static int name_is(const buf *b, const hentry *h, const char *lit)
{
    size_t n = strlen(lit);

    return h->name_len == n && memcmp(b->data + h->name_off, lit, n) == 0;
}

typedef struct headers_state {
    hentry *entries;
    size_t count;
    buf text;          /* lower-case names and squeezed values, referenced by offset */
    int have_token;
    int have_payload_hash;
    size_t payload_hash; /* index into entries */
    int have_date;
    size_t date;         /* index into entries */
} headers_state;

static int push_entry(headers_state *hs, const char *name, cw_sigv4_str value)
{
    hentry *h = &hs->entries[hs->count];

    h->order = hs->count;
    h->name_off = hs->text.len;
    buf_adds(&hs->text, name);
    h->name_len = hs->text.len - h->name_off;
    h->val_off = hs->text.len;
    buf_addstr(&hs->text, value);
    h->val_len = hs->text.len - h->val_off;
    hs->count++;
    return !hs->text.failed;
}

/* Collects the headers to sign; room is left for the two we may add. */
static int collect_headers(const cw_sigv4_request *req, headers_state *hs)
{
    size_t i;

    if (req->n_headers > SIZE_MAX / sizeof *hs->entries - 2)
        return CW_SIGV4_ENOMEM;
    hs->entries = calloc(req->n_headers + 2, sizeof *hs->entries);
    if (!hs->entries)
        return CW_SIGV4_ENOMEM;
    for (i = 0; i < req->n_headers; i++) {
        hentry *h = &hs->entries[hs->count];
        size_t mark = hs->text.len;

        h->name_off = hs->text.len;
        add_lower_trimmed(&hs->text, req->headers[i].name);
        h->name_len = hs->text.len - h->name_off;
        if (hs->text.failed)
            return CW_SIGV4_ENOMEM;
        if (h->name_len == 0 || is_unsigned_header(hs->text.data + h->name_off, h->name_len)) {
            hs->text.len = mark;
            continue;
        }
        h->val_off = hs->text.len;
        add_squeezed(&hs->text, req->headers[i].value);
        h->val_len = hs->text.len - h->val_off;
        if (hs->text.failed)
            return CW_SIGV4_ENOMEM;
        h->order = hs->count;
        if (name_is(&hs->text, h, "x-amz-date")) {
            if (hs->have_date)
                return CW_SIGV4_EDUPDATE;
            hs->have_date = 1;
            hs->date = hs->count;
        } else if (name_is(&hs->text, h, "x-amz-security-token")) {
            hs->have_token = 1;
        } else if (name_is(&hs->text, h, "x-amz-content-sha256")) {
            hs->have_payload_hash = 1;
            hs->payload_hash = hs->count;
        }
        hs->count++;
    }
    return CW_SIGV4_OK;
}

static int current_amz_date(char out[CW_SIGV4_AMZ_DATE_LEN + 1])
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == (time_t)-1 || !gmtime_r(&now, &tm))
        return 0;
    return strftime(out, CW_SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) ==
           CW_SIGV4_AMZ_DATE_LEN;
}

static int valid_str(cw_sigv4_str s)
{
    return s.len > 0 && s.ptr != NULL;
}

/* ---- signing ---------------------------------------------------------------------- */

static int derive_signature(const cw_sigv4_request *req, const char *date8, const buf *sts,
                            char out[SHA256_HEX_LEN + 1])
{
    unsigned char k[SHA256_LEN], k2[SHA256_LEN], sig[SHA256_LEN];
    buf secret = { 0 };
    int ok;

    buf_adds(&secret, "AWS4");
    buf_addstr(&secret, req->secret_key);
    if (secret.failed) {
        buf_free(&secret);
        return CW_SIGV4_ENOMEM;
    }
    ok = hmac_sha256((const unsigned char *)secret.data, secret.len, date8, 8, k) &&
         hmac_sha256(k, SHA256_LEN, req->region.ptr, req->region.len, k2) &&
         hmac_sha256(k2, SHA256_LEN, req->service.ptr, req->service.len, k) &&
         hmac_sha256(k, SHA256_LEN, "aws4_request", 12, k2) &&
         hmac_sha256(k2, SHA256_LEN, sts->data, sts->len, sig);
    /* The secret and every key derived from it must not linger in freed memory. */
    OPENSSL_cleanse(secret.data, secret.cap);
    buf_free(&secret);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(k2, sizeof k2);
    if (ok)
        to_hex(sig, SHA256_LEN, out);
    OPENSSL_cleanse(sig, sizeof sig);
    return ok ? CW_SIGV4_OK : CW_SIGV4_ECRYPTO;
}

int cw_sigv4_sign(const cw_sigv4_request *req, cw_sigv4_result *out)
{
    headers_state hs = { 0 };
    buf creq = { 0 }, sts = { 0 }, scope = { 0 }, signed_names = { 0 }, auth = { 0 };
    char payload_hex[SHA256_HEX_LEN + 1], creq_hex[SHA256_HEX_LEN + 1];
    const char *payload_hash;
    size_t payload_hash_len, i;
    int rc;

    memset(out, 0, sizeof *out);
    if (!valid_str(req->method) || !valid_str(req->region) || !valid_str(req->service) ||
        !valid_str(req->access_key) || !valid_str(req->secret_key) ||
        req->secret_key.len > INT_MAX - 4)
        return CW_SIGV4_EARG;

    rc = collect_headers(req, &hs);
    if (rc != CW_SIGV4_OK)
        goto done;

    if (hs.have_date) {
        const hentry *d = &hs.entries[hs.date];
        if (!cw_sigv4_valid_amz_date(hs.text.data + d->val_off, d->val_len)) {
            rc = CW_SIGV4_EDATE;
            goto done;
        }
        memcpy(out->amz_date, hs.text.data + d->val_off, CW_SIGV4_AMZ_DATE_LEN);
    } else if (req->amz_date.len > 0) {
        if (!cw_sigv4_valid_amz_date(req->amz_date.ptr, req->amz_date.len)) {
            rc = CW_SIGV4_EDATE;
            goto done;
        }
        memcpy(out->amz_date, req->amz_date.ptr, CW_SIGV4_AMZ_DATE_LEN);
    } else if (!current_amz_date(out->amz_date)) {
        rc = CW_SIGV4_ECLOCK;
        goto done;
    }
    out->amz_date[CW_SIGV4_AMZ_DATE_LEN] = '\0';

    rc = CW_SIGV4_ENOMEM;
    if (!hs.have_date) {
        cw_sigv4_str v = { out->amz_date, CW_SIGV4_AMZ_DATE_LEN };
        if (!push_entry(&hs, "x-amz-date", v))
            goto done;
        out->added_date = 1;
    }
    if (!hs.have_token && req->session_token.len > 0) {
        if (!push_entry(&hs, "x-amz-security-token", req->session_token))
            goto done;
        out->added_token = 1;
    }

    buf_reserve(&hs.text, 0);
    if (hs.text.failed)
        goto done;
    /* hs.text no longer grows, so offsets can become pointers for sorting. */
    for (i = 0; i < hs.count; i++) {
        hs.entries[i].name = hs.text.data + hs.entries[i].name_off;
        hs.entries[i].val = hs.text.data + hs.entries[i].val_off;
    }
    if (hs.have_payload_hash) {
        payload_hash = hs.entries[hs.payload_hash].val;
        payload_hash_len = hs.entries[hs.payload_hash].val_len;
    } else {
        rc = CW_SIGV4_ECRYPTO;
        if (!sha256_hex(req->body.ptr, req->body.len, payload_hex))
            goto done;
        payload_hash = payload_hex;
        payload_hash_len = SHA256_HEX_LEN;
    }
    if (hs.count > 1)
        qsort(hs.entries, hs.count, sizeof *hs.entries, cmp_hentry);

    rc = CW_SIGV4_ENOMEM;
    buf_addstr(&creq, req->method);
    buf_addc(&creq, '\n');
    if (!add_canonical_uri(&creq, req->path))
        goto done;
    buf_addc(&creq, '\n');
    if (!add_canonical_query(&creq, req->query))
        goto done;
    buf_addc(&creq, '\n');
    for (i = 0; i < hs.count; i++) {
        const hentry *h = &hs.entries[i];
        int repeat = i > 0 && cmp_bytes(h->name, h->name_len, hs.entries[i - 1].name,
                                        hs.entries[i - 1].name_len) == 0;
        if (repeat) {
            buf_addc(&creq, ',');
        } else {
            if (i > 0) {
                buf_addc(&creq, '\n');
                buf_addc(&signed_names, ';');
            }
            buf_add(&creq, h->name, h->name_len);
            buf_addc(&creq, ':');
            buf_add(&signed_names, h->name, h->name_len);
        }
        buf_add(&creq, h->val, h->val_len);
    }
    buf_adds(&creq, "\n\n");
    buf_add(&creq, signed_names.data, signed_names.len);
    buf_addc(&creq, '\n');
    buf_add(&creq, payload_hash, payload_hash_len);

    buf_add(&scope, out->amz_date, 8);
    buf_addc(&scope, '/');
    buf_addstr(&scope, req->region);
    buf_addc(&scope, '/');
    buf_addstr(&scope, req->service);
    buf_adds(&scope, "/aws4_request");
    if (creq.failed || scope.failed || signed_names.failed)
        goto done;

    rc = CW_SIGV4_ECRYPTO;
    if (!sha256_hex(creq.data, creq.len, creq_hex))
        goto done;
    rc = CW_SIGV4_ENOMEM;
    buf_adds(&sts, ALGORITHM "\n");
    buf_add(&sts, out->amz_date, CW_SIGV4_AMZ_DATE_LEN);
    buf_addc(&sts, '\n');
    buf_add(&sts, scope.data, scope.len);
    buf_addc(&sts, '\n');
    buf_add(&sts, creq_hex, SHA256_HEX_LEN);
    if (sts.failed)
        goto done;

    rc = derive_signature(req, out->amz_date, &sts, out->signature);
    if (rc != CW_SIGV4_OK)
        goto done;

    rc = CW_SIGV4_ENOMEM;
    buf_adds(&auth, ALGORITHM " Credential=");
    buf_addstr(&auth, req->access_key);
    buf_addc(&auth, '/');
    buf_add(&auth, scope.data, scope.len);
    buf_adds(&auth, ", SignedHeaders=");
    buf_add(&auth, signed_names.data, signed_names.len);
    buf_adds(&auth, ", Signature=");
    buf_add(&auth, out->signature, SHA256_HEX_LEN);
    if (auth.failed)
        goto done;

    out->canonical_request = buf_take(&creq, &out->canonical_request_len);
    out->string_to_sign = buf_take(&sts, &out->string_to_sign_len);
    out->authorization = buf_take(&auth, &out->authorization_len);
    out->signed_headers = buf_take(&signed_names, &out->signed_headers_len);
    out->credential_scope = buf_take(&scope, &out->credential_scope_len);
    rc = CW_SIGV4_OK;

done:
    free(hs.entries);
    buf_free(&hs.text);
    buf_free(&creq);
    buf_free(&sts);
    buf_free(&scope);
    buf_free(&signed_names);
    buf_free(&auth);
    if (rc != CW_SIGV4_OK)
        cw_sigv4_result_free(out);
    return rc;
}
