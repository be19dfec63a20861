# fusion-serve — the two commands of the README:
#   make run    installs missing system packages, builds release, serves the default model
#   make test   installs missing system packages, fetches test weights, runs the Swift tests,
#               then the deployment tests (systemd units, sd_notify, nginx/HAProxy scale-out)
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libjpeg-dev libpng-dev libssl-dev pkg-config curl python3
TEST_APT_PACKAGES := nginx haproxy systemd wrk
SWIFT ?= swift

.PHONY: run test build deps test-deps fetch-minilm clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

test-deps: deps
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

build: deps
	$(SWIFT) build -c release

run: build
	.build/release/fusion-serve serve

fetch-minilm:
	tools/fetch-minilm.sh

test: test-deps fetch-minilm
	$(SWIFT) build
	$(SWIFT) test
	tools/ci/deploy-tests.sh
	$(MAKE) fuzz sanitize

# Hardening (issue 13, docs/hardening.md): every libFuzzer target for FUZZ_SECONDS each, and
# the ASan+UBSan and TSan test runs. The toolchain's compiler-rt has all the runtimes: no apt.
FUZZ_SECONDS ?= 30
.PHONY: fuzz sanitize
fuzz: deps
	SWIFT=$(SWIFT) FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz/run.sh

sanitize: deps
	SWIFT=$(SWIFT) tools/ci/sanitizers.sh

clean:
	rm -rf .build
