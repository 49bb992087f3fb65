// Package provider is the Terraform layer of the zarf provider: schemas, models, plan
// modification, CRUD and diagnostics. It translates between Terraform values and the engine in
// internal/mirror, and the Zarf package reader in internal/zarfpackage, which make every
// decision.
package provider

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/zarfpackage"
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
	InsecureRegistries types.List   `tfsdk:"insecure_registries"`
	CAPEM              types.String `tfsdk:"ca_pem"`
	Jobs               types.Int64  `tfsdk:"jobs"`
	MaxRetries         types.Int64  `tfsdk:"max_retries"`
	RegistryAuth       types.List   `tfsdk:"registry_auth"` // of registryAuthModel; unknown under a dynamic block
	CacheDir           types.String `tfsdk:"cache_dir"`
	TrustedRoot        types.String `tfsdk:"sigstore_trusted_root"`
}

type registryAuthModel struct {
	Address  types.String `tfsdk:"address"`
	Username types.String `tfsdk:"username"`
	Password types.String `tfsdk:"password"`
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
					"addresses included: there is no silent fallback to plain HTTP. The port is part of the host: " +
					"`127.0.0.1` does not list `127.0.0.1:5000`.",
				Validators: []validator.List{listvalidator.ValueStringsAre(validAddress)},
			},
			"ca_pem": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Extra trusted CA certificates (PEM), added to the system's, for registries " +
					"whose certificates a private CA signed. Example: `ca_pem = file(\"ca.pem\")`.",
				Validators: []validator.String{validCAPEM},
			},
			"jobs": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("How many blobs stream at once, across all the resources of this "+
					"provider configuration: a budget shared by the mirrors that Terraform creates or updates "+
					"concurrently (10 at once by default, `-parallelism`), so that many mirrors do not open more "+
					"streams to one registry than this. Each resource also runs up to this many of its other "+
					"requests (manifests, existence checks) at once. Defaults to %d.", registry.DefaultJobs),
				Validators: []validator.Int64{int64validator.Between(1, 64)},
			},
			"max_retries": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: fmt.Sprintf("Retries per request on 408, 429, 5xx answers and dropped connections, "+
					"with exponential backoff and jitter; `Retry-After` is honoured up to %s. `0` disables retries. "+
					"Defaults to %d.", registry.MaxRetryAfter, registry.DefaultMaxRetries),
				Validators: []validator.Int64{int64validator.Between(0, 20)},
			},
			"cache_dir": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Directory where Zarf packages (`zarf_package`) are unpacked, once per archive digest, " +
					"and shared by every Terraform run that uses the same directory. Only what a mirror needs is kept " +
					"(`zarf.yaml`, `checksums.txt`, the signatures and the `images/` OCI layout), after it was checked " +
					"against the package's checksums. Defaults to `terraform-provider-zarf/packages` under the user's cache " +
					"directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LocalAppData%` on " +
					"Windows). Terraform does not expand `~`: write `pathexpand(\"~/...\")`.",
				Validators: []validator.String{cacheDirValidator{}},
			},
			"sigstore_trusted_root": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "The JSON of a Sigstore trusted root (`trusted_root.json`: certificate authorities, " +
					"transparency logs and timestamp authorities with their keys), against which `verify` blocks check " +
					"keyless certificates and transparency-log entries, offline. Needed by `keyless` blocks and by " +
					"blocks with `transparency_log = true`; key signatures made with `--tlog-upload=false` need none. " +
					"Example: `sigstore_trusted_root = file(\"trusted_root.json\")`, a copy of the one Sigstore's TUF " +
					"repository distributes (see the guide *Mirror only signed images*).",
			},
		},
		Blocks: map[string]schema.Block{
			"registry_auth": schema.ListNestedBlock{
				MarkdownDescription: "Credentials for one registry. A registry without a block gets credentials " +
					"from the Docker config (`DOCKER_CONFIG`, `~/.docker/config.json`, credential helpers), or none. " +
					"Credentials are sent only to their own registry and never stored in state.",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"address": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "Registry host, `host[:port]` without a scheme (`docker.io` and `index.docker.io` are the same registry).",
						Validators:          []validator.String{validAddress},
					},
					"username": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "User name.",
					},
					"password": schema.StringAttribute{
						Required:            true,
						Sensitive:           true,
						MarkdownDescription: "Password or token. Sensitive: never shown in plans or logs, never stored in state.",
					},
				}},
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
	if unknown := m.unknownArguments(ctx); len(unknown) > 0 {
		// Terraform plans with a provider configuration that depends on values known only
		// after apply (e.g. a password from a resource created in the same run), and configures
		// the provider again, with the values, for apply. Until then there is nothing to reach
		// registries with: resources plan their computed attributes as unknown, data sources
		// explain why they cannot be read.
		if req.ClientCapabilities.DeferralAllowed {
			resp.Deferred = &provider.Deferred{Reason: provider.DeferredReasonProviderConfigUnknown}
			return
		}
		tflog.Info(ctx, "provider configuration known only after apply; registries are not contacted during this plan",
			map[string]any{"arguments": strings.Join(unknown, ", ")})
		resp.DataSourceData = unknownConfig(unknown)
		return
	}
	cfg := registry.Config{CAPEM: []byte(m.CAPEM.ValueString()), Jobs: int(m.Jobs.ValueInt64())}
	resp.Diagnostics.Append(m.InsecureRegistries.ElementsAs(ctx, &cfg.InsecureRegistries, false)...)
	if !m.MaxRetries.IsNull() {
		retries := int(m.MaxRetries.ValueInt64())
		cfg.MaxRetries = &retries
	}
	var auths []registryAuthModel
	resp.Diagnostics.Append(m.RegistryAuth.ElementsAs(ctx, &auths, false)...)
	for _, a := range auths {
		cfg.Credentials = append(cfg.Credentials, registry.Credential{
			Address: a.Address.ValueString(), Username: a.Username.ValueString(), Password: a.Password.ValueString(),
		})
	}
	if resp.Diagnostics.HasError() {
		return
	}
	var trustedRoot *verify.TrustedRoot
	if raw := m.TrustedRoot.ValueString(); raw != "" {
		var err error
		if trustedRoot, err = verify.ParseTrustedRoot([]byte(raw)); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("sigstore_trusted_root"), "Invalid provider configuration", err.Error())
			return
		}
	}
	logInfo := func(ctx context.Context, msg string, fields map[string]any) { tflog.Info(ctx, msg, fields) }
	cfg.Logger = logInfo
	client, err := registry.New(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Invalid provider configuration", err.Error())
		return
	}
	data := &providerData{}
	data.packages, data.packagesErr = packageCache(m.CacheDir.ValueString())
	if m.CacheDir.ValueString() != "" && data.packagesErr != nil {
		resp.Diagnostics.AddAttributeError(path.Root("cache_dir"), "Invalid cache_dir", data.packagesErr.Error())
		return
	}
	data.engine = mirror.New(
		mirror.WithScheme(client),
		mirror.WithScheme(zarfpackage.Scheme{Cache: data.packages, NoCache: data.packagesErr}),
		mirror.WithJobs(cmp.Or(cfg.Jobs, registry.DefaultJobs)),
		mirror.WithLogger(logInfo),
		mirror.WithTrustedRoot(trustedRoot),
	)
	resp.ResourceData = data
	resp.DataSourceData = data
}

// providerData is what the configured provider gives its resources and data sources.
type providerData struct {
	engine *mirror.Engine
	// packages is where Zarf packages are unpacked; nil when no directory could be chosen,
	// packagesErr says why.
	packages    *zarfpackage.Cache
	packagesErr error
}

// packageCache is the cache of Zarf packages in dir (the default directory when empty). A
// dir that exists must be a directory; a missing one is created when a package is read.
func packageCache(dir string) (*zarfpackage.Cache, error) {
	c, err := zarfpackage.NewCache(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(c.Dir()); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file, not a directory: choose a directory for the unpacked Zarf packages", c.Dir())
	}
	return c, nil
}

func (p *zarfProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewImageMirrorResource}
}

func (p *zarfProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewImageIndexDataSource, NewImageTagsDataSource, NewZarfPackageDataSource}
}

func (p *zarfProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{NewMirrorRefFunction}
}

// unknownArguments names the provider arguments whose values are known only after apply.
func (m providerModel) unknownArguments(ctx context.Context) []string {
	var out []string
	if m.InsecureRegistries.IsUnknown() || slices.ContainsFunc(m.InsecureRegistries.Elements(), attr.Value.IsUnknown) {
		out = append(out, "insecure_registries")
	}
	if m.CAPEM.IsUnknown() {
		out = append(out, "ca_pem")
	}
	if m.Jobs.IsUnknown() {
		out = append(out, "jobs")
	}
	if m.MaxRetries.IsUnknown() {
		out = append(out, "max_retries")
	}
	if m.CacheDir.IsUnknown() {
		out = append(out, "cache_dir")
	}
	if m.TrustedRoot.IsUnknown() {
		out = append(out, "sigstore_trusted_root")
	}
	if m.RegistryAuth.IsUnknown() {
		return append(out, "registry_auth")
	}
	var auths []registryAuthModel
	if d := m.RegistryAuth.ElementsAs(ctx, &auths, false); d.HasError() {
		return append(out, "registry_auth")
	}
	for i, a := range auths {
		for _, f := range []struct {
			name  string
			value types.String
		}{{"address", a.Address}, {"username", a.Username}, {"password", a.Password}} {
			if f.value.IsUnknown() {
				out = append(out, fmt.Sprintf("registry_auth[%d].%s", i, f.name))
			}
		}
	}
	return out
}

// unknownConfig is the data source data of a provider whose configuration is known only
// after apply: the arguments concerned.
type unknownConfig []string

// engineFrom takes the engine out of provider data; nil before the provider is configured,
// and for resources while the provider configuration is known only after apply.
func engineFrom(data any) (*mirror.Engine, error) {
	d, err := configuredData(data)
	if d == nil {
		return nil, err
	}
	return d.engine, nil
}

// configuredData takes the configured provider's data out of provider data; nil before the
// provider is configured, and for resources while the provider configuration is known only
// after apply.
func configuredData(data any) (*providerData, error) {
	switch data := data.(type) {
	case nil:
		return nil, nil
	case *providerData:
		return data, nil
	case unknownConfig:
		return nil, fmt.Errorf("the zarf provider configuration depends on values known only after apply (%s), "+
			"so no registry or package can be read during this plan. Give these arguments values known at plan time "+
			"(variables, locals, data sources), or apply what they depend on first (terraform apply -target=...)",
			strings.Join(data, ", "))
	}
	return nil, fmt.Errorf("unexpected provider data %T; this is a bug in the provider", data)
}

// cacheDirValidator checks what terraform validate can of cache_dir: a path, without a `~`
// that Terraform would leave unexpanded.
type cacheDirValidator struct{}

func (cacheDirValidator) Description(context.Context) string {
	return "a directory path, with no leading ~ (Terraform does not expand it)"
}

func (v cacheDirValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (cacheDirValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	dir := req.ConfigValue.ValueString()
	switch {
	case strings.TrimSpace(dir) == "":
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid cache_dir",
			"cache_dir is empty: name a directory, or leave cache_dir out to use the default one.")
	case dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, `~\`):
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid cache_dir",
			fmt.Sprintf("Terraform does not expand ~, so %q would be a directory named \"~\": write cache_dir = pathexpand(%q).", dir, dir))
	case strings.ContainsRune(dir, 0):
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid cache_dir", "cache_dir contains a NUL character, which no path can hold.")
	}
}
