package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/tagset"
)

var _ datasource.DataSourceWithConfigure = (*imageTagsDataSource)(nil)

// NewImageTagsDataSource is the constructor of zarf_image_tags.
func NewImageTagsDataSource() datasource.DataSource { return &imageTagsDataSource{} }

type imageTagsDataSource struct {
	engine *mirror.Engine
}

type imageTagsModel struct {
	Repository types.String `tfsdk:"repository"`
	Semver     types.String `tfsdk:"semver"`
	Include    []string     `tfsdk:"include"`
	Exclude    []string     `tfsdk:"exclude"`
	Newest     types.Int64  `tfsdk:"newest"`
	Tags       types.List   `tfsdk:"tags"`
}

func (d *imageTagsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_tags"
}

func (d *imageTagsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	e, err := engineFrom(req.ProviderData)
	if err != nil {
		resp.Diagnostics.AddError("Provider not configured", err.Error())
		return
	}
	d.engine = e
}

func (d *imageTagsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lists the tags of a repository and selects some: by semantic version constraint, by " +
			"patterns and by count. Feed `tags` to `for_each` of `zarf_image_mirror` to follow a release train: a new " +
			"upstream tag inside the selection becomes a planned mirror, a tag that leaves it a planned destroy. " +
			"It reads the tag list only (one request per page of it), never a manifest.",
		Attributes: map[string]schema.Attribute{
			"repository": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Registry repository, `host/name` without tag or digest (Docker Hub names as Docker " +
					"writes them: `nginx` is `docker.io/library/nginx`), or an OCI image layout, `oci-layout://<path>`, whose " +
					"tags are the ref names (`org.opencontainers.image.ref.name`) of its `index.json` entries.",
			},
			"semver": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Keep the tags that are semantic versions inside this constraint, in " +
					"[github.com/Masterminds/semver/v3](https://github.com/Masterminds/semver#checking-version-constraints) " +
					"syntax: `>= 6.4.0, < 7` (comma: and), `~6.4` (6.4.x), `^6.4` (6.x from 6.4), `6.x`, `^1 || ^2`. " +
					"A semantic version is `MAJOR.MINOR.PATCH` with an optional `-pre-release`, optionally after a " +
					"leading `v`; floating tags such as `6.4`, `6` or `latest` are not, and are dropped. Pre-releases " +
					"(`7.0.0-rc.1`) are kept only when the constraint names a pre-release, as in `>= 7.0.0-0`.",
				Validators: []validator.String{stringCheck{"a valid semver constraint", tagset.CheckConstraint}},
			},
			"include": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "[RE2 regular expressions](https://github.com/google/re2/wiki/Syntax): a tag is " +
					"kept only when it matches at least one. A pattern matches anywhere in the tag unless anchored: " +
					"`^6\\.` (in HCL `\"^6\\\\.\"`) keeps the tags that start with `6.`.",
				Validators: []validator.List{patternsCheck{tagset.FieldInclude}},
			},
			"exclude": schema.ListAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "RE2 regular expressions: a tag that matches any of them is dropped, e.g. `[\"-rc\", \"-beta\"]`.",
				Validators:          []validator.List{patternsCheck{tagset.FieldExclude}},
			},
			"newest": schema.Int64Attribute{
				Optional: true,
				MarkdownDescription: "Keep only the `newest` highest versions of what the other arguments keep. Every " +
					"kept tag must then be a semantic version (add `semver` or `exclude` to drop the others); the " +
					"error names the ones that are not.",
				Validators: []validator.Int64{int64Check{"a count of 1 or more", tagset.CheckNewest}},
			},
			"tags": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "The selected tags, each once, ascending: by semantic version when every one is a " +
					"semantic version (`6.9.0` before `6.10.0`, a pre-release before its release), otherwise byte by byte.",
			},
		},
	}
}

func (d *imageTagsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m imageTagsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if d.engine == nil {
		resp.Diagnostics.AddError("Provider not configured", "The zarf provider was not configured before zarf_image_tags was read; this is a bug.")
		return
	}
	selector, err := tagset.New(tagset.Criteria{
		Semver: m.Semver.ValueString(), Include: m.Include, Exclude: m.Exclude, Newest: int(m.Newest.ValueInt64()),
	})
	if err != nil {
		addEngineError(&resp.Diagnostics, "Invalid tag selection", err, tagsSourceReferences)
		return
	}
	repository := m.Repository.ValueString()
	all, err := d.engine.Tags(ctx, repository)
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot list the tags of "+repository, err, tagsSourceReferences)
		return
	}
	selected, err := selector.Select(all)
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot select the newest tags of "+repository, err, tagsSourceReferences)
		return
	}
	tflog.Info(ctx, "listed the tags of a repository", map[string]any{"repository": repository, "tags": len(all), "selected": len(selected)})
	tags, diags := types.ListValueFrom(ctx, types.StringType, selected)
	resp.Diagnostics.Append(diags...)
	m.Tags = tags
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// stringCheck and int64Check validate an attribute with an offline check of the engine's, so
// that `terraform validate` reports a mistake on the attribute, with the engine's words.
type stringCheck struct {
	want  string // what a valid value is
	check func(string) error
}

func (v stringCheck) Description(context.Context) string { return "must be " + v.want }

func (v stringCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), err.Error())
	}
}

type int64Check struct {
	want  string
	check func(int64) error
}

func (v int64Check) Description(context.Context) string { return "must be " + v.want }

func (v int64Check) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v int64Check) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueInt64()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid "+req.Path.String(), err.Error())
	}
}

// patternsCheck validates each pattern of include or exclude, and reports a bad one on its
// element.
type patternsCheck struct {
	field string // tagset.FieldInclude or tagset.FieldExclude
}

func (v patternsCheck) Description(context.Context) string {
	return "every element must be an RE2 regular expression"
}

func (v patternsCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v patternsCheck) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	for i, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if err := tagset.CheckPattern(v.field, i, s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Invalid "+v.field+" pattern", err.Error())
		}
	}
}
