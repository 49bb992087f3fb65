// Package provider is the Terraform layer of the zarf provider: schemas, models, plan
// modification, CRUD and diagnostics. It translates between Terraform values and the engine in
// internal/mirror, which makes every decision.
package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
)

var (
	_ provider.Provider              = (*zarfProvider)(nil)
	_ provider.ProviderWithFunctions = (*zarfProvider)(nil)
)

type zarfProvider struct {
	version string
}

// New returns a constructor of the provider for providerserver.Serve.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &zarfProvider{version: version} }
}

type providerModel struct {
	InsecureRegistries types.List  `tfsdk:"insecure_registries"`
	Jobs               types.Int64 `tfsdk:"jobs"`
}

func (p *zarfProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "zarf"
	resp.Version = p.version
}

func (p *zarfProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Mirrors container image indexes into other registries with their digests kept, " +
			"so manifests that pin `image@sha256:<index digest>` keep working.",
		Attributes: map[string]schema.Attribute{
			"insecure_registries": schema.ListAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Registries (`host[:port]`) that may be reached over plain HTTP or TLS without " +
					"verification. Every other registry is reached over verified HTTPS, localhost and private " +
					"addresses included: there is no silent fallback to plain HTTP.",
			},
			"jobs": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many transfers (blobs and manifests) one operation runs at once. "+
					"Defaults to %d.", mirror.DefaultJobs),
			},
		},
	}
}

func (p *zarfProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg := registry.Config{}
	resp.Diagnostics.Append(m.InsecureRegistries.ElementsAs(ctx, &cfg.InsecureRegistries, false)...)
	jobs := mirror.DefaultJobs
	if !m.Jobs.IsNull() && !m.Jobs.IsUnknown() {
		if m.Jobs.ValueInt64() < 1 || m.Jobs.ValueInt64() > 64 {
			resp.Diagnostics.AddAttributeError(path.Root("jobs"), "Invalid jobs",
				fmt.Sprintf("jobs is %d; set a number from 1 to 64.", m.Jobs.ValueInt64()))
		}
		jobs = int(m.Jobs.ValueInt64())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	cfg.Jobs = jobs
	client, err := registry.New(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Invalid provider configuration", err.Error())
		return
	}
	engine := mirror.New(
		mirror.WithClient(client),
		mirror.WithJobs(jobs),
		mirror.WithLogger(func(ctx context.Context, msg string, fields map[string]any) { tflog.Info(ctx, msg, fields) }),
	)
	resp.ResourceData = engine
	resp.DataSourceData = engine
}

func (p *zarfProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewImageMirrorResource}
}

func (p *zarfProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewImageIndexDataSource}
}

func (p *zarfProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{NewMirrorRefFunction}
}

// engineFrom takes the engine out of provider data; nil before the provider is configured.
func engineFrom(data any) (*mirror.Engine, error) {
	if data == nil {
		return nil, nil
	}
	e, ok := data.(*mirror.Engine)
	if !ok {
		return nil, fmt.Errorf("unexpected provider data %T; this is a bug in the provider", data)
	}
	return e, nil
}
