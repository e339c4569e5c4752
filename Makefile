# Convenience front end over CMake. `make demo` and `make check` are the two commands a newcomer needs.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
DEMO_FLAGS ?=

.PHONY: all build demo check clean conformance

all: build

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The digits demo: ONNX -> plan file -> engine -> accuracy and latency on the held-out test set.
demo: build
	$(BUILD)/examples/kiln-digits --plan $(BUILD)/digits_cnn.plan $(DEMO_FLAGS) demo/digits_cnn.onnx demo/digits_test.bin

check: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD)

# ONNX node-test conformance against tests/conformance/expected_fail.txt (extracts the corpus on first use);
# the per-case report lands in $(BUILD)/conformance-report.json.
conformance: build
	python3 tests/conformance/run_conformance.py --kiln $(BUILD)/kiln --cases $(BUILD)/node-tests \
	    --tarball tests/data/onnx-node-tests-1.23.tar.xz --report $(BUILD)/conformance-report.json
