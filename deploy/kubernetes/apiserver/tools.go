//go:build tools

// Package tools pins kube-apiserver, which deploy/kubernetes/dry-run.sh builds from this module
// (k8s.io/kubernetes cannot be required without a replace for each of its staging modules).
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
