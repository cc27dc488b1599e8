/*
 * http.c - the HTTP engine behind core.http_engine: libcurl's multi interface driven in
 * small non-blocking steps by the caller (see http.h for the contract).
 *
 * libcurl calls back into this file only to hand over bytes (body, header lines, socket
 * interest, verbose text). Those callbacks append to C buffers and never touch Lua; when an
 * allocation fails they return a value that makes libcurl abort the transfer, and the
 * transfer's result carries the error.
 *
 * Easy handles of finished transfers are reset and kept for the next submit; the
 * connections themselves live in the multi handle's pool, so keep-alive connections are
 * reused across transfers.
 */
#include "http.h"

#include <curl/curl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_INITIAL_CAP 16384
#define BODY_PRESIZE_MAX (64 * 1024 * 1024)
#define IDLE_MIN 4
#define IDLE_MAX 64

struct transfer {
    struct transfer *prev, *next;
    CURL *easy;
    struct curl_slist *headers;
    char *body_copy;             /* request body: curl reads it in place, so we own it */
    char *buf;                   /* response body */
    size_t len, cap;
    size_t header_cap;
    int oom;                     /* a callback could not allocate */
    char errbuf[CURL_ERROR_SIZE];
    cw_http_result result;
};

struct transfer_list {
    struct transfer *head, *tail;
    size_t n;
};

struct watched_socket {
    curl_socket_t fd;
    int what;                    /* CURL_POLL_IN / OUT / INOUT */
};

struct cw_http_engine {
    CURLM *multi;
    int global_ready;            /* this engine holds one curl_global_init reference */
    char *ca_bundle;
    char *user_agent;
    long connect_timeout_ms, low_speed_limit, low_speed_time;
    int verbose;
    struct transfer_list active, done;
    CURL **idle;
    size_t nidle, idle_cap;
    struct watched_socket *socks;
    size_t nsocks, socks_cap;
    long long last_id;
};

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static void list_append(struct transfer_list *l, struct transfer *t)
{
    t->next = NULL;
    t->prev = l->tail;
    if (l->tail) l->tail->next = t;
    else l->head = t;
    l->tail = t;
    l->n++;
}

static void list_remove(struct transfer_list *l, struct transfer *t)
{
    if (t->prev) t->prev->next = t->next;
    else l->head = t->next;
    if (t->next) t->next->prev = t->prev;
    else l->tail = t->prev;
    t->prev = t->next = NULL;
    l->n--;
}

static struct transfer *list_find(const struct transfer_list *l, long long id)
{
    for (struct transfer *t = l->head; t; t = t->next)
        if (t->result.id == id) return t;
    return NULL;
}

static void clear_headers(struct transfer *t)
{
    for (size_t i = 0; i < t->result.nheaders; i++) {
        free(t->result.header_names[i]);
        free(t->result.header_values[i]);
    }
    t->result.nheaders = 0;
}

/* Frees what a transfer owns; its easy handle must already be detached. */
static void transfer_free(struct transfer *t)
{
    if (!t) return;
    clear_headers(t);
    free(t->result.header_names);
    free(t->result.header_values);
    curl_slist_free_all(t->headers);
    free(t->body_copy);
    free(t->buf);
    free(t);
}

/* Detaches an easy handle from the multi and keeps it for reuse when there is room. */
static void release_easy(cw_http_engine *eng, CURL *easy)
{
    if (!easy) return;
    curl_multi_remove_handle(eng->multi, easy);
    if (eng->nidle < eng->idle_cap) {
        curl_easy_reset(easy);
        eng->idle[eng->nidle++] = easy;
    } else {
        curl_easy_cleanup(easy);
    }
}

/* ---- libcurl callbacks: C buffers only ---- */

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : BODY_INITIAL_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return -1;
        ncap *= 2;
    }
    char *nbuf = realloc(*buf, ncap);
    if (!nbuf) return -1;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->cap == 0) {
        /* First bytes: size the buffer from Content-Length when it is known and sane, so a
         * 1 MB page is not copied again and again while the buffer doubles. */
        curl_off_t cl = -1;
        if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
            cl > BODY_INITIAL_CAP && cl <= BODY_PRESIZE_MAX) {
            /* the size grow() would reach: the same sizes every time let malloc reuse */
            size_t ncap = BODY_INITIAL_CAP;
            while (ncap < (size_t)cl + 1)
                ncap *= 2;
            char *nbuf = malloc(ncap);
            if (nbuf) {
                t->buf = nbuf;
                t->cap = ncap;
            }
        }
    }
    if (n > SIZE_MAX - t->len - 1 || grow(&t->buf, &t->cap, t->len + n + 1) != 0) {
        t->oom = 1;
        return 0;   /* anything but n aborts the transfer with CURLE_WRITE_ERROR */
    }
    memcpy(t->buf + t->len, ptr, n);
    t->len += n;
    return n;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *copy_span(const char *s, size_t n, int lower)
{
    char *out = malloc(n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (lower && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return out;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    cw_http_result *r = &t->result;

    /* A new status line starts a new response (after 1xx or an auth round): only the
     * headers of the final response are reported. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        clear_headers(t);
        return n;
    }
    const char *colon = memchr(ptr, ':', n);
    if (!colon || colon == ptr) return n;

    const char *name_end = colon;
    while (name_end > ptr && is_space(name_end[-1])) name_end--;
    const char *v = colon + 1, *v_end = ptr + n;
    while (v < v_end && is_space(*v)) v++;
    while (v_end > v && is_space(v_end[-1])) v_end--;

    if (r->nheaders == t->header_cap) {
        size_t ncap = t->header_cap ? t->header_cap * 2 : 16;
        char **names = realloc(r->header_names, ncap * sizeof *names);
        if (!names) goto oom;
        r->header_names = names;
        char **values = realloc(r->header_values, ncap * sizeof *values);
        if (!values) goto oom;
        r->header_values = values;
        t->header_cap = ncap;
    }
    char *name = copy_span(ptr, (size_t)(name_end - ptr), 1);
    char *value = copy_span(v, (size_t)(v_end - v), 0);
    if (!name || !value) {
        free(name);
        free(value);
        goto oom;
    }
    r->header_names[r->nheaders] = name;
    r->header_values[r->nheaders] = value;
    r->nheaders++;
    return n;
oom:
    t->oom = 1;
    return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    cw_http_engine *eng = userp;
    size_t i = 0;
    while (i < eng->nsocks && eng->socks[i].fd != fd) i++;

    if (what == CURL_POLL_REMOVE) {
        if (i < eng->nsocks) eng->socks[i] = eng->socks[--eng->nsocks];
        return 0;
    }
    if (i < eng->nsocks) {
        eng->socks[i].what = what;
        return 0;
    }
    if (eng->nsocks == eng->socks_cap) {
        size_t ncap = eng->socks_cap ? eng->socks_cap * 2 : 8;
        struct watched_socket *ns = realloc(eng->socks, ncap * sizeof *ns);
        if (!ns) return -1;   /* libcurl treats this as fatal for the transfer */
        eng->socks = ns;
        eng->socks_cap = ncap;
    }
    eng->socks[eng->nsocks].fd = fd;
    eng->socks[eng->nsocks].what = what;
    eng->nsocks++;
    return 0;
}

/* Verbose mode shows libcurl's own remarks only: header traffic would carry the
 * Authorization header and session token. */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *userp)
{
    (void)easy;
    (void)userp;
    if (type == CURLINFO_TEXT) {
        fputs("* ", stderr);
        fwrite(data, 1, size, stderr);
    }
    return 0;
}

/* ---- results ---- */

static const char *error_kind(CURLcode rc, int *retryable)
{
    *retryable = 1;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return "reset";
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
        return "partial";
    case CURLE_SSL_CONNECT_ERROR:
        return "tls";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        *retryable = 0;   /* the same certificate will fail the same way */
        return "tls";
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
        *retryable = 0;
        return "other";
    default:
        return "other";
    }
}

static void describe_error(struct transfer *t, CURLcode rc)
{
    cw_http_result *r = &t->result;
    const char *what = curl_easy_strerror(rc);
    if (t->oom)
        snprintf(r->error_message, sizeof r->error_message, "%s: out of memory", what);
    else if (t->errbuf[0] && strcmp(t->errbuf, what) != 0)
        snprintf(r->error_message, sizeof r->error_message, "%s: %s", what, t->errbuf);
    else
        snprintf(r->error_message, sizeof r->error_message, "%s", what);
    size_t n = strlen(r->error_message);
    while (n > 0 && is_space(r->error_message[n - 1])) r->error_message[--n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (r->error_message[i] == '\r' || r->error_message[i] == '\n') r->error_message[i] = ' ';
}

static void finish(cw_http_engine *eng, struct transfer *t, CURLcode rc)
{
    cw_http_result *r = &t->result;
    long status = 0;
    curl_off_t total_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    r->status = status;
    r->total_ms = (long long)(total_us / 1000);
    r->curl_code = (int)rc;
    if (rc != CURLE_OK) {
        if (t->oom) rc = CURLE_OUT_OF_MEMORY;
        r->error_kind = error_kind(rc, &r->retryable);
        describe_error(t, rc);
        t->len = 0;   /* a failed transfer never hands out the bytes it got */
    }
    r->body = t->buf ? t->buf : "";
    r->body_len = t->len;

    list_remove(&eng->active, t);
    release_easy(eng, t->easy);
    t->easy = NULL;
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    free(t->body_copy);
    t->body_copy = NULL;
    list_append(&eng->done, t);
}

static void collect(cw_http_engine *eng)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(eng->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURLcode rc = msg->data.result;   /* msg is invalid once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv) finish(eng, (struct transfer *)(void *)priv, rc);
    }
}

/* ---- engine ---- */

void cw_http_config_defaults(cw_http_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connect_timeout_ms = 10000;
    cfg->low_speed_limit = 1;
    cfg->low_speed_time = 60;
    cfg->max_host_connections = 16;
}

static char *dup_or_null(const char *s, int *failed)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *failed = 1;
    return d;
}

int cw_http_engine_new(const cw_http_config *cfg, cw_http_engine **out, char *err, size_t errlen)
{
    *out = NULL;
    cw_http_engine *eng = calloc(1, sizeof *eng);
    if (!eng) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    CURLcode gc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gc != CURLE_OK) {
        set_err(err, errlen, curl_easy_strerror(gc));
        free(eng);
        return -1;
    }
    eng->global_ready = 1;

    int failed = 0;
    eng->ca_bundle = dup_or_null(cfg->ca_bundle, &failed);
    eng->user_agent = dup_or_null(cfg->user_agent, &failed);
    eng->connect_timeout_ms = cfg->connect_timeout_ms;
    eng->low_speed_limit = cfg->low_speed_limit;
    eng->low_speed_time = cfg->low_speed_time;
    eng->verbose = cfg->verbose;
    eng->idle_cap = (size_t)cfg->max_host_connections;
    if (eng->idle_cap < IDLE_MIN) eng->idle_cap = IDLE_MIN;
    if (eng->idle_cap > IDLE_MAX) eng->idle_cap = IDLE_MAX;
    eng->idle = calloc(eng->idle_cap, sizeof *eng->idle);
    if (failed || !eng->idle) {
        set_err(err, errlen, "out of memory");
        cw_http_engine_free(eng);
        return -1;
    }
    eng->multi = curl_multi_init();
    if (!eng->multi) {
        set_err(err, errlen, "cannot create a libcurl multi handle");
        cw_http_engine_free(eng);
        return -1;
    }
    if (curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng) != CURLM_OK ||
        curl_multi_setopt(eng->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          cfg->max_host_connections) != CURLM_OK) {
        set_err(err, errlen, "cannot configure the libcurl multi handle");
        cw_http_engine_free(eng);
        return -1;
    }
    *out = eng;
    return 0;
}

void cw_http_engine_free(cw_http_engine *eng)
{
    if (!eng) return;
    struct transfer *t;
    while ((t = eng->active.head) != NULL) {
        list_remove(&eng->active, t);
        if (t->easy) {
            curl_multi_remove_handle(eng->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        transfer_free(t);
    }
    while ((t = eng->done.head) != NULL) {
        list_remove(&eng->done, t);
        transfer_free(t);
    }
    for (size_t i = 0; i < eng->nidle; i++) curl_easy_cleanup(eng->idle[i]);
    if (eng->multi) curl_multi_cleanup(eng->multi);   /* may still report sockets: socks last */
    free(eng->idle);
    free(eng->socks);
    free(eng->ca_bundle);
    free(eng->user_agent);
    if (eng->global_ready) curl_global_cleanup();
    free(eng);
}

/* ---- submit ---- */

static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)s[i])) return 0;
    return 1;
}

static int safe_value(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return 0;
    return 1;
}

static int ascii_ieq(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

static int validate(const cw_http_request *req, char *err, size_t errlen)
{
    if (!req->url || req->url_len == 0) {
        set_err(err, errlen, "request needs a url");
        return -1;
    }
    for (size_t i = 0; i < req->url_len; i++) {
        unsigned char c = (unsigned char)req->url[i];
        if (c <= 0x20 || c == 0x7f) {
            set_err(err, errlen, "url contains a space or control character");
            return -1;
        }
    }
    if (req->method && (req->method_len > 32 || !is_token(req->method, req->method_len))) {
        set_err(err, errlen, "invalid HTTP method");
        return -1;
    }
    for (size_t i = 0; i < req->nheaders; i++) {
        const cw_http_header *h = &req->headers[i];
        char msg[160];
        if (!is_token(h->name, h->name_len)) {
            /* the name itself is not echoed: it may hold the injected text */
            snprintf(msg, sizeof msg, "header #%zu has an invalid name", i + 1);
            set_err(err, errlen, msg);
            return -1;
        }
        if (!safe_value(h->value, h->value_len)) {
            snprintf(msg, sizeof msg, "value of header '%.*s' contains CR, LF or NUL",
                     h->name_len > 64 ? 64 : (int)h->name_len, h->name);
            set_err(err, errlen, msg);
            return -1;
        }
    }
    return 0;
}

static struct curl_slist *build_headers(const cw_http_request *req, int *failed)
{
    struct curl_slist *list = NULL;
    int has_expect = 0, has_ctype = 0;
    size_t longest = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        size_t n = req->headers[i].name_len + req->headers[i].value_len;
        if (n > longest) longest = n;
    }
    char *line = malloc(longest + 4);
    if (!line) goto fail;
    for (size_t i = 0; i < req->nheaders; i++) {
        const cw_http_header *h = &req->headers[i];
        if (ascii_ieq(h->name, h->name_len, "expect")) has_expect = 1;
        if (ascii_ieq(h->name, h->name_len, "content-type")) has_ctype = 1;
        memcpy(line, h->name, h->name_len);
        if (h->value_len == 0) {
            /* "Name;" is libcurl's spelling of a header sent with an empty value */
            line[h->name_len] = ';';
            line[h->name_len + 1] = '\0';
        } else {
            line[h->name_len] = ':';
            line[h->name_len + 1] = ' ';
            memcpy(line + h->name_len + 2, h->value, h->value_len);
            line[h->name_len + 2 + h->value_len] = '\0';
        }
        struct curl_slist *next = curl_slist_append(list, line);
        if (!next) goto fail;
        list = next;
    }
    free(line);
    line = NULL;
    /* An empty "Name:" removes a header libcurl would add: no Expect: 100-continue round
     * trip before large bodies, no form Content-Type on a POST. */
    if (!has_expect) {
        struct curl_slist *next = curl_slist_append(list, "Expect:");
        if (!next) goto fail;
        list = next;
    }
    if (!has_ctype) {
        struct curl_slist *next = curl_slist_append(list, "Content-Type:");
        if (!next) goto fail;
        list = next;
    }
    return list;
fail:
    free(line);
    curl_slist_free_all(list);
    *failed = 1;
    return NULL;
}

static char *dup_span(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d) return NULL;
    if (n) memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int configure(cw_http_engine *eng, struct transfer *t, const cw_http_request *req,
                     const char *url, const char *method)
{
    CURL *e = t->easy;
    CURLcode rc = CURLE_OK;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val); } while (0)
    SET(CURLOPT_PRIVATE, (void *)t);
    SET(CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, (void *)t);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, (void *)t);
    SET(CURLOPT_CONNECTTIMEOUT_MS, eng->connect_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, eng->low_speed_limit);
    SET(CURLOPT_LOW_SPEED_TIME, eng->low_speed_time);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_HTTPHEADER, t->headers);
    if (eng->user_agent) SET(CURLOPT_USERAGENT, eng->user_agent);
    if (eng->ca_bundle) SET(CURLOPT_CAINFO, eng->ca_bundle);
    if (req->timeout_ms > 0) SET(CURLOPT_TIMEOUT_MS, req->timeout_ms);
    if (eng->verbose) {
        SET(CURLOPT_DEBUGFUNCTION, on_debug);
        SET(CURLOPT_VERBOSE, 1L);
    }
    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0 && req->body_len == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else {
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_POSTFIELDS, t->body_copy);
        if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SET
    return rc == CURLE_OK ? 0 : -1;
}

int cw_http_submit(cw_http_engine *eng, const cw_http_request *req, long long *id,
                   char *err, size_t errlen)
{
    if (validate(req, err, errlen) != 0) return -1;

    int failed = 0;
    char *url = NULL, *method = NULL;
    struct transfer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->body_copy = malloc(req->body_len ? req->body_len : 1);
    url = dup_span(req->url, req->url_len);
    method = req->method ? dup_span(req->method, req->method_len) : dup_span("POST", 4);
    if (!t->body_copy || !url || !method) goto oom;
    if (req->body_len) memcpy(t->body_copy, req->body, req->body_len);
    t->headers = build_headers(req, &failed);
    if (failed) goto oom;

    t->easy = eng->nidle ? eng->idle[--eng->nidle] : curl_easy_init();
    if (!t->easy) goto oom;
    if (configure(eng, t, req, url, method) != 0) {
        set_err(err, errlen, "cannot configure the transfer (bad url or out of memory)");
        goto fail;
    }
    if (curl_multi_add_handle(eng->multi, t->easy) != CURLM_OK) {
        set_err(err, errlen, "cannot start the transfer");
        goto fail;
    }
    free(url);
    free(method);
    t->result.id = ++eng->last_id;
    list_append(&eng->active, t);
    *id = t->result.id;
    return 0;
oom:
    set_err(err, errlen, "out of memory");
fail:
    if (t && t->easy) curl_easy_cleanup(t->easy);
    if (t) t->easy = NULL;
    transfer_free(t);
    free(url);
    free(method);
    return -1;
}

/* ---- driving ---- */

/* Driven through the socket API rather than curl_multi_perform: libcurl 7.88 reports socket
 * interest (CURLMOPT_SOCKETFUNCTION) only from curl_multi_socket_action, and sockets() must
 * stay accurate for external event loops. A zero-timeout poll() tells which of the watched
 * sockets are ready; the timer call then runs everything whose deadline has passed,
 * including freshly added transfers. */
int cw_http_perform(cw_http_engine *eng, int *running, char *err, size_t errlen)
{
    *running = 0;
    size_t n = eng->nsocks;
    struct pollfd *pfds = NULL;
    if (n) {
        pfds = calloc(n, sizeof *pfds);
        if (!pfds) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            pfds[i].fd = (int)eng->socks[i].fd;
            pfds[i].events = (short)((eng->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
                                     (eng->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0));
        }
        if (poll(pfds, (nfds_t)n, 0) < 0) n = 0;   /* EINTR: the timer call below still runs */
    }
    CURLMcode mc = CURLM_OK;
    /* pfds is a snapshot: the callbacks may change eng->socks while we act on it */
    for (size_t i = 0; i < n && mc == CURLM_OK; i++) {
        short re = pfds[i].revents;
        if (!re) continue;
        int ev = (re & (POLLIN | POLLHUP) ? CURL_CSELECT_IN : 0) |
                 (re & POLLOUT ? CURL_CSELECT_OUT : 0) |
                 (re & (POLLERR | POLLNVAL) ? CURL_CSELECT_ERR : 0);
        mc = curl_multi_socket_action(eng->multi, (curl_socket_t)pfds[i].fd, ev, running);
    }
    free(pfds);
    if (mc == CURLM_OK) mc = curl_multi_socket_action(eng->multi, CURL_SOCKET_TIMEOUT, 0, running);
    collect(eng);
    if (mc != CURLM_OK) {
        set_err(err, errlen, curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

int cw_http_wait(cw_http_engine *eng, int timeout_ms, char *err, size_t errlen)
{
    CURLMcode mc = curl_multi_poll(eng->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
    if (mc != CURLM_OK) {
        set_err(err, errlen, curl_multi_strerror(mc));
        return -1;
    }
    return 0;
}

long cw_http_timeout(cw_http_engine *eng)
{
    long ms = -1;
    if (curl_multi_timeout(eng->multi, &ms) != CURLM_OK) return -1;
    return ms;
}

size_t cw_http_socket_count(const cw_http_engine *eng)
{
    return eng->nsocks;
}

void cw_http_socket_at(const cw_http_engine *eng, size_t i, int *fd, int *want_read,
                       int *want_write)
{
    const struct watched_socket *s = &eng->socks[i];
    *fd = (int)s->fd;
    *want_read = s->what == CURL_POLL_IN || s->what == CURL_POLL_INOUT;
    *want_write = s->what == CURL_POLL_OUT || s->what == CURL_POLL_INOUT;
}

size_t cw_http_pending(const cw_http_engine *eng)
{
    return eng->active.n + eng->done.n;
}

int cw_http_cancel(cw_http_engine *eng, long long id)
{
    struct transfer *t = list_find(&eng->active, id);
    if (t) {
        list_remove(&eng->active, t);
        release_easy(eng, t->easy);
        t->easy = NULL;
        transfer_free(t);
        return 1;
    }
    t = list_find(&eng->done, id);
    if (t) {
        list_remove(&eng->done, t);
        transfer_free(t);
        return 1;
    }
    return 0;
}

const cw_http_result *cw_http_peek_result(cw_http_engine *eng)
{
    collect(eng);
    return eng->done.head ? &eng->done.head->result : NULL;
}

void cw_http_pop_result(cw_http_engine *eng)
{
    struct transfer *t = eng->done.head;
    if (!t) return;
    list_remove(&eng->done, t);
    transfer_free(t);
}
