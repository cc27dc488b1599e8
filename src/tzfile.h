/*
 * tzfile.h - time zones and calendar arithmetic without process-wide state.
 *
 * A cw_zone is built for one caller from a zone spec: "utc"/"UTC"/"Z", a fixed offset
 * ("+05:30", "-0500", "+02"), an IANA name read from a TZif file (RFC 8536, v1-v3,
 * including the POSIX TZ footer rule for times after the last transition), a POSIX TZ
 * rule string ("EST5EDT,M3.2.0,M11.1.0"), or "local" (TZ, else /etc/localtime, else UTC).
 * Nothing here calls tzset/localtime/mktime or changes the environment, so zones may be
 * used from any number of callers at once. Zone files come from $TZDIR or
 * /usr/share/zoneinfo; names with ".." or absolute paths elsewhere are refused.
 *
 * Times are seconds since the Unix epoch (int64_t); callers keep them within
 * +-CW_TIME_LIMIT_S so that no arithmetic here can overflow.
 */
#ifndef CWLOGS_TZFILE_H
#define CWLOGS_TZFILE_H

#include <stddef.h>
#include <stdint.h>

/* About +-3 million years: far beyond any real use, far from int64 overflow. */
#define CW_TIME_LIMIT_S INT64_C(100000000000000)

typedef struct cw_zone cw_zone;

/* New zone for spec, or NULL with a one-line message (naming spec) in err. */
cw_zone *cw_zone_open(const char *spec, char *err, size_t errlen);
/* Frees z; NULL is fine. */
void cw_zone_close(cw_zone *z);

/* Offset east of UTC, in seconds, in effect at the instant t. */
int32_t cw_zone_offset(const cw_zone *z, int64_t t);

/*
 * The instant (UTC seconds) at which the zone's wall clock shows local, where local is
 * the wall-clock time counted as if it were UTC. A wall time that never occurs (the gap
 * of a spring-forward change) is read with the offset in effect before the gap; one that
 * occurs twice (fall-back) gives the earlier instant.
 */
int64_t cw_zone_to_utc(const cw_zone *z, int64_t local);

/*
 * Reads a UTC offset "+HH", "+HHMM" or "+HH:MM" (or "-...") that spans all len bytes.
 * Returns 1 and sets *east (seconds east of UTC), 0 if the text is not of that form,
 * -1 if it is but out of range (hours over 23 or minutes over 59).
 */
int cw_parse_utc_offset(const char *s, size_t len, int32_t *east);

/* Proleptic Gregorian calendar; days are counted from 1970-01-01. */
int cw_is_leap(int64_t year);
int cw_days_in_month(int64_t year, int month);
int64_t cw_days_from_civil(int64_t year, int month, int day);
void cw_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
/* 0 = Sunday ... 6 = Saturday. */
int cw_weekday(int64_t days);
/* Floor division and its non-negative remainder (b > 0). */
int64_t cw_floor_div(int64_t a, int64_t b);
int64_t cw_floor_mod(int64_t a, int64_t b);

#endif
