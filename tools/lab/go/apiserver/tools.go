//go:build tools

// Package tools pins the commands this module exists to build: kube-apiserver, and
// kube-controller-manager for the two controllers admission depends on (the namespace's
// default ServiceAccount, ResourceQuota status) and the workload controllers, and kube-scheduler
// so that pods land on the lab's kwok nodes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
