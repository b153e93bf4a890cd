// The pulumi-resource-kubernetes entry point, rebuilt outside the provider's repository:
// the upstream main package embeds two generated files that its module zip lacks, so this
// wrapper embeds files made by make-provider-embeds.py instead.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() { provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping) }
