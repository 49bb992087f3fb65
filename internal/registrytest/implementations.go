package registrytest

import (
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

const (
	// V2BinaryEnv overrides the path of the distribution v2 registry binary.
	V2BinaryEnv = "ZARF_REGISTRY_V2_BIN"
	// DefaultV2Binary is where Debian's docker-registry package (distribution 2.8) installs
	// the registry.
	DefaultV2Binary = "/usr/bin/docker-registry"

	ggcrModule = "github.com/google/go-containerregistry"
)

// Capabilities is what a registry implementation, as [Implementations] configures it,
// accepts and serves. The compatibility tests choose their cases and expectations from
// it, and TestImplementationCapabilities checks every field against the running registry.
type Capabilities struct {
	// SparseIndexes is true when the registry accepts an index that lists manifests it
	// does not hold (the index of a mirror of some of the source's platforms).
	SparseIndexes bool
	// CheckedPlatforms are, with SparseIndexes, the platforms ("os/arch") whose manifests
	// the registry still requires (distribution v3 validation "list"). Empty: none.
	CheckedPlatforms []string
	// Deletes is true when DELETE of a manifest by digest succeeds. Without it, the
	// registry answers 405 UNSUPPORTED.
	Deletes bool
	// PlatformlessEntries is true when the registry accepts an index with an entry that has
	// no platform, such as a nested index or the index of a referrers fallback tag.
	// Distribution v3.1.2 with validation "list" dereferences the missing platform, and
	// the request fails with the connection closed (distribution/distribution PR #4804).
	PlatformlessEntries bool
	// ReferrersAPI is true when the registry serves GET /v2/<name>/referrers/<digest>
	// (OCI distribution spec 1.1). Without it, clients fall back to the "sha256-<hex>" tag.
	ReferrersAPI bool
}

// AcceptsIndexHolding reports whether the registry accepts an index whose manifests are
// present only for the given platforms ("os/arch[/variant]"), the others being absent.
// It does not answer for an index that holds every manifest: every registry accepts that.
func (c Capabilities) AcceptsIndexHolding(platforms ...string) bool {
	if !c.SparseIndexes {
		return false
	}
	held := map[string]bool{}
	for _, p := range platforms {
		parts := strings.Split(p, "/")
		if len(parts) >= 2 {
			held[parts[0]+"/"+parts[1]] = true
		}
	}
	for _, p := range c.CheckedPlatforms {
		if !held[p] {
			return false
		}
	}
	return true
}

// Implementation is a registry implementation that the tests can run on this machine.
type Implementation struct {
	// Name is short and stable, fit for a subtest name, e.g. "distribution-v3-none".
	Name string
	// Description says which server and configuration it is, for logs and documentation.
	Description string
	// Caps is what it accepts, as configured.
	Caps Capabilities
	// Start starts a fresh, empty registry on 127.0.0.1 that is stopped when the test
	// ends. Registry.Name names the server, its version and configuration. An
	// implementation whose server is not installed skips the test, or fails it when the
	// environment variable CI is true (see [Implementations]).
	Start func(tb testing.TB) *Registry
}

// Implementations returns every registry implementation the compatibility tests run on:
//
//   - "distribution-v2.8": distribution 2.8 (Debian's docker-registry package) at
//     $ZARF_REGISTRY_V2_BIN or /usr/bin/docker-registry, with distribution's default
//     storage.delete.enabled: false. When the binary is missing, Start skips the test
//     with a message saying how to install it, or fails it when CI is true (CI runs every
//     implementation);
//   - "distribution-v3-all", "distribution-v3-none", "distribution-v3-list": the
//     distribution v3 registry of [Start] with index validation all (the default), none,
//     and list with platformlist linux/amd64 and linux/arm64;
//   - "ggcr": go-containerregistry's in-process registry (pkg/registry) with the
//     referrers API, served by net/http/httptest on 127.0.0.1.
func Implementations() []Implementation {
	listed := []string{"linux/amd64", "linux/arm64"}
	return []Implementation{
		{
			Name:        "distribution-v2.8",
			Description: "CNCF distribution 2.8 (Debian package docker-registry), storage.delete.enabled: false (the default)",
			Caps:        Capabilities{PlatformlessEntries: true},
			Start:       startV2,
		},
		{
			Name:        "distribution-v3-all",
			Description: "CNCF distribution v3, validation.manifests.indexes.platforms: all (the default)",
			Caps:        Capabilities{PlatformlessEntries: true, Deletes: true},
			Start:       func(tb testing.TB) *Registry { tb.Helper(); return Start(tb, WithIndexValidation("all")) },
		},
		{
			Name:        "distribution-v3-none",
			Description: "CNCF distribution v3, validation.manifests.indexes.platforms: none",
			Caps:        Capabilities{SparseIndexes: true, PlatformlessEntries: true, Deletes: true},
			Start:       func(tb testing.TB) *Registry { tb.Helper(); return Start(tb, WithIndexValidation("none")) },
		},
		{
			Name:        "distribution-v3-list",
			Description: "CNCF distribution v3, validation.manifests.indexes.platforms: list, platformlist: " + strings.Join(listed, ", "),
			Caps:        Capabilities{SparseIndexes: true, CheckedPlatforms: listed, Deletes: true},
			Start:       func(tb testing.TB) *Registry { tb.Helper(); return Start(tb, WithIndexValidation("list", listed...)) },
		},
		{
			Name:        "ggcr",
			Description: "go-containerregistry pkg/registry (in-process, in memory), WithReferrersSupport(true)",
			Caps:        Capabilities{PlatformlessEntries: true, Deletes: true, ReferrersAPI: true},
			Start:       startGGCR,
		},
	}
}

// OnCI reports whether the environment variable CI is true (as CI services set it).
func OnCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// locateV2Binary finds the distribution v2 binary and its version, once per test process.
var locateV2Binary = sync.OnceValues(func() (registryBinary, error) {
	path, source := DefaultV2Binary, "the default path"
	if p := os.Getenv(V2BinaryEnv); p != "" {
		path, source = p, V2BinaryEnv
	}
	if _, err := os.Stat(path); err != nil {
		return registryBinary{}, fmt.Errorf("no distribution v2 registry at %s (%s): %w", path, source, err)
	}
	version, err := binaryVersion(path) // "docker-registry github.com/docker/distribution 2.8.2+ds1"
	if err != nil {
		return registryBinary{}, err
	}
	version = "v" + strings.TrimPrefix(version, "v")
	if !strings.HasPrefix(version, "v2.") {
		return registryBinary{}, fmt.Errorf("%s (%s) is distribution %s, not v2", path, source, version)
	}
	return registryBinary{path: path, version: version}, nil
})

// startV2 starts distribution v2 with the same configuration as [Start] (v2 ignores the
// validation.manifests.indexes section, which it does not know) but deletes disabled.
func startV2(tb testing.TB) *Registry {
	tb.Helper()
	return startV2With(tb, false)
}

// startV2With starts distribution v2 with storage.delete.enabled set to deletes.
func startV2With(tb testing.TB, deletes bool) *Registry {
	tb.Helper()
	bin, err := locateV2Binary()
	if err != nil {
		msg := fmt.Sprintf("registrytest: distribution v2 is not installed, so this test cannot run on it: %v.\n"+
			"Install it with `apt-get install docker-registry` (Debian/Ubuntu) or set %s to a distribution 2.x registry binary.", err, V2BinaryEnv)
		if OnCI() {
			tb.Fatal(msg + " CI=true: every registry implementation must run in CI.")
		}
		tb.Skip("\n" + strings.Repeat("!", 78) + "\n" + msg + "\n" + strings.Repeat("!", 78))
	}
	s := settings{validation: "all", delete: deletes}
	r, err := start(tb.TempDir(), bin, &s)
	if err != nil {
		tb.Fatalf("registrytest: starting distribution %s (%s): %v", bin.version, bin.path, err)
	}
	r.Name = fmt.Sprintf("distribution-%s (%s, delete=%t)", bin.version, bin.path, deletes)
	stopAtCleanup(tb, r)
	return r
}

// startGGCR serves go-containerregistry's registry on 127.0.0.1 in this process. Its
// request log goes to a file, printed (the end of it) when the test fails.
func startGGCR(tb testing.TB) *Registry {
	tb.Helper()
	logPath := filepath.Join(tb.TempDir(), "registry.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("registrytest: creating the log file: %v", err)
	}
	srv := httptest.NewServer(ggcrregistry.New(
		ggcrregistry.WithReferrersSupport(true),
		ggcrregistry.Logger(log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)),
	))
	r := &Registry{
		Name:    fmt.Sprintf("go-containerregistry-%s pkg/registry (in-process, referrers API)", moduleVersion(ggcrModule)),
		logPath: logPath,
		shutdown: func() {
			srv.Close()
			logFile.Close()
		},
	}
	if r.Endpoint, err = newEndpoint(srv.Listener.Addr().String(), nil, "", ""); err != nil {
		srv.Close()
		tb.Fatalf("registrytest: %v", err)
	}
	stopAtCleanup(tb, r)
	return r
}

// stopAtCleanup stops r when the test ends and, if the test failed, prints the end of its
// log, as [Start] does.
func stopAtCleanup(tb testing.TB, r *Registry) {
	tb.Cleanup(func() {
		r.Stop()
		if tb.Failed() {
			tb.Logf("registrytest: last lines of the log of %s at %s:\n%s", r.Name, r.Host, tailFile(r.logPath, logTailLines))
		}
	})
}

// moduleVersion returns the version of a module this binary was built with. Test binaries
// carry no module list, so it falls back to the requirement in the repository's go.mod.
func moduleVersion(path string) string {
	if info, ok := debug.ReadBuildInfo(); ok {
		if i := slices.IndexFunc(info.Deps, func(m *debug.Module) bool { return m.Path == path }); i >= 0 {
			return info.Deps[i].Version
		}
	}
	if root, err := repoRoot(); err == nil {
		data, _ := os.ReadFile(filepath.Join(root, "go.mod"))
		for line := range strings.Lines(string(data)) {
			if f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require ")); len(f) >= 2 && f[0] == path {
				return f[1]
			}
		}
	}
	return "unknown"
}
