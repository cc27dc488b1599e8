/*
 * http.h - a non-blocking HTTP engine over libcurl's multi interface (pure C, no Lua).
 *
 * Contract: the engine never blocks except in cw_http_wait and never calls back into its
 * caller; the caller runs the loop (submit, perform, wait, take results). Everything the
 * caller passes in is copied, so request strings may be freed as soon as submit returns.
 * Functions that can fail return 0 on success and -1 with a one-line message in err.
 *
 * libcurl's global state: each engine calls curl_global_init when created and
 * curl_global_cleanup when freed. libcurl counts these calls, so engines may come and go
 * in any order; since libcurl 7.84 the pair is thread-safe when curl_version_info reports
 * CURL_VERSION_THREADSAFE, otherwise engines must not be created or freed concurrently
 * from several threads (a Lua state is single-threaded, so one state is always safe).
 *
 * Needs libcurl >= 7.66 (curl_multi_poll); only http and https URLs are accepted.
 */
#ifndef CWLOGS_HTTP_H
#define CWLOGS_HTTP_H

#include <stddef.h>

typedef struct cw_http_engine cw_http_engine;

typedef struct cw_http_config {
    const char *ca_bundle;       /* NULL: libcurl's built-in default */
    const char *user_agent;      /* NULL: no User-Agent header */
    long connect_timeout_ms;
    long low_speed_limit;        /* bytes/s; a transfer slower than this ... */
    long low_speed_time;         /* ... for this many seconds is aborted (0: never) */
    long max_host_connections;   /* 0: unlimited */
    int verbose;                 /* libcurl's informational text to stderr, never headers */
} cw_http_config;

/* Fills cfg with the documented defaults (user_agent stays NULL). */
void cw_http_config_defaults(cw_http_config *cfg);

typedef struct cw_http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} cw_http_header;

typedef struct cw_http_request {
    const char *url;
    size_t url_len;
    const char *method;          /* NULL: "POST" */
    size_t method_len;
    const cw_http_header *headers;
    size_t nheaders;
    const char *body;            /* may contain NUL bytes */
    size_t body_len;
    long timeout_ms;             /* whole-transfer limit; 0: none */
} cw_http_request;

/* A finished transfer. Owned by the engine until cw_http_pop_result. */
typedef struct cw_http_result {
    long long id;
    long status;                 /* 0: no HTTP status line was received */
    size_t nheaders;
    char **header_names;         /* lower-case */
    char **header_values;        /* surrounding whitespace removed */
    const char *body;            /* empty when error_kind is set: never a partial body */
    size_t body_len;
    int curl_code;               /* CURLE_OK (0) on success */
    const char *error_kind;      /* NULL on success, else connect|timeout|reset|partial|dns|tls|other */
    int retryable;               /* worth retrying the same request (set with error_kind) */
    char error_message[512];     /* one line */
    long long total_ms;
} cw_http_result;

int cw_http_engine_new(const cw_http_config *cfg, cw_http_engine **out, char *err, size_t errlen);
/* Frees the engine, its transfers (running or finished) and its connections. NULL is fine. */
void cw_http_engine_free(cw_http_engine *eng);

/* Starts a transfer; *id identifies it in results. Rejects CR/LF/NUL in header names and
 * values, in the method and in the URL (header injection). */
int cw_http_submit(cw_http_engine *eng, const cw_http_request *req, long long *id,
                   char *err, size_t errlen);

/* Moves every transfer as far as it goes without blocking; *running gets how many transfers
 * libcurl still has in flight. */
int cw_http_perform(cw_http_engine *eng, int *running, char *err, size_t errlen);

/* Blocks until a socket is ready, libcurl's own timer fires, or timeout_ms passes. */
int cw_http_wait(cw_http_engine *eng, int timeout_ms, char *err, size_t errlen);

/* Milliseconds libcurl wants before the next perform; -1: no timer set. */
long cw_http_timeout(cw_http_engine *eng);

/* Sockets libcurl currently waits on (as told through CURLMOPT_SOCKETFUNCTION). */
size_t cw_http_socket_count(const cw_http_engine *eng);
void cw_http_socket_at(const cw_http_engine *eng, size_t i, int *fd, int *want_read,
                       int *want_write);

/* Transfers submitted and not yet popped (running or finished). */
size_t cw_http_pending(const cw_http_engine *eng);

/* Drops a transfer, running or finished; 1 if it was found. It never shows up in results. */
int cw_http_cancel(cw_http_engine *eng, long long id);

/* Oldest finished transfer, or NULL. Pop it once its contents have been copied out. */
const cw_http_result *cw_http_peek_result(cw_http_engine *eng);
void cw_http_pop_result(cw_http_engine *eng);

#endif
