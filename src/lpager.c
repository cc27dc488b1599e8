/* lpager.c - placeholder until the pager binding lands. */
#include "lcwlogs.h"

void cw_open_pager(lua_State *L) { (void)L; }
