package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

var _ datasource.DataSourceWithConfigure = (*imageIndexDataSource)(nil)

// NewImageIndexDataSource is the constructor of zarf_image_index.
func NewImageIndexDataSource() datasource.DataSource { return &imageIndexDataSource{} }

type imageIndexDataSource struct {
	engine *mirror.Engine
}

type imageIndexModel struct {
	Ref       types.String `tfsdk:"ref"`
	Digest    types.String `tfsdk:"digest"`
	MediaType types.String `tfsdk:"media_type"`
	Platforms types.List   `tfsdk:"platforms"`
	Manifests types.List   `tfsdk:"manifests"`
	Size      types.Int64  `tfsdk:"size"`
}

func (d *imageIndexDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_index"
}

func (d *imageIndexDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	e, err := engineFrom(req.ProviderData)
	if err != nil {
		resp.Diagnostics.AddError("Provider not configured", err.Error())
		return
	}
	d.engine = e
}

func (d *imageIndexDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an image index (or single image manifest) and reports its digest, platforms, " +
			"manifests and total size: for choosing `platforms` of a `zarf_image_mirror` and seeing what a mirror " +
			"would copy before it runs.",
		Attributes: map[string]schema.Attribute{
			"ref": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Image reference: `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…`, or an OCI image " +
					"layout, `oci-layout://<path>:<ref>` or `oci-layout://<path>@sha256:…`, or an image of a Zarf package, " +
					"`zarf-package://<archive>:<original image reference>` or `zarf-package://<archive>@sha256:…`.",
				Validators: []validator.String{validReference(store.RoleSource, "ref")},
			},
			"digest": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest the reference resolves to."},
			"media_type": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Media type of the index or manifest (OCI image index, Docker manifest list, ...).",
			},
			"platforms": schema.ListAttribute{
				Computed:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Platforms the image lists, `os/arch[/variant]`, in index order; attestation entries (`unknown/unknown`) are left out.",
			},
			"manifests": schema.ListNestedAttribute{
				Computed:            true,
				MarkdownDescription: "The image manifests that have a platform, in index order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"platform":   schema.StringAttribute{Computed: true, MarkdownDescription: "`os/arch[/variant]`."},
					"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the image manifest."},
					"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Media type of the image manifest."},
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Size of the image manifest in bytes."},
				}},
			},
			"size": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Bytes of distinct content (blobs and manifests, attestations included) a full mirror copies.",
			},
		},
	}
}

func (d *imageIndexDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageIndexModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.engine == nil {
		resp.Diagnostics.AddError("Provider not configured", "The zarf provider was not configured before zarf_image_index was read; this is a bug.")
		return
	}
	// A ref known only now was not validated: check it here, so that the error names ref.
	err := mirror.ValidateReference(store.RoleSource, m.Ref.ValueString(), offlineSchemes...)
	var p *mirror.Plan
	if err == nil {
		p, err = d.engine.Plan(ctx, mirror.Spec{Source: m.Ref.ValueString(), Attestations: true})
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot read "+m.Ref.ValueString(), err, dataSourceReferences)
		return
	}
	m.Digest = types.StringValue(p.SourceDigest)
	m.MediaType = types.StringValue(p.SourceMediaType)
	m.Size = types.Int64Value(p.Size)
	// An empty list, not null, for a source without platforms (an artifact), so that
	// expressions such as [for p in ….platforms : p] work on every source.
	platforms := make([]attr.Value, 0, len(p.Platforms))
	for _, pl := range p.Platforms {
		platforms = append(platforms, types.StringValue(pl))
	}
	var diags diag.Diagnostics
	m.Platforms, diags = types.ListValue(types.StringType, platforms)
	resp.Diagnostics.Append(diags...)
	m.Manifests, diags = manifestsValue(p.Manifests)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
