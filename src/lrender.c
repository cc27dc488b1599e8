/*
 * lrender.c - `core.renderer(opts)`: FilterLogEvents pages straight to output bytes.
 *
 *   local r = core.renderer{ format = "text" | "jsonl", timestamp = bool, tz = "utc",
 *                            show_stream = bool, group = "/aws/lambda/x" }
 *             (`_slow = true`, for tests: always the general walk, see render.h)
 *             -> renderer | nil, message
 *   r:page(body [, lo [, hi [, prefix]]])
 *       -> chunk, kept, total, next_token, first_ts, last_ts | nil, message
 *   r:close()                                 (also __close and __gc; any number of times)
 *
 * The chunk holds one line per kept event (lo <= timestamp < hi, stream name starting
 * with prefix), in timestamp order, as output.lua's text_batch / jsonl_batch would write
 * them; kept counts its lines, total the events of the page before filtering; first_ts and
 * last_ts are the earliest and latest timestamps among those (nil when total is 0): how much
 * time the page covered, which the engine's slicing needs. See render.h.
 *
 * Memory: every buffer hangs off the userdata, which is created before any of them, so a
 * Lua error (out of memory in lua_pushlstring) leaks nothing: __gc frees them.
 */
#include "lcwlogs.h"
#include "render.h"

#include <string.h>

#define RENDERER_MT "cwlogs.renderer"

typedef struct renderer_box {
    cw_renderer r;
    int open;
} renderer_box;

static const char *opt_string(lua_State *L, int t, const char *key, size_t *len)
{
    const char *s = NULL;
    int ty = lua_getfield(L, t, key);
    if (ty == LUA_TSTRING)
        s = lua_tolstring(L, -1, len);
    else if (ty != LUA_TNIL)
        luaL_error(L, "bad option '%s' to 'renderer' (string expected, got %s)", key,
                   luaL_typename(L, -1));
    /* Left on the stack, so the string lives as long as this call. */
    return s;
}

static int opt_bool(lua_State *L, int t, const char *key)
{
    int v;
    lua_getfield(L, t, key);
    v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static int l_renderer(lua_State *L)
{
    cw_render_opts o;
    const char *format, *tz;
    size_t flen = 0, tzlen = 0;
    char err[CW_TIME_ERRLEN];
    renderer_box *box;

    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    format = opt_string(L, 1, "format", &flen);
    if (format == NULL || (flen == 4 && memcmp(format, "text", 4) == 0)) {
        o.format = CW_RENDER_TEXT;
    } else if (flen == 5 && memcmp(format, "jsonl", 5) == 0) {
        o.format = CW_RENDER_JSONL;
    } else {
        lua_pushnil(L);
        lua_pushfstring(L, "unknown format '%s' (expected text or jsonl)", format);
        return 2;
    }
    o.timestamp = opt_bool(L, 1, "timestamp");
    o.show_stream = opt_bool(L, 1, "show_stream");
    tz = opt_string(L, 1, "tz", &tzlen);
    if (tz && strlen(tz) != tzlen)
        tz = "\x01"; /* an embedded NUL: no zone has that name */
    o.tz = tz;
    o.group = opt_string(L, 1, "group", &o.group_len);
    o.slow_only = opt_bool(L, 1, "_slow");

    box = lua_newuserdatauv(L, sizeof *box, 0);
    memset(box, 0, sizeof *box);
    luaL_setmetatable(L, RENDERER_MT);
    box->open = 1;
    if (cw_renderer_init(&box->r, &o, err, sizeof err) != 0) {
        cw_renderer_free(&box->r);
        box->open = 0;
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

static renderer_box *check_open(lua_State *L)
{
    renderer_box *box = luaL_checkudata(L, 1, RENDERER_MT);
    if (!box->open)
        luaL_error(L, "renderer is closed");
    return box;
}

static int opt_bound(lua_State *L, int idx, int64_t *v)
{
    if (lua_isnoneornil(L, idx))
        return 0;
    *v = (int64_t)luaL_checkinteger(L, idx);
    return 1;
}

static int l_page(lua_State *L)
{
    renderer_box *box = check_open(L);
    cw_render_bounds b;
    size_t len;
    const char *body = luaL_checklstring(L, 2, &len);

    memset(&b, 0, sizeof b);
    b.has_lo = opt_bound(L, 3, &b.lo);
    b.has_hi = opt_bound(L, 4, &b.hi);
    if (!lua_isnoneornil(L, 5))
        b.prefix = luaL_checklstring(L, 5, &b.prefix_len);
    if (cw_render_page(&box->r, body, len, &b) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, box->r.err);
        return 2;
    }
    lua_pushlstring(L, box->r.out, box->r.out_len);
    lua_pushinteger(L, (lua_Integer)box->r.kept);
    lua_pushinteger(L, (lua_Integer)box->r.total);
    if (box->r.token)
        lua_pushlstring(L, box->r.token, box->r.token_len);
    else
        lua_pushnil(L);
    if (box->r.total > 0) {
        lua_pushinteger(L, (lua_Integer)box->r.min_ts);
        lua_pushinteger(L, (lua_Integer)box->r.max_ts);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
    }
    return 6;
}

static int l_close(lua_State *L)
{
    renderer_box *box = luaL_checkudata(L, 1, RENDERER_MT);
    cw_renderer_free(&box->r);
    box->open = 0;
    return 0;
}

static int l_tostring(lua_State *L)
{
    renderer_box *box = luaL_checkudata(L, 1, RENDERER_MT);
    lua_pushfstring(L, "cwlogs.renderer (%s): %p", box->open ? "open" : "closed", (void *)box);
    return 1;
}

void cw_open_render(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"page", l_page},
        {"close", l_close},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__gc", l_close},
        {"__close", l_close},
        {"__tostring", l_tostring},
        {NULL, NULL},
    };
    static const luaL_Reg funcs[] = {
        {"renderer", l_renderer},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, RENDERER_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, funcs, 0);
}
