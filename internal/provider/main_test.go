package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain points DOCKER_CONFIG at an empty Docker config for the whole test process, before
// any test runs, so that neither the machine's ~/.docker/config.json nor a Podman auth file
// (read when no Docker config file exists) plays a part. Tests that need no Docker config
// entries of their own can then run in parallel; the few that write one use
// isolateDockerConfig and stay sequential (t.Setenv).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zarf-provider-test-docker-config-")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}\n"), 0o600)
	}
	if err == nil {
		err = os.Setenv("DOCKER_CONFIG", dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "isolating the Docker config: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}
