# mod_authn_apikey: build with apxs, run a demo, test, install.
#
#   make            the module (.libs/mod_authn_apikey.so) and htapikey
#   make run        a demo httpd on 127.0.0.1:$(PORT) with one key
#   make test       install missing Debian packages, build, run every test
#   make test-asan  the whole suite under ASan+UBSan (docs/sanitizers.md)
#   make test-valgrind  the suite on httpd -X under valgrind memcheck
#   make test-faults  the fault-injection tests in their full form (1,000
#                   children killed per MPM; several minutes)
#   make bench      benchmarks against httpd's own baselines (docs/benchmarks.md)
#   make fuzz       the libFuzzer targets, FUZZ_SECONDS each (docs/fuzzing.md)
#   make mutate     plant each bug of scripts/mutants.txt in a copy of the
#                   tree and run its tests: which ones survive
#   make install    install the module, htapikey, the schemas, the .load and
#                   .conf, the docs and the man page (when man/htapikey.1 exists)
#   make uninstall  remove what make install installed (never a key store)
#   make deb        the Debian package, into build/deb/ (README.md)

# The version, from its one place (src/core/apikey_version.h).
VERSION := $(shell sed -n 's/^\#define APIKEY_VERSION "\(.*\)"/\1/p' src/core/apikey_version.h)

APXS    ?= $(shell command -v apxs 2>/dev/null || echo /usr/bin/apxs)
CC      ?= cc
PORT    ?= 8080
WERROR  ?=
DESTDIR ?=
BINDIR  ?= /usr/bin
DATADIR ?= /usr/share/mod_authn_apikey
MANDIR  ?= /usr/share/man
DOCDIR  ?= /usr/share/doc/mod_authn_apikey
# The compiler and linker flags of the environment (dpkg-buildflags' when
# the package is built: hardening), after the project's own.
CPPFLAGS ?=
CFLAGS   ?=
LDFLAGS  ?=

WARN     = -Wall -Wextra $(if $(WERROR),-Werror)
# SANITIZE=address,undefined builds everything with those sanitizers (at
# -O1, keeping frame pointers for the reports' stacks), the module too with
# $(CC) instead of apxs's compiler.  The module is not linked with the
# sanitizers' runtime: httpd must preload it.  make test-asan does so with
# CC=clang in a copy of the tree, build/asan, never here.
SANITIZE ?=
SAN_CFLAGS = $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1)
APR_CFLAGS = $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
             $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS = $(shell apu-1-config --link-ld --libs 2>/dev/null) \
           $(shell apr-1-config --link-ld --libs 2>/dev/null)

# The layers (src/*/README): core, shm and dbd build into one static
# archive, without httpd's headers on the include path (a file there that
# includes one does not build), which the module, htapikey, the unit tests
# and the fuzzers link.
LIB_DIRS = src/core src/shm src/dbd
LIB_SRC  = $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
LIB_OBJ  = $(patsubst src/%.c,build/lib/%.o,$(LIB_SRC))
LIB      = build/libapikey.a
LIB_INC  = $(addprefix -I,$(LIB_DIRS))
LIB_LIBS = -lcrypto -lz
MOD_SRC  = mod_authn_apikey.c $(wildcard src/httpd/*.c)
HDRS     = $(wildcard src/*/*.h) t/unit/tap.h t/unit/torture.h t/unit/limit_helpers.h
TOOL_SRC = $(wildcard src/cli/*.c)
SCHEMAS  = $(wildcard conf/schema/*.sql)
MODULE   = .libs/mod_authn_apikey.so
UNIT     = $(patsubst t/unit/%.c,build/unit/%.t,$(wildcard t/unit/test_*.c))

.PHONY: version all unit deps run test test-unit test-httpd test-asan test-valgrind \
        test-faults bench fuzz mutate install uninstall deb clean check-layers check-columns FORCE

all: $(MODULE) htapikey

unit: $(UNIT)

# Rebuild when the warning or sanitizer flags change (make test builds with
# -Werror).
build/flags: FORCE
	@mkdir -p build
	@echo '$(WARN) $(SAN_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	    echo '$(WARN) $(SAN_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)' >$@

# Position-independent: the archive is linked into the module too.
build/lib/%.o: src/%.c $(HDRS) build/flags
	@mkdir -p $(dir $@)
	$(CC) -fPIC $(APXS_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN_CFLAGS) \
	    $(LIB_INC) $(APR_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(MODULE): $(MOD_SRC) $(HDRS) $(LIB) build/flags
	$(APXS) $(if $(SANITIZE),-S CC=$(CC)) -c -o mod_authn_apikey.la \
	    $(LIB_INC) -Isrc/httpd \
	    $(addprefix -Wc$(comma),$(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN_CFLAGS)) \
	    $(addprefix -Wl$(comma),$(LDFLAGS)) \
	    $(MOD_SRC) $(LIB) $(LIB_LIBS) >build.log 2>&1 || { cat build.log; exit 1; }
	@grep -E 'warning:|error:' build.log || true

comma := ,
APXS_CFLAGS = $(shell $(APXS) -q CFLAGS 2>/dev/null)

build/schema.c: scripts/embed-schema.sh $(SCHEMAS)
	@mkdir -p build
	sh scripts/embed-schema.sh $(SCHEMAS) >$@.tmp && mv $@.tmp $@

htapikey: $(TOOL_SRC) build/schema.c $(HDRS) $(LIB) build/flags
	$(CC) -g -O2 $(CPPFLAGS) $(CFLAGS) $(WARN) $(SAN_CFLAGS) $(LIB_INC) \
	    -Isrc/cli $(APR_CFLAGS) $(LDFLAGS) \
	    -o $@ $(TOOL_SRC) build/schema.c $(LIB) $(APR_LIBS) $(LIB_LIBS)

$(UNIT): build/unit/%.t: t/unit/%.c $(HDRS) $(LIB) build/flags
	@mkdir -p build/unit
	$(CC) -g -O1 $(WARN) $(SAN_CFLAGS) $(LIB_INC) -It/unit $(APR_CFLAGS) -o $@ \
	    $< $(LIB) $(APR_LIBS) $(LIB_LIBS)

# Fails when a file of core, shm or dbd includes an httpd header or one of
# src/httpd's (the archive's build would fail too, less plainly).
check-layers:
	@sh scripts/check-layers.sh

# Fails when the key record's column list and conf/schema/*.sql disagree.
check-columns:
	@sh scripts/check-columns.sh

deps:
	@sh scripts/deps.sh

run: deps
	$(MAKE) all
	sh scripts/run-demo.sh $(PORT)

test-unit: $(UNIT)
	prove --exec '' $(UNIT)

test-httpd: all
	sh scripts/run-tests.sh

test: deps
	$(MAKE) WERROR=1 all $(UNIT)
	sh scripts/check-layers.sh
	sh scripts/check-columns.sh
	sh scripts/check-licence.sh
	perl scripts/mutate.pl --check
	sh scripts/check-docs.sh
	sh scripts/check-man.sh
	sh scripts/test-all.sh

# The long forms of what make test runs in short (docs/sanitizers.md).
test-asan: deps
	sh scripts/test-sanitizers.sh asan $(T)

test-valgrind: deps
	$(MAKE) all
	sh scripts/test-sanitizers.sh valgrind $(T)
# make test runs these too, in a short form (60 kills per MPM).
test-faults: deps
	$(MAKE) WERROR=1 all
	APIKEY_FAULT_KILLS=1000 sh scripts/run-tests.sh t/220_faults.t \
	    t/221_faults_deps.t

# Not part of make test: several minutes, and its figures are for reading.
bench:
	APIKEY_EXTRA_PKGS="wrk valgrind apache2-utils" sh scripts/deps.sh
	$(MAKE) all
	bash bench/run.sh

# Not part of make test: a build and the covering tests a mutant
# (docs/sanitizers.md).  MUTANTS="name ..." runs only those.
mutate: deps
	$(MAKE) all unit
	perl scripts/mutate.pl $(MUTANTS)

# Five minutes a target; make test runs a short form (scripts/test-all.sh).
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh

# Where Debian's httpd looks: the module beside the others, htapikey beside
# htpasswd, the .load file for a2enmod.
LIBEXECDIR = $(shell $(APXS) -q LIBEXECDIR)
SYSCONFDIR = $(shell $(APXS) -q SYSCONFDIR)

version:
	@echo $(VERSION)

# What make install installs; make uninstall removes exactly these (and the
# folders they made, when empty).  The man page is there once man/htapikey.1
# is; the docs keep the tree's shape (README.md's links into docs/), and
# CHANGES.md, once it exists, is installed as changelog (Debian's name for
# an upstream changelog; dh_installchangelogs installs it there too).
MAN1    = $(wildcard man/htapikey.1)
CHANGES = $(wildcard CHANGES.md)
MODS_AVAILABLE = $(DESTDIR)$(SYSCONFDIR)/mods-available

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(DATADIR)/schema $(MODS_AVAILABLE) \
	    $(DESTDIR)$(DOCDIR)/docs
	$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -n authn_apikey \
	    mod_authn_apikey.la
	install -m 755 htapikey $(DESTDIR)$(BINDIR)/htapikey
	install -m 644 $(SCHEMAS) $(DESTDIR)$(DATADIR)/schema/
	install -m 644 conf/authn_apikey.load $(MODS_AVAILABLE)/authn_apikey.load
	@# An authn_apikey.conf the admin has edited is theirs: kept.
	@if [ -f $(MODS_AVAILABLE)/authn_apikey.conf ] && \
	    ! cmp -s conf/authn_apikey.conf $(MODS_AVAILABLE)/authn_apikey.conf; then \
	    echo "install: kept your edited $(MODS_AVAILABLE)/authn_apikey.conf" \
	        "(the shipped one is conf/authn_apikey.conf)"; \
	else \
	    echo install -m 644 conf/authn_apikey.conf $(MODS_AVAILABLE)/authn_apikey.conf; \
	    install -m 644 conf/authn_apikey.conf $(MODS_AVAILABLE)/authn_apikey.conf; \
	fi
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	$(if $(CHANGES),install -m 644 $(CHANGES) $(DESTDIR)$(DOCDIR)/changelog)
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	$(if $(MAN1),install -d $(DESTDIR)$(MANDIR)/man1)
	$(if $(MAN1),install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)

# Refuses while the module is enabled (httpd would no longer start); never
# touches a key store, nor an authn_apikey.conf the admin has edited.
uninstall:
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/mods-enabled/authn_apikey.load ]; then \
	    echo "uninstall: authn_apikey is enabled: a2dismod authn_apikey first" >&2; \
	    exit 1; \
	fi
	rm -f $(DESTDIR)$(LIBEXECDIR)/mod_authn_apikey.so \
	    $(DESTDIR)$(BINDIR)/htapikey \
	    $(addprefix $(DESTDIR)$(DATADIR)/schema/,$(notdir $(SCHEMAS))) \
	    $(MODS_AVAILABLE)/authn_apikey.load \
	    $(DESTDIR)$(DOCDIR)/README.md $(DESTDIR)$(DOCDIR)/changelog \
	    $(addprefix $(DESTDIR)$(DOCDIR)/docs/,$(notdir $(wildcard docs/*.md))) \
	    $(DESTDIR)$(MANDIR)/man1/htapikey.1
	@if [ -f $(MODS_AVAILABLE)/authn_apikey.conf ] && \
	    ! cmp -s conf/authn_apikey.conf $(MODS_AVAILABLE)/authn_apikey.conf; then \
	    echo "uninstall: kept your edited $(MODS_AVAILABLE)/authn_apikey.conf"; \
	else \
	    echo rm -f $(MODS_AVAILABLE)/authn_apikey.conf; \
	    rm -f $(MODS_AVAILABLE)/authn_apikey.conf; \
	fi
	@for d in $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR) \
	    $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR); do \
	    rmdir "$$d" 2>/dev/null || true; \
	done

# libapache2-mod-authn-apikey_$(VERSION)-N_ARCH.deb in build/deb/, built by
# dpkg-buildpackage in a copy of the tree there (debian/rules clean would
# empty this one's build/).  Prints the .deb's path.
deb: deps
	sh scripts/build-deb.sh

clean:
	rm -rf .libs src/.libs src/*/.libs *.la *.lo *.slo src/*/*.lo src/*/*.slo \
	    *.o src/*/*.o \
	    build build.log htapikey t/conf/httpd.conf t/conf/extra.conf \
	    t/logs t/data t/htdocs/index.html
