# The server image and the Kubernetes manifests (deploy/README.md), included by the top Makefile.
# make test builds the image (deploy/image/build.sh: podman, runc and debootstrap, installed with
# apt-get when missing) and validates every overlay of the manifests (deploy/kubernetes/validate.sh:
# kubectl kustomize, then kubernetes-validate --strict for each Kubernetes minor from 1.27 on)
# before pytest runs tests/deploy against both. On a 2-core machine: about 100 s from nothing (73 s
# of it debootstrap, once per machine), 20 s when the base is there, nothing when no input changed.
DEPLOY := deploy
IMAGE_STAMP := $(DEPLOY)/build/image.stamp
MANIFESTS_STAMP := $(DEPLOY)/build/manifests.stamp
TEST_BUILDS += $(IMAGE_STAMP) $(MANIFESTS_STAMP)

# A stamp whose image podman no longer holds is stale.
ifneq ($(wildcard $(IMAGE_STAMP)),)
ifneq ($(shell podman image exists "$$(cat $(DEPLOY)/build/image-id 2>/dev/null)" 2>/dev/null && echo yes),yes)
$(shell rm -f $(IMAGE_STAMP))
endif
endif

$(IMAGE_STAMP): $(VENV)/.installed pyproject.toml $(wildcard $(DEPLOY)/image/*) \
		$(shell find service/anomalyd clients/python/anomalyd_client -name '*.py')
	$(DEPLOY)/image/build.sh
	touch $@

$(MANIFESTS_STAMP): $(VENV)/.installed $(shell find $(DEPLOY)/kubernetes -type f)
	$(DEPLOY)/kubernetes/validate.sh
	touch $@
