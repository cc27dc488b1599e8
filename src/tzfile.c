/*
 * tzfile.c - zone loading (TZif files, POSIX TZ rules, fixed offsets) and the calendar
 * arithmetic shared with the time parser. See tzfile.h for the contract.
 *
 * Every zone is a private, immutable structure owned by its caller: this is what lets
 * us honour any zone per call without touching the process's TZ state.
 */
#include "tzfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_TZDIR "/usr/share/zoneinfo"
/* Real TZif files are a few kilobytes; the cap bounds every count read from one. */
#define MAX_TZIF_BYTES (1024 * 1024)
/* Offsets beyond a day and a bit are corrupt data, not geography. */
#define MAX_ZONE_OFFSET (26 * 3600)

/* One end of a daylight-saving period in a POSIX TZ rule. */
struct rule_date {
    char kind;      /* 'J': Jn (1..365, no Feb 29), 'N': n (0..365), 'M': Mm.w.d */
    int n, month, week, wday;
    int32_t time;   /* seconds after local midnight, may be negative or over a day */
};

struct posix_rule {
    int32_t std_east, dst_east;
    int has_dst;
    struct rule_date start, end;
};

struct cw_zone {
    size_t ntrans;
    int64_t *trans;          /* transition instants, strictly increasing */
    unsigned char *trans_type;
    size_t ntypes;
    int32_t *type_east;      /* offset east of UTC per local time type */
    int has_rule;            /* the rule applies after the last transition */
    struct posix_rule rule;
    int32_t fixed_east;      /* used when there are no types and no rule */
};

/* ---- calendar ------------------------------------------------------------------ */

int64_t cw_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t cw_floor_mod(int64_t a, int64_t b)
{
    return a - cw_floor_div(a, b) * b;
}

int cw_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int cw_days_in_month(int64_t year, int month)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && cw_is_leap(year))
        return 29;
    return len[month - 1];
}

/* Shifting the year to start in March puts the leap day last, so day-of-year is a
 * closed formula; 400-year eras make the result exact for any year. */
int64_t cw_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = cw_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cw_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = cw_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

int cw_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday. */
    return (int)cw_floor_mod(days + 4, 7);
}

/* ---- POSIX TZ rules -------------------------------------------------------------- */

static int64_t rule_day(int64_t year, const struct rule_date *r)
{
    int64_t jan1 = cw_days_from_civil(year, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->n - 1 + (cw_is_leap(year) && r->n >= 60 ? 1 : 0);
    if (r->kind == 'N')
        return jan1 + r->n;
    int64_t first = cw_days_from_civil(year, r->month, 1);
    int64_t day = first + (r->wday - cw_weekday(first) + 7) % 7 + 7 * (r->week - 1);
    int64_t past_end = first + cw_days_in_month(year, r->month);
    while (day >= past_end)
        day -= 7;
    return day;
}

/* Start and end instants of the DST period that starts in `year`. The start is given
 * in standard time, the end in daylight time, as POSIX says. */
static void dst_period(const struct posix_rule *r, int64_t year, int64_t *from, int64_t *to)
{
    *from = rule_day(year, &r->start) * 86400 + r->start.time - r->std_east;
    int64_t end = rule_day(year, &r->end) * 86400 + r->end.time - r->dst_east;
    if (end <= *from) /* southern hemisphere: the period runs into next year */
        end = rule_day(year + 1, &r->end) * 86400 + r->end.time - r->dst_east;
    *to = end;
}

static int32_t rule_offset(const struct posix_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_east;
    int64_t year;
    int month, day;
    cw_civil_from_days(cw_floor_div(t, 86400), &year, &month, &day);
    /* Rule times may reach +-167 hours, so neighbouring years' periods can overlap t. */
    for (int64_t y = year - 2; y <= year + 1; y++) {
        int64_t from, to;
        dst_period(r, y, &from, &to);
        if (t >= from && t < to)
            return r->dst_east;
    }
    return r->std_east;
}

/* Parsing cursor over a NUL-free byte range. */
struct cursor {
    const char *p, *end;
};

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int read_number(struct cursor *c, int max_digits, int *out)
{
    int v = 0, n = 0;
    while (c->p < c->end && is_digit((unsigned char)*c->p) && n < max_digits) {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0)
        return 0;
    *out = v;
    return 1;
}

static int read_abbrev(struct cursor *c)
{
    const char *start = c->p;
    if (c->p < c->end && *c->p == '<') {
        c->p++;
        start = c->p;
        while (c->p < c->end && (is_alpha((unsigned char)*c->p) || is_digit((unsigned char)*c->p)
                                 || *c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || *c->p != '>' || c->p - start < 3)
            return 0;
        c->p++;
        return 1;
    }
    while (c->p < c->end && is_alpha((unsigned char)*c->p))
        c->p++;
    return c->p - start >= 3;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours; value in seconds, sign applied. */
static int read_hms(struct cursor *c, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-')) {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    if (!read_number(c, 3, &h) || h > max_hours)
        return 0;
    if (c->p < c->end && *c->p == ':') {
        c->p++;
        if (!read_number(c, 2, &m) || m > 59)
            return 0;
        if (c->p < c->end && *c->p == ':') {
            c->p++;
            if (!read_number(c, 2, &s) || s > 59)
                return 0;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 1;
}

static int read_rule_date(struct cursor *c, struct rule_date *r)
{
    r->time = 2 * 3600;
    if (c->p < c->end && *c->p == 'J') {
        c->p++;
        r->kind = 'J';
        if (!read_number(c, 3, &r->n) || r->n < 1 || r->n > 365)
            return 0;
    } else if (c->p < c->end && *c->p == 'M') {
        c->p++;
        r->kind = 'M';
        if (!read_number(c, 2, &r->month) || r->month < 1 || r->month > 12)
            return 0;
        if (c->p >= c->end || *c->p++ != '.')
            return 0;
        if (!read_number(c, 1, &r->week) || r->week < 1 || r->week > 5)
            return 0;
        if (c->p >= c->end || *c->p++ != '.')
            return 0;
        if (!read_number(c, 1, &r->wday) || r->wday > 6)
            return 0;
    } else {
        r->kind = 'N';
        if (!read_number(c, 3, &r->n) || r->n > 365)
            return 0;
    }
    if (c->p < c->end && *c->p == '/') {
        c->p++;
        /* RFC 8536 (v3) widens rule times to -167..167 hours. */
        if (!read_hms(c, 167, &r->time))
            return 0;
    }
    return 1;
}

/* Parses a whole POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0" or "<+0330>-3:30". */
static int parse_posix_rule(const char *s, size_t len, struct posix_rule *r)
{
    struct cursor c = {s, s + len};
    int32_t west;
    memset(r, 0, sizeof *r);
    if (!read_abbrev(&c) || !read_hms(&c, 24, &west))
        return 0;
    r->std_east = -west;
    if (c.p == c.end)
        return 1;
    if (!read_abbrev(&c))
        return 0;
    r->has_dst = 1;
    r->dst_east = r->std_east + 3600;
    if (c.p < c.end && *c.p != ',') {
        if (!read_hms(&c, 24, &west))
            return 0;
        r->dst_east = -west;
    }
    if (c.p == c.end) {
        /* No dates given: glibc uses the US rules, and so do we. */
        r->start = (struct rule_date){'M', 0, 3, 2, 0, 2 * 3600};
        r->end = (struct rule_date){'M', 0, 11, 1, 0, 2 * 3600};
        return 1;
    }
    if (*c.p++ != ',' || !read_rule_date(&c, &r->start))
        return 0;
    if (c.p >= c.end || *c.p++ != ',' || !read_rule_date(&c, &r->end))
        return 0;
    return c.p == c.end;
}

/* ---- fixed offsets ------------------------------------------------------------- */

int cw_parse_utc_offset(const char *s, size_t len, int32_t *east)
{
    int h, m = 0;
    size_t i = 1;
    if (len < 3 || (s[0] != '+' && s[0] != '-') || !is_digit((unsigned char)s[1])
        || !is_digit((unsigned char)s[2]))
        return 0;
    h = (s[1] - '0') * 10 + (s[2] - '0');
    i = 3;
    if (i < len && s[i] == ':')
        i++;
    if (i < len) {
        if (len - i != 2 || !is_digit((unsigned char)s[i]) || !is_digit((unsigned char)s[i + 1]))
            return 0;
        m = (s[i] - '0') * 10 + (s[i + 1] - '0');
    } else if (i != 3) {
        return 0; /* "+05:" */
    }
    if (h > 23 || m > 59)
        return -1;
    *east = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 1;
}

/* ---- TZif files ------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int64_t be64(const unsigned char *p)
{
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
    /* Two's complement conversion without implementation-defined casts. */
    if (v <= (uint64_t)INT64_MAX)
        return (int64_t)v;
    return -(int64_t)(~v) - 1;
}

static int32_t be32s(const unsigned char *p)
{
    uint32_t v = be32(p);
    if (v <= (uint32_t)INT32_MAX)
        return (int32_t)v;
    return -(int32_t)(~v) - 1;
}

struct tzif_header {
    size_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static int read_header(const unsigned char *buf, size_t len, size_t pos, struct tzif_header *h)
{
    if (len < 44 || pos > len - 44 || memcmp(buf + pos, "TZif", 4) != 0)
        return 0;
    const unsigned char *p = buf + pos + 20;
    uint32_t v[6];
    for (int i = 0; i < 6; i++) {
        v[i] = be32(p + 4 * i);
        /* Each count is bounded by the file size, which keeps the products below small. */
        if (v[i] > MAX_TZIF_BYTES)
            return 0;
    }
    h->isutcnt = v[0];
    h->isstdcnt = v[1];
    h->leapcnt = v[2];
    h->timecnt = v[3];
    h->typecnt = v[4];
    h->charcnt = v[5];
    return 1;
}

static size_t block_size(const struct tzif_header *h, size_t time_size)
{
    return h->timecnt * time_size + h->timecnt + h->typecnt * 6 + h->charcnt
           + h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
}

/* Fills z's transitions and types from the data block at pos. */
static int read_block(cw_zone *z, const unsigned char *buf, size_t len, size_t pos,
                      const struct tzif_header *h, size_t time_size)
{
    if (h->typecnt == 0 || h->typecnt > 256 || block_size(h, time_size) > len - pos)
        return 0;
    const unsigned char *p = buf + pos;
    z->ntrans = h->timecnt;
    z->ntypes = h->typecnt;
    z->trans = malloc((h->timecnt ? h->timecnt : 1) * sizeof *z->trans);
    z->trans_type = malloc(h->timecnt ? h->timecnt : 1);
    z->type_east = malloc(h->typecnt * sizeof *z->type_east);
    if (!z->trans || !z->trans_type || !z->type_east)
        return 0;
    for (size_t i = 0; i < h->timecnt; i++) {
        z->trans[i] = time_size == 8 ? be64(p + 8 * i) : (int64_t)be32s(p + 4 * i);
        if (i > 0 && z->trans[i] <= z->trans[i - 1])
            return 0;
    }
    p += h->timecnt * time_size;
    for (size_t i = 0; i < h->timecnt; i++) {
        if (p[i] >= h->typecnt)
            return 0;
        z->trans_type[i] = p[i];
    }
    p += h->timecnt;
    for (size_t i = 0; i < h->typecnt; i++) {
        int32_t east = be32s(p + 6 * i);
        if (east < -MAX_ZONE_OFFSET || east > MAX_ZONE_OFFSET)
            return 0;
        z->type_east[i] = east;
    }
    return 1;
}

static int parse_tzif(cw_zone *z, const unsigned char *buf, size_t len)
{
    struct tzif_header h;
    if (!read_header(buf, len, 0, &h))
        return 0;
    if (buf[4] == 0) /* version 1: 32-bit data only */
        return read_block(z, buf, len, 44, &h, 4);
    size_t v1 = block_size(&h, 4);
    if (v1 > len - 44)
        return 0;
    size_t pos = 44 + v1;
    if (!read_header(buf, len, pos, &h))
        return 0;
    pos += 44;
    if (!read_block(z, buf, len, pos, &h, 8))
        return 0;
    pos += block_size(&h, 8);
    /* Footer: "\n<POSIX TZ string>\n". A rule we cannot read is left out rather than
     * failing the zone: the transitions still cover the years they list. */
    if (pos < len && buf[pos] == '\n') {
        const unsigned char *nl = memchr(buf + pos + 1, '\n', len - pos - 1);
        size_t rule_len = nl ? (size_t)(nl - (buf + pos + 1)) : 0;
        if (nl && rule_len > 0
            && parse_posix_rule((const char *)buf + pos + 1, rule_len, &z->rule))
            z->has_rule = 1;
    }
    return 1;
}

/* Reads the whole file into a fresh buffer. Returns 1 ok, 0 missing, -1 unreadable. */
static int read_file(const char *path, unsigned char **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 8192, len = 0;
    unsigned char *buf = malloc(cap);
    int rc = buf ? 1 : -1;
    while (rc == 1) {
        len += fread(buf + len, 1, cap - len, f);
        if (ferror(f)) {
            rc = -1;
        } else if (len < cap) {
            break; /* end of file */
        } else if (cap >= MAX_TZIF_BYTES) {
            rc = -1; /* too big to be a zone file */
        } else {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger)
                rc = -1;
            else {
                buf = bigger;
                cap *= 2;
            }
        }
    }
    fclose(f);
    if (rc != 1) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = len;
    return 1;
}

/* Zone names: path components of [A-Za-z0-9._+-], none empty, "." or "..". */
static int valid_zone_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/')
        return 0;
    const char *comp = name;
    for (size_t i = 0; i <= len; i++) {
        char ch = name[i];
        if (ch == '/' || ch == '\0') {
            size_t clen = (size_t)(name + i - comp);
            if (clen == 0 || (clen == 1 && comp[0] == '.')
                || (clen == 2 && comp[0] == '.' && comp[1] == '.'))
                return 0;
            comp = name + i + 1;
        } else if (!is_alpha((unsigned char)ch) && !is_digit((unsigned char)ch) && ch != '.'
                   && ch != '_' && ch != '+' && ch != '-') {
            return 0;
        }
    }
    return 1;
}

static const char *zoneinfo_dir(void)
{
    const char *dir = getenv("TZDIR");
    return dir && dir[0] == '/' ? dir : DEFAULT_TZDIR;
}

/* Loads name (relative to the zoneinfo directory, or an absolute path inside it) into
 * z. Returns 1 ok, 0 no such zone, -1 invalid name, -2 unreadable or corrupt file. */
static int load_named(cw_zone *z, const char *name)
{
    const char *dir = zoneinfo_dir();
    size_t dlen = strlen(dir);
    if (name[0] == '/') {
        if (strncmp(name, dir, dlen) != 0 || name[dlen] != '/')
            return -1;
        name += dlen + 1;
    }
    if (!valid_zone_name(name))
        return -1;
    size_t plen = dlen + 1 + strlen(name) + 1;
    char *path = malloc(plen);
    if (!path)
        return -2;
    snprintf(path, plen, "%s/%s", dir, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len);
    free(path);
    if (rc <= 0)
        return rc == 0 ? 0 : -2;
    rc = parse_tzif(z, buf, len) ? 1 : -2;
    free(buf);
    return rc;
}

static void clear_zone(cw_zone *z)
{
    free(z->trans);
    free(z->trans_type);
    free(z->type_east);
    memset(z, 0, sizeof *z);
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'A' && ca <= 'Z')
            ca += 'a' - 'A';
        if (cb >= 'A' && cb <= 'Z')
            cb += 'a' - 'A';
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

/* "local": TZ as the C library reads it, else /etc/localtime, else UTC. Like the C
 * library, a TZ value we cannot use means UTC rather than an error. */
static void load_local(cw_zone *z)
{
    const char *tz = getenv("TZ");
    if (tz) {
        if (*tz == ':')
            tz++;
        if (*tz == '\0' || ieq(tz, "utc"))
            return;
        if (load_named(z, tz) == 1)
            return;
        clear_zone(z);
        if (parse_posix_rule(tz, strlen(tz), &z->rule))
            z->has_rule = 1;
        else
            memset(&z->rule, 0, sizeof z->rule);
        return;
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    if (read_file("/etc/localtime", &buf, &len) == 1) {
        if (!parse_tzif(z, buf, len))
            clear_zone(z);
        free(buf);
    }
}

cw_zone *cw_zone_open(const char *spec, char *err, size_t errlen)
{
    cw_zone *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t len = strlen(spec);
    int32_t east;
    int rc;
    if (ieq(spec, "utc") || ieq(spec, "z"))
        return z;
    if (ieq(spec, "local")) {
        load_local(z);
        return z;
    }
    if ((rc = cw_parse_utc_offset(spec, len, &east)) != 0) {
        if (rc < 0) {
            snprintf(err, errlen, "invalid time zone offset '%.64s'", spec);
            free(z);
            return NULL;
        }
        z->fixed_east = east;
        return z;
    }
    rc = load_named(z, spec);
    if (rc == 1)
        return z;
    clear_zone(z);
    /* Not a zone file: perhaps a POSIX rule, whose ',' and '<' no file name has. */
    if (rc != -2 && parse_posix_rule(spec, len, &z->rule)) {
        z->has_rule = 1;
        return z;
    }
    if (rc == -2)
        snprintf(err, errlen, "unreadable time zone '%.64s'", spec);
    else if (rc == -1)
        snprintf(err, errlen, "invalid time zone '%.64s'", spec);
    else
        snprintf(err, errlen, "unknown time zone '%.64s'", spec);
    free(z);
    return NULL;
}

void cw_zone_close(cw_zone *z)
{
    if (!z)
        return;
    clear_zone(z);
    free(z);
}

int32_t cw_zone_offset(const cw_zone *z, int64_t t)
{
    if (z->ntrans > 0 && t >= z->trans[0]) {
        size_t lo = 0, hi = z->ntrans; /* find the last transition at or before t */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        if (lo == z->ntrans - 1 && z->has_rule)
            return rule_offset(&z->rule, t);
        return z->type_east[z->trans_type[lo]];
    }
    if (z->ntrans == 0 && z->has_rule)
        return rule_offset(&z->rule, t);
    if (z->ntypes > 0)
        return z->type_east[0]; /* before the first transition: type 0 (RFC 8536) */
    return z->fixed_east;
}

int64_t cw_zone_to_utc(const cw_zone *z, int64_t local)
{
    /* Any instant showing `local` lies within MAX_ZONE_OFFSET of it. Sampling the
     * offsets of that window hourly finds every offset that can apply (periods shorter
     * than an hour do not occur in the tz database). */
    int32_t cand[64];
    int ncand = 0;
    for (int64_t t = local - MAX_ZONE_OFFSET - 3600; t <= local + MAX_ZONE_OFFSET + 3600;
         t += 3600) {
        int32_t off = cw_zone_offset(z, t);
        int seen = 0;
        for (int i = 0; i < ncand; i++)
            seen |= cand[i] == off;
        if (!seen && ncand < 64)
            cand[ncand++] = off;
    }
    int found = 0;
    int64_t best = 0;
    for (int i = 0; i < ncand; i++) {
        int64_t t = local - cand[i];
        if (cw_zone_offset(z, t) == cand[i] && (!found || t < best)) {
            best = t;
            found = 1;
        }
    }
    if (found)
        return best;
    /* In a gap: for the offset after the change, `local - after` falls before the
     * change and so reports the offset before it, which is the one we want. */
    for (int i = 0; i < ncand; i++) {
        int32_t before = cw_zone_offset(z, local - cand[i]);
        if (before < cand[i])
            return local - before;
    }
    return local - cw_zone_offset(z, local);
}
