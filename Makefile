# fusion-serve — the two commands of the README:
#   make run    installs missing system packages, builds release, serves the default model
#   make test   installs missing system packages, fetches test weights, runs the Swift tests,
#               then the deployment tests (systemd units, sd_notify, nginx/HAProxy scale-out)
#               and the Open Inference Protocol tests (tritonclient, KServe SDK, schemathesis),
#               each under a timeout
SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev libdnnl-dev libjpeg-dev libpng-dev libssl-dev pkg-config curl python3
TEST_APT_PACKAGES := nginx haproxy systemd wrk
SWIFT ?= swift

# Every test command runs under a deadline, so a hung test fails `make test` (exit 124)
# instead of holding CI until its job limit. SIGINT, not SIGTERM: `swift test` runs the test
# binary in a process group of its own and passes SIGINT on to it, while after SIGTERM the
# binary would live on, orphaned. SIGKILL to what is left 30 s later. The tests are built
# first, outside the deadline: the whole `swift test` run then takes about 2 minutes here.
# deploy-tests.sh (about 45 s here, plus ~80 s once for the test venv) also bounds its own run (2400 s).
TEST_TIMEOUT_S ?= 900
SWIFT_TEST_FLAGS ?=
DEPLOY_TEST_TIMEOUT_S ?= 900
# Open Inference Protocol tests with tritonclient, the KServe SDK and schemathesis (about 20 s,
# plus ~80 s the first time tools/ci/test-venv.sh fills .cache/venv-test from PyPI).
PROTOCOL_TEST_TIMEOUT_S ?= 600
TIMEOUT := timeout --signal=INT --kill-after=30

# The exhaustive tokenizer check's generator (Hugging Face tokenizers, pinned as in
# tools/reference/requirements.txt) lives in its own venv; see test-tokenizer-exhaustive.
TOKENIZER_VENV := .cache/tokenizer-venv
TOKENIZER_EXHAUSTIVE := .cache/tokenizer/exhaustive.jsonl

.PHONY: run test build deps test-deps fetch-minilm clean test-tokenizer-exhaustive

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
	$(SWIFT) build --build-tests
	$(TIMEOUT) $(TEST_TIMEOUT_S) $(SWIFT) test $(SWIFT_TEST_FLAGS)
	$(TIMEOUT) $(DEPLOY_TEST_TIMEOUT_S) tools/ci/deploy-tests.sh
	$(TIMEOUT) $(PROTOCOL_TEST_TIMEOUT_S) tools/ci/protocol-tests.sh
	$(TIMEOUT) $(HARDENING_TIMEOUT_S) $(MAKE) fuzz sanitize

# Every Unicode scalar through our tokenizer's normaliser and pre-tokeniser against
# tokenizers' own (TextSplitterTests.exhaustiveCodePointWordsMatchTokenizers). Not part of
# `make test`: it needs two PyPI packages in a venv and a 16 MB generated file.
test-tokenizer-exhaustive: deps
	@$(TOKENIZER_VENV)/bin/python -c "import tokenizers, transformers" 2>/dev/null || { \
	  python3 -m venv $(TOKENIZER_VENV) && \
	  $(TOKENIZER_VENV)/bin/pip install -q tokenizers==0.23.3 transformers==5.24.0; }
	@[ -s $(TOKENIZER_EXHAUSTIVE) ] || $(TOKENIZER_VENV)/bin/python tools/reference/tokenizer_goldens.py exhaustive
	$(SWIFT) build --build-tests
	FUSION_TOKENIZER_EXHAUSTIVE=1 $(TIMEOUT) $(TEST_TIMEOUT_S) $(SWIFT) test --filter TextSplitterTests.exhaustiveCodePointWordsMatchTokenizers

# Hardening (issue 13, docs/hardening.md): every libFuzzer target for FUZZ_SECONDS each, and
# the ASan+UBSan and TSan test runs. The toolchain's compiler-rt has all the runtimes: no apt.
FUZZ_SECONDS ?= 30
HARDENING_TIMEOUT_S ?= 2400
.PHONY: fuzz sanitize
fuzz: deps
	SWIFT=$(SWIFT) FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz/run.sh

sanitize: deps
	SWIFT=$(SWIFT) tools/ci/sanitizers.sh

clean:
	rm -rf .build
