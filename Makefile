# Hearth: the two commands are `make run` and `make test` (see README.md).

BUILD      ?= build
ASAN_BUILD ?= build-asan
PYTHON     ?= /usr/bin/python3
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./data
LISTEN     ?= 127.0.0.1:8080

.PHONY: all build deps e2e-deps run test test-unit test-e2e test-browser screenshots asan format clean

all: build

deps:
	@tools/deps.sh

# npm modules the end-to-end tests drive (discord.js; playwright-core for the browser
# tests, which drives Debian's chromium), pinned by package-lock.json.
e2e-deps:
	@cd tests/e2e/discordjs && npm ci --no-audit --no-fund --loglevel=error
	@cd tests/browser && npm ci --no-audit --no-fund --loglevel=error

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The sanitizer build the end-to-end tests also run against.
asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHEARTH_WERROR=ON \
		-DHEARTH_SANITIZE=address,undefined >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

run: deps build
	@echo ""
	@echo "Hearth is starting on http://$(LISTEN) with its data in $(DATA_DIR)."
	@echo "Create an account, then use the token it prints as the Authorization header:"
	@echo "  curl -s -XPOST http://$(LISTEN)/api/v10/auth/register \\"
	@echo "       -H 'Content-Type: application/json' -d '{\"username\":\"alice\",\"password\":\"a long password\"}'"
	@echo "Log in again later with POST /api/v10/auth/login {\"login\":\"alice\",\"password\":...}."
	@echo "Stop it with Ctrl-C."
	@echo ""
	@$(BUILD)/hearthd --data-dir $(DATA_DIR) --listen $(LISTEN)

test: deps
	@$(MAKE) --no-print-directory e2e-deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-e2e
	@$(MAKE) --no-print-directory test-browser

test-unit:
	@cd $(BUILD) && ctest -L unit --output-on-failure
	@cd $(ASAN_BUILD) && ctest -L unit --output-on-failure

# End-to-end tests run against the optimised build and again against the sanitizer build.
test-e2e:
	@HEARTHD=$(CURDIR)/$(BUILD)/hearthd HEARTHCTL=$(CURDIR)/$(BUILD)/hearthctl \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e
	@HEARTHD=$(CURDIR)/$(ASAN_BUILD)/hearthd HEARTHCTL=$(CURDIR)/$(ASAN_BUILD)/hearthctl \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The web client in Chromium, two users at a time (tests/browser, spec/web-client.md); it
# fails on any console error. Screenshots land in build/screenshots (`make screenshots`
# refreshes the README's, in docs/screenshots). The file serving is
# checked again against the sanitizer build.
test-browser:
	@cd tests/browser && HEARTHD=$(CURDIR)/$(BUILD)/hearthd node --test --test-concurrency=1
	@cd tests/browser && HEARTHD=$(CURDIR)/$(ASAN_BUILD)/hearthd HEARTH_SCREENSHOTS=0 \
		node --test static.test.mjs resume.test.mjs

# Refreshes the screenshots the README links (docs/screenshots) from a browser run.
screenshots: build
	@cd tests/browser && HEARTHD=$(CURDIR)/$(BUILD)/hearthd HEARTH_SCREENSHOTS=docs \
		node --test --test-concurrency=1

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
