/*
 * lsigv4.c - Lua binding of the SigV4 signer: cwlogs.core.sign{...}.
 *
 * sign{ method, path, query, headers, body, region, service, access_key, secret_key,
 *       session_token, time } -> { authorization, canonical_request, string_to_sign,
 * signature, signed_headers, credential_scope, amz_date, headers = {{name, value}...} }
 * or nil, message on a bad argument (the message names the argument, never a value).
 *
 * Every argument is read and checked into a cw_sigv4_request before OpenSSL runs. The
 * request points into Lua strings, which are pinned in an anchor table for the call.
 * The C result lives in a userdata with a __gc, so a memory error while pushing the
 * answer cannot leak it.
 */
#include <stdio.h>
#include <string.h>

#include "lcwlogs.h"
#include "sigv4.h"

#define RESULT_MT "cwlogs.sigv4.result"

typedef struct reader {
    lua_State *L;
    int args;            /* stack index of the argument table */
    int anchor;          /* stack index of the table pinning strings */
    lua_Integer pinned;
    char err[128];
} reader;

static int fail(reader *r, const char *fmt, const char *what)
{
    snprintf(r->err, sizeof r->err, fmt, what);
    return 0;
}

/* The value on top of the stack (a string or number) stays alive while the call runs. */
static cw_sigv4_str pin_top(reader *r)
{
    cw_sigv4_str s;

    s.ptr = lua_tolstring(r->L, -1, &s.len);
    lua_pushvalue(r->L, -1);
    lua_rawseti(r->L, r->anchor, ++r->pinned);
    return s;
}

static int has_byte_in(cw_sigv4_str s, const char *set, int reject_controls)
{
    size_t i;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if ((reject_controls && (c < 0x20 || c == 0x7f)) || (c != 0 && strchr(set, c)))
            return 1;
    }
    return 0;
}

enum { OPTIONAL = 0, REQUIRED = 1 };

/* Reads args[key] as a string. An absent optional field leaves *out untouched. */
static int read_string(reader *r, const char *key, int required, cw_sigv4_str *out)
{
    int t = lua_getfield(r->L, r->args, key);

    if (t == LUA_TNIL && !required) {
        lua_pop(r->L, 1);
        return 1;
    }
    if (t != LUA_TSTRING || (required && lua_rawlen(r->L, -1) == 0)) {
        lua_pop(r->L, 1);
        return fail(r, required ? "sign: '%s' must be a non-empty string"
                                : "sign: '%s' must be a string", key);
    }
    *out = pin_top(r);
    lua_pop(r->L, 1);
    return 1;
}

/* Region, service and access key end up inside the credential scope, split on '/'. */
static int read_scope_part(reader *r, const char *key, cw_sigv4_str *out)
{
    if (!read_string(r, key, REQUIRED, out))
        return 0;
    if (has_byte_in(*out, "/, ", 1))
        return fail(r, "sign: '%s' must not contain '/', ',', spaces or control characters",
                    key);
    return 1;
}

static int valid_header_name(cw_sigv4_str s)
{
    return s.len > 0 && !has_byte_in(s, ": ", 1);
}

static int is_header_value(lua_State *L, int idx)
{
    int t = lua_type(L, idx);

    return t == LUA_TSTRING || t == LUA_TNUMBER;
}

/* Fills one header from a {name, value} pair at the top of the stack. */
static int read_pair(reader *r, lua_Integer i, cw_sigv4_header *h)
{
    lua_State *L = r->L;
    int ok;

    if (lua_type(L, -1) != LUA_TTABLE) {
        snprintf(r->err, sizeof r->err, "sign: headers[%lld] must be a {name, value} pair",
                 (long long)i);
        return 0;
    }
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    ok = lua_type(L, -2) == LUA_TSTRING && is_header_value(L, -1);
    if (ok) {
        h->value = pin_top(r);
        lua_pop(L, 1);
        h->name = pin_top(r);
        lua_pop(L, 1);
        ok = valid_header_name(h->name);
    } else {
        lua_pop(L, 2);
    }
    if (!ok)
        snprintf(r->err, sizeof r->err,
                 "sign: headers[%lld] must be a {name, value} pair with a valid name",
                 (long long)i);
    return ok;
}

/*
 * headers is a list of {name, value} pairs (order and repeats matter), a name->value
 * map, or both in one table. Leaves the header array userdata on the stack.
 */
static int read_headers(reader *r, cw_sigv4_request *req)
{
    lua_State *L = r->L;
    int h, t = lua_getfield(L, r->args, "headers");
    lua_Integer len, i;
    size_t extra = 0, n = 0;
    cw_sigv4_header *arr;

    if (t == LUA_TNIL) {
        lua_pop(L, 1);
        req->headers = NULL;
        req->n_headers = 0;
        return 1;
    }
    if (t != LUA_TTABLE)
        return fail(r, "sign: '%s' must be a table", "headers");
    h = lua_gettop(L);
    len = (lua_Integer)lua_rawlen(L, h);
    lua_pushnil(L);
    while (lua_next(L, h)) {
        int key_type = lua_type(L, -2);
        if (key_type == LUA_TSTRING) {
            extra++;
        } else if (!(lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1 &&
                     lua_tointeger(L, -2) <= len)) {
            lua_pop(L, 2);
            return fail(r, "sign: '%s' must hold {name, value} pairs or name = value",
                        "headers");
        }
        lua_pop(L, 1);
    }
    arr = lua_newuserdatauv(L, ((size_t)len + extra + 1) * sizeof *arr, 0);
    for (i = 1; i <= len; i++) {
        lua_rawgeti(L, h, i);
        if (!read_pair(r, i, &arr[n])) {
            lua_pop(L, 1);
            return 0;
        }
        lua_pop(L, 1);
        n++;
    }
    lua_pushnil(L);
    while (lua_next(L, h)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            if (!is_header_value(L, -1)) {
                lua_pop(L, 2);
                return fail(r, "sign: '%s' map values must be strings", "headers");
            }
            arr[n].value = pin_top(r);
            lua_pushvalue(L, -2);
            arr[n].name = pin_top(r);
            lua_pop(L, 1);
            if (!valid_header_name(arr[n].name)) {
                lua_pop(L, 2);
                return fail(r, "sign: '%s' has an invalid header name", "headers");
            }
            n++;
        }
        lua_pop(L, 1);
    }
    req->headers = arr;
    req->n_headers = n;
    return 1;
}

static int read_request(reader *r, cw_sigv4_request *req)
{
    const char *q;

    memset(req, 0, sizeof *req);
    req->path.ptr = "/";
    req->path.len = 1;
    if (!read_string(r, "method", REQUIRED, &req->method))
        return 0;
    if (has_byte_in(req->method, " ", 1))
        return fail(r, "sign: '%s' must not contain spaces or control characters", "method");
    if (!read_string(r, "path", OPTIONAL, &req->path) ||
        !read_string(r, "query", OPTIONAL, &req->query) ||
        !read_string(r, "body", OPTIONAL, &req->body) ||
        !read_scope_part(r, "region", &req->region) ||
        !read_scope_part(r, "service", &req->service) ||
        !read_scope_part(r, "access_key", &req->access_key) ||
        !read_string(r, "secret_key", REQUIRED, &req->secret_key) ||
        !read_string(r, "session_token", OPTIONAL, &req->session_token) ||
        !read_string(r, "time", OPTIONAL, &req->amz_date))
        return 0;
    if (req->path.len == 0) {
        req->path.ptr = "/";
        req->path.len = 1;
    }
    /* A path copied whole from a request line may still carry its query. */
    q = memchr(req->path.ptr, '?', req->path.len);
    if (q && req->query.len == 0) {
        req->query.ptr = q + 1;
        req->query.len = req->path.len - (size_t)(q + 1 - req->path.ptr);
        req->path.len = (size_t)(q - req->path.ptr);
    }
    if (has_byte_in(req->session_token, "", 1))
        return fail(r, "sign: '%s' must not contain control characters", "session_token");
    if (req->amz_date.ptr && !cw_sigv4_valid_amz_date(req->amz_date.ptr, req->amz_date.len))
        return fail(r, "sign: '%s' must be a UTC time written YYYYMMDDTHHMMSSZ", "time");
    return read_headers(r, req);
}

static void set_string(lua_State *L, const char *key, const char *s, size_t len)
{
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, key);
}

static void push_pair(lua_State *L, lua_Integer i, const char *name, const char *value,
                      size_t value_len)
{
    lua_createtable(L, 2, 0);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, 1);
    lua_pushlstring(L, value, value_len);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, i);
}

static void push_result(lua_State *L, const cw_sigv4_result *res, cw_sigv4_str token)
{
    lua_Integer n = 0;

    lua_createtable(L, 0, 8);
    set_string(L, "authorization", res->authorization, res->authorization_len);
    set_string(L, "canonical_request", res->canonical_request, res->canonical_request_len);
    set_string(L, "string_to_sign", res->string_to_sign, res->string_to_sign_len);
    set_string(L, "signature", res->signature, strlen(res->signature));
    set_string(L, "signed_headers", res->signed_headers, res->signed_headers_len);
    set_string(L, "credential_scope", res->credential_scope, res->credential_scope_len);
    set_string(L, "amz_date", res->amz_date, CW_SIGV4_AMZ_DATE_LEN);
    lua_createtable(L, 3, 0);
    if (res->added_date)
        push_pair(L, ++n, "X-Amz-Date", res->amz_date, CW_SIGV4_AMZ_DATE_LEN);
    if (res->added_token)
        push_pair(L, ++n, "X-Amz-Security-Token", token.ptr, token.len);
    push_pair(L, ++n, "Authorization", res->authorization, res->authorization_len);
    lua_setfield(L, -2, "headers");
}

static int l_sign(lua_State *L)
{
    reader r;
    cw_sigv4_request req;
    cw_sigv4_result *res;
    int rc;

    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushnil(L);
        lua_pushliteral(L, "sign: expected a table of arguments");
        return 2;
    }
    lua_settop(L, 1);
    lua_newtable(L);
    memset(&r, 0, sizeof r);
    r.L = L;
    r.args = 1;
    r.anchor = 2;
    if (!read_request(&r, &req)) {
        lua_pushnil(L);
        lua_pushstring(L, r.err);
        return 2;
    }
    res = lua_newuserdatauv(L, sizeof *res, 0);
    memset(res, 0, sizeof *res);
    luaL_setmetatable(L, RESULT_MT);

    rc = cw_sigv4_sign(&req, res);   /* OpenSSL runs here; no Lua calls until it returns */

    if (rc != CW_SIGV4_OK) {
        lua_pushnil(L);
        lua_pushfstring(L, "sign: %s", cw_sigv4_strerror(rc));
        return 2;
    }
    push_result(L, res, req.session_token);
    cw_sigv4_result_free(res);
    return 1;
}

static int result_gc(lua_State *L)
{
    cw_sigv4_result_free(luaL_checkudata(L, 1, RESULT_MT));
    return 0;
}

void cw_open_sigv4(lua_State *L)
{
    if (luaL_newmetatable(L, RESULT_MT)) {
        lua_pushcfunction(L, result_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "cwlogs.sigv4.result");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_sign);
    lua_setfield(L, -2, "sign");
}
