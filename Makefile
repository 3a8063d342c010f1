# Thin wrapper over Meson + Ninja. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
PREFIX     ?= /usr/local
DESTDIR    ?=
MESON_TEST  = meson test --print-errorlogs --num-processes 2

.PHONY: all deps build check check-unit check-asan check-fuzz check-guests demo install man format clean

all: build

deps:
	./scripts/install-deps.sh --guests

$(BUILD)/build.ninja:
	meson setup $(BUILD) --prefix=$(PREFIX)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Fast tier for iteration: pure unit tests and CLI tests.
check-unit: build
	$(MESON_TEST) -C $(BUILD) --suite unit --suite cli --logbase unitlog

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# Everything that is cheap enough, again under ASan/UBSan.
check-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  $(MESON_TEST) -C $(ASAN_BUILD) --suite unit --suite cli --suite vm --suite image

check-fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-15} ./tests/fuzz/run.sh $(FUZZ_BUILD)

# End-to-end guests: builds two VMware-style Debian 12 guests once (cached
# outside the repository), converts each from its OVA and its VMX, and boots
# the results under QEMU (TCG without /dev/kvm). Its own test log
# (meson-logs/guestlog.json), so the other runs' logs are kept.
check-guests: build
	H2K_REQUIRE_GUESTS=1 $(MESON_TEST) -C $(BUILD) --suite guest --logbase guestlog

# Every test: the normal build, the end-to-end guests, the sanitizer build
# and short fuzz runs.
check: deps
	$(MAKE) build
	$(MESON_TEST) -C $(BUILD) --no-suite guest ; echo $$? > $(BUILD)/.check-rc
	$(MAKE) check-guests ; echo $$? > $(BUILD)/.guest-rc
	$(MAKE) check-asan ; echo $$? > $(BUILD)/.asan-rc
	$(MAKE) check-fuzz ; echo $$? > $(BUILD)/.fuzz-rc
	./scripts/test-summary.sh $(BUILD) $(ASAN_BUILD)

demo: deps build
	./scripts/demo.sh $(BUILD)

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD)

# Regenerate the man page from the option table.
man: build
	$(BUILD)/src/h2k-mangen > man/hyper2kvm.1

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
