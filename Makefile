# MatAlign: the commands a person runs. Everything is built by CMake into build/.
#   make demo   install dependencies, build, and walk through what MatAlign does today
#   make test   install dependencies, build, and run every test (ctest)
#   make bench  build and run the benchmarks (figures printed, nothing asserted)
#   make fuzz   build the libFuzzer targets with clang and run each for FUZZ_SECONDS
#   make format clang-format every C++ source in place

JOBS ?= $(shell nproc)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: all deps configure build test bench fuzz demo format clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR) demo-out
