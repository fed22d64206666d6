# regrad — build, test, demo, bench.
#   make test      set up (Debian packages), build, run the test suite
#   make demo      set up, build, run the main demo (gradient-check table over every op)
#   make sanitize  build and run the tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   make bench     speed against PyTorch, OpenBLAS GEMM and memory bandwidth (not a test); the table also
#                  goes to build/bench.md and build/bench.csv. BENCH_ARGS="--repeat 3 train" picks sections, repeats
#   make experiments        run every lecture experiment in full and regenerate experiments/results
#   make experiments-quick  every experiment's --quick mode into a temporary directory, checked (CI)
#   make bn-by-hand-results  regenerate notebook 6b's committed results in experiments/results
#   make install   headers, libregrad.a and regrad.pc under $(DESTDIR)$(PREFIX) (default /usr/local)
#   make format    apply .clang-format to the tracked sources; make format-check fails on a difference (CI)
#   make PORTABLE=1 …  build without -march=native (binaries that run on any x86-64)

CXX      ?= g++
comma    := ,
empty    :=
space    := $(empty) $(empty)
BUILD    ?= build
ARCH     := $(if $(PORTABLE),-march=x86-64 -mtune=generic,-march=native)
OPT      ?= -O3 $(ARCH)
EXTRA    ?=
# WERROR=1 turns warnings into errors (CI builds everything so).
WERROR   ?=
# Parallel by default: one job per core.
MAKEFLAGS += -j$(shell nproc)
# -fno-trapping-math: we never read FP exception flags, and without it GCC will not if-convert
# (so not vectorise) loops with a compare, such as the clamp in vexp or a running max.
# -fno-math-errno: we never read errno after a maths call, and without it a loop that calls sqrt
# keeps a branch to the errno-setting library call, so it is not vectorised (AdamW's step was
# scalar). sqrt is correctly rounded either way, so results do not change.
FLAGS    := $(OPT) -g -std=c++20 -fopenmp -fno-trapping-math -fno-math-errno -Wall -Wextra -Iinclude -Iexperiments -I/usr/include/stb -MMD -MP $(if $(WERROR),-Werror) $(EXTRA)
# Tests find their data files (tests/reference/data) relative to the source tree.
TEST_FLAGS := -DREGRAD_SOURCE_DIR=\"$(CURDIR)\" -DREGRAD_CLI=\"$(CURDIR)/$(BUILD)/regrad\"
LDLIBS   := -lopenblas -lz -lstb -fopenmp $(EXTRA)
DEPS_STAMP := $(BUILD)/.deps-ok

LIB_SRC  := $(shell find src -name '*.cpp' ! -path 'src/cli/*')
# Experiments: each folder's main.cpp is a program; its other sources are shared with the tests.
EXP_SRC  := $(shell find experiments -name '*.cpp' ! -name main.cpp)
# The lecture's experiments, in its order (those that exist): build/experiments/NAME.
EXP_ORDER := double_descent l1_vs_l2 early_stopping augmentation mixup_cutmix label_smoothing regularization_stack \
             dropout batchnorm_modes norm_vs_batch_size rmsnorm_cost prenorm_vs_postnorm norm_decision_table
EXPERIMENTS := $(foreach e,$(EXP_ORDER),$(if $(wildcard experiments/$(e)/main.cpp),$(e)))
# Arguments of `make experiments` beyond the defaults, as the committed pages record them: the two
# heaviest run on 2 threads (the same seed and thread count give the same numbers).
EXP_ARGS_double_descent := --threads 2
EXP_ARGS_l1_vs_l2 := --threads 2
EXP_PROGS := $(EXPERIMENTS:%=$(BUILD)/experiments/%) $(BUILD)/experiments/report
CLI_SRC  := $(wildcard src/cli/*.cpp)
TEST_SRC := $(shell find tests -name '*.cpp' ! -path 'tests/fuzz/*')
BENCH_SRC := $(wildcard bench/*.cpp)

LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
EXP_OBJ   := $(EXP_SRC:%.cpp=$(BUILD)/obj/%.o)
EXP_COMMON_OBJ := $(filter $(BUILD)/obj/experiments/common/%,$(EXP_OBJ))
CLI_OBJ   := $(CLI_SRC:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
BENCH_OBJ := $(BENCH_SRC:%.cpp=$(BUILD)/obj/%.o)

LIB   := $(BUILD)/libregrad.a
CLI   := $(BUILD)/regrad
TESTS := $(BUILD)/regrad_tests
BENCH := $(BUILD)/regrad_bench
EXAMPLE := $(BUILD)/example
BN_BY_HAND := $(BUILD)/bn_by_hand

.PHONY: all deps test demo sanitize bench clean bn-by-hand bn-by-hand-results fuzz experiments experiments-quick \
        install install-check format format-check
all: $(LIB) $(CLI) $(TESTS) $(EXAMPLE) $(BN_BY_HAND) $(EXP_PROGS)

# System packages from Debian; .ci/deps.sh installs only what is missing (sudo when not root).
deps: $(DEPS_STAMP)
$(DEPS_STAMP): .ci/deps.sh
	@bash .ci/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/tests/%.o: tests/%.cpp Makefile | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(FLAGS) $(TEST_FLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp Makefile | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(FLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_OBJ) $(LIB)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

$(TESTS): $(TEST_OBJ) $(EXP_OBJ) $(LIB)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

$(BN_BY_HAND): $(BUILD)/obj/experiments/bn_by_hand/main.o $(EXP_OBJ) $(LIB)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/experiments/%: $(BUILD)/obj/experiments/%/main.o $(EXP_COMMON_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

# Each program's main.o is reached only through the pattern rule above, so make would treat it as
# intermediate and delete it after the first build; later runs, which read its .d file, would then
# compile it again. Keep it.
.SECONDARY: $(EXP_PROGS:$(BUILD)/experiments/%=$(BUILD)/obj/experiments/%/main.o)

# Every experiment in full mode (hours on 2 cores), one after the other, then REPORT.md.
experiments: $(EXP_PROGS) bn-by-hand-results
	@set -e; $(foreach e,$(EXPERIMENTS),echo "== $(e) $(EXP_ARGS_$(e))"; ./$(BUILD)/experiments/$(e) $(EXP_ARGS_$(e));)
	./$(BUILD)/experiments/report --check --experiments $(subst $(space),$(comma),$(EXPERIMENTS))

# Every experiment's --quick mode into a temporary directory, then the check of what they wrote.
experiments-quick: $(EXP_PROGS)
	@set -e; out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	for e in $(EXPERIMENTS); do echo "== $$e --quick"; ./$(BUILD)/experiments/$$e --quick --out $$out; done; \
	./$(BUILD)/experiments/report --check --out $$out --experiments $(subst $(space),$(comma),$(EXPERIMENTS))

$(EXAMPLE): $(BUILD)/obj/docs/example.o $(LIB)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/obj/bench/%.o: bench/%.cpp Makefile | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(FLAGS) -DREGRAD_BENCH_DIR=\"$(CURDIR)/bench\" -DREGRAD_BENCH_OUT=\"$(abspath $(BUILD))\" -c $< -o $@

# The bench times notebook 6b's training loop, so it links that experiment's library part.
$(BENCH): $(BENCH_OBJ) $(BUILD)/obj/experiments/bn_by_hand/bn_by_hand.o $(LIB)
	$(CXX) $(FLAGS) $^ -o $@ $(LDLIBS)

# The tests also run the command line (tests/cli), so it is built first.
test: $(TESTS) $(CLI)
	./$(TESTS)

# The main demo: the gradient-check table over every op, then notebook 6b (BatchNorm1d by hand),
# whose results go to runs/bn_by_hand (ignored), never over the committed ones.
demo: $(CLI) $(BN_BY_HAND)
	./$(CLI) gradcheck
	./$(BN_BY_HAND)

bn-by-hand: $(BN_BY_HAND)
	./$(BN_BY_HAND)

# Notebook 6b's committed results: the word list (default setting, ~10 s) and makemore part 4's
# exercise 4 setting on names.txt (~30 s).
bn-by-hand-results: $(BN_BY_HAND)
	./$(BN_BY_HAND) --out experiments/results
	./$(BN_BY_HAND) --out experiments/results --name bn_by_hand_names --words data/names.txt \
	  --hidden 200 --steps 200000 --lr-decay-step 100000 --log-every 2000

BENCH_ARGS ?=
bench: $(BENCH)
	./$(BENCH) $(BENCH_ARGS)

# A separate tree, so sanitizer objects never mix with optimised ones.
sanitize: | $(DEPS_STAMP)
	$(MAKE) BUILD=build-san OPT="-O1 -fno-omit-frame-pointer" \
	  EXTRA="-fsanitize=address,undefined -fno-sanitize-recover=undefined" build-san/regrad_tests build-san/regrad
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=2 ./build-san/regrad_tests

# libFuzzer (clang) on every reader of untrusted bytes, FUZZ_SECONDS each, from tests/fuzz/corpus.
# UndefinedBehaviorSanitizer findings stop the run, like AddressSanitizer's.
FUZZ_TARGETS := idx npy checkpoint cifar image
FUZZ_SECONDS ?= 20
# A fixed seed makes a CI run repeatable; `make fuzz FUZZ_SEED=0` lets libFuzzer pick one.
FUZZ_SEED ?= 1
fuzz: | $(DEPS_STAMP)
	@bash .ci/deps.sh clang libclang-rt-14-dev libomp-dev
	$(MAKE) BUILD=build-fuzz CXX=clang++ OPT="-O1 -fno-omit-frame-pointer" \
	  EXTRA="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link -Wno-pass-failed" \
	  build-fuzz/libregrad.a
	@set -e; for t in $(FUZZ_TARGETS); do \
	  T=$$(echo $$t | tr a-z A-Z); \
	  clang++ -std=c++20 -O1 -g -Iinclude -I/usr/include/stb -DREGRAD_FUZZ_$$T -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined \
	    tests/fuzz/fuzz_readers.cpp build-fuzz/libregrad.a -o build-fuzz/fuzz_$$t -lopenblas -lz -lstb -fopenmp; \
	  mkdir -p build-fuzz/corpus/$$t; cp tests/fuzz/corpus/$$t/* build-fuzz/corpus/$$t/; \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  rc=0; ./build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -seed=$(FUZZ_SEED) -rss_limit_mb=2048 -max_len=65536 \
	    -print_final_stats=1 build-fuzz/corpus/$$t > build-fuzz/fuzz_$$t.log 2>&1 || rc=$$?; \
	  grep -E "stat::number_of_executed_units|ERROR|SUMMARY" build-fuzz/fuzz_$$t.log || true; \
	  if [ $$rc -ne 0 ]; then tail -40 build-fuzz/fuzz_$$t.log; exit $$rc; fi; \
	done

# Installs the library for `g++ prog.cpp $(pkg-config --cflags --libs regrad)`.
PREFIX  ?= /usr/local
DESTDIR ?=
install: $(LIB)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	cp -r include/regrad $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libregrad.a
	sed 's|@PREFIX@|$(PREFIX)|' regrad.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/regrad.pc

# docs/example.cpp built against an installed copy in a temporary prefix, and run (CI).
install-check: $(LIB)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory install PREFIX=$$tmp > /dev/null; \
	$(CXX) -O2 docs/example.cpp $$(PKG_CONFIG_PATH=$$tmp/lib/pkgconfig pkg-config --cflags --libs regrad) -o $$tmp/example; \
	$$tmp/example > $$tmp/out.txt; grep -q "approximate: True" $$tmp/out.txt; \
	echo "install-check: docs/example.cpp built with pkg-config against $$tmp and ran"

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) build-san -name '*.d' 2>/dev/null)

# The tree's formatting (.clang-format, clang-format 14 from Debian): `make format` rewrites the
# tracked sources, `make format-check` fails, naming the files, when one differs from it.
FORMAT_SRC = $(shell git ls-files '*.cpp' '*.h')
format:
	@bash .ci/deps.sh clang-format
	clang-format -i $(FORMAT_SRC)
format-check:
	@bash .ci/deps.sh clang-format
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format-check: $(words $(FORMAT_SRC)) files formatted"
