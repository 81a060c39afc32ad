# Mill: the two commands of the README's quick start, and the rest of the developer loop.
#   make run    install what is missing, build, run a real evaluation on the embedded default
#   make test   the same set-up, then every test (ctest: unit + CLI)
#   make check  unit and CLI tests under ASan + UBSan  make bench  benchmark programs
#   make fuzz   libFuzzer targets, FUZZ_SECONDS each or FUZZ_RUNS inputs each (scripts/fuzz.sh;
#               fails on a finding)
#   make install PREFIX=/usr/local
#   make lint   format, banned functions, exported symbols, layers, paths (scripts/lint.sh)
BUILD   ?= build
ASAN    ?= build-asan
FUZZB   ?= build-fuzz
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc)
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?= 0
DEPS_STAMP := $(BUILD)/.deps-prefix

.PHONY: all deps build run test check bench fuzz lint install clean

all: build

# scripts/deps.sh installs Debian packages and builds the pinned llama.cpp once into a cache
# outside the checkout; its last stdout line is the llama.cpp prefix.
deps:
	@mkdir -p $(BUILD)
	@bash scripts/deps.sh | tail -n 1 > $(DEPS_STAMP).tmp && mv $(DEPS_STAMP).tmp $(DEPS_STAMP)

# Re-run when deps.sh changes (new packages, pins): it does nothing for what is already there.
$(DEPS_STAMP): scripts/deps.sh
	@$(MAKE) --no-print-directory deps

build: $(DEPS_STAMP)
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DMILL_LLAMA_PREFIX="$$(cat $(DEPS_STAMP))" > $(BUILD)/cmake.log || \
	    { cat $(BUILD)/cmake.log; exit 1; }
	@cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@bash scripts/run-demo.sh $(BUILD)

test: deps build
	@cd $(BUILD) && ctest --output-on-failure -j 1

check: deps
	@cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMILL_SANITIZE=ON \
	    -DMILL_LLAMA_PREFIX="$$(cat $(DEPS_STAMP))" > /dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	@cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:exitcode=86 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:exitcode=86 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j 1

lint: deps build
	@bash scripts/lint.sh $(BUILD)

bench: deps build
	@bash bench/run.sh $(BUILD)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZB) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DMILL_FUZZ=ON -DMILL_SANITIZE=ON -DMILL_LLAMA_PREFIX="$$(cat $(DEPS_STAMP))" > /dev/null
	@cmake --build $(FUZZB) -j $(JOBS) --target fuzzers
	@bash scripts/fuzz.sh $(FUZZB) $(FUZZ_SECONDS) $(FUZZ_RUNS)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZB)
