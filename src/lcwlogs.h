/*
 * lcwlogs.h - how the pieces of the C module `cwlogs.core` are put together.
 *
 * Each concern lives in its own file pair (pure C in x.c/x.h, Lua binding in lx.c).
 * A binding exports one cw_open_x(L) that adds its functions to the module table
 * on top of the stack and leaves the stack as it found it.
 *
 * Rule for every binding: read all Lua arguments first, call the pure C code (which
 * may call libcurl or OpenSSL and never touches Lua), then push results. No Lua error
 * may be raised while a libcurl or OpenSSL call is on the C stack.
 */
#ifndef CWLOGS_LCWLOGS_H
#define CWLOGS_LCWLOGS_H

#include <lua.h>
#include <lauxlib.h>

#define CWLOGS_VERSION "0.1.0"

void cw_open_sigv4(lua_State *L);
void cw_open_time(lua_State *L);
void cw_open_http(lua_State *L);
void cw_open_pager(lua_State *L);
void cw_open_render(lua_State *L);

#endif
