/* lcwlogs.c - entry point of `cwlogs.core`: gathers the per-concern bindings. */
#include "lcwlogs.h"

int luaopen_cwlogs_core(lua_State *L);

int luaopen_cwlogs_core(lua_State *L)
{
    lua_newtable(L);
    cw_open_sigv4(L);
    cw_open_time(L);
    cw_open_http(L);
    cw_open_pager(L);
    lua_pushliteral(L, CWLOGS_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
