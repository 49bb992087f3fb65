package provider

import (
	"context"
	"fmt"
	"os"
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
	t.Parallel()
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
	dirs := exampleDirs(t)
	if len(dirs) == 0 {
		t.Fatalf("no example directories under %s", examplesDir)
	}
	tf := newTerraformCLI(t)

	for _, dir := range dirs {
		rel, _ := filepath.Rel(examplesDir, dir)
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			t.Parallel()
			if out, _, code := tf.run(t, dir, "fmt", "-check", "-diff", "-no-color"); code != 0 {
				t.Errorf("examples/%s is not formatted (make fmt): exit %d\n%s", rel, code, out)
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

			_, diags := tf.validate(t, ws)
			for _, d := range diags {
				where := ""
				if d.Range != nil {
					where = fmt.Sprintf(" (examples/%s/%s line %d)", filepath.ToSlash(rel), d.Range.Filename, d.Range.Start.Line)
				}
				t.Errorf("terraform validate: %s: %s%s\n%s", d.Severity, d.Summary, where, d.Detail)
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
