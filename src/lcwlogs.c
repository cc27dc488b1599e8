/* lcwlogs.c - entry point of `cwlogs.core`: gathers the per-concern bindings and adds the
 * few process-level helpers the Lua side needs (clocks, SIGPIPE, isatty). */
#include <signal.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

/* core.isatty(fd) -> boolean: whether a progress line may be drawn on that descriptor.
 * Misuse (a non-integer) raises, like every binding; any failure is simply false. */
static int l_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 1023 && isatty((int)fd) == 1);
    return 1;
}

/* core.keep_heap() -> boolean: a download allocates and frees megabyte-sized buffers (bodies,
 * output chunks) all the time; glibc hands such blocks back to the kernel (mmap for large
 * ones, heap trimming) and faults them in again, which measured 5-10x the page faults and
 * ~40% more CPU on a fast endpoint. This keeps freed memory for reuse instead (peak RSS is
 * unchanged; it is simply not returned while the process runs). Process-wide, so only the
 * command calls it, like ignore_sigpipe; false where it does not apply (not glibc). */
static int l_keep_heap(lua_State *L)
{
    int ok = 0;
#if defined(__GLIBC__)
    ok = mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024) == 1 &&
         mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024) == 1;
#endif
    lua_pushboolean(L, ok);
    return 1;
}

int luaopen_cwlogs_core(lua_State *L)
{
    static const luaL_Reg process_fns[] = {
        {"clock_ms", l_clock_ms},
        {"ignore_sigpipe", l_ignore_sigpipe},
        {"isatty", l_isatty},
        {"keep_heap", l_keep_heap},
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
