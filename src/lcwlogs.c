/* lcwlogs.c - entry point of `cwlogs.core`: gathers the per-concern bindings and adds the
 * few process-level helpers the Lua side needs (clocks, SIGPIPE). */
#include <signal.h>
#include <time.h>

#include "lcwlogs.h"

int luaopen_cwlogs_core(lua_State *L);

/* Monotonic milliseconds: for deadlines, backoff and rate limiting (never jumps).
 * Wall-clock time (core.time_ms) lives with the time functions in ltime.c. */
static int l_clock_ms(lua_State *L)
{
    struct timespec ts;
    lua_Integer ms = 0;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        ms = (lua_Integer)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    lua_pushinteger(L, ms);
    return 1;
}

/* A CLI writing into `| head` must see EPIPE from write(), not die by SIGPIPE. */
static int l_ignore_sigpipe(lua_State *L)
{
    lua_pushboolean(L, signal(SIGPIPE, SIG_IGN) != SIG_ERR);
    return 1;
}

int luaopen_cwlogs_core(lua_State *L)
{
    static const luaL_Reg process_fns[] = {
        {"clock_ms", l_clock_ms},
        {"ignore_sigpipe", l_ignore_sigpipe},
        {NULL, NULL},
    };
    lua_newtable(L);
    luaL_setfuncs(L, process_fns, 0);
    cw_open_sigv4(L);
    cw_open_time(L);
    cw_open_http(L);
    cw_open_pager(L);
    cw_open_render(L);
    lua_pushliteral(L, CWLOGS_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
