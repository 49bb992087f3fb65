package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func runMirrorRef(t *testing.T, registry, image string) function.RunResponse {
	t.Helper()
	req := function.RunRequest{
		Arguments: function.NewArgumentsData([]attr.Value{types.StringValue(registry), types.StringValue(image)}),
	}
	resp := function.RunResponse{Result: function.NewResultData(types.StringUnknown())}
	NewMirrorRefFunction().Run(context.Background(), req, &resp)
	return resp
}

func TestMirrorRefFunctionMetadataAndDefinition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := NewMirrorRefFunction()

	var meta function.MetadataResponse
	f.Metadata(ctx, function.MetadataRequest{}, &meta)
	if meta.Name != "mirror_ref" {
		t.Fatalf("name = %q, want mirror_ref", meta.Name)
	}

	var def function.DefinitionResponse
	f.Definition(ctx, function.DefinitionRequest{}, &def)
	if def.Diagnostics.HasError() {
		t.Fatalf("definition diagnostics: %v", def.Diagnostics)
	}
	d := def.Definition
	if d.Summary == "" || d.Description == "" || d.MarkdownDescription == "" {
		t.Errorf("summary/description/markdown description must all be set: %+v", d)
	}
	if len(d.Parameters) != 2 {
		t.Fatalf("got %d parameters, want 2", len(d.Parameters))
	}
	for i, want := range []string{"registry", "image"} {
		p, ok := d.Parameters[i].(function.StringParameter)
		if !ok {
			t.Fatalf("parameter %d is %T, want function.StringParameter", i, d.Parameters[i])
		}
		if p.Name != want || p.MarkdownDescription == "" || p.Description == "" {
			t.Errorf("parameter %d = %+v, want name %q with descriptions", i, p, want)
		}
		if p.AllowNullValue || p.AllowUnknownValues {
			t.Errorf("parameter %q must not accept null or unknown values", want)
		}
	}
	if _, ok := d.Return.(function.StringReturn); !ok {
		t.Errorf("return is %T, want function.StringReturn", d.Return)
	}
	var valid function.DefinitionValidateResponse
	d.ValidateImplementation(ctx, function.DefinitionValidateRequest{FuncName: "mirror_ref"}, &valid)
	if valid.Diagnostics.HasError() {
		t.Errorf("definition is invalid: %v", valid.Diagnostics)
	}
}

func TestMirrorRefFunctionRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, registry, image, want string
	}{
		{"nginx", "127.0.0.1:31999", "nginx", "127.0.0.1:31999/library/nginx:latest-zarf-3793515731"},
		{"nginx with tag", "127.0.0.1:31999", "nginx:1.27", "127.0.0.1:31999/library/nginx:1.27-zarf-3793515731"},
		{"ghcr", "127.0.0.1:31999", "ghcr.io/stefanprodan/podinfo:6.4.0", "127.0.0.1:31999/stefanprodan/podinfo:6.4.0-zarf-2985051089"},
		{"digest", "127.0.0.1:31999",
			"busybox:latest@sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79",
			"127.0.0.1:31999/library/busybox@sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79"},
		{"already mirrored", "127.0.0.1:31999",
			"127.0.0.1:31999/library/nginx:latest-zarf-3793515731", "127.0.0.1:31999/library/nginx:latest-zarf-3793515731"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runMirrorRef(t, tt.registry, tt.image)
			if resp.Error != nil {
				t.Fatalf("unexpected error: %v", resp.Error)
			}
			if got, want := resp.Result.Value(), types.StringValue(tt.want); !got.Equal(want) {
				t.Fatalf("result = %s, want %s", got, want)
			}
		})
	}
}

func TestMirrorRefFunctionRunErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, registry, image string
		wantArg               int64
		wantText              string
	}{
		{"uppercase image", "127.0.0.1:31999", "Nginx", 1, `invalid image "Nginx"`},
		{"empty image", "127.0.0.1:31999", "", 1, "must not be empty"},
		{"bad digest", "127.0.0.1:31999", "nginx@sha256:abc", 1, "digest"},
		{"oci scheme", "127.0.0.1:31999", "oci://ghcr.io/a/b:1", 1, "not a URL"},
		{"empty registry", "", "nginx", 0, `invalid registry ""`},
		{"registry with scheme", "https://127.0.0.1:31999", "nginx", 0, "without a scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := runMirrorRef(t, tt.registry, tt.image)
			if resp.Error == nil {
				t.Fatalf("no error; result %s", resp.Result.Value())
			}
			if resp.Error.FunctionArgument == nil || *resp.Error.FunctionArgument != tt.wantArg {
				t.Errorf("error points at argument %v, want %d: %v", resp.Error.FunctionArgument, tt.wantArg, resp.Error)
			}
			if !strings.Contains(resp.Error.Text, tt.wantText) {
				t.Errorf("error %q does not contain %q", resp.Error.Text, tt.wantText)
			}
			if !resp.Result.Value().IsUnknown() {
				t.Errorf("result set despite error: %s", resp.Result.Value())
			}
		})
	}
}
