# berth -- a plain Makefile.  `make` builds build/berth; `make run` serves a
# registry on http://127.0.0.1:$(PORT); `make restart` restarts its worker
# pool gracefully; `make test` runs every test layer.
#
# Options: SANITIZE=address,undefined  DEBUG=1  BUILD=dir
#          PORT=5000  DATA_DIR=./var  BERTH_CONFIG=file  WORKERS=n
#          SERVER=nginx|lighttpd|apache|apache-cgi (run, start; test: SERVERS)

CC       ?= cc
BUILD    ?= build
PORT     ?= 5000
DATA_DIR ?= ./var
SERVER   ?= nginx
PKGS     := fcgi libcrypto jansson sqlite3 inih

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfcgi -lcrypto -ljansson -lsqlite3 -linih)

ifdef DEBUG
CFLAGS   += -O0 -DDEBUG
endif
ifdef SANITIZE
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

# The layers, bottom up; each may include only its own headers and those
# of the layers it names (README.md, "Layers"):
#   base/   configuration table, OCI grammar validators   -> base
#   store/  the seams and their implementations           -> base
#   cgi/    the front: requests, routes, handlers, pool   -> store, base
#   cli/    the operator commands                         -> store, base
#   main/   the program's main()                          -> everything
# Per-directory include paths make an upward include fail to compile;
# check-layers also refuses includes that name another directory.
INC_base  := -Ibase
INC_store := -Ibase -Istore -I$(BUILD)
INC_cgi   := -Ibase -Istore -Icgi
INC_cli   := -Ibase -Istore -Icli
INC_main  := -Ibase -Istore -Icgi -Icli
LAYERS    := base store cgi cli main

SRCS     := $(foreach l,$(LAYERS),$(wildcard $(l)/*.c))
# FAULT=1: a test build with the fault-injecting blob handler linked in.
ifdef FAULT
SRCS     += tests/backend/blob_fault.c
endif
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/schema.o
DEPS     := $(OBJS:.o=.d)

# Debian packages: to build, to serve, to test.
APT_BUILD := build-essential pkg-config libfcgi-dev libssl-dev libjansson-dev \
             libsqlite3-dev libinih-dev
APT_RUN   := nginx curl lighttpd apache2 libapache2-mod-xsendfile sqlite3
APT_TEST  := libcmocka-dev skopeo podman docker.io buildah containerd python3 sqlite3
APT_FUZZ  := clang libclang-rt-14-dev

.PHONY: all static run start stop restart test deps deps-build deps-test deps-fuzz \
        fuzz clean check-layers

all: check-layers $(BUILD)/berth

$(BUILD)/berth: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

# An include that names a directory ("../cgi/x.h", "cgi/x.h") would step
# around the include paths: refuse it.
check-layers:
	@if grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' \
	    $(wildcard $(foreach l,$(LAYERS),$(l)/*.c $(l)/*.h)); then \
		echo "check-layers: include a header by its name only; the layer's include path decides what it may see"; \
		exit 1; fi

# One self-contained file for hosts where nothing can be installed (shared
# hosting, CGI): every library linked in, and a CGI start-up ~1.5 ms
# shorter.  glibc warns about getaddrinfo/dlopen, which berth never uses.
STATIC_LIBS := -lfcgi -ljansson -lsqlite3 -linih -lcrypto -lm -lpthread -ldl
static: $(BUILD)/berth-static

$(BUILD)/berth-static: $(OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $(OBJS) $(STATIC_LIBS)

define layer_rule
$(BUILD)/$(1)/%.o: $(1)/%.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(INC_$(1)) -MMD -MP -c -o $$@ $$<
endef
$(foreach l,$(LAYERS),$(eval $(call layer_rule,$(l))))

# The fault handler is a blob handler like those in store/.
$(BUILD)/tests/backend/%.o: tests/backend/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_store) -MMD -MP -c -o $@ $<

# store/meta_sqlite.c includes the generated schema table's header.
$(BUILD)/store/meta_sqlite.o: $(BUILD)/schema.c

# The schema files are compiled into the binary, so a deployment is one file.
$(BUILD)/schema.c: $(sort $(wildcard sql/*.sql)) sql/embed.sh
	@mkdir -p $(BUILD)
	sh sql/embed.sh $(sort $(wildcard sql/*.sql)) > $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(CC) $(CFLAGS) $(INC_store) -c -o $@ $<

-include $(DEPS)

# Installs what is missing when run as root; otherwise prints the one line
# to run.  Compiling needs only the build packages, and `make` never asks
# for them: deps-build is for a fresh machine, deps for run and start.
deps-build:
	@sh tests/need-packages.sh $(APT_BUILD)

deps:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN)

deps-test:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN) $(APT_TEST)

run: deps
	@$(MAKE) --no-print-directory all
	@SERVER=$(SERVER) PORT=$(PORT) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth \
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) LISTEN=$(LISTEN) nginx/serve.sh run

start: deps
	@$(MAKE) --no-print-directory all
	@SERVER=$(SERVER) PORT=$(PORT) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth \
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) LISTEN=$(LISTEN) nginx/serve.sh start

stop:
	@SERVER=$(SERVER) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth nginx/serve.sh stop

# A graceful restart of the running worker pool (SIGHUP): it takes up the
# binary just built and the configuration, on the same socket, while the
# old workers finish their requests.
restart: all
	@SERVER=$(SERVER) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth \
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) nginx/serve.sh restart

# Every layer: unit tests (cmocka), then the end-to-end suites behind real
# nginx with real clients, all against an ASan+UBSan build.
test: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined DEBUG=1 \
	    FAULT=1 build/asan/berth build/asan/unit-tests build/asan/backend-tests \
	    build/asan/unit-manifest build/asan/unit-config
	@tests/run.sh build/asan

UNIT_SRCS := tests/unit/unit.c base/validate.c cgi/router.c
$(BUILD)/unit-tests: $(UNIT_SRCS) $(wildcard tests/unit/*.h cgi/*.h base/*.h)
	$(CC) $(CFLAGS) $(INC_cgi) -Itests/unit -o $@ $(UNIT_SRCS) $(LDFLAGS) -lcmocka

# Unit tables of the manifest parser and the configuration reader.
$(BUILD)/unit-manifest: tests/unit/manifest_test.c cgi/manifest.c base/validate.c \
    $(wildcard cgi/*.h store/*.h base/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_cgi) -o $@ $(filter %.c,$^) $(LDFLAGS) -lcmocka $(LDLIBS)
# The configuration as main() reads it: the table, the front's and the
# store's settings, and the blob handlers' sections (no metadata).
UNIT_CONFIG_SRCS := tests/unit/config_test.c base/conf.c cgi/config.c \
                    store/store.c store/blob.c store/blob_fs.c \
                    store/blob_redirect.c base/validate.c
$(BUILD)/unit-config: $(UNIT_CONFIG_SRCS) \
    $(wildcard base/*.h store/*.h cgi/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_main) -o $@ $(UNIT_CONFIG_SRCS) $(LDFLAGS) \
	    -lcmocka $(LDLIBS)

# Fuzzing with libFuzzer (clang): each target runs FUZZ_SECONDS, starting
# from its seed corpus in tests/fuzz/corpus/<target> (copied, so the seeds
# in git stay as they are).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := router validate manifest
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE $(INC_cgi) \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                $(shell pkg-config --cflags jansson 2>/dev/null)
FUZZ_SRCS_router   := cgi/router.c base/validate.c
FUZZ_SRCS_validate := base/validate.c
FUZZ_SRCS_manifest := cgi/manifest.c base/validate.c

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard cgi/*.c cgi/*.h base/*.c base/*.h)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) -ljansson

deps-fuzz:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_FUZZ)

fuzz: deps-fuzz $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
		rm -rf build/fuzz/corpus-$$t; mkdir -p build/fuzz/corpus-$$t; \
		cp tests/fuzz/corpus/$$t/* build/fuzz/corpus-$$t/; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		    -artifact_prefix=build/fuzz/crash-$$t- \
		    build/fuzz/corpus-$$t tests/fuzz/corpus/$$t > build/fuzz/$$t.log 2>&1 \
		    || { tail -n 40 build/fuzz/$$t.log; exit 1; }; \
		tail -n 1 build/fuzz/$$t.log; \
	done; echo "fuzz: every target ran $(FUZZ_SECONDS)s with no crash"

# The backend suite: the same tests against every blob handler.
BACKEND_SRCS := tests/backend/backend.c tests/backend/blob_fault.c \
                store/blob.c store/blob_fs.c store/blob_redirect.c store/digest.c \
                base/conf.c base/validate.c
$(BUILD)/backend-tests: $(BACKEND_SRCS) $(wildcard store/*.h base/*.h)
	$(CC) $(CFLAGS) $(INC_store) -o $@ $(BACKEND_SRCS) $(LDFLAGS) \
	    -lcmocka -lcrypto -linih

clean:
	rm -rf build

include bench/bench.mk
