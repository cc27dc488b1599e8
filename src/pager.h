/*
 * pager.h - the pure-C pieces of page decoding: a strict JSON scanner that works
 * in place on a response body, and the text helpers the event writer needs.
 *
 * The scanner never allocates and never touches Lua. It walks `buf` with a cursor;
 * the binding (lpager.c) drives it key by key and builds Lua tables as it goes, so
 * a page becomes event tables without an intermediate document tree.
 *
 * Contract: every cw_json_* function that can fail returns 0 on success and -1 on
 * failure, leaving `err` (a static message) and `err_pos` (0-based offset of the
 * offending byte; the body length when the input ended early) set. `err_char` is
 * the offending byte for "unexpected character" errors, else -1.
 *
 * Strings: JSON text is treated as bytes. Raw bytes >= 0x80 are passed through
 * unchanged and are not checked for UTF-8 validity; raw bytes < 0x20 are errors.
 * \uXXXX escapes become UTF-8; a surrogate pair becomes one 4-byte character; a
 * lone or mismatched surrogate becomes U+FFFD (EF BF BD), as WHATWG decoders do.
 */
#ifndef CWLOGS_PAGER_H
#define CWLOGS_PAGER_H

#include <stddef.h>
#include <stdint.h>

/* Containers nested deeper than this inside a skipped value are refused, so a
 * hostile body cannot make skipping unbounded in state. */
#define CW_JSON_MAX_DEPTH 1024

typedef struct cw_json {
    const char *buf;
    size_t len;
    size_t pos;
    const char *err;
    size_t err_pos;
    int err_char;
} cw_json;

/* A string token as it sits in the body, quotes excluded. When has_escapes is 0
 * the bytes are the value; otherwise cw_json_unescape() produces it. */
typedef struct cw_json_str {
    const char *raw;
    size_t len;
    int has_escapes;
} cw_json_str;

void cw_json_init(cw_json *j, const char *buf, size_t len);

/* Skips whitespace; returns the next byte (0..255) without consuming it, or -1 at
 * the end of input. Never fails. */
int cw_json_peek(cw_json *j);

/* Skips whitespace and consumes `c`; otherwise fails ("unexpected ..."). */
int cw_json_expect(cw_json *j, char c);

/* Consumes a string token (the cursor must be on the opening quote, after
 * whitespace), validating escapes and refusing raw control characters. */
int cw_json_string(cw_json *j, cw_json_str *out);

/* Decodes a validated string token into dst, which must hold s->len bytes
 * (a decoded string is never longer than its escaped form). Returns the length. */
size_t cw_json_unescape(const cw_json_str *s, char *dst);

/* The value of the four hex digits at s (a \\u escape's), or -1 if one is not hex. */
long cw_json_hex4(const char *s);

/* Writes code point cp (at most U+10FFFF) as UTF-8 at d; returns the byte count (1-4). */
size_t cw_utf8_put(char *d, unsigned long cp);

/* Consumes a number token and converts it to an int64. A fraction or exponent is
 * accepted when the value is integral (1.7e12, 5.000); otherwise, or when the value
 * is outside int64, it fails. */
int cw_json_int64(cw_json *j, int64_t *out);

/* Consumes `null`. */
int cw_json_null(cw_json *j);

/* Consumes any one JSON value (object, array, string, number, literal), checking
 * its syntax, without recursion. */
int cw_json_skip(cw_json *j);

/* Length of s once trailing whitespace is removed, where whitespace is what Python
 * 3's str.rstrip() strips in the ASCII range: \t \n \v \f \r, 0x1c-0x1f and space.
 * Bytes >= 0x80 are never stripped (Python would also strip U+0085, U+00A0 and other
 * Unicode spaces; we keep the bytes exact rather than decode UTF-8). */
size_t cw_rstrip_len(const char *s, size_t len);

#endif
