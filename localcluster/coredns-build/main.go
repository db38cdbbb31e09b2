// Command coredns is CoreDNS with only the plugins the node tier's cluster DNS uses (see
// shortlink_localcluster.node): it answers for the cluster domain from the Kubernetes API, caches,
// logs errors and reports readiness. CoreDNS documents this way of choosing plugins at build time;
// with the cloud providers' plugins left out it builds in a fraction of the time.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order in which a query passes the plugins, as in CoreDNS's own plugin.cfg.
	dnsserver.Directives = []string{"ready", "errors", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
