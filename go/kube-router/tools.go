//go:build tools

// Package tools pins the lab's NetworkPolicy enforcer: kube-router's network policy controller
// (github.com/cloudnativelabs/kube-router/v2), run with its firewall only: no routing, no service
// proxy (kube-proxy keeps that job). It keeps every module kube-router's main package needs in
// go.mod/go.sum, so that a build with -mod=readonly resolves nothing new.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
