# SPDX-License-Identifier: Apache-2.0
# The front door. The build itself is Meson (meson.build); this file only
# installs what is missing, then builds, runs, tests, benchmarks or fuzzes.

PACKAGES := gcc clang meson ninja-build pkg-config libssl-dev \
	libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libclang-rt-14-dev curl strace jq sqlite3 \
	libyara-dev yara libmagic-dev libfuzzy-dev libtlsh-dev libarchive-dev libjansson-dev libseccomp-dev \
	bubblewrap clamav-testfiles unzip zip xxd python3 openssl bc ssdeep faketime
BUILD := build
ASAN := build-asan
DIR ?= var
LISTEN ?= 127.0.0.1:8080
ORIGIN ?= vitrine.localhost/log
JURISDICTION ?= CH-ZRH

.PHONY: all deps build run check test test-asan bench fuzz clean format

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "run as root: apt-get update && apt-get install -y $$missing"; exit 1; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	@if [ ! -f $(DIR)/log.vkey ]; then \
		sh scripts/first-run.sh $(BUILD)/vitrine $(DIR) $(ORIGIN) $(JURISDICTION) http://$(LISTEN) || exit 1; \
	fi
	@if [ -f $(DIR)/submitter.token ]; then \
		echo "submitter token (customer demo-eu, region EU): $$(cat $(DIR)/submitter.token)"; \
		echo "analyst token: $$(cat $(DIR)/analyst.token)"; \
		echo "submit a file:  $(BUILD)/vitrine submit README.md --url http://$(LISTEN) --token $$(cat $(DIR)/submitter.token)"; \
		echo "or with curl:   curl -H \"Authorization: Bearer $$(cat $(DIR)/submitter.token)\" -F file=@README.md http://$(LISTEN)/api/v1/files"; \
	fi
	$(BUILD)/vitrine serve --dir $(DIR) --listen $(LISTEN)

$(ASAN)/build.ninja:
	meson setup $(ASAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

test: build
	meson test -C $(BUILD) --print-errorlogs

test-asan: deps $(ASAN)/build.ninja
	ninja -C $(ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(ASAN) --print-errorlogs --timeout-multiplier 3

# Every test in the normal build, then again under ASan+UBSan; the last
# line counts both runs.
check: build
	@rm -f $(BUILD)/meson-logs/testlog.json $(ASAN)/meson-logs/testlog.json; \
	rc=0; \
	meson test -C $(BUILD) --print-errorlogs || rc=1; \
	$(MAKE) --no-print-directory test-asan || rc=1; \
	sh tests/summary.sh $(BUILD) $(ASAN); \
	exit $$rc

bench: build
	sh bench/run.sh $(BUILD)

fuzz: deps
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzzing=true \
		-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debugoptimized
	ninja -C build-fuzz
	sh fuzz/run.sh build-fuzz $${FUZZ_SECONDS:-60}

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
