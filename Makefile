# berth -- a plain Makefile.  `make` builds build/berth; `make run` serves a
# registry on http://127.0.0.1:$(PORT); `make test` runs every test layer.
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
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -Icgi -Istore -I$(BUILD)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfcgi -lcrypto -ljansson -lsqlite3 -linih)

ifdef DEBUG
CFLAGS   += -O0 -DDEBUG
endif
ifdef SANITIZE
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

SRCS     := $(wildcard cgi/*.c) $(wildcard store/*.c)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/schema.o
DEPS     := $(OBJS:.o=.d)

# Debian packages: to build, to serve, to test.
APT_BUILD := build-essential pkg-config libfcgi-dev libssl-dev libjansson-dev \
             libsqlite3-dev libinih-dev
APT_RUN   := nginx curl lighttpd apache2 libapache2-mod-xsendfile
APT_TEST  := libcmocka-dev skopeo podman python3 sqlite3

.PHONY: all static run start stop test unit e2e clients deps deps-test clean

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
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) nginx/serve.sh run

start: all
	@SERVER=$(SERVER) PORT=$(PORT) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth \
	    BERTH_CONFIG=$(BERTH_CONFIG) WORKERS=$(WORKERS) nginx/serve.sh start

stop:
	@SERVER=$(SERVER) DATA_DIR=$(DATA_DIR) BERTH=$(BUILD)/berth nginx/serve.sh stop

# Every layer: unit tests (cmocka), then the end-to-end suites behind real
# nginx with real clients, all against an ASan+UBSan build.
test: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined DEBUG=1 \
	    build/asan/berth build/asan/unit-tests
	@tests/run.sh build/asan

UNIT_SRCS := tests/unit/unit.c cgi/validate.c cgi/router.c
$(BUILD)/unit-tests: $(UNIT_SRCS) $(wildcard tests/unit/*.h cgi/*.h)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $(UNIT_SRCS) $(LDFLAGS) -lcmocka

clean:
	rm -rf build
