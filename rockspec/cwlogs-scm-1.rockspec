package = "cwlogs"
version = "scm-1"
source = {
   url = "git+https://github.com/cwlogs/cwlogs.git",
}
description = {
   summary = "Fast, complete downloads from Amazon CloudWatch Logs (Lua API + CLI)",
   detailed = [[
cwlogs gets every event of a CloudWatch Logs range exactly once and in time order,
with human time expressions, the AWS CLI's configuration, retries and rate limiting.
A C core (SigV4, libcurl multi, page decoding, time parsing) under a Lua API and a CLI.
]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.4",
   "lua-cjson",
   "argparse",
}
build = {
   type = "cmake",
   variables = {
      LUA_INCDIR = "$(LUA_INCDIR)",
      LUA_LIBDIR = "$(LIBDIR)",
      LUA_LUADIR = "$(LUADIR)",
      CMAKE_BUILD_TYPE = "Release",
   },
   install = {
      bin = { cwlogs = "bin/cwlogs" },
   },
}
