/*
 * ltime.c - Lua binding of the time parser (timeparse.h) and zones (tzfile.h).
 *
 *   core.parse_time(text [, opts])   -> epoch ms (integer)  | nil, message
 *   core.format_time(ms [, opts])    -> ISO 8601 string     | nil, message
 *   core.zone_offset(ms, tz)         -> seconds east of UTC | nil, message
 *   core.zone(tz)                    -> zone object         | nil, message
 *       zone:offset(ms), zone:format(ms), zone:close()   (also __close and __gc)
 *   core.now_ms(), core.time_ms()    -> current epoch ms (CLOCK_REALTIME)
 *
 * opts.now is "now" in epoch ms (default: the clock); opts.tz is a zone spec string or
 * a zone object (default "local"). A zone object keeps a loaded zone for repeated use,
 * so that formatting many times does not read the zone file each time. Bad input
 * returns nil, message; only wrong argument types raise.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lcwlogs.h"
#include "timeparse.h"
#include "tzfile.h"

#define ZONE_MT "cwlogs.zone"

struct zone_box {
    cw_zone *zone; /* NULL once closed */
};

/* Where a zone comes from: a spec to open for this call, or a zone object's zone. */
struct zone_arg {
    const char *spec;
    cw_zone *borrowed;
};

static void check_zone_arg(lua_State *L, int idx, const char *what, struct zone_arg *za)
{
    za->spec = NULL;
    za->borrowed = NULL;
    if (lua_isnoneornil(L, idx)) {
        za->spec = "local";
    } else if (lua_type(L, idx) == LUA_TSTRING) {
        size_t len;
        za->spec = lua_tolstring(L, idx, &len);
        if (strlen(za->spec) != len)
            za->spec = "\x01"; /* embedded NUL: not a name any zone has */
    } else {
        struct zone_box *box = luaL_testudata(L, idx, ZONE_MT);
        if (!box)
            luaL_error(L, "bad %s (zone name or zone object expected, got %s)", what,
                       luaL_typename(L, idx));
        else if (!box->zone)
            luaL_error(L, "bad %s (zone object is closed)", what);
        else
            za->borrowed = box->zone;
    }
}

/* The zone to use, opened now if need be; *owned says whether to close it after. */
static cw_zone *acquire_zone(const struct zone_arg *za, int *owned, char *err, size_t errlen)
{
    *owned = za->borrowed == NULL;
    return za->borrowed ? za->borrowed : cw_zone_open(za->spec, err, errlen);
}

static int push_fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

static int64_t clock_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads opts at idx (nil or table): pushes opts.tz onto the stack (kept there so the
 * string stays alive) and fills *za; sets *now_ms from opts.now or the clock. */
static void read_opts(lua_State *L, int idx, struct zone_arg *za, int64_t *now_ms)
{
    if (!lua_isnoneornil(L, idx))
        luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_isnoneornil(L, idx)) {
        lua_pushnil(L);
    } else {
        int isint;
        lua_getfield(L, idx, "now");
        if (now_ms && !lua_isnil(L, -1)) {
            lua_Integer v = lua_tointegerx(L, -1, &isint);
            if (!isint)
                luaL_error(L, "bad option 'now' (integer epoch milliseconds expected)");
            *now_ms = (int64_t)v;
            now_ms = NULL;
        }
        lua_pop(L, 1);
        lua_getfield(L, idx, "tz");
    }
    check_zone_arg(L, lua_gettop(L), "option 'tz'", za);
    if (now_ms)
        *now_ms = clock_now_ms();
}

static int l_parse_time(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    struct zone_arg za;
    int64_t now_ms, result = 0;
    int owned, ok;
    char err[CW_TIME_ERRLEN];
    read_opts(L, 2, &za, &now_ms);

    cw_zone *zone = acquire_zone(&za, &owned, err, sizeof err);
    if (!zone)
        return push_fail(L, err);
    ok = cw_parse_time(text, len, now_ms, zone, &result, err, sizeof err);
    if (owned)
        cw_zone_close(zone);
    if (!ok)
        return push_fail(L, err);
    lua_pushinteger(L, (lua_Integer)result);
    return 1;
}

/* Formats ms in zone into buf, or writes a message into err. */
static int format_in(int64_t ms, const struct zone_arg *za, char *buf, size_t buflen,
                     char *err, size_t errlen)
{
    int owned;
    cw_zone *zone = acquire_zone(za, &owned, err, errlen);
    if (!zone)
        return 0;
    size_t n = cw_format_time(ms, zone, buf, buflen);
    if (owned)
        cw_zone_close(zone);
    if (n == 0)
        snprintf(err, errlen, "time out of range '%lld'", (long long)ms);
    return n != 0;
}

static int l_format_time(lua_State *L)
{
    int64_t ms = (int64_t)luaL_checkinteger(L, 1);
    struct zone_arg za;
    char buf[CW_TIME_FMTLEN], err[CW_TIME_ERRLEN];
    read_opts(L, 2, &za, NULL);
    if (!format_in(ms, &za, buf, sizeof buf, err, sizeof err))
        return push_fail(L, err);
    lua_pushstring(L, buf);
    return 1;
}

static int offset_in(int64_t ms, const struct zone_arg *za, int32_t *east, char *err,
                     size_t errlen)
{
    const int64_t limit = CW_TIME_LIMIT_S * 1000;
    int owned;
    if (ms < -limit || ms > limit) {
        snprintf(err, errlen, "time out of range '%lld'", (long long)ms);
        return 0;
    }
    cw_zone *zone = acquire_zone(za, &owned, err, errlen);
    if (!zone)
        return 0;
    *east = cw_zone_offset(zone, cw_floor_div(ms, 1000));
    if (owned)
        cw_zone_close(zone);
    return 1;
}

static int l_zone_offset(lua_State *L)
{
    int64_t ms = (int64_t)luaL_checkinteger(L, 1);
    struct zone_arg za;
    int32_t east;
    char err[CW_TIME_ERRLEN];
    luaL_checkany(L, 2);
    check_zone_arg(L, 2, "argument #2 to 'zone_offset'", &za);
    if (!offset_in(ms, &za, &east, err, sizeof err))
        return push_fail(L, err);
    lua_pushinteger(L, east);
    return 1;
}

static int l_now_ms(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)clock_now_ms());
    return 1;
}

/* ---- zone objects --------------------------------------------------------------- */

static int l_zone(lua_State *L)
{
    const char *spec = luaL_checkstring(L, 1);
    char err[CW_TIME_ERRLEN];
    /* The userdata comes first, so a failed allocation cannot strand a loaded zone. */
    struct zone_box *box = lua_newuserdatauv(L, sizeof *box, 0);
    box->zone = NULL;
    luaL_setmetatable(L, ZONE_MT);
    box->zone = cw_zone_open(spec, err, sizeof err);
    if (!box->zone)
        return push_fail(L, err);
    return 1;
}

static struct zone_arg open_zone_arg(lua_State *L)
{
    struct zone_arg za;
    check_zone_arg(L, 1, "zone", &za);
    return za;
}

static int l_zone_offset_method(lua_State *L)
{
    struct zone_arg za = open_zone_arg(L);
    int64_t ms = (int64_t)luaL_checkinteger(L, 2);
    int32_t east;
    char err[CW_TIME_ERRLEN];
    if (!offset_in(ms, &za, &east, err, sizeof err))
        return push_fail(L, err);
    lua_pushinteger(L, east);
    return 1;
}

static int l_zone_format(lua_State *L)
{
    struct zone_arg za = open_zone_arg(L);
    int64_t ms = (int64_t)luaL_checkinteger(L, 2);
    char buf[CW_TIME_FMTLEN], err[CW_TIME_ERRLEN];
    if (!format_in(ms, &za, buf, sizeof buf, err, sizeof err))
        return push_fail(L, err);
    lua_pushstring(L, buf);
    return 1;
}

/* Safe to call any number of times: __close, __gc and close() may all run. */
static int l_zone_close(lua_State *L)
{
    struct zone_box *box = luaL_checkudata(L, 1, ZONE_MT);
    cw_zone_close(box->zone);
    box->zone = NULL;
    return 0;
}

static int l_zone_tostring(lua_State *L)
{
    struct zone_box *box = luaL_checkudata(L, 1, ZONE_MT);
    lua_pushfstring(L, "cwlogs.zone (%s): %p", box->zone ? "open" : "closed", (void *)box);
    return 1;
}

static const luaL_Reg zone_methods[] = {
    {"offset", l_zone_offset_method},
    {"format", l_zone_format},
    {"close", l_zone_close},
    {NULL, NULL},
};

static const luaL_Reg zone_meta[] = {
    {"__gc", l_zone_close},
    {"__close", l_zone_close},
    {"__tostring", l_zone_tostring},
    {NULL, NULL},
};

static const luaL_Reg time_functions[] = {
    {"parse_time", l_parse_time},
    {"format_time", l_format_time},
    {"zone_offset", l_zone_offset},
    {"zone", l_zone},
    {"now_ms", l_now_ms},
    {"time_ms", l_now_ms}, /* the name lua/cwlogs/cli.lua looks for */
    {NULL, NULL},
};

void cw_open_time(lua_State *L)
{
    if (luaL_newmetatable(L, ZONE_MT)) {
        luaL_setfuncs(L, zone_meta, 0);
        luaL_newlib(L, zone_methods);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, time_functions, 0);
}
