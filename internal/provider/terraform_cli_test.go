package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// terraformCLI is the real terraform binary with a provider binary built from this module,
// installed through dev_overrides (no `terraform init` needed), for tests that run terraform
// as a user or a CI job does rather than through terraform-plugin-testing.
type terraformCLI struct {
	bin string
	env []string
}

// newTerraformCLI builds the provider and writes the CLI configuration. Like the acceptance
// tests, it skips unless TF_ACC is set; terraform comes from TF_ACC_TERRAFORM_PATH or PATH.
func newTerraformCLI(t *testing.T) *terraformCLI {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (and TF_ACC_TERRAFORM_PATH) to run it")
	}
	bin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			t.Fatal("TF_ACC_TERRAFORM_PATH is not set and terraform is not on PATH")
		}
	}
	pluginDir := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(pluginDir, "terraform-provider-zarf"),
		"github.com/zarf-dev/terraform-provider-zarf")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	writeFile(t, cliConfig, fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n",
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
	return &terraformCLI{bin: bin, env: env}
}

// run runs terraform in dir and returns its standard output and error and its exit code.
func (c *terraformCLI) run(t *testing.T, dir string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), c.bin, args...)
	cmd.Dir, cmd.Env = dir, c.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.Bytes(), errOut.Bytes(), code
}

// expect runs terraform in dir as a CI job does (-no-color, -input=false), fails the test
// unless it exits with want, and returns its standard output and error together.
func (c *terraformCLI) expect(t *testing.T, dir string, want int, args ...string) string {
	t.Helper()
	stdout, stderr, code := c.run(t, dir, append(args, "-no-color", "-input=false")...)
	out := string(append(stdout, stderr...))
	if code != want {
		t.Fatalf("terraform %s exited %d, want %d; output:\n%s", strings.Join(args, " "), code, want, out)
	}
	t.Logf("terraform %s: exit %d", strings.Join(args, " "), code)
	return out
}

// validateDiagnostic is one diagnostic of `terraform validate -json`.
type validateDiagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Range    *struct {
		Filename string `json:"filename"`
		Start    struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
}

// validate runs `terraform validate -json` in dir and returns whether the configuration is
// valid and the diagnostics, without the warning that dev_overrides print.
func (c *terraformCLI) validate(t *testing.T, dir string) (bool, []validateDiagnostic) {
	t.Helper()
	stdout, stderr, code := c.run(t, dir, "validate", "-json", "-no-color")
	var result struct {
		Valid       bool                 `json:"valid"`
		Diagnostics []validateDiagnostic `json:"diagnostics"`
	}
	if err := json.Unmarshal(stdout, &result); err != nil {
		t.Fatalf("terraform validate in %s: %v (exit %d)\nstdout:\n%s\nstderr:\n%s", dir, err, code, stdout, stderr)
	}
	var diags []validateDiagnostic
	for _, d := range result.Diagnostics {
		if d.Summary != devOverrideWarning {
			diags = append(diags, d)
		}
	}
	if !result.Valid && len(diags) == 0 {
		t.Fatalf("terraform validate says %s is invalid without saying why:\n%s\n%s", dir, stdout, stderr)
	}
	return result.Valid, diags
}

// requiredProviders is the terraform block of a configuration that uses this provider.
const requiredProviders = "terraform {\n  required_providers {\n    zarf = { source = \"zarf-dev/zarf\" }\n  }\n}\n\n"

// writeFile writes content to path, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
