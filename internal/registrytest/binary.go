package registrytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

const (
	// modulePath identifies the repository root: the directory whose go.mod declares it.
	modulePath = "github.com/zarf-dev/terraform-provider-zarf"
	// registryModule is the Go module of the registry server, pinned in tools/go.mod.
	registryModule = "github.com/distribution/distribution/v3"
	// binaryEnv overrides the registry binary; it is then neither built nor checked.
	binaryEnv = "ZARF_REGISTRY_BIN"
)

// registryBinary is the binary and its version, located (and built if needed) once per
// test process.
type registryBinary struct {
	path    string
	version string // e.g. "v3.1.2"
}

// locateBinary finds the distribution registry binary: $ZARF_REGISTRY_BIN if set, else
// <repo root>/bin/registry, built from the tools module when it is missing or its version
// differs from the one pinned in tools/go.mod. Concurrent test processes serialise the build
// with a lock on <repo root>/bin/.registry.lock.
var locateBinary = sync.OnceValues(func() (registryBinary, error) {
	if path := os.Getenv(binaryEnv); path != "" {
		version, err := binaryVersion(path)
		if err != nil {
			return registryBinary{}, fmt.Errorf("%s=%s: %w", binaryEnv, path, err)
		}
		return registryBinary{path: path, version: version}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return registryBinary{}, err
	}
	return ensureBuilt(root)
})

// repoRoot walks up from the working directory to the directory whose go.mod declares
// modulePath.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if moduleLine(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// moduleLine returns the module path declared by the go.mod file at path, or "".
func moduleLine(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// ensureBuilt returns <root>/bin/registry, building it under the lock when it is missing or
// stale.
func ensureBuilt(root string) (registryBinary, error) {
	binDir := filepath.Join(root, "bin")
	path := filepath.Join(binDir, "registry")
	want, err := pinnedVersion(filepath.Join(root, "tools", "go.mod"))
	if err != nil {
		return registryBinary{}, err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return registryBinary{}, fmt.Errorf("creating %s: %w", binDir, err)
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".registry.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return registryBinary{}, fmt.Errorf("opening build lock: %w", err)
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return registryBinary{}, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	if version, err := binaryVersion(path); err == nil && version == want {
		return registryBinary{path: path, version: version}, nil
	}
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	cmd := exec.Command("go", "build", "-C", filepath.Join(root, "tools"), "-o", tmp, registryModule+"/cmd/registry")
	if out, err := cmd.CombinedOutput(); err != nil {
		return registryBinary{}, fmt.Errorf("building the registry (%s): %w\n%s", cmd, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return registryBinary{}, fmt.Errorf("installing the registry binary: %w", err)
	}
	version, err := binaryVersion(path)
	if err != nil {
		return registryBinary{}, err
	}
	return registryBinary{path: path, version: version}, nil
}

// pinnedVersion reads the version of registryModule required by the go.mod file at path.
func pinnedVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the tools module: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == registryModule {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("%s does not require %s", path, registryModule)
}

// binaryVersion runs "<path> --version" ("registry github.com/distribution/distribution/v3
// v3.1.2+unknown") and returns the version without build metadata.
func binaryVersion(path string) (string, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", fmt.Errorf("unexpected output of %s --version: %q", path, out)
	}
	version, _, _ := strings.Cut(f[2], "+")
	return version, nil
}
