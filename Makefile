# Front door. `make` builds the C core in-tree (build/cwlogs/core.so) so that
# bin/cwlogs and the specs run from the checkout without installing.
LUA       ?= lua5.4
BUSTED    ?= busted --lua=$(LUA)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
SPECS     ?= spec

.PHONY: all build test asan lint demo install deps clean bench

all: build

build:
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j2

# The whole suite: luacheck, then the specs (they start their own moto_server and stubs).
# Ends with a plain "N passed, N failed" line.
test: build lint
	CWLOGS_CPATH="$(CURDIR)/$(BUILD_DIR)/?.so" LUA=$(LUA) sh tools/run-specs.sh $(BUSTED_FLAGS) $(SPECS)

lint:
	luacheck -q cwlogs.lua lua bin spec bench tools

# Same specs against a core built with AddressSanitizer + UBSan. lua5.4 itself is
# not instrumented, so libasan is preloaded; leak checks cover the whole process.
asan:
	$(MAKE) build BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_FLAGS=-DCWLOGS_SANITIZE=ON
	CWLOGS_CPATH="$(CURDIR)/build-asan/?.so" \
	CWLOGS_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LUA=$(LUA) sh tools/run-specs.sh $(BUSTED_FLAGS) $(SPECS)

# Fresh Debian 12: install everything, start moto, seed a demo group, run `cwlogs get`.
deps:
	sh .ci/install-deps.sh

demo: deps build
	sh tools/demo.sh

# Benchmarks (not tests): throughput and RSS on a fast stand-in (bench/results.md), then the
# rate-limit scenarios (bench/scenarios.md). BEFORE=DIR adds rows for an earlier built checkout.
bench: build
	sh bench/run.sh $(if $(BEFORE),--before $(BEFORE))
	python3 bench/scenarios.py $(if $(BEFORE),--before $(BEFORE))

install: build
	luarocks --lua-version 5.4 make --deps-mode=none rockspec/cwlogs-scm-1.rockspec

clean:
	rm -rf build build-asan
