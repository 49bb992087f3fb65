package provider

import (
	"os"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/terraformtest"
)

// terraformCLI is the real terraform binary with a provider binary built from this module, for
// tests that run terraform as a user or a CI job does rather than through
// terraform-plugin-testing.
type terraformCLI struct{ *terraformtest.CLI }

// newTerraformCLI builds the provider and writes the CLI configuration. Like the acceptance
// tests, it skips unless TF_ACC is set.
func newTerraformCLI(t *testing.T) *terraformCLI {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (and TF_ACC_TERRAFORM_PATH) to run it")
	}
	return &terraformCLI{terraformtest.New(t)}
}

// run runs terraform in dir and returns its standard output and error and its exit code.
func (c *terraformCLI) run(t *testing.T, dir string, args ...string) (stdout, stderr []byte, code int) {
	t.Helper()
	return c.Run(t, dir, args...)
}

// writeFile writes content to path, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	terraformtest.WriteFile(t, path, content)
}
