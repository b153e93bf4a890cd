//go:build tools

// Package tools pins the lab's Prometheus and its promtool (github.com/prometheus/prometheus, Prometheus 3 is
// module version v0.3xx), so that `go mod tidy` keeps every module its main package needs in
// go.mod/go.sum and a build with -mod=readonly resolves nothing new. Debian's prometheus
// package cannot serve here: Debian builds it without Kubernetes service discovery.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
