# CI stages, one make target each, so the pipeline (.github/workflows/ci.yml)
# runs the same commands on a laptop: `make ci` runs them all in order.
#
#   ci-lint       ruff, mypy                               (project venv)
#   ci-test       pytest: JUnit XML, coverage XML, floor   (project venv)
#   ci-package    wheel + sdist, each installed into a clean venv and smoke-run
#   ci-container  make container: build the image, smoke-run it (mk/container.mk)
#   ci-scan       bandit (SARIF), pip-audit, detect-secrets
#   ci-sbom       CycloneDX SBOM of the installed wheel's environment
#   ci-sign       SHA-256 manifest of every artefact, SSH-signed
#   ci-publish    push the image (REGISTRY=...; default: local registry test)
#
# Scanners and packaging tools live in their own venv ($(CI_VENV)) so the
# project venv keeps only what roamsim and its tests need. See docs/ci.md.

CI_VENV   ?= .venv-ci
CI_PY     := $(CI_VENV)/bin/python
CI_BIN    := $(CI_VENV)/bin
CI_DIR    ?= build/ci
DIST_DIR  ?= dist
COVERAGE_XML ?= $(dir $(JUNIT))coverage.xml
# Line coverage the fast suite must keep (measured 95.4% when set, 85.7% before
# the S3 upload tests landed).
COV_FLOOR ?= 90
# bandit gate: fail on findings of at least this severity and confidence
# (-lll -iii = high/high). Empty: report only (the SARIF is always written).
BANDIT_GATE ?= -lll -iii

# Exact versions of the CI tools, for repeatable scans.
CI_TOOLS := build==1.6.1 bandit[sarif]==1.9.4 pip-audit==2.10.1 cyclonedx-bom==7.5.0 detect-secrets==1.5.0

WHEEL_FILE  = $(DIST_DIR)/roamsim-$(ROAMSIM_VERSION)-py3-none-any.whl
SDIST_FILE  = $(DIST_DIR)/roamsim-$(ROAMSIM_VERSION).tar.gz
SBOM_FILE   = $(DIST_DIR)/roamsim-$(ROAMSIM_VERSION).cdx.json
PKG_VENV    = $(CI_DIR)/venv-wheel
SDIST_VENV  = $(CI_DIR)/venv-sdist
RUNTIME_REQS = $(CI_DIR)/runtime-requirements.txt
MANIFEST    = $(DIST_DIR)/SHA256SUMS

.PHONY: ci ci-tools ci-lint ci-test ci-package ci-container ci-scan ci-sbom ci-sign ci-publish \
        ci-verify ci-clean

ci:
	$(MAKE) ci-lint
	$(MAKE) ci-test
	$(MAKE) ci-package
	$(MAKE) ci-container
	$(MAKE) ci-scan
	$(MAKE) iac-check
	$(MAKE) ci-sbom
	$(MAKE) ci-sign
	$(MAKE) ci-publish

$(CI_VENV)/.stamp: | $(VENV_OK)
	$(PYTHON) -m venv $(CI_VENV)
	$(CI_PY) -m pip --disable-pip-version-check install -q $(CI_TOOLS)
	@touch $@

ci-tools: $(CI_VENV)/.stamp

# --- lint -------------------------------------------------------------------
ci-lint: lint typecheck

# --- test -------------------------------------------------------------------
# pytest-cov belongs to the test extra; until pyproject.toml lists it, install it.
ci-test: $(STAMP_TEST) $(STAMP_DEBS)
	@$(PY) -c 'import pytest_cov' 2>/dev/null || $(PIP) install -q pytest-cov
	@mkdir -p $(dir $(JUNIT))
	$(BIN)/pytest -m "not slow" --junitxml=$(JUNIT) \
	  --cov=roamsim --cov-report=term:skip-covered --cov-report=xml:$(COVERAGE_XML) \
	  --cov-fail-under=$(COV_FLOOR) $(PYTEST_ARGS)

# --- package ----------------------------------------------------------------
ci-package: $(CI_VENV)/.stamp
	rm -rf $(DIST_DIR) build/lib build/bdist.*
	$(CI_PY) -m build --sdist --wheel --outdir $(DIST_DIR) .
	scripts/package-smoke.sh $(PYTHON) $(WHEEL_FILE) $(PKG_VENV) $(ROAMSIM_VERSION)
	scripts/package-smoke.sh $(PYTHON) $(SDIST_FILE) $(SDIST_VENV) $(ROAMSIM_VERSION)
	$(PKG_VENV)/bin/python -m pip --disable-pip-version-check freeze --all --exclude-editable \
	  | grep -v -i -E '^(roamsim|pip|setuptools|wheel)([=@ ]|$$)' >$(RUNTIME_REQS)
	@echo "runtime dependencies pinned in $(RUNTIME_REQS)"

# The scans and the SBOM look at what the wheel really installs.
$(RUNTIME_REQS):
	$(MAKE) ci-package

# --- container --------------------------------------------------------------
ci-container: container

# --- security scans -----------------------------------------------------------
# Not scanned: build outputs, venvs, caches, and the golden packet hex dumps of
# generated messages (tests/test_pcap_golden.json and tests/test_pcap_<protocol>_golden.json:
# high-entropy hex by nature, no secrets).
DETECT_SECRETS_EXCLUDE := ^(\.git|\.venv[^/]*|build|dist|runs|test-artifacts|\.mypy_cache|\.ruff_cache|\.pytest_cache|\.hypothesis)/|\.egg-info/|(^|/)__pycache__/|^tests/test_pcap(_[a-z]+)?_golden\.json$$
# Known fake credentials, allowed by exact value only: the S3 tests' dummy key
# pair (tests/test_upload.py), which they check is never logged.
DETECT_SECRETS_ALLOW := ^(roamsim-test-secret-never-print-me|AKIAROAMSIMTESTING01)$$

ci-scan: $(CI_VENV)/.stamp $(RUNTIME_REQS)
	@mkdir -p $(CI_DIR)
	@echo "== bandit (SARIF: $(CI_DIR)/bandit.sarif)"
	$(CI_BIN)/bandit -q -r src -f sarif -o $(CI_DIR)/bandit.sarif --exit-zero
	$(CI_BIN)/bandit -q -r src -f custom \
	  --msg-template '{relpath}:{line}: {test_id} [{severity}/{confidence}] {msg}' --exit-zero
	@if [ -n "$(BANDIT_GATE)" ]; then \
	  $(CI_BIN)/bandit -q -r src $(BANDIT_GATE) -f custom --msg-template '{relpath}:{line}: {test_id}' >/dev/null \
	    || { echo "bandit: findings at or above the gate ($(BANDIT_GATE)); see above" >&2; exit 1; }; \
	fi
	@echo "== pip-audit (runtime dependencies: $(RUNTIME_REQS))"
	scripts/run-pip-audit.sh $(CI_BIN)/pip-audit $(RUNTIME_REQS) $(CI_DIR)/pip-audit.json
	@echo "== detect-secrets (every file outside build outputs and venvs)"
	$(CI_BIN)/detect-secrets scan --all-files --exclude-files '$(DETECT_SECRETS_EXCLUDE)' \
	  --exclude-secrets '$(DETECT_SECRETS_ALLOW)' >$(CI_DIR)/secrets.json
	$(CI_PY) scripts/secrets-report.py $(CI_DIR)/secrets.json

# --- SBOM -------------------------------------------------------------------
ci-sbom: $(CI_VENV)/.stamp $(RUNTIME_REQS)
	@mkdir -p $(DIST_DIR)
	$(CI_BIN)/cyclonedx-py environment $(PKG_VENV)/bin/python --pyproject pyproject.toml \
	  --mc-type application --output-reproducible --of JSON -o $(SBOM_FILE)
	@$(CI_PY) -c 'import json, sys; b = json.load(open(sys.argv[1])); print("SBOM:", sys.argv[1], "CycloneDX", b["specVersion"], len(b.get("components", [])), "components")' $(SBOM_FILE)

# --- signed build manifest ----------------------------------------------------
# Every artefact present: distributions, SBOM, scan and test reports, and the
# image digest when an image was built. SIGNING_KEY=path uses a kept key.
ci-sign:
	@mkdir -p $(CI_DIR)
	@# Refresh the image digest when the image is here (else keep one made by ci-container).
	@if command -v buildah >/dev/null 2>&1 && $(BUILDAH) inspect --type image $(IMAGE):$(IMAGE_TAG) >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory container-digest; fi
	scripts/sign-manifest.sh $(MANIFEST) $$(ls $(DIST_DIR)/*.whl $(DIST_DIR)/*.tar.gz $(DIST_DIR)/*.cdx.json \
	  $(CI_DIR)/bandit.sarif $(CI_DIR)/pip-audit.json $(CI_DIR)/secrets.json $(IMAGE_DIGEST_FILE) \
	  $(JUNIT) $(COVERAGE_XML) 2>/dev/null)
	scripts/verify-manifest.sh $(MANIFEST)

ci-verify:
	scripts/verify-manifest.sh $(MANIFEST)

# --- publish ----------------------------------------------------------------
ci-publish: publish

ci-clean:
	rm -rf $(CI_DIR) $(DIST_DIR) $(CI_VENV)
