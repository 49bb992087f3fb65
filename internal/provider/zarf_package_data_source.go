package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/zarfpackage"
)

var _ datasource.DataSourceWithConfigure = (*zarfPackageDataSource)(nil)

// NewZarfPackageDataSource is the constructor of zarf_package.
func NewZarfPackageDataSource() datasource.DataSource { return &zarfPackageDataSource{} }

type zarfPackageDataSource struct {
	data *providerData
}

type zarfPackageModel struct {
	Path         types.String `tfsdk:"path"`
	PublicKey    types.String `tfsdk:"public_key"`
	Name         types.String `tfsdk:"name"`
	Version      types.String `tfsdk:"version"`
	Architecture types.String `tfsdk:"architecture"`
	Images       types.List   `tfsdk:"images"`
	Components   types.List   `tfsdk:"components"`
}

var componentType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name":   types.StringType,
	"images": types.ListType{ElemType: types.StringType},
}}

func (d *zarfPackageDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_package"
}

func (d *zarfPackageDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	data, err := configuredData(req.ProviderData)
	if err != nil {
		resp.Diagnostics.AddError("Provider not configured", err.Error())
		return
	}
	d.data = data
}

func (d *zarfPackageDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a Zarf package archive: its name, version, architecture, components and the images " +
			"it carries, for mirroring every image of the package into a registry. The archive is unpacked once per " +
			"archive digest into the provider's `cache_dir` and checked before anything of it is used: every file " +
			"against `checksums.txt`, `checksums.txt` against the aggregate checksum in `zarf.yaml`. Archives that " +
			"could write outside the cache (absolute or `..` names, links, devices, an entry twice) or that unpack past " +
			fmt.Sprintf("%d GiB are refused, and nothing of them is kept. ", zarfpackage.DefaultLimits.MaxBytes>>30) +
			"Mirror every image of the package with `for_each = toset(data.zarf_package.app.images)` and " +
			"`source = \"zarf-package://${data.zarf_package.app.path}:${each.value}\"` on `zarf_image_mirror`: the " +
			"mirrors read the unpacked copy, and wait for this data source, so a package it refuses is never mirrored.",
		Attributes: map[string]schema.Attribute{
			"path": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Path of the package archive: `zarf-package-<name>-<arch>-<version>.tar.zst`, an " +
					"uncompressed `.tar`, or the `.part000` file of a split package (its other parts next to it). " +
					"A relative path is relative to the directory Terraform runs in.",
			},
			"public_key": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Public key the package must be signed with: PEM (ECDSA, Ed25519 or RSA), as " +
					"`cosign public-key` prints it. The signature Zarf writes over `zarf.yaml` is verified before anything " +
					"else of the package is trusted: `zarf.bundle.sig` (a Sigstore bundle), else `zarf.yaml.sig` " +
					"(`cosign sign-blob`). The check works offline: no transparency-log entry is required. A public key " +
					"for an unsigned package is an error. Example: `public_key = file(\"zarf-pkg.pub\")`.",
				Validators: []validator.String{publicKeyValidator{}},
			},
			"name":         schema.StringAttribute{Computed: true, MarkdownDescription: "Package name (`metadata.name`)."},
			"version":      schema.StringAttribute{Computed: true, MarkdownDescription: "Package version (`metadata.version`)."},
			"architecture": schema.StringAttribute{Computed: true, MarkdownDescription: "Architecture the package was built for (`metadata.architecture`, else `build.architecture`)."},
			"images": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The original references of the images the package was built from, as `zarf.yaml` " +
					"lists them, each once, in component order: what `for_each` over the package's images iterates on, " +
					"and what `provider::zarf::mirror_ref` turns into the references a Zarf cluster pulls.",
			},
			"components": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The package's components, in order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{Computed: true, MarkdownDescription: "Component name."},
					"images": schema.ListAttribute{
						Computed:            true,
						ElementType:         types.StringType,
						MarkdownDescription: "The original references of the component's images (those of its image archives included).",
					},
				}},
			},
		},
	}
}

func (d *zarfPackageDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m zarfPackageModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The zarf provider was not configured before zarf_package was read; this is a bug.")
		return
	}
	if d.data.packages == nil {
		resp.Diagnostics.AddError("No cache directory for Zarf packages", d.data.packagesErr.Error()+
			": set cache_dir in the zarf provider block.")
		return
	}
	var opts []zarfpackage.OpenOption
	if !m.PublicKey.IsNull() {
		key, err := verify.ParsePublicKey([]byte(m.PublicKey.ValueString()))
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("public_key"), "Invalid public key", err.Error())
			return
		}
		opts = append(opts, zarfpackage.WithPublicKey(key))
	}
	archive := m.Path.ValueString()
	p, err := d.data.packages.Open(ctx, archive, opts...)
	if err != nil {
		addPackageError(&resp.Diagnostics, "Cannot read Zarf package "+archive, err)
		return
	}
	tflog.Info(ctx, "Zarf package read", map[string]any{
		"archive": archive, "digest": p.Digest.String(), "unpacked": p.Unpacked, "cache_entry": p.Dir,
	})
	m.Name = types.StringValue(p.Config.Name)
	m.Version = types.StringValue(p.Config.Version)
	m.Architecture = types.StringValue(p.Config.Architecture)
	var diags diag.Diagnostics
	m.Images, diags = types.ListValueFrom(ctx, types.StringType, p.Config.Images())
	resp.Diagnostics.Append(diags...)
	components := make([]attr.Value, 0, len(p.Config.Components))
	for _, c := range p.Config.Components {
		images, diags := types.ListValueFrom(ctx, types.StringType, append([]string{}, c.Images...))
		resp.Diagnostics.Append(diags...)
		obj, diags := types.ObjectValue(componentType.AttrTypes, map[string]attr.Value{"name": types.StringValue(c.Name), "images": images})
		resp.Diagnostics.Append(diags...)
		components = append(components, obj)
	}
	m.Components, diags = types.ListValue(componentType, components)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// addPackageError turns an error of the package reader into a diagnostic on the attribute it
// is about: public_key for signatures, path for everything else about the archive.
func addPackageError(diags *diag.Diagnostics, summary string, err error) {
	var refused *zarfpackage.RefusedError
	switch {
	case errors.As(err, &refused) && refused.Problem == zarfpackage.ProblemSignature:
		diags.AddAttributeError(path.Root("public_key"), summary, err.Error())
	default:
		diags.AddAttributeError(path.Root("path"), summary, err.Error())
	}
}

// publicKeyValidator checks at validate time that a public key is one that signatures can be
// verified with (internal/verify loads it: PEM, ECDSA, Ed25519 or RSA).
type publicKeyValidator struct{}

func (publicKeyValidator) Description(context.Context) string {
	return "a PEM public key (ECDSA, Ed25519 or RSA), as cosign public-key prints it"
}

func (v publicKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (publicKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := verify.ParsePublicKey([]byte(req.ConfigValue.ValueString())); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid public key", err.Error())
	}
}
