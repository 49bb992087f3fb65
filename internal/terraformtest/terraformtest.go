// Package terraformtest runs the real terraform CLI with a provider binary built from this
// module, as a user or a CI job runs it: for the tests that go beyond terraform-plugin-testing
// (exit codes, examples) and for the scale benchmark. The provider is installed through
// dev_overrides, so no `terraform init` is needed.
package terraformtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ProviderBinary is the file name of the provider binary that terraform starts.
const ProviderBinary = "terraform-provider-zarf"

// CLI is the terraform binary with the CLI configuration that installs the provider built by
// New.
type CLI struct {
	bin string
	env []string
}

// New builds the provider into a temporary directory and writes the CLI configuration.
// terraform is TF_ACC_TERRAFORM_PATH, else the one on PATH.
func New(tb testing.TB) *CLI {
	tb.Helper()
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			tb.Fatal("TF_ACC_TERRAFORM_PATH is not set and terraform is not on PATH")
		}
	}
	pluginDir := tb.TempDir()
	build := exec.CommandContext(tb.Context(), "go", "build", "-o", filepath.Join(pluginDir, ProviderBinary),
		"github.com/zarf-dev/terraform-provider-zarf")
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(tb.TempDir(), "terraformrc")
	WriteFile(tb, cliConfig, fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n",
		"registry.terraform.io/zarf-dev/zarf", filepath.ToSlash(pluginDir)))
	// The test process's TF_* variables (TF_ACC, TF_LOG, TF_CLI_CONFIG_FILE, ...) are for
	// terraform-plugin-testing, not for this terraform.
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "TF_") && k != "CHECKPOINT_DISABLE" {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0")
	return &CLI{bin: bin, env: env}
}

// Command returns the command that runs terraform with args in dir, for callers that watch
// the process while it runs; its environment may be extended.
func (c *CLI) Command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir, cmd.Env = dir, c.env
	return cmd
}

// Run runs terraform with args in dir and returns its standard output and error and its exit
// code.
func (c *CLI) Run(tb testing.TB, dir string, args ...string) (stdout, stderr []byte, code int) {
	tb.Helper()
	cmd := c.Command(tb.Context(), dir, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code = ExitCode(tb, cmd.Run(), args) // before reading the buffers: operands are evaluated left to right
	return out.Bytes(), errOut.Bytes(), code
}

// ExitCode is the exit code that err, what running terraform with args returned, carries; it
// fails the test when terraform could not run at all.
func ExitCode(tb testing.TB, err error, args []string) int {
	tb.Helper()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	case err != nil:
		tb.Fatalf("running terraform %s: %v", strings.Join(args, " "), err)
	}
	return 0
}

// WriteFile writes content to path, creating its directory.
func WriteFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
