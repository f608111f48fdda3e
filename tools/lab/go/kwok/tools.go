//go:build tools

// Package tools pins the command this module exists to build: kwok, which plays the kubelet of
// every lab node (a Node object per stack node, pods moved to Running by its stage files).
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
