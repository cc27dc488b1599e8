/*
 * render.c - FilterLogEvents pages to output lines in one pass over the body (render.h).
 *
 * The walk mirrors lpager.c's decoder step for step (same checks in the same order, so
 * the same message for the same bad body), but where the decoder builds a table per
 * event this file remembers where each field sits in the body and, once the event's
 * object is closed, writes its line. Strings without escapes are copied straight from
 * the body; escaped ones are decoded (into the output for text, into scratch for JSONL,
 * which then re-escapes them the way lua-cjson does).
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- buffers ------------------------------------------------------------------------ */

/* old grown to hold need elements of elem bytes (contents kept), or NULL (old intact). */
static void *regrow(void *old, size_t *cap, size_t need, size_t elem)
{
    size_t want = *cap ? *cap : 1024;
    void *p;
    if (need > SIZE_MAX / elem / 2)
        return NULL;
    while (want < need)
        want *= 2;
    p = realloc(old, want * elem);
    if (p)
        *cap = want;
    return p;
}

static int reserve_bytes(char **buf, size_t *cap, size_t need)
{
    char *p;
    if (need <= *cap)
        return 0;
    p = regrow(*buf, cap, need, 1);
    if (!p)
        return -1;
    *buf = p;
    return 0;
}

static int reserve_recs(cw_render_rec **buf, size_t *cap, size_t need)
{
    cw_render_rec *p;
    if (need <= *cap)
        return 0;
    p = regrow(*buf, cap, need, sizeof **buf);
    if (!p)
        return -1;
    *buf = p;
    return 0;
}

/* ---- JSON string output, as lua-cjson writes it less its "\/" -------------------- */

static const char HEX[] = "0123456789abcdef";

/* The escape after the backslash: 'u' for \u00xx, 0 for a byte written as it is. */
static const char ESCAPE[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    0, 0, '"', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'u',
};

/* Nonzero when any of the eight bytes in v needs an escape: '"', '\\', < 0x20, 0x7f. */
static int word_needs_escape(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t q = v ^ (ones * '"');
    uint64_t s = v ^ (ones * '\\');
    uint64_t d = v ^ (ones * 0x7f);
    uint64_t t = ((q - ones) & ~q) | ((s - ones) & ~s) | ((d - ones) & ~d) |
                 ((v - ones * 0x20) & ~v);
    return (t & highs) != 0;
}

/* Writes s as a quoted JSON string at p (room: 6 * n + 2); returns the end. */
static char *put_json(char *p, const char *s, size_t n)
{
    size_t i = 0;
    *p++ = '"';
    while (i < n) {
        size_t j = i;
        unsigned char c;
        while (n - j >= 8) {
            uint64_t v;
            memcpy(&v, s + j, 8);
            if (word_needs_escape(v))
                break;
            j += 8;
        }
        while (j < n && !ESCAPE[(unsigned char)s[j]])
            j++;
        memcpy(p, s + i, j - i);
        p += j - i;
        if (j == n)
            break;
        c = (unsigned char)s[j];
        *p++ = '\\';
        if (ESCAPE[c] == 'u') {
            p[0] = 'u';
            p[1] = '0';
            p[2] = '0';
            p[3] = HEX[c >> 4];
            p[4] = HEX[c & 0xF];
            p += 5;
        } else {
            *p++ = ESCAPE[c];
        }
        i = j + 1;
    }
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, s) put_lit((p), (s), sizeof(s) - 1)

static char *put_int(char *p, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *p++ = '-';
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* ---- text pieces ---------------------------------------------------------------------- */

static int is_wide_space2(const unsigned char *s)
{
    return s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0);
}

static int is_wide_space3(const unsigned char *s)
{
    switch (s[0]) {
    case 0xE1: return s[1] == 0x9A && s[2] == 0x80;                    /* U+1680 */
    case 0xE2:
        if (s[1] == 0x80)                                               /* U+2000-U+202F */
            return s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF;
        return s[1] == 0x81 && s[2] == 0x9F;                            /* U+205F */
    case 0xE3: return s[1] == 0x80 && s[2] == 0x80;                    /* U+3000 */
    default: return 0;
    }
}

size_t cw_render_rstrip_len(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    while (len > 0) {
        unsigned char c = s[len - 1];
        if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) {
            len--;
        } else if (c < 0x80) {
            break;
        } else if (len >= 2 && is_wide_space2(s + len - 2)) {
            len -= 2;
        } else if (len >= 3 && is_wide_space3(s + len - 3)) {
            len -= 3;
        } else {
            break;
        }
    }
    return len;
}

/* "<time> " at p (room: CW_TIME_FMTLEN + 1); the formatted second is kept and its three
 * millisecond digits patched, as text_batch does. Times the zone cannot write come out
 * as the plain number. */
static char *put_time(cw_renderer *r, int64_t ts, char *p)
{
    char buf[CW_TIME_FMTLEN];
    size_t n;
    if (ts >= INT64_MIN + 1000) {
        int64_t sec = cw_floor_div(ts, 1000);
        int ms = (int)(ts - sec * 1000);
        if (!r->time_ok || sec != r->time_sec) {
            size_t k;
            r->time_ok = 0;
            n = cw_format_time(sec * 1000, r->zone, buf, sizeof buf);
            for (k = n >= 4 ? n - 4 + 1 : 0; k-- > 0;) {
                if (buf[k] == '.' && memcmp(buf + k + 1, "000", 3) == 0) {
                    memcpy(r->time_pre, buf, k + 1);
                    r->time_pre_len = k + 1;
                    memcpy(r->time_suf, buf + k + 4, n - (k + 4));
                    r->time_suf_len = n - (k + 4);
                    r->time_sec = sec;
                    r->time_ok = 1;
                    break;
                }
            }
        }
        if (r->time_ok) {
            p = put_lit(p, r->time_pre, r->time_pre_len);
            p[0] = (char)('0' + ms / 100);
            p[1] = (char)('0' + ms / 10 % 10);
            p[2] = (char)('0' + ms % 10);
            p = put_lit(p + 3, r->time_suf, r->time_suf_len);
            *p++ = ' ';
            return p;
        }
    }
    n = cw_format_time(ts, r->zone, buf, sizeof buf);
    if (n > 0) {
        p = put_lit(p, buf, n);
    } else {
        char num[24];
        int m = snprintf(num, sizeof num, "%lld", (long long)ts);
        p = put_lit(p, num, m > 0 ? (size_t)m : 0);
    }
    *p++ = ' ';
    return p;
}

/* ---- the walk ---------------------------------------------------------------------- */

enum {
    SEEN_TIMESTAMP = 1,
    SEEN_MESSAGE = 2,
    SEEN_INGESTION = 4,
    SEEN_STREAM = 8,
    SEEN_ID = 16
};

typedef struct event_fields {
    int64_t ts, ingestion;
    cw_json_str stream, id, message;
    unsigned seen;
    /* Set by the fast walk: the message already decoded (text) or re-escaped without its
     * quotes (jsonl), in the body or in r->msgbuf. */
    int msg_ready;
    const char *msg;
    size_t msg_len;
    /* Set by the fast walk for text without prefixes: msg was decoded straight into
     * r->out at r->out_len, where the line goes, with room for its newline. */
    int msg_in_out;
} event_fields;

typedef struct walker {
    cw_renderer *r;
    cw_json j;
    const cw_render_bounds *b;
    const char *shape_err; /* set for a well-formed body of the wrong shape */
    int oom;
    int sorted;
    int64_t prev_ts;
    int64_t min_ts, max_ts; /* over every event of the page, kept or not */
    size_t count;
    event_fields ev;
    int has_token;
    cw_json_str token;
} walker;

static int wrong_shape(walker *w, const char *what)
{
    size_t at = w->j.pos;
    if (cw_json_skip(&w->j) != 0)
        return -1;
    w->j.pos = at;
    w->shape_err = what;
    return -1;
}

static int out_of_memory(walker *w)
{
    w->oom = 1;
    return -1;
}

static int read_key(walker *w, char *kbuf, size_t kcap, const char **key, size_t *klen)
{
    cw_json_str s;
    cw_json_peek(&w->j);
    if (cw_json_string(&w->j, &s) != 0)
        return -1;
    if (s.has_escapes && s.len <= kcap) {
        *klen = cw_json_unescape(&s, kbuf);
        *key = kbuf;
    } else {
        *key = s.raw;
        *klen = s.len;
    }
    return cw_json_expect(&w->j, ':');
}

static int key_is(const char *key, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

typedef int (*member_fn)(walker *w, const char *key, size_t klen);

static int each_member(walker *w, member_fn member)
{
    char kbuf[128];
    const char *key;
    size_t klen;

    if (cw_json_expect(&w->j, '{') != 0)
        return -1;
    if (cw_json_peek(&w->j) == '}') {
        w->j.pos++;
        return 0;
    }
    for (;;) {
        int c;
        if (read_key(w, kbuf, sizeof kbuf, &key, &klen) != 0)
            return -1;
        if (member(w, key, klen) != 0)
            return -1;
        c = cw_json_peek(&w->j);
        if (c == ',') {
            w->j.pos++;
            continue;
        }
        return cw_json_expect(&w->j, '}');
    }
}

/* A string field: the latest non-null value wins, null leaves it as it was. */
static int take_string(walker *w, cw_json_str *dst, unsigned seen, const char *what)
{
    cw_json_str s;
    int c = cw_json_peek(&w->j);
    if (c == 'n')
        return cw_json_null(&w->j);
    if (c != '"')
        return wrong_shape(w, what);
    if (cw_json_string(&w->j, &s) != 0)
        return -1;
    *dst = s;
    w->ev.seen |= seen;
    return 0;
}

static int take_integer(walker *w, int64_t *dst, unsigned seen, const char *what)
{
    int64_t v;
    int c = cw_json_peek(&w->j);
    if (c == 'n')
        return cw_json_null(&w->j);
    if (c != '-' && !(c >= '0' && c <= '9'))
        return wrong_shape(w, what);
    if (cw_json_int64(&w->j, &v) != 0)
        return -1;
    *dst = v;
    w->ev.seen |= seen;
    return 0;
}

static int event_member(walker *w, const char *key, size_t klen)
{
    switch (klen) {
    case 7:
        if (key_is(key, klen, "eventId"))
            return take_string(w, &w->ev.id, SEEN_ID, "eventId is not a string");
        if (key_is(key, klen, "message"))
            return take_string(w, &w->ev.message, SEEN_MESSAGE, "message is not a string");
        break;
    case 9:
        if (key_is(key, klen, "timestamp"))
            return take_integer(w, &w->ev.ts, SEEN_TIMESTAMP, "timestamp is not a number");
        break;
    case 13:
        if (key_is(key, klen, "ingestionTime"))
            return take_integer(w, &w->ev.ingestion, SEEN_INGESTION,
                                "ingestionTime is not a number");
        if (key_is(key, klen, "logStreamName"))
            return take_string(w, &w->ev.stream, SEEN_STREAM, "logStreamName is not a string");
        break;
    default:
        break;
    }
    return cw_json_skip(&w->j);
}

/* Makes scratch hold n bytes. */
static int reserve_scratch(cw_renderer *r, size_t n)
{
    return reserve_bytes(&r->scratch, &r->scratch_cap, n);
}

static int stream_matches(walker *w)
{
    const cw_render_bounds *b = w->b;
    const event_fields *ev = &w->ev;
    const char *s;
    size_t n;
    if (!(ev->seen & SEEN_STREAM))
        return b->prefix_len == 0;
    if (ev->stream.len < b->prefix_len)
        return 0;
    if (ev->stream.has_escapes) {
        if (reserve_scratch(w->r, ev->stream.len) != 0)
            return -1;
        s = w->r->scratch;
        n = cw_json_unescape(&ev->stream, w->r->scratch);
    } else {
        s = ev->stream.raw;
        n = ev->stream.len;
    }
    return n >= b->prefix_len && memcmp(s, b->prefix, b->prefix_len) == 0;
}

/* A string field that may need decoding, at p, as bytes (text). */
static char *put_text(char *p, const cw_json_str *s)
{
    if (s->has_escapes)
        return p + cw_json_unescape(s, p);
    return put_lit(p, s->raw, s->len);
}

static int render_text(walker *w, char **line)
{
    cw_renderer *r = w->r;
    const event_fields *ev = &w->ev;
    size_t need = CW_TIME_FMTLEN + 2 + (ev->msg_ready ? ev->msg_len : ev->message.len) + 1;
    char *p;
    size_t n;
    if (ev->msg_in_out) {
        /* already in place (fast_text_message reserved room for the newline) */
        p = *line = r->out + r->out_len;
        p += cw_render_rstrip_len(p, ev->msg_len);
        *p++ = '\n';
        r->out_len = (size_t)(p - r->out);
        return 0;
    }
    if (r->show_stream)
        need += ev->stream.len + 1;
    if (reserve_bytes(&r->out, &r->out_cap, r->out_len + need) != 0)
        return -1;
    p = *line = r->out + r->out_len;
    if (r->timestamp)
        p = put_time(r, ev->ts, p);
    if (r->show_stream) {
        if (ev->seen & SEEN_STREAM)
            p = put_text(p, &ev->stream);
        *p++ = ' ';
    }
    if (ev->msg_ready) {
        n = cw_render_rstrip_len(ev->msg, ev->msg_len);
        memcpy(p, ev->msg, n);
    } else if (ev->message.has_escapes) {
        n = cw_json_unescape(&ev->message, p);
        n = cw_render_rstrip_len(p, n);
    } else {
        n = cw_render_rstrip_len(ev->message.raw, ev->message.len);
        memcpy(p, ev->message.raw, n);
    }
    p += n;
    *p++ = '\n';
    r->out_len = (size_t)(p - r->out);
    return 0;
}

/* A string field as JSON (scratch must hold s->len bytes). */
static char *put_json_field(cw_renderer *r, char *p, const cw_json_str *s)
{
    if (s->has_escapes)
        return put_json(p, r->scratch, cw_json_unescape(s, r->scratch));
    if (memchr(s->raw, 0x7f, s->len) != NULL)
        return put_json(p, s->raw, s->len);
    *p++ = '"';
    p = put_lit(p, s->raw, s->len);
    *p++ = '"';
    return p;
}

static int render_jsonl(walker *w, char **line)
{
    cw_renderer *r = w->r;
    const event_fields *ev = &w->ev;
    size_t mlen = ev->msg_ready ? ev->msg_len : ev->message.len;
    size_t longest = ev->msg_ready ? 0 : mlen, need;
    char *p;
    if (ev->id.len > longest)
        longest = ev->id.len;
    if (ev->stream.len > longest)
        longest = ev->stream.len;
    if (longest > SIZE_MAX / 32 || mlen > SIZE_MAX / 32)
        return -1;
    need = r->group_json_len + 6 * (mlen + ev->id.len + ev->stream.len) + 160;
    if (reserve_bytes(&r->out, &r->out_cap, r->out_len + need) != 0 ||
        reserve_scratch(r, longest) != 0)
        return -1;
    p = *line = r->out + r->out_len;
    p = PUT_LIT(p, "{\"logGroupName\":");
    p = put_lit(p, r->group_json, r->group_json_len);
    p = PUT_LIT(p, ",\"logStreamName\":");
    p = ev->seen & SEEN_STREAM ? put_json_field(r, p, &ev->stream) : PUT_LIT(p, "null");
    p = PUT_LIT(p, ",\"timestamp\":");
    p = put_int(p, ev->ts);
    p = PUT_LIT(p, ",\"ingestionTime\":");
    p = ev->seen & SEEN_INGESTION ? put_int(p, ev->ingestion) : PUT_LIT(p, "null");
    p = PUT_LIT(p, ",\"eventId\":");
    p = ev->seen & SEEN_ID ? put_json_field(r, p, &ev->id) : PUT_LIT(p, "null");
    p = PUT_LIT(p, ",\"message\":");
    if (ev->msg_ready) {
        *p++ = '"';
        p = put_lit(p, ev->msg, ev->msg_len);
        *p++ = '"';
    } else {
        p = put_json_field(r, p, &ev->message);
    }
    p = PUT_LIT(p, "}\n");
    r->out_len = (size_t)(p - r->out);
    return 0;
}

/* The event just read: kept? then its line and its record. */
static int take_event(walker *w)
{
    cw_renderer *r = w->r;
    const cw_render_bounds *b = w->b;
    int64_t ts = w->ev.ts;
    char *line;
    cw_render_rec *rec;
    if (ts < w->min_ts)
        w->min_ts = ts;
    if (ts > w->max_ts)
        w->max_ts = ts;
    if ((b->has_lo && ts < b->lo) || (b->has_hi && ts >= b->hi))
        return 0;
    if (b->prefix) {
        int m = stream_matches(w);
        if (m < 0)
            return out_of_memory(w);
        if (!m)
            return 0;
    }
    if (reserve_recs(&r->recs, &r->rec_cap, r->nrec + 1) != 0)
        return out_of_memory(w);
    if ((r->format == CW_RENDER_JSONL ? render_jsonl(w, &line) : render_text(w, &line)) != 0)
        return out_of_memory(w);
    rec = &r->recs[r->nrec++];
    rec->ts = ts;
    rec->off = (size_t)(line - r->out);
    rec->len = r->out_len - rec->off;
    if (ts < w->prev_ts)
        w->sorted = 0;
    w->prev_ts = ts;
    return 0;
}

/* A new events array replaces what an earlier one (a duplicate key) gave. */
static void reset_lines(walker *w)
{
    w->r->out_len = 0;
    w->r->nrec = 0;
    w->count = 0;
    w->sorted = 1;
    w->prev_ts = INT64_MIN;
    w->min_ts = INT64_MAX;
    w->max_ts = INT64_MIN;
}

static int read_events(walker *w)
{
    reset_lines(w);
    if (cw_json_expect(&w->j, '[') != 0)
        return -1;
    if (cw_json_peek(&w->j) == ']') {
        w->j.pos++;
        return 0;
    }
    for (;;) {
        size_t start;
        int c = cw_json_peek(&w->j);
        if (c != '{')
            return wrong_shape(w, "an event is not an object");
        start = w->j.pos;
        memset(&w->ev, 0, sizeof w->ev);
        if (each_member(w, event_member) != 0)
            return -1;
        if ((w->ev.seen & (SEEN_TIMESTAMP | SEEN_MESSAGE)) != (SEEN_TIMESTAMP | SEEN_MESSAGE)) {
            w->j.pos = start;
            w->shape_err = w->ev.seen & SEEN_TIMESTAMP ? "an event has no message"
                                                       : "an event has no timestamp";
            return -1;
        }
        w->count++;
        if (take_event(w) != 0)
            return -1;
        c = cw_json_peek(&w->j);
        if (c == ',') {
            w->j.pos++;
            continue;
        }
        return cw_json_expect(&w->j, ']');
    }
}

static int page_member(walker *w, const char *key, size_t klen)
{
    if (key_is(key, klen, "events")) {
        int c = cw_json_peek(&w->j);
        if (c == 'n') {
            if (cw_json_null(&w->j) != 0)
                return -1;
            reset_lines(w);
            return 0;
        }
        if (c == '[')
            return read_events(w);
        return wrong_shape(w, "events is not an array");
    }
    if (key_is(key, klen, "nextToken") || key_is(key, klen, "nextForwardToken") ||
        key_is(key, klen, "nextBackwardToken")) {
        int is_next = klen == 9;
        int c = cw_json_peek(&w->j);
        cw_json_str s;
        if (c == 'n') {
            if (cw_json_null(&w->j) != 0)
                return -1;
            if (is_next)
                w->has_token = 0;
            return 0;
        }
        if (c != '"')
            return wrong_shape(w, "a paging token is not a string");
        if (cw_json_string(&w->j, &s) != 0)
            return -1;
        if (is_next) {
            w->token = s;
            w->has_token = 1;
        }
        return 0;
    }
    return cw_json_skip(&w->j);
}

/* ---- reordering ------------------------------------------------------------------- */

/* Stable merge sort of the records by timestamp, bottom up. */
static int sort_recs(cw_renderer *r)
{
    size_t n = r->nrec, width;
    cw_render_rec *a, *b;
    if (reserve_recs(&r->recs_tmp, &r->tmp_cap, n) != 0)
        return -1;
    a = r->recs;
    b = r->recs_tmp;
    for (width = 1; width < n; width *= 2) {
        size_t lo;
        cw_render_rec *t;
        for (lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = a[j].ts < a[i].ts ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        t = a;
        a = b;
        b = t;
    }
    if (a != r->recs) {
        size_t cap = r->rec_cap;
        r->recs_tmp = r->recs;
        r->recs = a;
        r->rec_cap = r->tmp_cap;
        r->tmp_cap = cap;
    }
    return 0;
}

static int reorder_lines(cw_renderer *r)
{
    size_t i, at = 0;
    char *t;
    size_t cap;
    if (sort_recs(r) != 0 || reserve_bytes(&r->alt, &r->alt_cap, r->out_len) != 0)
        return -1;
    for (i = 0; i < r->nrec; i++) {
        memcpy(r->alt + at, r->out + r->recs[i].off, r->recs[i].len);
        r->recs[i].off = at;
        at += r->recs[i].len;
    }
    t = r->out;
    r->out = r->alt;
    r->alt = t;
    cap = r->out_cap;
    r->out_cap = r->alt_cap;
    r->alt_cap = cap;
    return 0;
}

/* ---- the fast walk ------------------------------------------------------------------ */

/* What the general walk accepts, read the quick way: 16 bytes per step through strings,
 * messages decoded (or re-escaped) while they are scanned, no per-token calls. It gives up
 * (FAST_BAIL) on anything it was not written for, valid or not, and the page is then walked
 * again by the general walker above: the two must accept the same bodies and write the same
 * bytes, which render_spec.lua checks by running both on every generated page. */

enum { FAST_OK = 0, FAST_BAIL = 1, FAST_OOM = 2 };

/* Where a string scan stops: '"', '\\', control characters, and with del also 0x7f. */
static int is_stop(unsigned char c, int del)
{
    return c == '"' || c == '\\' || c < 0x20 || (del && c == 0x7f);
}

/* Bit i set when b[i] (0 <= i < 16) is a stop byte. */
static unsigned stop_mask16(const char *b, int del)
{
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
    __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    /* unsigned v <= 0x1f */
    m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
    if (del)
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));
    return (unsigned)_mm_movemask_epi8(m);
#else
    unsigned m = 0;
    int i;
    for (i = 0; i < 16; i++)
        if (is_stop((unsigned char)b[i], del))
            m |= 1u << i;
    return m;
#endif
}

static unsigned lowest_bit(unsigned m)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctz(m);
#else
    unsigned k = 0;
    while (!(m & 1u)) {
        m >>= 1;
        k++;
    }
    return k;
#endif
}

static size_t skip_ws(const char *b, size_t n, size_t p)
{
    while (p < n && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t'))
        p++;
    return p;
}

/* One byte below 0x80 as lua-cjson writes it (less its "\/"). */
static size_t json_byte_put(char *d, unsigned char c)
{
    char e = ESCAPE[c];
    if (!e) {
        d[0] = (char)c;
        return 1;
    }
    d[0] = '\\';
    if (e != 'u') {
        d[1] = e;
        return 2;
    }
    d[1] = 'u';
    d[2] = '0';
    d[3] = '0';
    d[4] = HEX[c >> 4];
    d[5] = HEX[c & 0xF];
    return 6;
}

/* The code point of the \u escape at b[*pp] (checked: four hex digits), surrogates read as
 * cw_json_unescape reads them (a pair is one character, a lone half U+FFFD). -1: bail. */
static long read_u_escape(const char *b, size_t n, size_t *pp)
{
    size_t p = *pp;
    long cp, lo;
    if (n - p < 6 || (cp = cw_json_hex4(b + p + 2)) < 0)
        return -1;
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (n - p >= 6 && b[p] == '\\' && b[p + 1] == 'u' && (lo = cw_json_hex4(b + p + 2)) >= 0xDC00 &&
            lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    *pp = p;
    return cp;
}

/* The string whose opening quote is at b[*pp], checked as cw_json_string checks it. */
static int fast_string(const char *b, size_t n, size_t *pp, cw_json_str *s)
{
    size_t p = *pp + 1, start = p;
    int esc = 0;
    for (;;) {
        unsigned char c;
        if (n - p >= 16) {
            unsigned m = stop_mask16(b + p, 0);
            if (!m) {
                p += 16;
                continue;
            }
            p += lowest_bit(m);
        } else {
            while (p < n && !is_stop((unsigned char)b[p], 0))
                p++;
            if (p >= n)
                return FAST_BAIL;
        }
        c = (unsigned char)b[p];
        if (c == '"')
            break;
        if (c != '\\' || n - p < 2)
            return FAST_BAIL;
        esc = 1;
        switch (b[p + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u':
            if (n - p < 6 || cw_json_hex4(b + p + 2) < 0)
                return FAST_BAIL;
            p += 6;
            break;
        default:
            return FAST_BAIL;
        }
    }
    s->raw = b + start;
    s->len = p - start;
    s->has_escapes = esc;
    *pp = p + 1;
    return FAST_OK;
}

/* An escape that lua-cjson writes as it is read (\" \\ \b \f \n \r \t). */
static int passes_through(char e)
{
    switch (e) {
    case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
        return 1;
    default:
        return 0;
    }
}

/* The message string at b[*pp] (its opening quote), made ready for output while it is
 * checked: for text its decoded bytes, for jsonl its JSON form as lua-cjson writes it,
 * quotes left off. Until something has to change, nothing is copied: a message that is
 * already its own output stays where it is in the body. */
static int fast_message(cw_renderer *r, const char *b, size_t n, size_t *pp, event_fields *ev)
{
    const int jsonl = r->format == CW_RENDER_JSONL;
    size_t p = *pp + 1, start = p, d = 0;
    int copying = 0;
    char *dst = NULL;
    for (;;) {
        unsigned char c;
        long cp;
        /* Each round writes at most 16 bytes: keep room for a round and then some. */
        if (copying && r->msgbuf_cap - d < 64) {
            if (reserve_bytes(&r->msgbuf, &r->msgbuf_cap, d + 64) != 0)
                return FAST_OOM;
            dst = r->msgbuf;
        }
        if (n - p >= 16) {
            unsigned m = stop_mask16(b + p, jsonl);
            if (copying)
                memcpy(dst + d, b + p, 16);
            if (!m) {
                p += 16;
                if (copying)
                    d += 16;
                continue;
            }
            m = lowest_bit(m);
            p += m;
            if (copying)
                d += m;
        } else {
            while (p < n && !is_stop((unsigned char)b[p], jsonl)) {
                if (copying)
                    dst[d++] = b[p];
                p++;
            }
            if (p >= n)
                return FAST_BAIL;
        }
        c = (unsigned char)b[p];
        if (c == '"')
            break;
        if (c < 0x20 || (c == '\\' && n - p < 2))
            return FAST_BAIL;
        if (!copying) {
            /* jsonl: \" \\ \b \f \n \r \t are written as they were read */
            if (jsonl && c == '\\' && passes_through(b[p + 1])) {
                p += 2;
                continue;
            }
            /* Decoding never grows text; the round's 16 bytes and the widest jsonl escape
             * fit in the slack (the room check above grows it for jsonl later). */
            if (reserve_bytes(&r->msgbuf, &r->msgbuf_cap, (n - start) + 64) != 0)
                return FAST_OOM;
            dst = r->msgbuf;
            memcpy(dst, b + start, p - start);
            d = p - start;
            copying = 1;
        }
        if (c == 0x7f) { /* jsonl only */
            d += json_byte_put(dst + d, c);
            p++;
            continue;
        }
        switch (b[p + 1]) {
        case '"': case '\\':
            if (jsonl)
                dst[d++] = '\\';
            dst[d++] = b[p + 1];
            p += 2;
            break;
        case '/':
            dst[d++] = '/';
            p += 2;
            break;
        case 'b': case 'f': case 'n': case 'r': case 't':
            if (jsonl) {
                dst[d++] = '\\';
                dst[d++] = b[p + 1];
            } else {
                char e = b[p + 1];
                dst[d++] = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : '\t';
            }
            p += 2;
            break;
        case 'u':
            if ((cp = read_u_escape(b, n, &p)) < 0)
                return FAST_BAIL;
            if (jsonl && cp < 0x80)
                d += json_byte_put(dst + d, (unsigned char)cp);
            else
                d += cw_utf8_put(dst + d, (unsigned long)cp);
            break;
        default:
            return FAST_BAIL;
        }
    }
    if (copying) {
        ev->msg = r->msgbuf;
        ev->msg_len = d;
    } else {
        ev->msg = b + start;
        ev->msg_len = p - start;
    }
    ev->msg_ready = 1;
    *pp = p + 1;
    return FAST_OK;
}

/* The message string at b[*pp] (its opening quote) for text output without a time or
 * stream prefix: checked as fast_message checks it and decoded straight into r->out at
 * r->out_len, where its line starts. Decoding never grows text, so room for the raw
 * string plus one 16-byte round (and the newline) is enough for the whole loop. */
static int fast_text_message(cw_renderer *r, const char *b, size_t n, size_t *pp, event_fields *ev)
{
    size_t p = *pp + 1, start = p;
    char *dst, *d;
    long cp;
    if (reserve_bytes(&r->out, &r->out_cap, r->out_len + (n - start) + 64) != 0)
        return FAST_OOM;
    dst = d = r->out + r->out_len;
    for (;;) {
        unsigned char c;
        if (n - p >= 16) {
            unsigned m = stop_mask16(b + p, 0);
            memcpy(d, b + p, 16);
            if (!m) {
                p += 16;
                d += 16;
                continue;
            }
            m = lowest_bit(m);
            p += m;
            d += m;
        } else {
            while (p < n && !is_stop((unsigned char)b[p], 0))
                *d++ = b[p++];
            if (p >= n)
                return FAST_BAIL;
        }
        c = (unsigned char)b[p];
        if (c == '\\' && n - p >= 2) {
            switch (b[p + 1]) {
            case '"': case '\\': case '/':
                *d++ = b[p + 1];
                p += 2;
                continue;
            case 'n':
                *d++ = '\n';
                p += 2;
                continue;
            case 'r':
                *d++ = '\r';
                p += 2;
                continue;
            case 't':
                *d++ = '\t';
                p += 2;
                continue;
            case 'b':
                *d++ = '\b';
                p += 2;
                continue;
            case 'f':
                *d++ = '\f';
                p += 2;
                continue;
            case 'u': {
                size_t q = p; /* p's address is not taken: it stays in a register */
                if ((cp = read_u_escape(b, n, &q)) < 0)
                    return FAST_BAIL;
                p = q;
                d += cw_utf8_put(d, (unsigned long)cp);
                continue;
            }
            default:
                return FAST_BAIL;
            }
        }
        if (c == '"')
            break;
        return FAST_BAIL;
    }
    ev->msg = dst;
    ev->msg_len = (size_t)(d - dst);
    ev->msg_ready = 1;
    ev->msg_in_out = 1;
    *pp = p + 1;
    return FAST_OK;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 bytes of x (first byte lowest) are all ASCII digits. Every byte in 0x30..0x3f
 * passes the first test; adding 6 then moves exactly 0x3a..0x3f out of 0x3_, without a
 * carry into the next byte. */
static int all_digits8(uint64_t x)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, d0 = 0x3030303030303030ULL;
    return (x & hi) == d0 && ((x + 0x0606060606060606ULL) & hi) == d0;
}

/* The value of 8 ASCII digits (the first byte, lowest in x, is the most significant):
 * digits combine into pairs, pairs into 4-digit groups, groups into the number, each step
 * in place within wider lanes, never carrying across them. */
static uint64_t digits8_value(uint64_t x)
{
    x -= 0x3030303030303030ULL;
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFULL;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFULL;
    return (x * 10000 + (x >> 32)) & 0xFFFFFFFFULL;
}
#endif

/* A plain integer (no fraction, no exponent, at most 18 digits); anything else bails. */
static int fast_int(const char *b, size_t n, size_t *pp, int64_t *out)
{
    size_t p = *pp;
    int neg = 0, digits = 0;
    int64_t v = 0;
    if (p < n && b[p] == '-') {
        neg = 1;
        p++;
    }
    if (p >= n || b[p] < '0' || b[p] > '9')
        return FAST_BAIL;
    if (b[p] == '0') {
        p++;
    } else {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* Eight digits at a time while they last (timestamps have 13). */
        while (digits <= 10 && n - p >= 8) {
            uint64_t x;
            memcpy(&x, b + p, 8);
            if (!all_digits8(x))
                break;
            v = v * 100000000 + (int64_t)digits8_value(x);
            digits += 8;
            p += 8;
        }
#endif
        while (p < n && b[p] >= '0' && b[p] <= '9') {
            if (++digits > 18)
                return FAST_BAIL;
            v = v * 10 + (b[p] - '0');
            p++;
        }
    }
    if (p >= n || b[p] == '.' || b[p] == 'e' || b[p] == 'E' || (b[p] >= '0' && b[p] <= '9'))
        return FAST_BAIL;
    *out = neg ? -v : v;
    *pp = p;
    return FAST_OK;
}

static int fast_null(const char *b, size_t n, size_t *pp)
{
    if (n - *pp < 4 || memcmp(b + *pp, "null", 4) != 0)
        return FAST_BAIL;
    *pp += 4;
    return FAST_OK;
}

/* A key without escapes and its colon; the cursor ends on the value. */
static int fast_key(const char *b, size_t n, size_t *pp, const char **key, size_t *klen)
{
    size_t p = *pp, start;
    if (p >= n || b[p] != '"')
        return FAST_BAIL;
    start = ++p;
    if (n - p >= 16) {
        unsigned m = stop_mask16(b + p, 0);
        if (m)
            p += lowest_bit(m);
        else
            p += 16;
    }
    while (p < n && b[p] != '"') {
        unsigned char c = (unsigned char)b[p];
        if (c == '\\' || c < 0x20)
            return FAST_BAIL;
        p++;
    }
    if (p >= n)
        return FAST_BAIL;
    *key = b + start;
    *klen = p - start;
    p++;
    if (p < n && b[p] == ':') {
        p++;
    } else {
        p = skip_ws(b, n, p);
        if (p >= n || b[p] != ':')
            return FAST_BAIL;
        p++;
    }
    if (p < n && (b[p] == ' ' || b[p] == '\n' || b[p] == '\r' || b[p] == '\t'))
        p = skip_ws(b, n, p);
    *pp = p;
    return FAST_OK;
}

static uint64_t load8(const char *s)
{
    uint64_t v;
    memcpy(&v, s, 8);
    return v;
}

static uint32_t load4(const char *s)
{
    uint32_t v;
    memcpy(&v, s, 4);
    return v;
}

/* k (len bytes, len >= 4) equals the literal lit of the same length. */
static int key_eq(const char *k, const char *lit, size_t len)
{
    size_t i;
    if (len < 8)
        return load4(k) == load4(lit) && load4(k + len - 4) == load4(lit + len - 4);
    for (i = 0; i + 8 < len; i += 8)
        if (load8(k + i) != load8(lit + i))
            return 0;
    return load8(k + len - 8) == load8(lit + len - 8);
}

static int fast_skip(const char *b, size_t n, size_t *pp)
{
    cw_json j;
    cw_json_init(&j, b, n);
    j.pos = *pp;
    if (cw_json_skip(&j) != 0)
        return FAST_BAIL;
    *pp = j.pos;
    return FAST_OK;
}

#define FAST_TRY(x)            \
    do {                       \
        int rc_ = (x);         \
        if (rc_ != FAST_OK)    \
            return rc_;        \
    } while (0)

/* A string field (or null, which leaves it as it was). */
static int fast_string_field(walker *w, const char *b, size_t n, size_t *pp, cw_json_str *dst,
                             unsigned seen)
{
    if (b[*pp] == 'n')
        return fast_null(b, n, pp);
    if (b[*pp] != '"')
        return FAST_BAIL;
    FAST_TRY(fast_string(b, n, pp, dst));
    w->ev.seen |= seen;
    return FAST_OK;
}

static int fast_int_field(walker *w, const char *b, size_t n, size_t *pp, int64_t *dst,
                          unsigned seen)
{
    if (b[*pp] == 'n')
        return fast_null(b, n, pp);
    FAST_TRY(fast_int(b, n, pp, dst));
    w->ev.seen |= seen;
    return FAST_OK;
}

static int fast_event_member(walker *w, const char *b, size_t n, size_t *pp, const char *key,
                             size_t klen)
{
    event_fields *ev = &w->ev;
    if (*pp >= n)
        return FAST_BAIL;
    switch (klen) {
    case 7:
        if (key_eq(key, "message", 7)) {
            if (b[*pp] == 'n')
                return fast_null(b, n, pp);
            if (b[*pp] != '"')
                return FAST_BAIL;
            if (w->r->format == CW_RENDER_TEXT && !w->r->timestamp && !w->r->show_stream)
                FAST_TRY(fast_text_message(w->r, b, n, pp, ev));
            else
                FAST_TRY(fast_message(w->r, b, n, pp, ev));
            ev->seen |= SEEN_MESSAGE;
            return FAST_OK;
        }
        if (key_eq(key, "eventId", 7))
            return fast_string_field(w, b, n, pp, &ev->id, SEEN_ID);
        break;
    case 9:
        if (key_eq(key, "timestamp", 9))
            return fast_int_field(w, b, n, pp, &ev->ts, SEEN_TIMESTAMP);
        break;
    case 13:
        if (key_eq(key, "logStreamName", 13))
            return fast_string_field(w, b, n, pp, &ev->stream, SEEN_STREAM);
        if (key_eq(key, "ingestionTime", 13))
            return fast_int_field(w, b, n, pp, &ev->ingestion, SEEN_INGESTION);
        break;
    default:
        break;
    }
    return fast_skip(b, n, pp);
}

/* The events array; the cursor is on its '['. */
static int fast_events(walker *w, const char *b, size_t n, size_t *pp)
{
    size_t p = skip_ws(b, n, *pp + 1);
    reset_lines(w);
    if (p < n && b[p] == ']') {
        *pp = p + 1;
        return FAST_OK;
    }
    for (;;) {
        if (p >= n || b[p] != '{')
            return FAST_BAIL;
        p = skip_ws(b, n, p + 1);
        memset(&w->ev, 0, sizeof w->ev);
        for (;;) {
            const char *key;
            size_t klen;
            FAST_TRY(fast_key(b, n, &p, &key, &klen));
            FAST_TRY(fast_event_member(w, b, n, &p, key, klen));
            p = skip_ws(b, n, p);
            if (p < n && b[p] == ',') {
                p = skip_ws(b, n, p + 1);
                continue;
            }
            if (p < n && b[p] == '}') {
                p++;
                break;
            }
            return FAST_BAIL;
        }
        if ((w->ev.seen & (SEEN_TIMESTAMP | SEEN_MESSAGE)) != (SEEN_TIMESTAMP | SEEN_MESSAGE))
            return FAST_BAIL;
        w->count++;
        if (take_event(w) != 0)
            return FAST_OOM;
        p = skip_ws(b, n, p);
        if (p < n && b[p] == ',') {
            p = skip_ws(b, n, p + 1);
            continue;
        }
        if (p < n && b[p] == ']') {
            *pp = p + 1;
            return FAST_OK;
        }
        return FAST_BAIL;
    }
}

static int fast_page_member(walker *w, const char *b, size_t n, size_t *pp, const char *key,
                            size_t klen)
{
    if (*pp >= n)
        return FAST_BAIL;
    if (klen == 6 && key_eq(key, "events", 6)) {
        if (b[*pp] == '[')
            return fast_events(w, b, n, pp);
        if (b[*pp] == 'n') {
            reset_lines(w);
            return fast_null(b, n, pp);
        }
        return FAST_BAIL;
    }
    if ((klen == 9 && key_eq(key, "nextToken", 9)) ||
        (klen == 16 && key_eq(key, "nextForwardToken", 16)) ||
        (klen == 17 && key_eq(key, "nextBackwardToken", 17))) {
        cw_json_str s;
        if (b[*pp] == 'n') {
            if (klen == 9)
                w->has_token = 0;
            return fast_null(b, n, pp);
        }
        if (b[*pp] != '"')
            return FAST_BAIL;
        FAST_TRY(fast_string(b, n, pp, &s));
        if (klen == 9) {
            w->token = s;
            w->has_token = 1;
        }
        return FAST_OK;
    }
    return fast_skip(b, n, pp);
}

static int fast_page(walker *w, const char *b, size_t n)
{
    size_t p = skip_ws(b, n, 0);
    if (p >= n || b[p] != '{')
        return FAST_BAIL;
    p = skip_ws(b, n, p + 1);
    if (p < n && b[p] == '}') {
        p++;
    } else {
        for (;;) {
            const char *key;
            size_t klen;
            FAST_TRY(fast_key(b, n, &p, &key, &klen));
            FAST_TRY(fast_page_member(w, b, n, &p, key, klen));
            p = skip_ws(b, n, p);
            if (p < n && b[p] == ',') {
                p = skip_ws(b, n, p + 1);
                continue;
            }
            if (p < n && b[p] == '}') {
                p++;
                break;
            }
            return FAST_BAIL;
        }
    }
    return skip_ws(b, n, p) == n ? FAST_OK : FAST_BAIL;
}

/* ---- entry points ----------------------------------------------------------------- */

static void set_error(cw_renderer *r, const walker *w)
{
    const cw_json *j = &w->j;
    if (w->oom) {
        snprintf(r->err, sizeof r->err, "out of memory");
    } else if (w->shape_err != NULL) {
        snprintf(r->err, sizeof r->err, "invalid response at byte %lld: %s",
                 (long long)j->pos + 1, w->shape_err);
    } else if (j->err_char >= 0x20 && j->err_char < 0x7f) {
        snprintf(r->err, sizeof r->err, "invalid JSON in response at byte %lld: %s '%c'",
                 (long long)j->err_pos + 1, j->err, j->err_char);
    } else if (j->err_char >= 0) {
        snprintf(r->err, sizeof r->err, "invalid JSON in response at byte %lld: %s (byte 0x%c%c)",
                 (long long)j->err_pos + 1, j->err, HEX[(j->err_char >> 4) & 0xF],
                 HEX[j->err_char & 0xF]);
    } else {
        snprintf(r->err, sizeof r->err, "invalid JSON in response at byte %lld: %s",
                 (long long)j->err_pos + 1, j->err);
    }
}

/* A walk went through: reorder if need be, and set the results. */
static int finish_page(cw_renderer *r, walker *w)
{
    if (!w->sorted && reorder_lines(r) != 0)
        return out_of_memory(w);
    if (w->has_token) {
        if (w->token.has_escapes) {
            if (reserve_scratch(r, w->token.len + 1) != 0)
                return out_of_memory(w);
            r->token_len = cw_json_unescape(&w->token, r->scratch);
            r->token = r->scratch;
        } else {
            r->token = w->token.raw;
            r->token_len = w->token.len;
        }
    }
    r->kept = r->nrec;
    r->total = w->count;
    r->min_ts = w->min_ts;
    r->max_ts = w->max_ts;
    return 0;
}

static void start_walk(cw_renderer *r, walker *w, const char *body, size_t len,
                       const cw_render_bounds *b)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    w->b = b;
    cw_json_init(&w->j, body, len);
    reset_lines(w);
    r->kept = r->total = 0;
    r->token = NULL;
    r->token_len = 0;
    r->err[0] = '\0';
}

int cw_render_page(cw_renderer *r, const char *body, size_t len, const cw_render_bounds *b)
{
    walker w;
    if (!r->slow_only) {
        int rc;
        start_walk(r, &w, body, len, b);
        rc = fast_page(&w, body, len);
        if (rc == FAST_OK && finish_page(r, &w) == 0)
            return 0;
        if (rc != FAST_BAIL) {
            w.oom = 1;
            goto fail;
        }
    }
    start_walk(r, &w, body, len, b);
    if (cw_json_peek(&w.j) != '{' && cw_json_peek(&w.j) >= 0) {
        wrong_shape(&w, "the body is not a JSON object");
    } else if (each_member(&w, page_member) == 0) {
        if (cw_json_peek(&w.j) < 0) {
            if (finish_page(r, &w) == 0)
                return 0;
            goto fail;
        }
        w.j.err = "trailing characters after the JSON value";
        w.j.err_pos = w.j.pos;
        w.j.err_char = -1;
    }
fail:
    set_error(r, &w);
    r->out_len = 0;
    r->nrec = 0;
    return -1;
}

int cw_renderer_init(cw_renderer *r, const cw_render_opts *o, char *err, size_t errlen)
{
    r->format = o->format == CW_RENDER_JSONL ? CW_RENDER_JSONL : CW_RENDER_TEXT;
    r->timestamp = r->format == CW_RENDER_TEXT && o->timestamp;
    r->show_stream = r->format == CW_RENDER_TEXT && o->show_stream;
    r->time_ok = 0;
    r->slow_only = o->slow_only;
    if (r->timestamp) {
        r->zone = cw_zone_open(o->tz ? o->tz : "local", err, errlen);
        if (!r->zone)
            return -1;
    }
    if (r->format == CW_RENDER_JSONL) {
        size_t n = o->group ? o->group_len : 0;
        if (n > SIZE_MAX / 8 || !(r->group_json = malloc(6 * n + 8))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (o->group)
            r->group_json_len = (size_t)(put_json(r->group_json, o->group, n) - r->group_json);
        else
            r->group_json_len = (size_t)(PUT_LIT(r->group_json, "null") - r->group_json);
    }
    return 0;
}

void cw_renderer_free(cw_renderer *r)
{
    cw_zone_close(r->zone);
    r->zone = NULL;
    free(r->group_json);
    r->group_json = NULL;
    r->group_json_len = 0;
    free(r->out);
    free(r->alt);
    r->out = r->alt = NULL;
    r->out_len = r->out_cap = r->alt_cap = 0;
    free(r->recs);
    free(r->recs_tmp);
    r->recs = r->recs_tmp = NULL;
    r->nrec = r->rec_cap = r->tmp_cap = 0;
    free(r->scratch);
    r->scratch = NULL;
    r->scratch_cap = 0;
    free(r->msgbuf);
    r->msgbuf = NULL;
    r->msgbuf_cap = 0;
    r->token = NULL;
    r->token_len = 0;
}
