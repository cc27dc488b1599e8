/*
 * timeparse.c - the TIME grammar of cwlogs (see timeparse.h, doc/times.md).
 *
 * Three fixed shapes are read straight from the characters (ISO 8601 dates, "@epoch",
 * 13-digit epoch milliseconds); everything else goes through a small tokenizer and a
 * recursive-descent parser over words, numbers and colons. All arithmetic is on
 * int64 milliseconds, and every count is range-checked before it is multiplied, so no
 * input can overflow. Calendar units work on the zone's wall clock; seconds, minutes
 * and hours are exact durations.
 */
#include "timeparse.h"

#include <stdio.h>
#include <string.h>

#define MS_PER_DAY INT64_C(86400000)
#define MAX_TOKENS CW_TIME_MAX_INPUT
/* Counts have at most this many digits, so that count * unit cannot overflow. */
#define MAX_COUNT_DIGITS 9
/* Beyond these a duration leaves the supported years anyway. */
#define MAX_MONTHS INT64_C(120000)
#define MAX_DAYS INT64_C(3660000)
#define MAX_EXACT_MS (MAX_DAYS * MS_PER_DAY)

enum kw {
    K_NONE, K_NOW, K_TODAY, K_YESTERDAY, K_TOMORROW, K_NOON, K_MIDNIGHT, K_AGO, K_IN,
    K_AT, K_LAST, K_AND, K_AM, K_PM, K_WEEKDAY, K_UNIT, K_COUNT
};

enum unit { U_SEC, U_MIN, U_HOUR, U_DAY, U_WEEK, U_MONTH, U_YEAR };

struct word {
    const char *text;
    enum kw kw;
    int arg;   /* weekday (0 = Sunday), unit, or count */
    int full;  /* a unit's full singular name, usable after "last" */
};

static const struct word words[] = {
    {"now", K_NOW, 0, 0}, {"today", K_TODAY, 0, 0}, {"yesterday", K_YESTERDAY, 0, 0},
    {"tomorrow", K_TOMORROW, 0, 0}, {"noon", K_NOON, 0, 0}, {"midnight", K_MIDNIGHT, 0, 0},
    {"ago", K_AGO, 0, 0}, {"in", K_IN, 0, 0}, {"at", K_AT, 0, 0}, {"last", K_LAST, 0, 0},
    {"and", K_AND, 0, 0}, {"am", K_AM, 0, 0}, {"pm", K_PM, 0, 0},
    {"sunday", K_WEEKDAY, 0, 0}, {"sun", K_WEEKDAY, 0, 0},
    {"monday", K_WEEKDAY, 1, 0}, {"mon", K_WEEKDAY, 1, 0},
    {"tuesday", K_WEEKDAY, 2, 0}, {"tue", K_WEEKDAY, 2, 0}, {"tues", K_WEEKDAY, 2, 0},
    {"wednesday", K_WEEKDAY, 3, 0}, {"wed", K_WEEKDAY, 3, 0},
    {"thursday", K_WEEKDAY, 4, 0}, {"thu", K_WEEKDAY, 4, 0}, {"thur", K_WEEKDAY, 4, 0},
    {"thurs", K_WEEKDAY, 4, 0},
    {"friday", K_WEEKDAY, 5, 0}, {"fri", K_WEEKDAY, 5, 0},
    {"saturday", K_WEEKDAY, 6, 0}, {"sat", K_WEEKDAY, 6, 0},
    {"s", K_UNIT, U_SEC, 0}, {"sec", K_UNIT, U_SEC, 0}, {"secs", K_UNIT, U_SEC, 0},
    {"second", K_UNIT, U_SEC, 1}, {"seconds", K_UNIT, U_SEC, 0},
    {"m", K_UNIT, U_MIN, 0}, {"min", K_UNIT, U_MIN, 0}, {"mins", K_UNIT, U_MIN, 0},
    {"minute", K_UNIT, U_MIN, 1}, {"minutes", K_UNIT, U_MIN, 0},
    {"h", K_UNIT, U_HOUR, 0}, {"hr", K_UNIT, U_HOUR, 0}, {"hrs", K_UNIT, U_HOUR, 0},
    {"hour", K_UNIT, U_HOUR, 1}, {"hours", K_UNIT, U_HOUR, 0},
    {"d", K_UNIT, U_DAY, 0}, {"day", K_UNIT, U_DAY, 1}, {"days", K_UNIT, U_DAY, 0},
    {"w", K_UNIT, U_WEEK, 0}, {"wk", K_UNIT, U_WEEK, 0}, {"wks", K_UNIT, U_WEEK, 0},
    {"week", K_UNIT, U_WEEK, 1}, {"weeks", K_UNIT, U_WEEK, 0},
    {"mo", K_UNIT, U_MONTH, 0}, {"mos", K_UNIT, U_MONTH, 0},
    {"month", K_UNIT, U_MONTH, 1}, {"months", K_UNIT, U_MONTH, 0},
    {"y", K_UNIT, U_YEAR, 0}, {"yr", K_UNIT, U_YEAR, 0}, {"yrs", K_UNIT, U_YEAR, 0},
    {"year", K_UNIT, U_YEAR, 1}, {"years", K_UNIT, U_YEAR, 0},
    {"a", K_COUNT, 1, 0}, {"an", K_COUNT, 1, 0},
    {"one", K_COUNT, 1, 0}, {"two", K_COUNT, 2, 0}, {"three", K_COUNT, 3, 0},
    {"four", K_COUNT, 4, 0}, {"five", K_COUNT, 5, 0}, {"six", K_COUNT, 6, 0},
    {"seven", K_COUNT, 7, 0}, {"eight", K_COUNT, 8, 0}, {"nine", K_COUNT, 9, 0},
    {"ten", K_COUNT, 10, 0}, {"eleven", K_COUNT, 11, 0}, {"twelve", K_COUNT, 12, 0},
};

enum tok_type { T_NUM, T_WORD, T_COLON };

struct token {
    enum tok_type type;
    size_t start, end;   /* span in the trimmed input, for messages */
    int64_t num;
    int digits;
    enum kw kw;
    int arg, full;
};

struct parser {
    const char *text;            /* trimmed input, as the user wrote it */
    char low[CW_TIME_MAX_INPUT]; /* the same, lower-cased */
    size_t len;
    int64_t now_ms;
    const cw_zone *zone;
    char *err;
    size_t errlen;
    struct token tok[MAX_TOKENS];
    int ntok, pos;
};

/* A parsed duration: calendar parts on the wall clock, the rest exact. */
struct duration {
    int64_t months, days, exact_ms;
};

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Sets the message "<what> '<text[from..to)>'" and returns 0 so callers can return it. */
static int fail_span(struct parser *p, const char *what, size_t from, size_t to)
{
    snprintf(p->err, p->errlen, "%s '%.*s'", what, (int)(to - from), p->text + from);
    return 0;
}

static int fail(struct parser *p)
{
    return fail_span(p, "unrecognised time", 0, p->len);
}

/* ---- wall clock helpers ------------------------------------------------------- */

static int64_t local_day_of(const struct parser *p, int64_t ms)
{
    int64_t secs = cw_floor_div(ms, 1000);
    int64_t local_ms = ms + (int64_t)cw_zone_offset(p->zone, secs) * 1000;
    return cw_floor_div(local_ms, MS_PER_DAY);
}

/* The instant when the zone's clock shows `day` at second `sod` (gap/overlap rules
 * are cw_zone_to_utc's). day must already be range-checked. */
static int64_t wall_to_ms(const struct parser *p, int64_t day, int64_t sod)
{
    return cw_zone_to_utc(p->zone, day * 86400 + sod) * 1000;
}

static int day_in_range(int64_t day)
{
    /* A day of slack each side: the zone offset may still move the instant back in. */
    return day >= cw_floor_div(CW_TIME_MIN_MS, MS_PER_DAY) - 1
           && day <= cw_floor_div(CW_TIME_MAX_MS, MS_PER_DAY) + 1;
}

/* ---- fixed shapes: "@epoch", epoch milliseconds, ISO 8601 ----------------------- */

static int read_digits(const char *s, size_t len, size_t *i, int max, int64_t *out)
{
    int n = 0;
    int64_t v = 0;
    while (*i < len && is_digit((unsigned char)s[*i])) {
        if (n == max)
            return -1;
        v = v * 10 + (s[*i] - '0');
        (*i)++;
        n++;
    }
    *out = v;
    return n;
}

/* Reads ".123456" (or ",123") as milliseconds, truncating extra digits. */
static int read_fraction(const char *s, size_t len, size_t *i, int64_t *ms)
{
    if (*i >= len || (s[*i] != '.' && s[*i] != ','))
        return 1;
    (*i)++;
    int n = 0;
    *ms = 0;
    while (*i < len && is_digit((unsigned char)s[*i])) {
        if (n < 3)
            *ms = *ms * 10 + (s[*i] - '0');
        n++;
        (*i)++;
    }
    for (int k = n; k < 3; k++)
        *ms *= 10;
    return n > 0;
}

static int parse_epoch(struct parser *p, int64_t *out)
{
    size_t i = 1;
    int neg = 0;
    int64_t secs, frac = 0;
    if (i < p->len && p->low[i] == '-') {
        neg = 1;
        i++;
    }
    int n = read_digits(p->low, p->len, &i, 12, &secs);
    if (n < 0)
        return fail_span(p, "time out of range", 0, p->len);
    if (n == 0 || !read_fraction(p->low, p->len, &i, &frac) || i != p->len)
        return fail(p);
    *out = (secs * 1000 + frac) * (neg ? -1 : 1);
    return 1;
}

/* hh:mm[:ss[.fff]] -> second of day and milliseconds. Returns 1 ok, 0 error set,
 * -1 when the text is not a time of this shape at all. */
static int parse_iso_clock(struct parser *p, size_t *i, int64_t *sod, int64_t *ms)
{
    size_t from = *i;
    int64_t h, m, s = 0;
    *ms = 0;
    if (read_digits(p->low, p->len, i, 2, &h) <= 0 || *i >= p->len || p->low[*i] != ':')
        return -1;
    (*i)++;
    if (read_digits(p->low, p->len, i, 2, &m) != 2)
        return -1;
    if (*i < p->len && p->low[*i] == ':') {
        (*i)++;
        if (read_digits(p->low, p->len, i, 2, &s) != 2)
            return -1;
        if (!read_fraction(p->low, p->len, i, ms))
            return -1;
    }
    if (m > 59 || s > 59 || h > 24 || (h == 24 && (m || s || *ms)))
        return fail_span(p, "invalid time of day", from, *i);
    *sod = h * 3600 + m * 60 + s;
    return 1;
}

static int parse_clock_tail(struct parser *p, size_t from, int64_t *sod);

static int parse_iso(struct parser *p, int64_t *out)
{
    size_t i = 0;
    int64_t year, month, day;
    char sep = p->low[4];
    if (read_digits(p->low, p->len, &i, 4, &year) != 4 || p->low[i++] != sep
        || read_digits(p->low, p->len, &i, 2, &month) != 2 || i >= p->len || p->low[i++] != sep
        || read_digits(p->low, p->len, &i, 2, &day) != 2)
        return fail(p);
    if (month < 1 || month > 12 || day < 1 || day > cw_days_in_month(year, (int)month))
        return fail_span(p, "invalid date", 0, i);
    int64_t days = cw_days_from_civil(year, (int)month, (int)day);
    if (i == p->len) {
        *out = wall_to_ms(p, days, 0);
        return 1;
    }
    int spaced = is_space((unsigned char)p->low[i]);
    if (p->low[i] == 't')
        i++;
    else if (spaced)
        while (i < p->len && is_space((unsigned char)p->low[i]))
            i++;
    else
        return fail(p);
    size_t clock_from = i;
    int64_t sod, ms;
    int rc = parse_iso_clock(p, &i, &sod, &ms);
    if (rc < 0) {
        /* "2026-11-25 3pm", "2026-11-25 at noon": the spoken clock forms. */
        if (!spaced || !parse_clock_tail(p, clock_from, &sod))
            return spaced && p->err[0] ? 0 : fail(p);
        *out = wall_to_ms(p, days, sod);
        return 1;
    }
    if (rc == 0)
        return 0;
    while (i < p->len && is_space((unsigned char)p->low[i]))
        i++;
    if (i == p->len) {
        *out = wall_to_ms(p, days, sod) + ms;
        return 1;
    }
    int32_t east = 0;
    if (!(p->low[i] == 'z' && i + 1 == p->len)) {
        rc = cw_parse_utc_offset(p->low + i, p->len - i, &east);
        if (rc < 0)
            return fail_span(p, "invalid time zone offset", i, p->len);
        if (rc == 0)
            return fail(p);
    }
    *out = (days * 86400 + sod - east) * 1000 + ms;
    return 1;
}

/* ---- tokens ------------------------------------------------------------------- */

static void classify(struct token *t, const char *w, size_t n)
{
    t->kw = K_NONE;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
        if (strlen(words[k].text) == n && memcmp(words[k].text, w, n) == 0) {
            t->kw = words[k].kw;
            t->arg = words[k].arg;
            t->full = words[k].full;
            return;
        }
    }
}

/* Splits low[from..len) into tokens. Letters and digits split each other, so "3pm"
 * and "1h30m" need no spaces. */
static int tokenize(struct parser *p, size_t from)
{
    size_t i = from;
    p->ntok = 0;
    p->pos = 0;
    while (i < p->len) {
        int c = (unsigned char)p->low[i];
        if (is_space(c)) {
            i++;
            continue;
        }
        struct token *t = &p->tok[p->ntok++];
        memset(t, 0, sizeof *t);
        t->start = i;
        if (is_digit(c)) {
            t->type = T_NUM;
            while (i < p->len && is_digit((unsigned char)p->low[i])) {
                if (t->digits < MAX_COUNT_DIGITS)
                    t->num = t->num * 10 + (p->low[i] - '0');
                t->digits++;
                i++;
            }
        } else if (is_lower(c)) {
            t->type = T_WORD;
            while (i < p->len && is_lower((unsigned char)p->low[i]))
                i++;
            classify(t, p->low + t->start, i - t->start);
            if (t->kw == K_NONE)
                return fail(p);
        } else if (c == ':') {
            t->type = T_COLON;
            i++;
        } else {
            return fail(p);
        }
        t->end = i;
    }
    return 1;
}

static const struct token *peek_at(const struct parser *p, int k)
{
    return p->pos + k < p->ntok ? &p->tok[p->pos + k] : NULL;
}

static int peek_kw(const struct parser *p, int k, enum kw kw)
{
    const struct token *t = peek_at(p, k);
    return t && t->type == T_WORD && t->kw == kw;
}

static int accept(struct parser *p, enum kw kw)
{
    if (!peek_kw(p, 0, kw))
        return 0;
    p->pos++;
    return 1;
}

static int at_end(const struct parser *p)
{
    return p->pos == p->ntok;
}

/* ---- clock times ---------------------------------------------------------------- */

static int at_clock(const struct parser *p)
{
    const struct token *t = peek_at(p, 0), *u = peek_at(p, 1);
    if (peek_kw(p, 0, K_NOON) || peek_kw(p, 0, K_MIDNIGHT))
        return 1;
    return t && t->type == T_NUM && u
           && (u->type == T_COLON || (u->type == T_WORD && (u->kw == K_AM || u->kw == K_PM)));
}

/* noon | midnight | H[:MM[:SS]] [am|pm], at least a colon or am/pm. */
static int parse_clock(struct parser *p, int64_t *sod)
{
    if (accept(p, K_NOON)) {
        *sod = 12 * 3600;
        return 1;
    }
    if (accept(p, K_MIDNIGHT)) {
        *sod = 0;
        return 1;
    }
    const struct token *first = peek_at(p, 0), *t;
    size_t from = first->start, to = first->end;
    int64_t h = first->num, m = 0, s = 0;
    int bad = first->digits > 2;
    p->pos++;
    for (int field = 0; field < 2 && peek_at(p, 0) && peek_at(p, 0)->type == T_COLON; field++) {
        p->pos++;
        t = peek_at(p, 0);
        if (!t || t->type != T_NUM)
            return fail(p);
        p->pos++;
        bad |= t->digits != 2;
        if (field == 0)
            m = t->num;
        else
            s = t->num;
        to = t->end;
    }
    int ampm = 0;
    if ((t = peek_at(p, 0)) && t->type == T_WORD && (t->kw == K_AM || t->kw == K_PM)) {
        ampm = t->kw;
        to = t->end;
        p->pos++;
    }
    if (ampm) {
        bad |= h < 1 || h > 12;
        h = h % 12 + (ampm == K_PM ? 12 : 0);
    }
    if (bad || m > 59 || s > 59 || h > 24 || (h == 24 && (m || s)))
        return fail_span(p, "invalid time of day", from, to);
    *sod = h * 3600 + m * 60 + s;
    return 1;
}

/* After a day: nothing, or [at] clock. Returns 1 and sets *sod (0 if no clock). */
static int parse_opt_clock(struct parser *p, int64_t *sod)
{
    *sod = 0;
    if (accept(p, K_AT)) {
        if (!at_clock(p))
            return fail(p);
        return parse_clock(p, sod);
    }
    if (at_clock(p))
        return parse_clock(p, sod);
    return 1;
}

/* The whole of low[from..len) as "[at] clock"; errors are set only for bad clocks. */
static int parse_clock_tail(struct parser *p, size_t from, int64_t *sod)
{
    if (!tokenize(p, from)) {
        p->err[0] = '\0';
        return 0;
    }
    accept(p, K_AT);
    if (!at_clock(p) || !parse_clock(p, sod))
        return 0;
    if (!at_end(p)) {
        p->err[0] = '\0';
        return 0;
    }
    return 1;
}

/* ---- durations ------------------------------------------------------------------ */

static int at_duration(const struct parser *p)
{
    const struct token *t = peek_at(p, 0), *u = peek_at(p, 1);
    if (!t || !u || u->type != T_WORD || u->kw != K_UNIT)
        return 0;
    return t->type == T_NUM || (t->type == T_WORD && t->kw == K_COUNT);
}

/* n < 1e9 and each total is checked against its cap after every part, so none of
 * this can overflow. */
static void add_units(struct duration *d, int unit, int64_t n)
{
    switch (unit) {
    case U_SEC: d->exact_ms += n * 1000; break;
    case U_MIN: d->exact_ms += n * 60000; break;
    case U_HOUR: d->exact_ms += n * 3600000; break;
    case U_DAY: d->days += n; break;
    case U_WEEK: d->days += n * 7; break;
    case U_MONTH: d->months += n; break;
    default: d->months += n * 12; break;
    }
}

static int parse_duration(struct parser *p, struct duration *d)
{
    memset(d, 0, sizeof *d);
    if (!at_duration(p))
        return fail(p);
    do {
        const struct token *count = peek_at(p, 0), *unit = peek_at(p, 1);
        if (count->type == T_NUM && count->digits > MAX_COUNT_DIGITS)
            return fail_span(p, "number out of range", count->start, count->end);
        p->pos += 2;
        add_units(d, unit->arg, count->type == T_NUM ? count->num : count->arg);
        if (d->exact_ms > MAX_EXACT_MS || d->days > MAX_DAYS || d->months > MAX_MONTHS)
            return fail_span(p, "time out of range", 0, p->len);
        if (peek_kw(p, 0, K_AND) && (p->pos++, !at_duration(p)))
            return fail(p);
    } while (at_duration(p));
    return 1;
}

/* now + sign * d: months (clamped to the month's end), then days on the wall clock,
 * then the exact part. Without calendar parts the wall clock is never consulted, so
 * "3 hours ago" is exact even across a DST change. */
static int apply_duration(struct parser *p, const struct duration *d, int sign, int64_t *out)
{
    int64_t t = p->now_ms;
    if (d->months || d->days) {
        int64_t secs = cw_floor_div(t, 1000);
        int64_t local_ms = t + (int64_t)cw_zone_offset(p->zone, secs) * 1000;
        int64_t day = cw_floor_div(local_ms, MS_PER_DAY);
        int64_t in_day = local_ms - day * MS_PER_DAY, year;
        int month, mday;
        cw_civil_from_days(day, &year, &month, &mday);
        int64_t total = year * 12 + (month - 1) + sign * d->months;
        year = cw_floor_div(total, 12);
        month = (int)(total - year * 12) + 1;
        if (mday > cw_days_in_month(year, month))
            mday = cw_days_in_month(year, month);
        day = cw_days_from_civil(year, month, mday) + sign * d->days;
        if (!day_in_range(day))
            return fail_span(p, "time out of range", 0, p->len);
        t = wall_to_ms(p, day, in_day / 1000) + in_day % 1000;
    }
    *out = t + sign * d->exact_ms;
    return 1;
}

/* ---- the spoken grammar --------------------------------------------------------- */

static int finish_day(struct parser *p, int64_t day, int64_t *out)
{
    int64_t sod;
    if (!parse_opt_clock(p, &sod))
        return 0;
    if (!at_end(p))
        return fail(p);
    if (!day_in_range(day))
        return fail_span(p, "time out of range", 0, p->len);
    *out = wall_to_ms(p, day, sod);
    return 1;
}

/* A duration that has been applied may be followed by "at <clock>", which keeps the
 * day it reached and sets the wall-clock time. */
static int finish_duration(struct parser *p, const struct duration *d, int sign, int64_t *out)
{
    if (!apply_duration(p, d, sign, out))
        return 0;
    if (at_end(p))
        return 1;
    if (!peek_kw(p, 0, K_AT))
        return fail(p);
    return finish_day(p, local_day_of(p, *out), out);
}

static int parse_spoken(struct parser *p, int64_t *out)
{
    struct duration d;
    int64_t today = local_day_of(p, p->now_ms);
    const struct token *t = peek_at(p, 0);
    if (!t)
        return fail(p);
    if (accept(p, K_NOW)) {
        *out = p->now_ms;
        return at_end(p) ? 1 : fail(p);
    }
    if (accept(p, K_IN)) {
        if (!parse_duration(p, &d))
            return 0;
        return finish_duration(p, &d, 1, out);
    }
    if (accept(p, K_LAST)) {
        t = peek_at(p, 0);
        if (t && t->type == T_WORD && t->kw == K_WEEKDAY) {
            p->pos++;
            int back = (cw_weekday(today) - t->arg + 7) % 7;
            return finish_day(p, today - (back ? back : 7), out);
        }
        if (t && t->type == T_WORD && t->kw == K_UNIT && t->full) {
            p->pos++;
            /* "last week" is one week ago, like "1 week ago". */
            memset(&d, 0, sizeof d);
            add_units(&d, t->arg, 1);
            return at_end(p) ? apply_duration(p, &d, -1, out) : fail(p);
        }
        return fail(p);
    }
    if (at_duration(p)) {
        if (!parse_duration(p, &d))
            return 0;
        /* A bare duration ("90m", "2 days") means that long ago, like "ago". */
        accept(p, K_AGO);
        return finish_duration(p, &d, -1, out);
    }
    if (accept(p, K_TODAY))
        return finish_day(p, today, out);
    if (accept(p, K_YESTERDAY))
        return finish_day(p, today - 1, out);
    if (accept(p, K_TOMORROW))
        return finish_day(p, today + 1, out);
    if (t->type == T_WORD && t->kw == K_WEEKDAY) {
        p->pos++;
        return finish_day(p, today - (cw_weekday(today) - t->arg + 7) % 7, out);
    }
    if (at_clock(p)) {
        int64_t sod;
        if (!parse_clock(p, &sod))
            return 0;
        if (!at_end(p))
            return fail(p);
        *out = wall_to_ms(p, today, sod);
        return 1;
    }
    return fail(p);
}

/* ---- entry points --------------------------------------------------------------- */

int cw_parse_time(const char *text, size_t len, int64_t now_ms, const cw_zone *zone,
                  int64_t *out_ms, char *err, size_t errlen)
{
    struct parser p;
    size_t n;
    int32_t east;
    int64_t result = 0;
    int ok;

    while (len > 0 && is_space((unsigned char)text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space((unsigned char)text[len - 1]))
        len--;
    p.text = text;
    p.len = len;
    p.now_ms = now_ms;
    p.zone = zone;
    p.err = err;
    p.errlen = errlen;
    err[0] = '\0';
    if (len > CW_TIME_MAX_INPUT) {
        snprintf(err, errlen, "unrecognised time '%.40s...' (too long)", text);
        return 0;
    }
    if (now_ms < CW_TIME_MIN_MS || now_ms > CW_TIME_MAX_MS) {
        snprintf(err, errlen, "current time out of range");
        return 0;
    }
    for (n = 0; n < len; n++) {
        int c = (unsigned char)text[n];
        p.low[n] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    }
    for (n = 0; n < len && is_digit((unsigned char)p.low[n]); n++)
        ;
    if (len == 0)
        ok = fail(&p);
    else if (p.low[0] == '@')
        ok = parse_epoch(&p, &result);
    else if (n == len && len == 13) {
        size_t i = 0;
        ok = read_digits(p.low, len, &i, 13, &result) == 13 || fail(&p);
    }
    else if (n == len)
        ok = fail(&p);
    else if (n == 4 && (p.low[4] == '-' || p.low[4] == '/'))
        ok = parse_iso(&p, &result);
    else if (cw_parse_utc_offset(p.low, len, &east) < 0)
        ok = fail_span(&p, "invalid time zone offset", 0, len);
    else
        ok = tokenize(&p, 0) && parse_spoken(&p, &result);
    if (!ok)
        return 0;
    if (result < CW_TIME_MIN_MS || result > CW_TIME_MAX_MS)
        return fail_span(&p, "time out of range", 0, len);
    *out_ms = result;
    return 1;
}

size_t cw_format_time(int64_t ms, const cw_zone *zone, char *buf, size_t buflen)
{
    const int64_t limit = CW_TIME_LIMIT_S * 1000;
    if (ms < -limit || ms > limit)
        return 0;
    int64_t secs = cw_floor_div(ms, 1000);
    int frac = (int)(ms - secs * 1000);
    int32_t east = cw_zone_offset(zone, secs);
    int64_t local = secs + east, year;
    int64_t day = cw_floor_div(local, 86400);
    int sod = (int)(local - day * 86400), month, mday;
    cw_civil_from_days(day, &year, &month, &mday);

    char zone_text[16];
    if (east == 0) {
        snprintf(zone_text, sizeof zone_text, "Z");
    } else {
        int a = east < 0 ? -east : east;
        if (a % 60)
            snprintf(zone_text, sizeof zone_text, "%c%02d:%02d:%02d", east < 0 ? '-' : '+',
                     a / 3600, a / 60 % 60, a % 60);
        else
            snprintf(zone_text, sizeof zone_text, "%c%02d:%02d", east < 0 ? '-' : '+', a / 3600,
                     a / 60 % 60);
    }
    char year_text[24];
    if (year >= 0 && year <= 9999)
        snprintf(year_text, sizeof year_text, "%04lld", (long long)year);
    else /* ISO 8601 expanded year */
        snprintf(year_text, sizeof year_text, "%+05lld", (long long)year);
    int n = snprintf(buf, buflen, "%s-%02d-%02dT%02d:%02d:%02d.%03d%s", year_text, month, mday,
                     sod / 3600, sod / 60 % 60, sod % 60, frac, zone_text);
    if (n < 0 || (size_t)n >= buflen)
        return 0;
    return (size_t)n;
}
