/*
 * render.h - FilterLogEvents pages straight to output bytes, with no Lua value per event.
 *
 * A renderer walks a response body with the strict scanner of pager.h (same strictness and
 * same error messages as core.decode_events), keeps the events a slice wants, and writes
 * each one as a line of the CLI's text or JSONL output, byte for byte what
 * lua/cwlogs/output.lua's text_batch / jsonl_batch write for the decoded event:
 *
 *   text:  [time " "][stream " "] rstrip(message) "\n"
 *          (time as cw_format_time in the renderer's zone; rstrip as Python's str.rstrip:
 *          ASCII whitespace plus the Unicode spaces Python knows, matched as UTF-8 bytes)
 *   jsonl: {"logGroupName":G,"logStreamName":S,"timestamp":T,"ingestionTime":I,
 *           "eventId":E,"message":M}"\n"   (absent fields as null; strings escaped as
 *          lua-cjson does, except that "/" is left alone)
 *
 * Kept events that arrive out of timestamp order are written in stable timestamp order.
 * A page is first walked by a fast scanner that handles what services actually send
 * (16 bytes per step, strings decoded while scanned); anything it does not expect (an
 * escaped key, a fraction in a number, any error) makes it give up, and the page is walked
 * again by the general walker, which gives decode_events' exact messages.
 * The renderer owns every buffer it uses (grown by doubling, reused page after page) and
 * its zone; cw_renderer_free releases them all and may be called any number of times.
 * Nothing here touches Lua.
 */
#ifndef CWLOGS_RENDER_H
#define CWLOGS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "pager.h"
#include "timeparse.h"
#include "tzfile.h"

enum { CW_RENDER_TEXT = 0, CW_RENDER_JSONL = 1 };

/* Room for any message cw_render_page leaves in err. */
#define CW_RENDER_ERRLEN 192

typedef struct cw_render_opts {
    int format;          /* CW_RENDER_TEXT or CW_RENDER_JSONL */
    int timestamp;       /* text: prefix the time */
    int show_stream;     /* text: prefix the stream name */
    const char *tz;      /* text with timestamp: zone spec (NULL = "local") */
    const char *group;   /* jsonl: the logGroupName value (NULL = null) */
    size_t group_len;
    int slow_only;       /* always use the general walk (tests compare the two) */
} cw_render_opts;

/* Which events a page keeps: lo <= ts < hi (each bound optional) and, with a prefix,
 * a stream name that starts with it (a missing stream name counts as ""). */
typedef struct cw_render_bounds {
    int has_lo, has_hi;
    int64_t lo, hi;
    const char *prefix; /* NULL = any stream */
    size_t prefix_len;
} cw_render_bounds;

typedef struct cw_render_rec {
    int64_t ts;
    size_t off, len;
} cw_render_rec;

typedef struct cw_renderer {
    int format, timestamp, show_stream;
    cw_zone *zone;
    char *group_json; /* the encoded logGroupName value */
    size_t group_json_len;

    char *out, *alt; /* the page's lines; alt is the spare used to reorder them */
    size_t out_len, out_cap, alt_cap;
    cw_render_rec *recs, *recs_tmp; /* one per line, for reordering */
    size_t nrec, rec_cap, tmp_cap;
    char *scratch; /* decoded strings */
    size_t scratch_cap;
    char *msgbuf; /* the current message, decoded or re-escaped by the fast walk */
    size_t msgbuf_cap;
    int slow_only; /* never take the fast walk (for tests: both walks must agree) */

    /* The last second whose time was formatted, split around its milliseconds. */
    int64_t time_sec;
    int time_ok;
    char time_pre[CW_TIME_FMTLEN], time_suf[CW_TIME_FMTLEN];
    size_t time_pre_len, time_suf_len;

    /* Results of the last cw_render_page. */
    size_t kept, total;
    int64_t min_ts, max_ts; /* earliest and latest timestamp of the page (when total > 0) */
    const char *token; /* nextToken (in the body or in scratch); NULL when absent */
    size_t token_len;
    char err[CW_RENDER_ERRLEN];
} cw_renderer;

/* Sets up r (which the caller has zeroed). Returns 0, or -1 with a message in err; on
 * failure the caller still calls cw_renderer_free. */
int cw_renderer_init(cw_renderer *r, const cw_render_opts *o, char *err, size_t errlen);

/* Releases everything r owns; safe on a zeroed or already freed renderer. */
void cw_renderer_free(cw_renderer *r);

/* Renders one FilterLogEvents body. Returns 0 with r->out[0..out_len) holding the lines,
 * r->kept (lines), r->total (events in the page before filtering), r->min_ts/max_ts (over
 * those events, when total > 0) and r->token set; or -1
 * with r->err set ("invalid JSON in response at byte N: ...", "invalid response at byte
 * N: ...", as decode_events says it, or "out of memory"). */
int cw_render_page(cw_renderer *r, const char *body, size_t len, const cw_render_bounds *b);

/* Length of s without its trailing whitespace as Python's str.rstrip() sees it, bytes
 * read as UTF-8 for the Unicode spaces (U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000). */
size_t cw_render_rstrip_len(const char *s, size_t len);

#endif
