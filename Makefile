# vmrp - restore point archives for virtual machines.
#   make            build libvmrp (static + shared) and the vmrp command
#   make demo       install missing build dependencies, build, and walk through the sample VM
#   make check      install missing build dependencies, build, run the unit and end-to-end
#                   tests, build the docs (a few minutes)
#   make check-full make check, then check-extra: the unit and end-to-end tests again under
#                   ASan+UBSan, the end-to-end tests under valgrind, fuzzing (what CI runs)
#   make check-asan / check-valgrind / check-fuzz   one pass of check-extra alone
#   make docs       API documentation (Doxygen, zero warnings)
#   make install    PREFIX=/usr/local DESTDIR=   (uninstall: make uninstall)
#   V=1             show the full commands
#   JOBS=N          compilers, and jobs of check-extra, at once (default: one per core)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig

CC      ?= cc
VERSION := $(shell sed -n 's/^\#define VMRP_VERSION_STRING "\(.*\)"/\1/p' libformat/vmrp.h)
SOMAJOR := 0
PKGS    := libsodium libzstd zlib
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
# Every compile: 64-bit off_t, also where the default is 32 (io.c asserts it).
DEFS    := -D_FILE_OFFSET_BITS=64
DEPCFLAGS := $(shell pkg-config --cflags $(PKGS) libarchive check 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lsodium -lzstd -lz) -pthread
ARCHIVE_LIBS := $(shell pkg-config --libs libarchive 2>/dev/null || echo -larchive)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

B       := build
LIB_SRC := $(wildcard libformat/*.c)
TOOL_SRC := $(wildcard tools/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB_PIC := $(LIB_SRC:%.c=$(B)/pic/%.o)
TOOL_OBJ := $(TOOL_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all lib demo check check-full check-extra build-tests check-unit check-e2e check-asan asan-build \
        asan-e2e asan-valgrind check-valgrind check-fuzz deps docs install uninstall clean fuzz bench

all: $(B)/vmrp $(B)/libvmrp.a $(B)/libvmrp.so.$(VERSION) $(B)/gendisk $(B)/faultinject.so \
     $(B)/encvectors

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(WARN) $(DEFS) $(CFLAGS) $(DEPCFLAGS) -Ilibformat -DVMRP_BUILDING_LIBRARY -fvisibility=hidden -MMD -MP -c $< -o $@

$(B)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WARN) $(DEFS) $(CFLAGS) $(DEPCFLAGS) -Ilibformat -DVMRP_BUILDING_LIBRARY -fvisibility=hidden -fPIC -MMD -MP -c $< -o $@

$(B)/libvmrp.a: $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/libvmrp.so.$(VERSION): $(LIB_PIC)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,libvmrp.so.$(SOMAJOR) -o $@ $^ $(LIBS)
	$(Q)ln -sf libvmrp.so.$(VERSION) $(B)/libvmrp.so.$(SOMAJOR)
	$(Q)ln -sf libvmrp.so.$(SOMAJOR) $(B)/libvmrp.so

# The command links the static library: it sees only vmrp.h.
$(B)/vmrp: $(TOOL_OBJ) $(B)/libvmrp.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJ) $(B)/libvmrp.a $(ARCHIVE_LIBS) $(LIBS)

# Built without sanitizers: it is preloaded into processes of every build.
$(B)/faultinject.so: tests/tools/faultinject.c
	@mkdir -p $(B)
	$(Q)cc -std=c11 -Wall -Wextra -Werror $(DEFS) -O2 -shared -fPIC -o $@ $< -ldl

$(B)/gendisk: tests/tools/gendisk.c
	@mkdir -p $(B)
	$(Q)$(CC) $(WARN) $(DEFS) $(CFLAGS) -o $@ $<

# A second implementation of the encryption constructions (libsodium only),
# checked against the frozen fixtures' test vectors.
$(B)/encvectors: tests/tools/encvectors.c
	@mkdir -p $(B)
	$(Q)$(CC) $(WARN) $(DEFS) $(CFLAGS) -o $@ $< -lsodium -lzstd -lz

-include $(LIB_OBJ:.o=.d) $(LIB_PIC:.o=.d) $(TOOL_OBJ:.o=.d)

# ---- dependencies: Debian/Ubuntu packages, installed only when missing ----
DEB_PKGS := build-essential pkg-config libsodium-dev libzstd-dev zlib1g-dev libarchive-dev \
            check doxygen valgrind e2fsprogs minisign clang libclang-rt-14-dev
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	else echo "build dependencies: all present"; fi

# ---- tests ----
$(B)/unit/%: tests/unit/%.c $(B)/libvmrp.a tests/unit/unit.h tests/unit/unit_verify.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(WARN) $(DEFS) $(CFLAGS) $(DEPCFLAGS) -Ilibformat -Itests/unit -o $@ $< $(B)/libvmrp.a $(LDFLAGS) $(CHECK_LIBS) $(LIBS)

UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)

# $(call timed,TARGET[,MAKEFLAGS]): a pass of make check or check-extra, a
# sub-make between two timestamped lines, so that a log shows where the time goes.
timed = +$(Q)t0=$$(date +%s); echo "== $$(date '+%F %T') $(1)"; \
	if $(MAKE) --no-print-directory $(2) $(1); then \
	  echo "== $$(date '+%F %T') $(1): passed in $$(($$(date +%s) - t0)) s"; \
	else echo "== $$(date '+%F %T') $(1): FAILED after $$(($$(date +%s) - t0)) s"; exit 1; fi
# $(call took,NAME): the timestamped last line of a job that set t0
took = echo "== $$(date '+%F %T') $(1): passed in $$(($$(date +%s) - t0)) s"

# Builds, and the jobs of check-extra, run JOBS at once (default: one per core).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# everything the unit and end-to-end tests run
build-tests: all $(UNIT_BIN)
	@:

check-unit: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do CK_DEFAULT_TIMEOUT=120 $$t || exit 1; done

# $(call e2e_env,BUILD_DIR): the end-to-end tests' tools from that build
e2e_env = GENDISK=$(CURDIR)/$(1)/gendisk ENCVECTORS=$(CURDIR)/$(1)/encvectors FAULTINJECT=$(CURDIR)/$(1)/faultinject.so

check-e2e: all
	$(Q)VMRP=$(CURDIR)/$(B)/vmrp $(call e2e_env,$(B)) sh tests/e2e/run.sh

# Sanitizers: the whole suite again, built with ASan + UBSan in build/asan;
# asan-test_NAME runs one unit test binary, asan-e2e the end-to-end tests.
ASAN_B := build/asan
ASAN_TESTS := $(UNIT_BIN:$(B)/unit/%=asan-%) asan-e2e

check-asan: asan-build
	+$(Q)$(MAKE) --no-print-directory $(ASAN_TESTS)

asan-build:
	+$(Q)$(MAKE) --no-print-directory -j$(JOBS) B=$(ASAN_B) LDFLAGS="-fsanitize=address,undefined" \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" build-tests

asan-test_%:
	$(Q)t0=$$(date +%s); CK_DEFAULT_TIMEOUT=300 CK_FORK=no $(ASAN_B)/unit/test_$* && $(call took,$@)

asan-e2e:
	$(Q)t0=$$(date +%s); VMRP=$(CURDIR)/$(ASAN_B)/vmrp $(call e2e_env,$(ASAN_B)) E2E_QUICK=1 sh tests/e2e/run.sh && \
	  $(call took,$@)

# valgrind: the end-to-end tests once, fault injection included (the shim in
# LD_PRELOAD reaches vmrp through valgrind), zero errors and zero leaks.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible

check-valgrind: all
	$(Q)t0=$$(date +%s); VMRP="$(VALGRIND) $(CURDIR)/$(B)/vmrp" $(call e2e_env,$(B)) E2E_QUICK=1 \
	  sh tests/e2e/run.sh && $(call took,$@)

# Fuzzing: `make fuzz` runs each libFuzzer target FUZZ_SECONDS (default 300);
# make check-extra runs each for 20 s and replays every saved regression input.
FUZZ_SECONDS ?= 300
fuzz:
	$(Q)sh tests/fuzz/run.sh $(FUZZ_SECONDS)

check-fuzz:
	$(Q)sh tests/fuzz/run.sh 20

# make check: what a change must pass, in a few minutes.
check: deps
	$(call timed,build-tests,-j$(JOBS))
	$(call timed,check-unit)
	$(call timed,check-e2e)
	$(call timed,docs)
	@echo "make check: unit and end-to-end tests passed, docs built (make check-full: also sanitizers, valgrind, fuzzing)"

# The passes that take most of the time: .ci/run runs make check, then this.
# The ASan jobs and valgrind run JOBS at once (the longest first); each job's
# output comes whole when it ends (-O), with a timestamped closing line.
check-extra: deps
	$(call timed,all,-j$(JOBS))
	$(call timed,asan-build)
	$(call timed,asan-valgrind,-j$(JOBS) -O)
	$(call timed,check-fuzz)
	@echo "make check-extra: ASan+UBSan, valgrind and fuzzing passed"

# check-asan and check-valgrind as jobs, the longest first (asan-test_sweep
# alone takes about as long as all the others together)
ASAN_LONG := asan-test_sweep check-valgrind asan-e2e asan-test_verify
asan-valgrind: $(ASAN_LONG) $(filter-out $(ASAN_LONG),$(ASAN_TESTS))
	@:

check-full: check
	+$(Q)$(MAKE) --no-print-directory check-extra

demo: deps
	+$(Q)$(MAKE) --no-print-directory -j$(JOBS) all
	$(Q)VMRP=$(CURDIR)/$(B)/vmrp GENDISK=$(CURDIR)/$(B)/gendisk sh fixtures/demo.sh

bench: all
	$(Q)VMRP=$(CURDIR)/$(B)/vmrp sh tests/bench/bench.sh

docs:
	$(Q)mkdir -p $(B)/docs
	$(Q)doxygen docs/Doxyfile > $(B)/docs/doxygen.log 2> $(B)/docs/doxygen.warnings; \
	  if [ -s $(B)/docs/doxygen.warnings ]; then cat $(B)/docs/doxygen.warnings; exit 1; fi
	@echo "  DOCS    $(B)/docs/html/index.html"

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(B)/vmrp $(DESTDIR)$(BINDIR)/vmrp
	install -m 644 $(B)/libvmrp.a $(DESTDIR)$(LIBDIR)/libvmrp.a
	install -m 755 $(B)/libvmrp.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmrp.so.$(VERSION)
	ln -sf libvmrp.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvmrp.so.$(SOMAJOR)
	ln -sf libvmrp.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libvmrp.so
	install -m 644 libformat/vmrp.h $(DESTDIR)$(INCDIR)/vmrp.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' libformat/vmrp.pc.in > $(DESTDIR)$(PCDIR)/vmrp.pc
	install -m 644 docs/man/*.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vmrp $(DESTDIR)$(LIBDIR)/libvmrp.a $(DESTDIR)$(LIBDIR)/libvmrp.so* \
	  $(DESTDIR)$(INCDIR)/vmrp.h $(DESTDIR)$(PCDIR)/vmrp.pc
	for m in docs/man/*.1; do rm -f $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); done

clean:
	rm -rf build
