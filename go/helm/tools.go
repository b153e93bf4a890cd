//go:build tools

// Package tools pins Helm (helm.sh/helm/v4/cmd/helm), the lab's installer of the peer chart that
// the stack is benchmarked against (lab/peer_chart.py: the redis-ha chart under
// /work/shared/peers). It keeps every module helm's main package needs in go.mod/go.sum, so
// that a build with -mod=readonly resolves nothing new. The stack itself never uses Helm.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
)
