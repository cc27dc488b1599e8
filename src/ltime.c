/* ltime.c - placeholder until the time binding lands. */
#include "lcwlogs.h"

void cw_open_time(lua_State *L) { (void)L; }
