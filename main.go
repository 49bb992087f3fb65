// Command terraform-provider-zarf serves the zarf Terraform provider, which mirrors container
// image indexes into other registries with their digests kept.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/zarf-dev/terraform-provider-zarf/internal/provider"
)

// version is set by goreleaser at build time.
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/zarf-dev/zarf",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
