# berth -- a plain Makefile.  `make` builds build/berth; `make run` serves a
# registry on http://127.0.0.1:$(PORT); `make restart` restarts its worker
# pool gracefully; `make test` runs every test layer.
#
# Options: SANITIZE=address,undefined  DEBUG=1  BUILD=dir
#          PREFIX=/usr/local  DESTDIR=dir (install, uninstall)
# Also: make install, uninstall, static, fuzz, format, format-check, lint.
#          PORT=5000  DATA_DIR=./var  BERTH_CONFIG=file  WORKERS=n
#          SERVER=nginx|lighttpd|apache|apache-cgi (run, start; test: SERVERS)

CC       ?= cc
BUILD    ?= build
PORT     ?= 5000
DATA_DIR ?= ./var
SERVER   ?= nginx
PKGS     := fcgi libcrypto jansson sqlite3 inih libcurl libpq

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN)
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lfcgi -lcrypto -ljansson -lsqlite3 -linih -lcurl -lpq) -lcrypt

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
OBJS     := $(SRCS:%.c=$(BUILD)/%.o) $(BUILD)/schema.o $(BUILD)/schema_pg.o
DEPS     := $(OBJS:.o=.d)

# Debian packages: to build, to serve, to test.
APT_BUILD := build-essential pkg-config libfcgi-dev libssl-dev libjansson-dev libcrypt-dev \
             libsqlite3-dev libinih-dev libcurl4-openssl-dev libpq-dev
# To serve: what the chosen SERVER needs, plus curl (serve.sh waits for
# /v2/ with it) and sqlite3 (README opens the database with it).  `make
# run` and `start` install only those; `make test` every server's.
APT_RUN_COMMON     := curl sqlite3
APT_RUN_nginx      := nginx
APT_RUN_lighttpd   := lighttpd
APT_RUN_apache     := apache2 libapache2-mod-xsendfile
APT_RUN_apache-cgi := $(APT_RUN_apache)
APT_RUN   := $(APT_RUN_COMMON) $(sort $(APT_RUN_nginx) $(APT_RUN_lighttpd) \
             $(APT_RUN_apache) $(APT_RUN_apache-cgi))
# The object store the s3 tests and benchmarks run (OpenStack Swift with
# s3api, hosting/s3-local.sh) and botocore, their reference signer.
APT_S3    := python3-botocore swift-proxy swift-object swift-container swift-account
# Every test layer's commands beyond APT_RUN: the cmocka tables, the real
# clients, python3, openssl (tests/auth signs tokens), systemd
# (systemd-analyze, systemd-socket-activate), procps (pgrep), the object
# store and PostgreSQL.
APT_TEST  := libcmocka-dev skopeo podman docker.io buildah containerd python3 openssl systemd \
             procps $(APT_S3) postgresql
APT_FUZZ  := clang libclang-rt-14-dev
APT_LINT  := clang-tidy clang-format cppcheck

.PHONY: all static run start stop restart test test-packages deps deps-build deps-test deps-fuzz \
        fuzz clean check-layers install uninstall format format-check lint \
        lint-tidy lint-cppcheck deps-lint

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
# The s3 handler and the PostgreSQL backend stay out: Debian's static
# libcurl needs GSSAPI, LDAP, ssh and more, and a shared host has no
# object store or database server to reach; their tables register
# themselves, so nothing else changes.  Event notifications stay in, but
# without their HTTP client (store/outbox_http.c): a static berth writes
# the outbox, and a berth with libcurl delivers it.
STATIC_LIBS := -lfcgi -ljansson -lsqlite3 -linih -lcrypt -lcrypto -lm -lpthread -ldl
STATIC_OBJS := $(filter-out $(BUILD)/store/blob_s3.o $(BUILD)/store/s3_sign.o \
               $(BUILD)/store/outbox_http.o \
               $(BUILD)/store/meta_pg%.o $(BUILD)/schema_pg.o,$(OBJS))
static: $(BUILD)/berth-static

$(BUILD)/berth-static: $(STATIC_OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $(STATIC_OBJS) $(STATIC_LIBS)

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
$(BUILD)/store/meta_sqlite.o $(BUILD)/store/meta_sqlite_admin.o: $(BUILD)/schema.c
$(BUILD)/store/meta_pg.o $(BUILD)/store/meta_pg_admin.o: $(BUILD)/schema_pg.c

# The schema files are compiled into the binary, so a deployment is one file.
$(BUILD)/schema.c: $(sort $(wildcard sql/*.sql)) sql/embed.sh
	@mkdir -p $(BUILD)
	sh sql/embed.sh $(sort $(wildcard sql/*.sql)) > $@

$(BUILD)/schema.o: $(BUILD)/schema.c
	$(CC) $(CFLAGS) $(INC_store) -c -o $@ $<

# PostgreSQL's migrations, sql/postgresql/NNN_*.sql, the same way: the
# table pg_schema_migrations (the SQLite list above is unchanged).
$(BUILD)/schema_pg.c: $(sort $(wildcard sql/postgresql/*.sql)) sql/embed.sh
	@mkdir -p $(BUILD)
	sh sql/embed.sh -p pg_schema $(sort $(wildcard sql/postgresql/*.sql)) > $@

$(BUILD)/schema_pg.o: $(BUILD)/schema_pg.c
	$(CC) $(CFLAGS) $(INC_store) -c -o $@ $<

-include $(DEPS)

# make install: the binary, the example configurations, the schema, and
# the systemd units with their sysusers.d and tmpfiles.d files (systemd/).
# The examples go to the documentation, not to $(PREFIX)/etc: each is a
# template to copy and edit (host names, certificates, paths), berth reads
# no configuration unless told (-c FILE or BERTH_CONFIG), and an upgrade
# must not overwrite a configuration someone edited.  The SQL files are
# for reading (the schema is compiled into the binary).  DESTDIR stages
# the tree for a package.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
DOCDIR      ?= $(DATADIR)/doc/berth
EXAMPLESDIR ?= $(DOCDIR)/examples
SQLDIR      ?= $(DATADIR)/berth/sql
# systemd looks in $(PREFIX)/lib/systemd/system for /usr and /usr/local.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INSTALL     ?= install
# Installed under EXAMPLESDIR with the same path; etc/berth.ini becomes
# EXAMPLESDIR/berth.ini.
EXAMPLES    := nginx/berth.conf lighttpd/berth.conf apache/berth.conf \
               apache/htaccess apache/berth.ini
SQL_FILES   := $(sort $(wildcard sql/*.sql))
SQL_PG_FILES := $(sort $(wildcard sql/postgresql/*.sql))

# The units name the installed binary and documentation.
UNITS       := berth.service berth.socket
UNIT_SED    := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: $(BUILD)/berth
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SQLDIR)" \
	    "$(DESTDIR)$(SQLDIR)/postgresql" \
	    $(foreach d,$(sort $(dir $(EXAMPLES))),"$(DESTDIR)$(EXAMPLESDIR)/$(d)")
	$(INSTALL) -m 0755 $(BUILD)/berth "$(DESTDIR)$(BINDIR)/berth"
	$(INSTALL) -m 0644 etc/berth.ini "$(DESTDIR)$(EXAMPLESDIR)/berth.ini"
	@for f in $(EXAMPLES); do \
		echo "$(INSTALL) -m 0644 $$f $(DESTDIR)$(EXAMPLESDIR)/$$f"; \
		$(INSTALL) -m 0644 $$f "$(DESTDIR)$(EXAMPLESDIR)/$$f" || exit 1; \
	done
	$(INSTALL) -m 0644 README.md "$(DESTDIR)$(DOCDIR)/README.md"
	$(INSTALL) -m 0644 $(SQL_FILES) "$(DESTDIR)$(SQLDIR)/"
	$(INSTALL) -m 0644 $(SQL_PG_FILES) "$(DESTDIR)$(SQLDIR)/postgresql/"
	$(INSTALL) -d "$(DESTDIR)$(SYSTEMDUNITDIR)" "$(DESTDIR)$(SYSUSERSDIR)" \
	    "$(DESTDIR)$(TMPFILESDIR)"
	@for u in $(UNITS); do \
		echo "sed systemd/$$u.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; \
		sed $(UNIT_SED) systemd/$$u.in > "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u" && \
		chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u" || exit 1; \
	done
	$(INSTALL) -m 0644 systemd/berth.sysusers "$(DESTDIR)$(SYSUSERSDIR)/berth.conf"
	$(INSTALL) -m 0644 systemd/berth.tmpfiles "$(DESTDIR)$(TMPFILESDIR)/berth.conf"

# Removes what install put there, then the directories that are left
# empty (only berth's own).
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/berth" "$(DESTDIR)$(EXAMPLESDIR)/berth.ini" \
	    "$(DESTDIR)$(DOCDIR)/README.md" \
	    $(foreach f,$(EXAMPLES),"$(DESTDIR)$(EXAMPLESDIR)/$(f)") \
	    $(foreach f,$(SQL_FILES),"$(DESTDIR)$(SQLDIR)/$(notdir $(f))") \
	    $(foreach f,$(SQL_PG_FILES),"$(DESTDIR)$(SQLDIR)/postgresql/$(notdir $(f))") \
	    $(foreach u,$(UNITS),"$(DESTDIR)$(SYSTEMDUNITDIR)/$(u)") \
	    "$(DESTDIR)$(SYSUSERSDIR)/berth.conf" "$(DESTDIR)$(TMPFILESDIR)/berth.conf"
	-rmdir $(foreach d,$(sort $(dir $(EXAMPLES))),"$(DESTDIR)$(EXAMPLESDIR)/$(d)") \
	    "$(DESTDIR)$(EXAMPLESDIR)" "$(DESTDIR)$(DOCDIR)" "$(DESTDIR)$(SQLDIR)/postgresql" \
	    "$(DESTDIR)$(SQLDIR)" "$(DESTDIR)$(DATADIR)/berth" 2>/dev/null

# Installs what is missing when run as root; otherwise prints the one line
# to run.  Compiling needs only the build packages, and `make` never asks
# for them: deps-build is for a fresh machine, deps for run and start.
deps-build:
	@sh tests/need-packages.sh $(APT_BUILD)

deps:
	@case "$(SERVER)" in nginx|lighttpd|apache|apache-cgi) ;; \
	*) echo "make: SERVER=$(SERVER): choose nginx, lighttpd, apache or apache-cgi" >&2; \
	   exit 2 ;; esac
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN_COMMON) $(APT_RUN_$(SERVER))

# make test checks the format and lints first: their packages too, so a
# fresh machine gets everything from one apt-get.
deps-test:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_RUN) $(APT_TEST) $(APT_LINT)

# The same list, printed: .ci/run installs it before make test.
test-packages:
	@echo $(APT_BUILD) $(APT_RUN) $(APT_TEST) $(APT_LINT)

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
	@$(MAKE) --no-print-directory format-check lint
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined DEBUG=1 \
	    FAULT=1 build/asan/berth build/asan/unit-tests build/asan/backend-tests \
	    build/asan/unit-manifest build/asan/unit-config build/asan/unit-grant \
	    build/asan/meta-tests build/asan/unit-s3sign
	@tests/run.sh build/asan

UNIT_SRCS := tests/unit/unit.c base/validate.c cgi/router.c cgi/routes.c \
             cgi/request.c cgi/response.c cgi/errors.c store/digest.c store/spool.c \
             store/metrics.c
$(BUILD)/unit-tests: $(UNIT_SRCS) $(wildcard tests/unit/*.h cgi/*.h base/*.h store/*.h)
	$(CC) $(CFLAGS) $(INC_cgi) -Itests/unit -o $@ $(UNIT_SRCS) $(LDFLAGS) \
	    -lcmocka -ljansson -lcrypto

# Unit tables of the manifest parser and the configuration reader.
$(BUILD)/unit-manifest: tests/unit/manifest_test.c cgi/manifest.c base/validate.c \
    $(wildcard cgi/*.h store/*.h base/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_cgi) -o $@ $(filter %.c,$^) $(LDFLAGS) -lcmocka $(LDLIBS)
# The configuration as main() reads it: the table, the front's and the
# store's settings, and the blob handlers' sections (no metadata).
UNIT_CONFIG_SRCS := tests/unit/config_test.c base/conf.c cgi/config.c store/ident_conf.c \
                    store/store.c store/blob.c store/blob_fs.c \
                    store/blob_redirect.c store/outbox.c base/validate.c
$(BUILD)/unit-config: $(UNIT_CONFIG_SRCS) \
    $(wildcard base/*.h store/*.h cgi/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_main) -o $@ $(UNIT_CONFIG_SRCS) $(LDFLAGS) \
	    -lcmocka $(LDLIBS)

# SigV4 signing (store/s3_sign.c) against botocore's signer.
$(BUILD)/unit-s3sign: tests/unit/s3_sign_test.c store/s3_sign.c store/s3_sign.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_store) -o $@ $(filter %.c,$^) $(LDFLAGS) \
	    -lcmocka -lcrypto
# Unit tables of the permission model: actions, patterns, the deciding
# grant, scopes.
$(BUILD)/unit-grant: tests/unit/grant_test.c base/grant.c base/validate.c \
    base/grant.h base/validate.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC_base) -o $@ $(filter %.c,$^) $(LDFLAGS) -lcmocka

# Fuzzing with libFuzzer (clang): each target runs FUZZ_SECONDS, starting
# from its seed corpus in tests/fuzz/corpus/<target> (copied, so the seeds
# in git stay as they are).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := router validate manifest
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE $(INC_cgi) \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                $(shell pkg-config --cflags jansson 2>/dev/null)
FUZZ_SRCS_router   := cgi/router.c cgi/routes.c cgi/request.c base/validate.c \
                      store/digest.c store/spool.c
FUZZ_LIBS_router   := -lcrypto
FUZZ_SRCS_validate := base/validate.c
FUZZ_SRCS_manifest := cgi/manifest.c base/validate.c

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard cgi/*.c cgi/*.h base/*.c base/*.h)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) -ljansson $(FUZZ_LIBS_$*)

deps-fuzz:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_FUZZ)

deps-lint:
	@sh tests/need-packages.sh $(APT_BUILD) $(APT_LINT)

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
                store/blob_s3.c store/s3_sign.c base/conf.c base/validate.c
$(BUILD)/backend-tests: $(BACKEND_SRCS) $(wildcard store/*.h base/*.h)
	$(CC) $(CFLAGS) $(INC_store) -o $@ $(BACKEND_SRCS) $(LDFLAGS) \
	    -lcmocka -lcrypto -linih -lcurl

# One style for every C file, written down in .clang-format: `make format`
# rewrites the files, `make format-check` prints the difference and fails
# when there is one.
CLANG_FORMAT ?= clang-format
FORMAT_SRCS  := $(sort $(wildcard $(LAYERS:%=%/*.[ch]) tests/*/*.[ch]))

format: deps-lint
	$(CLANG_FORMAT) -i --style=file $(FORMAT_SRCS)

format-check: deps-lint
	@bad=0; for f in $(FORMAT_SRCS); do \
		$(CLANG_FORMAT) --style=file "$$f" | diff -u "$$f" - || bad=1; \
	done; \
	if [ $$bad -ne 0 ]; then echo "format-check: run make format"; exit 1; fi

# Static analysis, which `make test` runs first: clang-tidy with the
# checks in .clang-tidy, each file with its layer's include path, and
# cppcheck with tests/lint/ (jansson's loop macros; suppressions, each
# with its reason).  Any finding fails.  `make -j2 lint` runs files in
# parallel.
CLANG_TIDY  ?= clang-tidy
CPPCHECK    ?= cppcheck
LINT_CFLAGS := -std=c11 -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LINT_SRCS   := $(foreach l,$(LAYERS),$(wildcard $(l)/*.c))
CPPCHECK_FLAGS := --std=c11 -D_GNU_SOURCE --quiet --error-exitcode=1 \
                  --enable=warning,style,performance,portability --inline-suppr \
                  --library=posix --library=gnu --library=sqlite3 \
                  --library=openssl --library=tests/lint/jansson.cfg \
                  --suppressions-list=tests/lint/cppcheck-suppressions.txt \
                  --template='{file}:{line}:{column}: {severity}: {message} [{id}]'

lint: deps-lint
	@$(MAKE) --no-print-directory -k lint-tidy lint-cppcheck
	@echo "lint: clang-tidy and cppcheck found nothing"

lint-tidy: $(LINT_SRCS:%=lint-tidy/%)

# lint-tidy/<layer>/<file>.c: one file, with INC_<layer>.  clang-tidy
# counts what it hid in system headers ("N warnings generated") even when
# quiet: that line is dropped.
lint-tidy/%:
	@out=$$($(CLANG_TIDY) --quiet $* -- $(LINT_CFLAGS) \
	    $(INC_$(firstword $(subst /, ,$*))) 2>&1); rc=$$?; \
	[ -z "$$out" ] || printf '%s\n' "$$out" | grep -v '^[0-9]* warnings\{0,1\} generated\.$$'; \
	exit $$rc

lint-cppcheck:
	@$(foreach l,$(LAYERS),$(CPPCHECK) $(CPPCHECK_FLAGS) $(INC_$(l)) $(l) &&) true

# The metadata backend suite: the same tests against every metadata
# backend, through the wrappers.
META_SRCS := tests/meta/meta.c store/meta.c store/meta_sqlite.c \
             store/meta_sqlite_admin.c store/meta_sqlite_auth.c store/meta_sqlite_outbox.c \
             store/meta_pg.c store/meta_pg_admin.c store/meta_pg_auth.c store/meta_pg_outbox.c \
             store/digest.c base/conf.c base/validate.c
$(BUILD)/meta-tests: $(META_SRCS) $(BUILD)/schema.c $(BUILD)/schema_pg.c \
    $(wildcard store/*.h base/*.h)
	$(CC) $(CFLAGS) $(INC_store) $(shell pkg-config --cflags libpq) -o $@ \
	    $(META_SRCS) $(BUILD)/schema.c $(BUILD)/schema_pg.c \
	    $(LDFLAGS) -lcmocka -lcrypto -ljansson -lsqlite3 -linih -lpq

clean:
	rm -rf build

include bench/bench.mk
