/* lhttp.c - placeholder until the http binding lands. */
#include "lcwlogs.h"

void cw_open_http(lua_State *L) { (void)L; }
