// Command coredns is CoreDNS with the plugins a cluster DNS needs and nothing else: the same
// directives kubeadm's Corefile uses (errors, health, ready, kubernetes, prometheus, forward,
// cache, loop, reload, loadbalance) plus bind and log. CoreDNS plugins are compiled in, and the
// upstream main package pulls in every plugin (and its cloud SDKs); this subset builds in a
// fraction of the time. The directive order stays CoreDNS's own. A directive missing here fails at start with "no action found for
// directive".
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() { coremain.Run() }
