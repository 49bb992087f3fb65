package provider

import (
	"encoding/json"
	"maps"
	"os"
	"strings"
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

// expectErrorsAt fails the test unless diags are exactly errors on the lines of want, each
// starting with its text ("<summary>: <detail>").
func expectErrorsAt(t *testing.T, diags []validateDiagnostic, want map[int]string) {
	t.Helper()
	want = maps.Clone(want)
	for _, d := range diags {
		if d.Range == nil || d.Severity != "error" {
			t.Errorf("unexpected diagnostic %+v", d)
			continue
		}
		got := d.Summary + ": " + d.Detail
		if w, ok := want[d.Range.Start.Line]; !ok || !strings.HasPrefix(got, w) {
			t.Errorf("line %d: %q, want %q", d.Range.Start.Line, got, w)
		}
		delete(want, d.Range.Start.Line)
	}
	for line, w := range want {
		t.Errorf("line %d: no diagnostic, want %q", line, w)
	}
}

// requiredProviders is the terraform block of a configuration that uses this provider.
const requiredProviders = "terraform {\n  required_providers {\n    zarf = { source = \"zarf-dev/zarf\" }\n  }\n}\n\n"

// writeFile writes content to path, creating its directory.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	terraformtest.WriteFile(t, path, content)
}

// expect runs the terraform command args[0] in dir with -no-color and -input=false before the
// other arguments (a plan file must come last), fails the test unless it exits with want, and
// returns its standard output and error.
func (c *terraformCLI) expect(t *testing.T, dir string, want int, args ...string) string {
	t.Helper()
	stdout, stderr, code := c.run(t, dir, append([]string{args[0], "-no-color", "-input=false"}, args[1:]...)...)
	out := string(append(stdout, stderr...))
	if code != want {
		t.Fatalf("terraform %s exited %d, want %d; output:\n%s", strings.Join(args, " "), code, want, out)
	}
	t.Logf("terraform %s: exit %d", strings.Join(args, " "), code)
	return out
}

// says fails the test unless out contains each phrase, white space collapsed (Terraform wraps
// diagnostics).
func says(t *testing.T, out string, phrases ...string) {
	t.Helper()
	flat := strings.Join(strings.Fields(out), " ")
	for _, p := range phrases {
		if !strings.Contains(flat, p) {
			t.Fatalf("the output does not say %q:\n%s", p, out)
		}
	}
}
