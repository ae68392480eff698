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
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -Icgi -Istore -Icli -I$(BUILD)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfcgi -lcrypto -ljansson -lsqlite3 -linih)

ifdef DEBUG
CFLAGS   += -O0 -DDEBUG
endif
ifdef SANITIZE
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

SRCS     := $(wildcard cgi/*.c) $(wildcard store/*.c) $(wildcard cli/*.c)
# FAULT=1: a test build with the fault-injecting blob handler.
ifdef FAULT
SRCS     += tests/backend/blob_fault.c
CFLAGS   += -DBERTH_FAULT_HANDLER
endif
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/schema.o
DEPS     := $(OBJS:.o=.d)

# Debian packages: to build, to serve, to test.
APT_BUILD := build-essential pkg-config libfcgi-dev libssl-dev libjansson-dev \
             libsqlite3-dev libinih-dev
APT_RUN   := nginx curl lighttpd apache2 libapache2-mod-xsendfile
APT_TEST  := libcmocka-dev skopeo podman python3 sqlite3
APT_FUZZ  := clang libclang-rt-14-dev

.PHONY: all static run start stop restart test deps deps-test deps-fuzz fuzz clean

all: $(BUILD)/berth

$(BUILD)/berth: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

# One self-contained file for hosts where nothing can be installed (shared
# hosting, CGI): every library linked in, and a CGI start-up ~1.5 ms
# shorter.  glibc warns about getaddrinfo/dlopen, which berth never uses.
STATIC_LIBS := -lfcgi -ljansson -lsqlite3 -linih -lcrypto -lm -lpthread -ldl
static: $(BUILD)/berth-static

$(BUILD)/berth-static: $(OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $(OBJS) $(STATIC_LIBS)

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# The schema files are compiled into the binary, so a deployment is one file.
$(BUILD)/schema.c: $(sort $(wildcard sql/*.sql)) sql/embed.sh
	@mkdir -p $(BUILD)
	sh sql/embed.sh $(sort $(wildcard sql/*.sql)) > $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(CC) $(CFLAGS) -c -o $@ $<

-include $(DEPS)

# Installs what is missing when run as root; otherwise prints the one line to run.
deps:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN)

deps-test:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN) $(APT_TEST)

run: all
	@SERVER=$(SERVER) PORT=$(PORT) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth \
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) LISTEN=$(LISTEN) nginx/serve.sh run

start: all
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
	    FAULT=1 build/asan/berth build/asan/unit-tests build/asan/backend-tests
	@tests/run.sh build/asan

UNIT_SRCS := tests/unit/unit.c cgi/validate.c cgi/router.c
$(BUILD)/unit-tests: $(UNIT_SRCS) $(wildcard tests/unit/*.h cgi/*.h)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $(UNIT_SRCS) $(LDFLAGS) -lcmocka

# Fuzzing with libFuzzer (clang): each target runs FUZZ_SECONDS, starting
# from its seed corpus in tests/fuzz/corpus/<target> (copied, so the seeds
# in git stay as they are).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := router validate manifest
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -Icgi -Istore \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                $(shell pkg-config --cflags jansson 2>/dev/null)
FUZZ_SRCS_router   := cgi/router.c cgi/validate.c
FUZZ_SRCS_validate := cgi/validate.c
FUZZ_SRCS_manifest := cgi/manifest.c cgi/validate.c

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard cgi/*.c cgi/*.h)
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
                store/blob.c store/blob_fs.c store/blob_redirect.c store/digest.c
$(BUILD)/backend-tests: $(BACKEND_SRCS) $(wildcard store/*.h cgi/config.h)
	$(CC) $(CFLAGS) -DBERTH_FAULT_HANDLER -o $@ $(BACKEND_SRCS) $(LDFLAGS) \
	    -lcmocka -lcrypto

clean:
	rm -rf build

include bench/bench.mk
