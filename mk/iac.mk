# Infrastructure checks without a terraform binary: parse every .tf file with
# python-hcl2 and run checkov offline. Both live in their own venv (.venv-iac):
# checkov pulls in many dependencies that roamsim must not carry.

IAC_VENV   ?= .venv-iac
IAC_DIR    ?= infra/terraform
IAC_STAMP  := $(IAC_VENV)/.stamp-iac
IAC_REQS   := infra/requirements-iac.txt infra/requirements-hcl2.txt
IAC_HCL2   := $(IAC_VENV)/hcl2
IAC_PIP    := $(IAC_VENV)/bin/python -m pip --disable-pip-version-check
IAC_REPORT ?= test-artifacts/checkov.txt

.PHONY: iac-check iac-venv

$(IAC_STAMP): $(IAC_REQS)
	@if ! $(PYTHON) -c 'import ensurepip' >/dev/null 2>&1; then \
	  echo "error: $(PYTHON) cannot create a venv (no ensurepip); install python3-venv" >&2; exit 1; \
	fi
	rm -rf $(IAC_VENV)
	$(PYTHON) -m venv $(IAC_VENV)
	$(IAC_PIP) install -q -r infra/requirements-iac.txt
	$(IAC_PIP) install -q --target $(IAC_HCL2) -r infra/requirements-hcl2.txt
	@touch $@

iac-venv: $(IAC_STAMP)

# checkov's summary line reads "Passed checks: N, Failed checks: M, Skipped checks: K";
# the target fails unless M is 0. BC_SKIP_MAPPING and --skip-download keep it offline.
iac-check: $(IAC_STAMP)
	PYTHONPATH=$(IAC_HCL2) $(IAC_VENV)/bin/python infra/check_hcl.py $(IAC_DIR)
	@if command -v terraform >/dev/null 2>&1; then \
	  echo "terraform fmt -check -recursive $(IAC_DIR)"; \
	  TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff $(IAC_DIR); \
	else echo "terraform not installed: skipping terraform fmt -check"; fi
	@mkdir -p $(dir $(IAC_REPORT))
	@\
	BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
	  $(IAC_VENV)/bin/checkov -d $(IAC_DIR) --framework terraform --skip-download --compact --quiet \
	  > $(IAC_REPORT) 2>&1; rc=$$?; \
	summary=$$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+' $(IAC_REPORT) | head -n 1); \
	if [ -z "$$summary" ]; then cat $(IAC_REPORT); echo "error: no checkov summary line (exit $$rc)" >&2; exit 1; fi; \
	echo "checkov: $$summary"; \
	failed=$$(echo "$$summary" | sed -E 's/.*Failed checks: ([0-9]+).*/\1/'); \
	if [ "$$failed" != 0 ]; then cat $(IAC_REPORT); echo "error: checkov reports $$failed failed checks" >&2; exit 1; fi
