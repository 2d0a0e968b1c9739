# The server image and the Kubernetes manifests (deploy/README.md), included by the top Makefile.
# Before pytest runs tests/deploy against them, make test
# - builds the image (deploy/image/build.sh: podman, runc and debootstrap, installed with apt-get
#   when missing): on 2 cores about 100 s from nothing (73 s of it debootstrap, once per
#   machine), 20 s when the base is there, nothing when no input changed;
# - renders every overlay with kubectl kustomize and validates each object strictly against the
#   schemas of each Kubernetes minor from 1.27 on (deploy/kubernetes/validate.sh, 3 s), then
#   dry-runs them against a real kube-apiserver and etcd with restricted pod security
#   (deploy/kubernetes/dry-run.sh, 7 s; building kube-apiserver with Go costs about 7 minutes
#   once per machine, when neither it nor Go's build cache is there: deploy/kubernetes/tools.sh).
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
	$(DEPLOY)/kubernetes/dry-run.sh
	touch $@
