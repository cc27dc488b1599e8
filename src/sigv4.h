/*
 * sigv4.h - AWS Signature Version 4 (header form, AWS4-HMAC-SHA256) in pure C.
 *
 * Contract:
 * - cw_sigv4_sign() builds the canonical request, the string to sign, the signature
 *   and the Authorization value for one request. It never touches Lua, keeps no state
 *   between calls and is safe to call from any thread.
 * - Every string in the input is (pointer, length): embedded NULs are data, not ends,
 *   and a NULL pointer is allowed when its length is 0.
 * - Paths are normalised and encoded the way every service except S3 expects (dot
 *   segments removed, repeated '/' collapsed, each segment percent-encoded once more).
 * - Header names may be in any case; repeats are kept and joined with ',' in the
 *   order given. Hop-by-hop headers, User-Agent, Expect, X-Amzn-Trace-Id and
 *   Authorization are never signed (botocore and so moto leave them out, and proxies
 *   may change them).
 * - The request time comes from an X-Amz-Date header if there is one, else from
 *   req->amz_date, else from the clock. When the header is absent the result says so
 *   (added_date) and the caller must send X-Amz-Date: result.amz_date. Likewise for a
 *   session token with no X-Amz-Security-Token header (added_token).
 * - An X-Amz-Content-SHA256 header, if given, is used as the payload hash (as botocore
 *   does); otherwise the body is hashed.
 * - The secret key is never copied into the result or into any error text; derived
 *   keys are wiped before return.
 * - On success the result owns heap strings: free them with cw_sigv4_result_free(),
 *   which is safe on a zeroed or already freed result. On failure nothing is owned.
 */
#ifndef CWLOGS_SIGV4_H
#define CWLOGS_SIGV4_H

#include <stddef.h>

/* "YYYYMMDDTHHMMSSZ" */
#define CW_SIGV4_AMZ_DATE_LEN 16

enum cw_sigv4_status {
    CW_SIGV4_OK = 0,
    CW_SIGV4_ENOMEM,     /* an allocation failed */
    CW_SIGV4_ECRYPTO,    /* OpenSSL refused a digest or HMAC */
    CW_SIGV4_EDATE,      /* X-Amz-Date header or amz_date is not YYYYMMDDTHHMMSSZ */
    CW_SIGV4_EDUPDATE,   /* more than one X-Amz-Date header */
    CW_SIGV4_ECLOCK,     /* the system clock could not be read */
    CW_SIGV4_EARG        /* a required field is empty or too long */
};

typedef struct cw_sigv4_str {
    const char *ptr;
    size_t len;
} cw_sigv4_str;

typedef struct cw_sigv4_header {
    cw_sigv4_str name;
    cw_sigv4_str value;
} cw_sigv4_header;

typedef struct cw_sigv4_request {
    cw_sigv4_str method;
    cw_sigv4_str path;          /* as on the request line, without the query */
    cw_sigv4_str query;         /* raw, without '?'; empty for none */
    const cw_sigv4_header *headers;
    size_t n_headers;
    cw_sigv4_str body;
    cw_sigv4_str region;
    cw_sigv4_str service;
    cw_sigv4_str access_key;
    cw_sigv4_str secret_key;
    cw_sigv4_str session_token; /* empty for none */
    cw_sigv4_str amz_date;      /* empty: use the clock (UTC) */
} cw_sigv4_request;

typedef struct cw_sigv4_result {
    char *canonical_request;
    size_t canonical_request_len;
    char *string_to_sign;
    size_t string_to_sign_len;
    char *authorization;
    size_t authorization_len;
    char *signed_headers;
    size_t signed_headers_len;
    char *credential_scope;
    size_t credential_scope_len;
    char signature[65];                      /* lower-case hex, NUL-terminated */
    char amz_date[CW_SIGV4_AMZ_DATE_LEN + 1]; /* the time that was signed */
    int added_date;  /* caller must add "X-Amz-Date: amz_date" */
    int added_token; /* caller must add "X-Amz-Security-Token: <session token>" */
} cw_sigv4_result;

/* Signs req into *out (overwritten). Returns CW_SIGV4_OK or an error status. */
int cw_sigv4_sign(const cw_sigv4_request *req, cw_sigv4_result *out);

/* Frees what *res owns and zeroes it. */
void cw_sigv4_result_free(cw_sigv4_result *res);

/* 1 when s is a real UTC time written as YYYYMMDDTHHMMSSZ, else 0. */
int cw_sigv4_valid_amz_date(const char *s, size_t len);

/* Static English text for a status; never mentions request data. */
const char *cw_sigv4_strerror(int status);

#endif
