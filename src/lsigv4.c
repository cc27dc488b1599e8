/* lsigv4.c - placeholder until the sigv4 binding lands. */
#include "lcwlogs.h"

void cw_open_sigv4(lua_State *L) { (void)L; }
