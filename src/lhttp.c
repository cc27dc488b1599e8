/*
 * lhttp.c - Lua binding of the HTTP engine: core.http_engine(opts) and the engine's methods
 * (submit, perform, wait, results, timeout, sockets, running, cancel, close).
 *
 * Each method reads its Lua arguments (strings stay on the Lua stack while C looks at
 * them), calls into http.c, then pushes results, so no Lua error can cross a libcurl
 * frame. Expected failures return nil, message; using a closed engine or passing
 * arguments of the wrong type raises, like Lua's own io library.
 */
#include "lcwlogs.h"
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define ENGINE_MT "cwlogs.http_engine"

typedef struct engine_box {
    cw_http_engine *eng;   /* NULL once closed, or if creation failed */
} engine_box;

static int push_fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

static cw_http_engine *check_engine(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    if (!b->eng) luaL_error(L, "attempt to use a closed http engine");
    return b->eng;
}

/* ---- core.http_engine(opts) ---- */

static const char *const option_names[] = {
    "ca_bundle", "connect_timeout_ms", "low_speed_limit", "low_speed_time",
    "user_agent", "max_host_connections", "verbose", NULL,
};

static int opt_long(lua_State *L, int t, const char *name, long *out, char *err, size_t errlen)
{
    int ty = lua_getfield(L, t, name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, -1, &isint);
    lua_pop(L, 1);
    if (ty != LUA_TNUMBER || !isint || v < 0 || v > LONG_MAX) {
        snprintf(err, errlen, "option '%s' must be a non-negative integer", name);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* Leaves the string on the stack so the pointer stays valid until the function returns. */
static int opt_string(lua_State *L, int t, const char *name, const char **out, char *err,
                      size_t errlen)
{
    int ty = lua_getfield(L, t, name);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    size_t len = 0;
    const char *s = ty == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!s || strlen(s) != len) {
        snprintf(err, errlen, "option '%s' must be a string without NUL bytes", name);
        return -1;
    }
    *out = s;
    return 0;
}

static int read_config(lua_State *L, int t, cw_http_config *cfg, char *err, size_t errlen)
{
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        lua_pop(L, 1);
        const char *key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int known = 0;
        for (int i = 0; key && option_names[i]; i++)
            if (strcmp(key, option_names[i]) == 0) known = 1;
        if (!known) {
            snprintf(err, errlen, "unknown http option '%.64s'", key ? key : "?");
            lua_pop(L, 1);
            return -1;
        }
    }
    if (opt_string(L, t, "ca_bundle", &cfg->ca_bundle, err, errlen) != 0 ||
        opt_string(L, t, "user_agent", &cfg->user_agent, err, errlen) != 0 ||
        opt_long(L, t, "connect_timeout_ms", &cfg->connect_timeout_ms, err, errlen) != 0 ||
        opt_long(L, t, "low_speed_limit", &cfg->low_speed_limit, err, errlen) != 0 ||
        opt_long(L, t, "low_speed_time", &cfg->low_speed_time, err, errlen) != 0 ||
        opt_long(L, t, "max_host_connections", &cfg->max_host_connections, err, errlen) != 0)
        return -1;
    lua_getfield(L, t, "verbose");
    cfg->verbose = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return 0;
}

static int l_http_engine(lua_State *L)
{
    cw_http_config cfg;
    char err[256];
    cw_http_config_defaults(&cfg);
    cfg.user_agent = "cwlogs/" CWLOGS_VERSION;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        if (read_config(L, 1, &cfg, err, sizeof err) != 0) return push_fail(L, err);
    }
    /* The userdata exists before the engine does: if anything below fails, the box holds
     * NULL and the collector has nothing to free. */
    engine_box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->eng = NULL;
    luaL_setmetatable(L, ENGINE_MT);
    if (cw_http_engine_new(&cfg, &b->eng, err, sizeof err) != 0) return push_fail(L, err);
    return 1;
}

/* ---- engine:submit(req) ---- */

/* Pushes name and value strings of every header onto the stack; returns how many pairs,
 * or -1 with a message in err. */
static int push_header_strings(lua_State *L, int h, char *err, size_t errlen)
{
    int n = 0;
    int first = lua_rawgeti(L, h, 1);
    lua_pop(L, 1);
    if (first == LUA_TTABLE) {
        lua_Integer count = (lua_Integer)lua_rawlen(L, h);
        for (lua_Integer i = 1; i <= count; i++) {
            luaL_checkstack(L, 3, "too many headers");
            if (lua_rawgeti(L, h, i) != LUA_TTABLE) {
                snprintf(err, errlen, "headers[%lld] must be a {name, value} pair", (long long)i);
                return -1;
            }
            int nt = lua_rawgeti(L, -1, 1);
            int vt = lua_rawgeti(L, -2, 2);
            if (nt != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER)) {
                snprintf(err, errlen, "headers[%lld] must be a {name, value} pair of strings",
                         (long long)i);
                return -1;
            }
            lua_tostring(L, -1);     /* a number becomes a string in this stack slot */
            lua_remove(L, -3);       /* the pair table; its strings stay on the stack */
            n++;
        }
        return n;
    }
    if (first != LUA_TNIL) {
        snprintf(err, errlen, "headers must be a list of {name, value} pairs or a map");
        return -1;
    }
    lua_pushnil(L);
    while (lua_next(L, h) != 0) {
        luaL_checkstack(L, 3, "too many headers");
        int vt = lua_type(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING || (vt != LUA_TSTRING && vt != LUA_TNUMBER)) {
            snprintf(err, errlen, "headers map must map names to string values");
            return -1;
        }
        lua_tostring(L, -1);
        /* [key value] -> [key-copy value key]: the pair stays, lua_next gets its key */
        lua_pushvalue(L, -2);
        lua_insert(L, -3);
        lua_rotate(L, -2, 1);
        n++;
    }
    return n;
}

static int l_submit(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    cw_http_request req;
    memset(&req, 0, sizeof req);
    char err[256];

    if (lua_getfield(L, 2, "url") != LUA_TSTRING) return push_fail(L, "request needs a url string");
    req.url = lua_tolstring(L, -1, &req.url_len);

    int ty = lua_getfield(L, 2, "method");
    if (ty == LUA_TSTRING) req.method = lua_tolstring(L, -1, &req.method_len);
    else if (ty != LUA_TNIL) return push_fail(L, "request method must be a string");

    ty = lua_getfield(L, 2, "body");
    if (ty == LUA_TSTRING) req.body = lua_tolstring(L, -1, &req.body_len);
    else if (ty != LUA_TNIL) return push_fail(L, "request body must be a string");

    ty = lua_getfield(L, 2, "timeout_ms");
    if (ty != LUA_TNIL) {
        int isint = 0;
        lua_Integer v = lua_tointegerx(L, -1, &isint);
        if (ty != LUA_TNUMBER || !isint || v < 0 || v > LONG_MAX)
            return push_fail(L, "request timeout_ms must be a non-negative integer");
        req.timeout_ms = (long)v;
    }

    ty = lua_getfield(L, 2, "headers");
    int h = lua_gettop(L);
    int npairs = 0;
    if (ty == LUA_TTABLE) {
        npairs = push_header_strings(L, h, err, sizeof err);
        if (npairs < 0) return push_fail(L, err);
    } else if (ty != LUA_TNIL) {
        return push_fail(L, "request headers must be a table");
    }
    cw_http_header *hdrs = NULL;
    if (npairs > 0) {
        hdrs = lua_newuserdatauv(L, (size_t)npairs * sizeof *hdrs, 0);
        for (int i = 0; i < npairs; i++) {
            hdrs[i].name = lua_tolstring(L, h + 1 + 2 * i, &hdrs[i].name_len);
            hdrs[i].value = lua_tolstring(L, h + 2 + 2 * i, &hdrs[i].value_len);
        }
    }
    req.headers = hdrs;
    req.nheaders = (size_t)npairs;

    long long id = 0;
    if (cw_http_submit(eng, &req, &id, err, sizeof err) != 0) return push_fail(L, err);
    lua_pushinteger(L, (lua_Integer)id);
    return 1;
}

/* ---- driving the engine ---- */

static int l_perform(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    char err[256];
    int running = 0;
    if (cw_http_perform(eng, &running, err, sizeof err) != 0) return push_fail(L, err);
    lua_pushinteger(L, running);
    return 1;
}

static int l_wait(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    lua_Integer ms = luaL_optinteger(L, 2, 0);
    if (ms < 0) ms = 0;
    if (ms > INT_MAX) ms = INT_MAX;
    char err[256];
    if (cw_http_wait(eng, (int)ms, err, sizeof err) != 0) return push_fail(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static void push_result(lua_State *L, const cw_http_result *r)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)r->id);
    lua_setfield(L, -2, "id");
    if (r->status > 0) {
        lua_pushinteger(L, (lua_Integer)r->status);
        lua_setfield(L, -2, "status");
    }
    lua_createtable(L, 0, (int)(r->nheaders < 64 ? r->nheaders : 64));
    for (size_t i = 0; i < r->nheaders; i++) {
        /* a repeated header is folded into one value, as RFC 9110 allows */
        if (lua_getfield(L, -1, r->header_names[i]) == LUA_TSTRING) {
            lua_pushliteral(L, ", ");
            lua_pushstring(L, r->header_values[i]);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushstring(L, r->header_values[i]);
        }
        lua_setfield(L, -2, r->header_names[i]);
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, r->body, r->body_len);
    lua_setfield(L, -2, "body");
    if (r->error_kind) {
        lua_createtable(L, 0, 5);
        lua_pushliteral(L, "NetworkError");
        lua_setfield(L, -2, "code");
        lua_pushstring(L, r->error_kind);
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, r->error_message);
        lua_setfield(L, -2, "message");
        lua_pushinteger(L, r->curl_code);
        lua_setfield(L, -2, "curl_code");
        lua_pushboolean(L, r->retryable);
        lua_setfield(L, -2, "retryable");
        lua_setfield(L, -2, "error");
    }
    lua_pushinteger(L, (lua_Integer)r->total_ms);
    lua_setfield(L, -2, "total_ms");
}

static int l_results(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    lua_newtable(L);
    lua_Integer n = 0;
    const cw_http_result *r;
    /* Pop only after the Lua copy is in the list: if building it runs out of memory the
     * result stays queued instead of leaking. */
    while ((r = cw_http_peek_result(eng)) != NULL) {
        push_result(L, r);
        lua_rawseti(L, -2, ++n);
        cw_http_pop_result(eng);
    }
    return 1;
}

static int l_timeout(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cw_http_timeout(check_engine(L)));
    return 1;
}

static int l_sockets(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    size_t n = cw_http_socket_count(eng);
    lua_createtable(L, (int)(n < 1024 ? n : 1024), 0);
    for (size_t i = 0; i < n; i++) {
        int fd, rd, wr;
        cw_http_socket_at(eng, i, &fd, &rd, &wr);
        lua_createtable(L, 0, 3);
        lua_pushinteger(L, fd);
        lua_setfield(L, -2, "fd");
        lua_pushboolean(L, rd);
        lua_setfield(L, -2, "read");
        lua_pushboolean(L, wr);
        lua_setfield(L, -2, "write");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int l_running(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)cw_http_pending(check_engine(L)));
    return 1;
}

static int l_cancel(lua_State *L)
{
    cw_http_engine *eng = check_engine(L);
    lua_Integer id = luaL_checkinteger(L, 2);
    lua_pushboolean(L, cw_http_cancel(eng, (long long)id));
    return 1;
}

static int l_close(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    cw_http_engine *eng = b->eng;
    b->eng = NULL;
    cw_http_engine_free(eng);
    return 0;
}

static int l_tostring(lua_State *L)
{
    engine_box *b = luaL_checkudata(L, 1, ENGINE_MT);
    if (b->eng) lua_pushfstring(L, "cwlogs.http_engine (%p)", (void *)b);
    else lua_pushliteral(L, "cwlogs.http_engine (closed)");
    return 1;
}

static const luaL_Reg engine_methods[] = {
    {"submit", l_submit},   {"perform", l_perform}, {"wait", l_wait},
    {"results", l_results}, {"timeout", l_timeout}, {"sockets", l_sockets},
    {"running", l_running}, {"cancel", l_cancel},   {"close", l_close},
    {NULL, NULL},
};

static const luaL_Reg engine_meta[] = {
    {"__gc", l_close},
    {"__close", l_close},
    {"__tostring", l_tostring},
    {NULL, NULL},
};

void cw_open_http(lua_State *L)
{
    if (luaL_newmetatable(L, ENGINE_MT)) {
        luaL_setfuncs(L, engine_meta, 0);
        luaL_newlib(L, engine_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, l_http_engine);
    lua_setfield(L, -2, "http_engine");
}
