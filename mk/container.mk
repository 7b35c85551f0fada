# Container image: `make container` builds and smoke-tests it with buildah
# (vfs storage, chroot isolation: no container engine or registry needed).
# `make publish` pushes it; `make registry-test` proves the push against a
# throwaway local registry (Debian's docker-registry) on loopback.

BUILDAH       ?= buildah --storage-driver vfs
IMAGE         ?= roamsim
IMAGE_TAG     ?= dev
DEBIAN_SUITE  ?= bookworm
WHEELHOUSE    := build/wheelhouse
ROOTFS_TAR    := build/base/rootfs-$(DEBIAN_SUITE).tar
ROAMSIM_VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml)

# Publishing: REGISTRY is host[:port][/namespace]; empty means "prove it against
# a local registry" (registry-test). PUBLISH_TAG defaults to the package version.
REGISTRY         ?=
PUBLISH_TAG      ?= $(ROAMSIM_VERSION)
PUBLISH_TLS_VERIFY ?= true
REGISTRY_PORT    ?= 5000
PUBLISH_DIGESTFILE ?= build/ci/publish-digest.txt
IMAGE_DIGEST_FILE  ?= build/ci/image-digest.txt

.PHONY: container container-deps registry-deps container-wheels container-base container-build \
        container-smoke container-size container-digest publish registry-test container-clean

# Debian packages the container targets use ("command:package"); installed with
# apt-get when missing and we are root.
CONTAINER_DEBS := buildah:buildah debootstrap:debootstrap
REGISTRY_DEBS  := docker-registry:docker-registry curl:curl
define install-debs
	@missing=""; for pair in $(1); do \
	  cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "error: missing Debian packages:$$missing (install them, or run as root)" >&2; exit 1; \
	  fi; \
	fi
endef

container-deps:
	$(call install-debs,$(CONTAINER_DEBS))

registry-deps:
	$(call install-debs,$(REGISTRY_DEBS))

# roamsim and every dependency as wheels, built on the host (the build itself
# installs them with --no-index). Rebuilt each time so no stale wheel lingers.
# The image's python3 is Debian's ($(DEBIAN_SUITE): 3.11), so the host must build
# for the same minor version.
IMAGE_PYTHON ?= 3.11
container-wheels: | $(VENV_OK)
	@$(PY) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v == "$(IMAGE_PYTHON)" else \
	  f"error: $(VENV) has Python {v}, the image has $(IMAGE_PYTHON); wheels would not match (make PYTHON=python$(IMAGE_PYTHON))")'
	rm -rf $(WHEELHOUSE)
	$(PIP) wheel -q -w $(WHEELHOUSE) '.[s3]'

# Debian minbase + python3 + python3-venv from the machine's apt mirror; cached.
$(ROOTFS_TAR): scripts/make-base-rootfs.sh | container-deps
	PATH="$$PATH:/usr/sbin:/sbin" scripts/make-base-rootfs.sh $@ $(DEBIAN_SUITE)

container-base: $(ROOTFS_TAR)

container-build: container-deps container-wheels container-base
	$(BUILDAH) bud --isolation chroot --layers=false \
	  --build-arg ROOTFS=$(ROOTFS_TAR) --build-arg VERSION=$(ROAMSIM_VERSION) \
	  -t $(IMAGE):$(IMAGE_TAG) -f Containerfile .

container-smoke:
	BUILDAH="$(BUILDAH)" scripts/container-smoke.sh $(IMAGE):$(IMAGE_TAG) $(ROAMSIM_VERSION)

container-size:
	@$(BUILDAH) images --format '{{.Name}}:{{.Tag}} {{.Size}}' $(IMAGE):$(IMAGE_TAG)

# "IMAGE:TAG sha256:..." of the built image, for the signed build manifest.
container-digest:
	@mkdir -p $(dir $(IMAGE_DIGEST_FILE))
	@printf '%s %s\n' $(IMAGE):$(IMAGE_TAG) "$$($(BUILDAH) images --format '{{.Digest}}' $(IMAGE):$(IMAGE_TAG))" \
	  >$(IMAGE_DIGEST_FILE)
	@cat $(IMAGE_DIGEST_FILE)

container: container-build
	@$(MAKE) --no-print-directory container-smoke container-size container-digest

# Push an already built image ($(IMAGE):$(IMAGE_TAG)) to $(REGISTRY) as
# $(REGISTRY)/$(IMAGE):$(PUBLISH_TAG). Credentials come from buildah's usual
# auth file (buildah login / REGISTRY_AUTH_FILE), never from this Makefile.
ifeq ($(strip $(REGISTRY)),)
publish: registry-test
else
publish:
	@mkdir -p $(dir $(PUBLISH_DIGESTFILE))
	$(BUILDAH) push --tls-verify=$(PUBLISH_TLS_VERIFY) --digestfile $(PUBLISH_DIGESTFILE) \
	  $(IMAGE):$(IMAGE_TAG) docker://$(REGISTRY)/$(IMAGE):$(PUBLISH_TAG)
	@echo "pushed $(REGISTRY)/$(IMAGE):$(PUBLISH_TAG)@$$(cat $(PUBLISH_DIGESTFILE))"
endif

# Start Debian's docker-registry on 127.0.0.1:$(REGISTRY_PORT) with a temporary
# config and storage root, push the image, check /v2/_catalog lists it, stop it.
registry-test: registry-deps
	BUILDAH="$(BUILDAH)" scripts/registry-test.sh $(IMAGE):$(IMAGE_TAG) $(IMAGE) $(PUBLISH_TAG) $(REGISTRY_PORT)

container-clean:
	-$(BUILDAH) rmi $(IMAGE):$(IMAGE_TAG)
	rm -rf $(WHEELHOUSE) build/base
