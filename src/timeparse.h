/*
 * timeparse.h - reading the times people type, and writing ISO 8601 times.
 *
 * Pure functions over 64-bit epoch milliseconds: no allocation, no I/O, no global
 * state. The caller supplies the current time and the zone (tzfile.h) in which dates
 * without an explicit offset are read. The grammar and its rules for ambiguous input
 * are described for users in doc/times.md; anything outside it is an error.
 */
#ifndef CWLOGS_TIMEPARSE_H
#define CWLOGS_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "tzfile.h"

/* Every parsed time lies in 0001-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z. */
#define CW_TIME_MIN_MS INT64_C(-62135596800000)
#define CW_TIME_MAX_MS INT64_C(253402300799999)

/* Longest input accepted; real times are far shorter. */
#define CW_TIME_MAX_INPUT 128
/* Room for any message cw_parse_time writes. */
#define CW_TIME_ERRLEN 256
/* Room for any string cw_format_time writes. */
#define CW_TIME_FMTLEN 64

/*
 * Parses text[0..len) as a point in time. now_ms is "now"; zone reads wall-clock times.
 * Returns 1 and sets *out_ms, or 0 with a short message naming the bad input in err,
 * such as "unrecognised time 'tuesdy'" or "invalid date '2026-02-30'".
 */
int cw_parse_time(const char *text, size_t len, int64_t now_ms, const cw_zone *zone,
                  int64_t *out_ms, char *err, size_t errlen);

/*
 * Writes ms as "2026-11-25T09:00:00.000-05:00" in zone ("Z" when the offset is zero;
 * years outside 0000..9999 get a sign, as ISO 8601 expanded years). Returns the length
 * written, or 0 if ms is beyond +-CW_TIME_LIMIT_S seconds or buf is too small.
 */
size_t cw_format_time(int64_t ms, const cw_zone *zone, char *buf, size_t buflen);

#endif
