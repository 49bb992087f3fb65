package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
)

// examplesDir is the tfplugindocs examples directory, seen from this package.
const examplesDir = "../../examples"

// devOverrideWarning is the warning every command prints under dev_overrides.
const devOverrideWarning = "Provider development overrides are in effect"

var requiredProvidersRegexp = regexp.MustCompile(`(?m)^\s*required_providers\s*\{`)

// TestExamplesCoverEverything checks that every resource, data source and function of the
// provider, and the provider itself, has the example tfplugindocs puts on its page.
func TestExamplesCoverEverything(t *testing.T) {
	ctx := context.Background()
	p := New("test")()
	var meta provider.MetadataResponse
	p.Metadata(ctx, provider.MetadataRequest{}, &meta)

	want := []string{"provider/provider.tf"}
	for _, newResource := range p.Resources(ctx) {
		r := newResource()
		var resp resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: meta.TypeName}, &resp)
		want = append(want, "resources/"+resp.TypeName+"/resource.tf")
		if _, ok := r.(resource.ResourceWithImportState); ok {
			want = append(want, "resources/"+resp.TypeName+"/import.sh")
		}
	}
	for _, newDataSource := range p.DataSources(ctx) {
		var resp datasource.MetadataResponse
		newDataSource().Metadata(ctx, datasource.MetadataRequest{ProviderTypeName: meta.TypeName}, &resp)
		want = append(want, "data-sources/"+resp.TypeName+"/data-source.tf")
	}
	if pf, ok := p.(provider.ProviderWithFunctions); ok {
		for _, newFunction := range pf.Functions(ctx) {
			var resp function.MetadataResponse
			newFunction().Metadata(ctx, function.MetadataRequest{}, &resp)
			want = append(want, "functions/"+resp.Name+"/function.tf")
		}
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(examplesDir, f)); err != nil {
			t.Errorf("examples/%s is missing: tfplugindocs shows it on the documentation page (%v)", f, err)
		}
	}
}

// TestExamplesValidate runs `terraform fmt -check` and `terraform validate` on every example
// directory (every directory under examples/ with .tf files: provider, resources/*,
// data-sources/*, functions/*, guides/*), against a provider binary built from this tree.
// The binary is found through dev_overrides, which needs no `terraform init`; directories
// without a required_providers block get one for zarf-dev/zarf, as a reader's configuration
// would have. It needs the terraform CLI, so it runs with the acceptance tests (TF_ACC).
func TestExamplesValidate(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("set TF_ACC=1 to run terraform validate on the examples")
	}
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = exec.LookPath("terraform"); err != nil {
			t.Fatalf("terraform not found: set TF_ACC_TERRAFORM_PATH (%v)", err)
		}
	}

	dirs := exampleDirs(t)
	if len(dirs) == 0 {
		t.Fatalf("no example directories under %s", examplesDir)
	}

	work := t.TempDir()
	pluginDir := filepath.Join(work, "plugin")
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "terraform-provider-zarf"), "../../")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the provider: %v\n%s", err, out)
	}
	cliConfig := filepath.Join(work, "terraformrc")
	writeFile(t, cliConfig, fmt.Sprintf(`provider_installation {
  dev_overrides {
    "zarf-dev/zarf" = %q
  }
  direct {}
}
`, filepath.ToSlash(pluginDir)))
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")

	for _, dir := range dirs {
		rel, _ := filepath.Rel(examplesDir, dir)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			t.Parallel()
			runTerraform := func(wd string, args ...string) ([]byte, []byte, error) {
				cmd := exec.CommandContext(t.Context(), tf, args...)
				cmd.Dir, cmd.Env = wd, env
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				return stdout.Bytes(), stderr.Bytes(), err
			}

			if out, _, err := runTerraform(dir, "fmt", "-check", "-diff", "-no-color"); err != nil {
				t.Errorf("examples/%s is not formatted (make fmt): %v\n%s", rel, err, out)
			}

			ws := t.TempDir()
			declared := false
			files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				declared = declared || requiredProvidersRegexp.Match(src)
				writeFile(t, filepath.Join(ws, filepath.Base(f)), string(src))
			}
			if !declared {
				writeFile(t, filepath.Join(ws, "zz_required_providers.tf"), `terraform {
  required_providers {
    zarf = {
      source = "zarf-dev/zarf"
    }
  }
}
`)
			}

			stdout, stderr, err := runTerraform(ws, "validate", "-json", "-no-color")
			var result struct {
				Valid       bool `json:"valid"`
				Diagnostics []struct {
					Severity string `json:"severity"`
					Summary  string `json:"summary"`
					Detail   string `json:"detail"`
					Range    *struct {
						Filename string `json:"filename"`
						Start    struct {
							Line int `json:"line"`
						} `json:"start"`
					} `json:"range"`
				} `json:"diagnostics"`
			}
			if jerr := json.Unmarshal(stdout, &result); jerr != nil {
				t.Fatalf("terraform validate in a copy of examples/%s: %v (exit: %v)\nstdout:\n%s\nstderr:\n%s", rel, jerr, err, stdout, stderr)
			}
			for _, d := range result.Diagnostics {
				if d.Summary == devOverrideWarning {
					continue
				}
				where := ""
				if d.Range != nil {
					where = fmt.Sprintf(" (examples/%s/%s line %d)", filepath.ToSlash(rel), d.Range.Filename, d.Range.Start.Line)
				}
				t.Errorf("terraform validate: %s: %s%s\n%s", d.Severity, d.Summary, where, d.Detail)
			}
			if !result.Valid && !t.Failed() {
				t.Errorf("terraform validate says examples/%s is invalid without saying why:\n%s\n%s", rel, stdout, stderr)
			}
		})
	}
}

// exampleDirs lists the directories under examplesDir that hold .tf files, sorted.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(examplesDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != examplesDir {
			return filepath.SkipDir // .terraform and the like
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".tf") {
			if dir := filepath.Dir(path); !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing the examples: %v", err)
	}
	slices.Sort(dirs)
	return dirs
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
