//go:build tools

// Package tools pins kube-apiserver and kubectl, which deploy/kubernetes/tools.sh builds from
// this module where a machine has none (k8s.io/kubernetes cannot be required without a replace
// for each of its staging modules).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
