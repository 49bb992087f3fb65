package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
)

var (
	_ resource.ResourceWithConfigure   = (*imageMirrorResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*imageMirrorResource)(nil)
	_ resource.ResourceWithImportState = (*imageMirrorResource)(nil)
)

// NewImageMirrorResource is the constructor of zarf_image_mirror.
func NewImageMirrorResource() resource.Resource { return &imageMirrorResource{} }

type imageMirrorResource struct {
	engine *mirror.Engine
}

func (r *imageMirrorResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_image_mirror"
}

func (r *imageMirrorResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	e, err := engineFrom(req.ProviderData)
	if err != nil {
		resp.Diagnostics.AddError("Provider not configured", err.Error())
		return
	}
	r.engine = e
}

func (r *imageMirrorResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Copies an image index (or a single image manifest), with the platforms you select, " +
			"into a target registry. In `preserve` mode the target gets the source's index bytes unchanged, so " +
			"`image@sha256:<index digest>` references keep working. The digests are kept in state; plan shows " +
			"what will be copied and warns about large mirrors; refresh turns drift at the target or a moved " +
			"source tag into a planned change.",
		Attributes: map[string]schema.Attribute{
			"source": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Image to mirror: `repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…`. Docker Hub " +
					"short names normalise as Docker does (`nginx` is `index.docker.io/library/nginx:latest`). A " +
					"digest pins the source; a tag is followed, so a moved tag is a planned update.",
			},
			"target": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Target repository, optionally with `:tag` or `@sha256:…`. Without a tag the " +
					"source's tag is used; a digest-only source and a tagless target push by digest alone. A " +
					"target digest must equal the digest that will be pushed. Changing it replaces the mirror.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"platforms": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Platforms to copy, as `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`). " +
					"Without a variant a platform matches every variant; `linux/arm64` and `linux/arm64/v8` match " +
					"each other. A platform the source does not list is a plan-time error. Omitted: every platform.",
				Validators: []validator.Set{setvalidator.SizeAtLeast(1)},
			},
			"index_mode": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(string(mirror.ModePreserve)),
				MarkdownDescription: "`preserve` (default): the target gets the source's index bytes unchanged, so " +
					"its digest equals the source's; with `platforms` set the index is *sparse* (some children " +
					"absent), which only some registries accept. `filter`: the target gets a new, deterministic " +
					"index listing only the selected entries (a new digest, known at plan time).",
				Validators: []validator.String{stringvalidator.OneOf(string(mirror.ModePreserve), string(mirror.ModeFilter))},
			},
			"attestations": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "Keep BuildKit attestation entries (`unknown/unknown`, annotation " +
					"`vnd.docker.reference.type = attestation-manifest`) of the images that are kept. Default `true`.",
			},
			"max_bytes": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Plan fails when the content to copy is larger than this many bytes.",
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "On destroy, leave the target content in place. Otherwise the target manifest " +
					"is deleted; a registry that does not allow deletes gives a warning, not an error. Default `false`.",
			},
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<target repository>@<digest>`.",
			},
			"source_digest": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Digest the source resolved to (known at plan time when the source is reachable).",
			},
			"digest": schema.StringAttribute{
				Computed: true,
				MarkdownDescription: "Digest of what the target holds: equal to `source_digest` in `preserve` mode; " +
					"the new index's digest in `filter` mode.",
			},
			"ref": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<target repository>[:<tag>]@<digest>`: the reference a Kubernetes manifest should use.",
			},
			"manifests": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The copied image manifests that have a platform, in index order (attestation " +
					"manifests are not listed; `size` counts them).",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"platform":   schema.StringAttribute{Computed: true, MarkdownDescription: "`os/arch[/variant]`."},
					"digest":     schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the image manifest."},
					"media_type": schema.StringAttribute{Computed: true, MarkdownDescription: "Media type of the image manifest."},
					"size":       schema.Int64Attribute{Computed: true, MarkdownDescription: "Size of the image manifest in bytes."},
				}},
			},
			"size": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "Bytes of distinct content (blobs and manifests) that the mirror holds; a layer " +
					"shared by several platforms counts once.",
			},
		},
	}
}

func (r *imageMirrorResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan imageMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rec, ok := r.copy(ctx, &plan, &resp.Diagnostics)
	if !ok {
		return
	}
	resp.Diagnostics.Append(plan.setComputed(rec)...)
	resp.Diagnostics.Append(saveRecord(ctx, resp.Private, rec)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *imageMirrorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan imageMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	rec, ok := r.copy(ctx, &plan, &resp.Diagnostics)
	if !ok {
		return
	}
	resp.Diagnostics.Append(plan.setComputed(rec)...)
	resp.Diagnostics.Append(saveRecord(ctx, resp.Private, rec)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// copy mirrors what the plan resolved: the source at the planned digest, so what lands is what
// the plan showed.
func (r *imageMirrorResource) copy(ctx context.Context, plan *imageMirrorModel, diags *diag.Diagnostics) (mirrorRecord, bool) {
	spec, _, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() || !r.configured(diags) {
		return mirrorRecord{}, false
	}
	if !plan.SourceDigest.IsUnknown() && !plan.SourceDigest.IsNull() {
		spec.SourceDigest = plan.SourceDigest.ValueString()
	}
	p, err := r.engine.Plan(ctx, spec)
	if err != nil {
		addEngineError(diags, "Cannot mirror "+spec.Source, err)
		return mirrorRecord{}, false
	}
	if _, err := r.engine.Apply(ctx, p); err != nil {
		addEngineError(diags, "Mirroring "+spec.Source+" failed", err)
		return mirrorRecord{}, false
	}
	return recordOf(p), true
}

func (r *imageMirrorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || !r.configured(&resp.Diagnostics) {
		return
	}
	rec, ok, d := loadRecord(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if !ok {
		// Just imported: nothing recorded yet, so inspect once to learn what the mirror holds.
		var imported bool
		rec, imported = r.readImported(ctx, &state, &resp.Diagnostics)
		if !imported {
			if !resp.Diagnostics.HasError() {
				resp.State.RemoveResource(ctx)
			}
			return
		}
		resp.Diagnostics.Append(saveRecord(ctx, resp.Private, rec)...)
	}
	drift, err := r.engine.Check(ctx, mirror.Expected{
		Target: state.Target.ValueString(), Tag: rec.Tag, Digest: rec.Digest, Manifests: rec.children(),
	})
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot check the target "+state.Target.ValueString(), err)
		return
	}
	if drift.Gone {
		resp.Diagnostics.AddWarning("Mirror gone from the target",
			fmt.Sprintf("%s no longer exists at the target, so the plan re-creates the mirror.", rec.ref()))
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(state.setComputed(rec)...)
	reportDrift(&state, rec, drift, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// reportDrift writes what the target holds now into the state, so that the plan, which computes
// what it should hold, proposes the repair; and says in a warning what drifted.
func reportDrift(state *imageMirrorModel, rec mirrorRecord, drift *mirror.Drift, diags *diag.Diagnostics) {
	var what []string
	if drift.Current != rec.Digest {
		tagged := rec.Repository + ":" + rec.Tag
		state.Digest = types.StringValue(drift.Current)
		state.Ref = types.StringValue(tagged + "@" + drift.Current)
		what = append(what, fmt.Sprintf("%s points at %s instead of %s", tagged, drift.Current, rec.Digest))
		if drift.IndexMissing {
			what = append(what, fmt.Sprintf("%s@%s is gone", rec.Repository, rec.Digest))
		}
	}
	if len(drift.MissingManifests) > 0 {
		missing := map[string]bool{}
		for _, m := range drift.MissingManifests {
			missing[m] = true
		}
		var kept []mirror.Manifest
		for _, m := range rec.Manifests {
			if !missing[m.Digest] {
				kept = append(kept, m)
			}
		}
		for _, m := range drift.MissingManifests {
			what = append(what, fmt.Sprintf("manifest %s is missing", m))
		}
		var d diag.Diagnostics
		state.Manifests, d = manifestsValue(kept)
		diags.Append(d...)
		state.Size = types.Int64Value(rec.Size - rec.missingSize(drift.MissingManifests))
	}
	if len(what) > 0 {
		diags.AddWarning("Target drifted from the mirror",
			fmt.Sprintf("At %s: %s. The plan restores what the mirror should hold.", rec.Repository, strings.Join(what, "; ")))
	}
}

func (r *imageMirrorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || state.KeepRemotely.ValueBool() || !r.configured(&resp.Diagnostics) {
		return
	}
	err := r.engine.Delete(ctx, state.Target.ValueString(), state.Digest.ValueString())
	switch {
	case errors.Is(err, mirror.ErrDeleteUnsupported):
		resp.Diagnostics.AddWarning("Target content left in place",
			fmt.Sprintf("%v\n\nThe mirror is removed from Terraform state but %s stays in the registry. Enable deletes "+
				"in the registry (distribution: storage.delete.enabled: true) or set keep_remotely = true to silence this.",
				err, state.Ref.ValueString()))
	case err != nil:
		addEngineError(&resp.Diagnostics, "Cannot delete "+state.Ref.ValueString(), err)
	}
}

func (r *imageMirrorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	target, source, _ := strings.Cut(req.ID, ",")
	target, source = strings.TrimSpace(target), strings.TrimSpace(source)
	if target == "" {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import ID %q is empty; use <target> or <target>,<source>, with target as repo:tag or repo@sha256:…", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("target"), target)...)
	if source != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("source"), source)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("index_mode"), string(mirror.ModePreserve))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("attestations"), true)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("keep_remotely"), false)...)
}

// readImported learns what an imported target holds. With a source it plans the mirror with
// default arguments; with the target alone it inspects the target itself. It reports false when
// the target does not exist.
func (r *imageMirrorResource) readImported(ctx context.Context, state *imageMirrorModel, diags *diag.Diagnostics) (mirrorRecord, bool) {
	target := state.Target.ValueString()
	spec := mirror.Spec{Source: state.Source.ValueString(), Target: target, IndexMode: mirror.ModePreserve, Attestations: true}
	if state.Source.IsNull() {
		spec.Source = target
	}
	p, err := r.engine.Plan(ctx, spec)
	if err != nil {
		addEngineError(diags, "Cannot import "+target, err)
		return mirrorRecord{}, false
	}
	return recordOf(p), true
}

func (r *imageMirrorResource) configured(diags *diag.Diagnostics) bool {
	if r.engine == nil {
		diags.AddError("Provider not configured", "The zarf provider was not configured before zarf_image_mirror was used; this is a bug.")
		return false
	}
	return true
}
