// Command terraform-provider-zarf serves the zarf Terraform provider, which mirrors container
// image indexes into other registries with their digests kept.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/zarf-dev/terraform-provider-zarf/internal/provider"
)

// version is set by goreleaser at build time.
var version = "dev"

// cpuProfileEnv names a directory: when it is set, every provider process that terraform
// starts writes a CPU profile of its whole life there, as cpu-<pid>.pprof (`make bench-scale`
// and performance work use it).
const cpuProfileEnv = "ZARF_PROVIDER_CPUPROFILE"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()

	quietUnlessRecorded()
	if dir := os.Getenv(cpuProfileEnv); dir != "" {
		stop, err := profileCPU(dir)
		if err != nil {
			log.Fatal(err.Error())
		}
		defer stop()
	}
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/zarf-dev/zarf",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}

// quietUnlessRecorded turns the provider's logs off when terraform does not record them.
//
// The plugin libraries log at TRACE unless TF_LOG_SDK and TF_LOG_PROVIDER_ZARF say otherwise:
// several JSON lines per request and attribute, written to terraform, which parses each one and
// keeps it only when TF_LOG or TF_LOG_PROVIDER (which the provider inherits) asks for provider
// logs. Without them, writing and parsing those lines is a fifth of what a plan of an unchanged
// mirror costs the provider, and a share of terraform's time too. Levels set explicitly stay.
func quietUnlessRecorded() {
	if os.Getenv("TF_LOG") != "" || os.Getenv("TF_LOG_PROVIDER") != "" {
		return
	}
	for _, name := range []string{"TF_LOG_SDK", "TF_LOG_PROVIDER_ZARF"} {
		if _, set := os.LookupEnv(name); !set {
			_ = os.Setenv(name, "OFF")
		}
	}
}

// profileCPU starts a CPU profile into dir; stop ends it and closes the file.
func profileCPU(dir string) (stop func(), err error) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", cpuProfileEnv, err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
