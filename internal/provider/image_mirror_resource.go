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
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
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
					"digest pins the source; a tag is followed, so a moved tag is a planned update. An OCI image " +
					"layout directory (a Zarf package's `images/` folder) is `oci-layout://<path>:<ref>` or " +
					"`oci-layout://<path>@sha256:…`: `<ref>` matches an `index.json` entry by its " +
					"`org.opencontainers.image.ref.name`, or by its original image reference " +
					"(`org.opencontainers.image.base.name`, e.g. `oci-layout://images:docker.io/library/nginx:1.27`). " +
					"The path contains neither `:` nor `@`. See the guide *Air-gapped mirroring in two hops*.",
			},
			"target": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Target repository, optionally with `:tag` or `@sha256:…`. Without a tag the " +
					"source's tag is used; a digest-only source and a tagless target push by digest alone. A " +
					"target digest must equal the digest that will be pushed. Changing it replaces the mirror. " +
					"Or an OCI image layout directory, `oci-layout://<path>[:<ref>]`, created if missing: the " +
					"manifests are stored with their exact bytes and listed in `index.json` under the ref (default: " +
					"the source's tag) with the source reference as `org.opencontainers.image.base.name`; writing a " +
					"ref again replaces its entry, several mirrors may share one layout, and destroy removes only the " +
					"mirror's entry and the blobs no other entry uses.",
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
			"referrers": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Also copy what refers to the copied manifests: OCI 1.1 referrers (found through the " +
					"referrers API, else the `sha256-<hex>` fallback tag) and cosign's `sha256-<hex>.sig`, `.att` and " +
					"`.sbom` tags, with everything they reference. Looked for are the referrers of each copied " +
					"manifest that the target gets unchanged, so in `filter` mode not those of the new index. At the " +
					"target, OCI referrers are listed by the referrers API where it exists, else merged into the " +
					"fallback tag (other entries are kept); cosign tags are copied as tags. In an OCI image layout, " +
					"each referrer is an `index.json` entry of its own (cosign tags under their tag name), so the next " +
					"hop finds it. `copied_referrers` lists " +
					"them. Default `false`. See the guide *Signatures and attestations*.",
			},
			"keep_remotely": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "On destroy, leave the target content in place. Otherwise the manifest the " +
					"mirror pushed is deleted, or only the mirror's tag when another tag of the repository points at " +
					"the same manifest (another mirror of the same image keeps its content); a registry that does not " +
					"allow deletes gives a warning, not an error. Default `false`.",
			},
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`<target repository>@<digest>` (`oci-layout://<path>@<digest>` for a layout).",
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
				Computed: true,
				MarkdownDescription: "`<target repository>[:<tag>]@<digest>`: the reference a Kubernetes manifest should use " +
					"(`oci-layout://<path>@<digest>` for a layout target).",
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
			"copied_referrers": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "With `referrers = true`, what refers to the copied manifests and is copied with them " +
					"(known at plan time): signatures, attestations, SBOMs. The design calls this list `referrers`; it is " +
					"named `copied_referrers` because `referrers` is the argument that turns the copy on. `size` does " +
					"not count them. Empty without `referrers`. Refresh checks each one at the target (HEAD): one that " +
					"is gone is a planned update that copies it again, and planning proposes an update when new ones " +
					"appeared at the source.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"digest": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the referrer's manifest."},
					"artifact_type": schema.StringAttribute{Computed: true, MarkdownDescription: "The manifest's `artifactType`, " +
						"else its config media type (as the referrers API reports it); for a cosign tag whose manifest " +
						"has a plain image config, the media type of its first layer (for a signature " +
						"`application/vnd.dev.cosign.simplesigning.v1+json`)."},
					"subject": schema.StringAttribute{Computed: true, MarkdownDescription: "Digest of the copied manifest it refers to."},
					"tag": schema.StringAttribute{Computed: true, MarkdownDescription: "The cosign tag it is stored under " +
						"(`sha256-<hex>.sig`, `.att` or `.sbom`); null for an OCI referrer, which clients find by its subject."},
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
	r.mirrorPlanned(ctx, req.Plan, &resp.State, resp.Private, &resp.Diagnostics)
}

func (r *imageMirrorResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state imageMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.sameContent(state) {
		// Only keep_remotely or max_bytes changed: the target already holds the mirror (refresh
		// checked it), so there is nothing to copy. Private state keeps its record.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		return
	}
	r.mirrorPlanned(ctx, req.Plan, &resp.State, resp.Private, &resp.Diagnostics)
}

// mirrorPlanned is Create and Update: copy what the plan shows, then record it in the state and
// in private state.
func (r *imageMirrorResource) mirrorPlanned(ctx context.Context, planned tfsdk.Plan, state *tfsdk.State, private privateSetter, diags *diag.Diagnostics) {
	var plan imageMirrorModel
	diags.Append(planned.Get(ctx, &plan)...)
	if diags.HasError() {
		return
	}
	rec, ok := r.copy(ctx, &plan, diags)
	if !ok {
		return
	}
	diags.Append(plan.setComputed(rec)...)
	diags.Append(saveRecord(ctx, private, rec)...)
	diags.Append(state.Set(ctx, &plan)...)
}

// copy mirrors what the plan resolved: the source at the planned digest, so what lands is what
// the plan showed.
func (r *imageMirrorResource) copy(ctx context.Context, plan *imageMirrorModel, diags *diag.Diagnostics) (mirror.Record, bool) {
	spec, _, d := plan.spec(ctx)
	diags.Append(d...)
	if diags.HasError() || !r.configured(diags) {
		return mirror.Record{}, false
	}
	if !plan.SourceDigest.IsUnknown() && !plan.SourceDigest.IsNull() {
		spec.SourceDigest = plan.SourceDigest.ValueString()
	}
	p, err := r.engine.Plan(ctx, spec)
	if err != nil {
		addEngineError(diags, "Cannot mirror "+spec.Source, err, resourceReferences)
		return mirror.Record{}, false
	}
	if planned, known, d := plan.plannedReferrers(ctx); spec.Referrers && known && !d.HasError() {
		if err := p.KeepReferrers(planned); err != nil { // copy the referrers the plan showed
			addEngineError(diags, "Cannot mirror "+spec.Source, err, resourceReferences)
			return mirror.Record{}, false
		}
	}
	if _, err := r.engine.Apply(ctx, p); err != nil {
		addEngineError(diags, "Mirroring "+spec.Source+" failed", err, resourceReferences)
		return mirror.Record{}, false
	}
	return p.Record, true
}

// Read checks that the target still holds what the last apply put there, with HEAD requests
// only (see mirror.Engine.Check): the tag or digest, and each copied manifest by digest. It
// never reads manifests or blobs from the target, with one exception: right after an import
// nothing is recorded yet, so readImported inspects the source (or, imported without one, the
// target itself) once, with GET requests, to learn what the mirror should hold.
//
// What the target holds now goes into the state and the plan (ModifyPlan) computes what it
// should hold, so drift becomes a planned change: a gone tag or digest removes the resource
// (plan: create), a moved tag or a missing manifest changes digest, ref, manifests or size
// (plan: update). A warning says what drifted, since some of those values say little.
func (r *imageMirrorResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state imageMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.engine == nil {
		// The provider configuration is known only after apply (a password from another
		// resource): the target cannot be reached yet, so the state stays as it is.
		return
	}
	rec, recorded, d := loadRecord(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if !recorded {
		var exists bool
		rec, exists = r.readImported(ctx, &state, &resp.Diagnostics)
		if !exists {
			if !resp.Diagnostics.HasError() {
				resp.State.RemoveResource(ctx)
			}
			return
		}
		resp.Diagnostics.Append(saveRecord(ctx, resp.Private, rec)...)
	}
	drift, err := r.engine.Check(ctx, state.Target.ValueString(), rec)
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot check the target "+state.Target.ValueString(), err, resourceReferences)
		return
	}
	if drift.Gone {
		if recorded { // on import, Terraform itself says that the object does not exist
			resp.Diagnostics.AddWarning("Mirror gone from the target", goneDetail(rec, drift))
		}
		resp.State.RemoveResource(ctx)
		return
	}
	// What the target holds now goes into the state; the plan computes what it should hold.
	resp.Diagnostics.Append(state.setComputed(rec.WithDrift(drift))...)
	state.ID = types.StringValue(rec.ID()) // the mirror's identity stays what was applied
	reportDrift(rec, drift, &resp.Diagnostics)
	reportReferrerDrift(rec, drift, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// goneDetail says what of a mirror is gone from the target.
func goneDetail(rec mirror.Record, drift *mirror.Drift) string {
	var what string
	switch {
	case rec.Tag == "":
		what = fmt.Sprintf("the manifest %s no longer exists", rec.Digest)
	case drift.IndexMissing:
		what = fmt.Sprintf("the tag %s and the manifest %s it pointed at no longer exist", rec.Tag, rec.Digest)
	default:
		what = fmt.Sprintf("the tag %s no longer exists (the manifest %s is still there)", rec.Tag, rec.Digest)
	}
	return fmt.Sprintf("At %s: %s. The mirror is removed from the state, so the plan creates it again.", rec.Repository, what)
}

// joinAnd joins words as "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// reportDrift says in a warning what drifted at the target and which attributes of the plan show
// it (Read wrote what the target holds now into the state, so the plan proposes the repair).
func reportDrift(rec mirror.Record, drift *mirror.Drift, diags *diag.Diagnostics) {
	var what, attrs []string
	if drift.Current != rec.Digest {
		still := "which is still there"
		if drift.IndexMissing {
			still = "which is gone as well"
		}
		what = append(what, fmt.Sprintf("the tag %s points at %s instead of %s, %s", rec.Tag, drift.Current, rec.Digest, still))
		attrs = append(attrs, "digest", "ref")
	}
	if len(drift.MissingManifests) > 0 {
		for _, m := range drift.MissingManifests {
			what = append(what, fmt.Sprintf("the %s %s is missing", rec.DescribeManifest(m), m))
		}
		if len(rec.WithDrift(drift).Manifests) != len(rec.Manifests) {
			attrs = append(attrs, "manifests")
		}
		attrs = append(attrs, "size")
	}
	if len(what) > 0 {
		diags.AddWarning("Target drifted from the mirror",
			fmt.Sprintf("At %s: %s.\n\nThe plan shows this as a change of %s back to what the mirror holds; applying it "+
				"pushes what is missing again and rewrites the tag.", rec.Repository, strings.Join(what, "; "), joinAnd(attrs)))
	}
}

// reportReferrerDrift names in a warning the copied referrers that the target no longer has (Read
// dropped them from the state, so the plan, which lists them all, proposes the update that copies
// them again).
func reportReferrerDrift(rec mirror.Record, drift *mirror.Drift, diags *diag.Diagnostics) {
	if len(drift.MissingReferrers) == 0 {
		return
	}
	var names []string
	for _, r := range drift.MissingReferrers {
		names = append(names, mirror.DescribeReferrer(r))
	}
	diags.AddAttributeWarning(path.Root("copied_referrers"), "Signatures or attestations missing at the target",
		fmt.Sprintf("At %s: %s %s gone (a cosign tag that was deleted or points elsewhere, or a referrer's manifest that was "+
			"deleted), so verifiers that look for it at the target fail.\n\nThe plan shows this as a change of copied_referrers "+
			"back to what the mirror holds; applying it copies them again.",
			rec.Repository, strings.Join(names, "; "), map[bool]string{true: "is", false: "are"}[len(names) == 1]))
}

func (r *imageMirrorResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state imageMirrorModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || state.KeepRemotely.ValueBool() || !r.configured(&resp.Diagnostics) {
		return
	}
	// Delete what the mirror pushed, by the recorded tag and digest: after drift, the state's
	// digest is what someone else pushed to the tag.
	rec, recorded, d := loadRecord(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if !recorded {
		// A state from before private records: the tag follows from the arguments.
		rec.Digest = state.Digest.ValueString()
		if spec, known, _ := state.spec(ctx); known {
			_, rec.Tag, _ = r.engine.Locate(spec, rec.Digest)
		}
	}
	err := r.engine.Delete(ctx, state.Target.ValueString(), rec)
	switch {
	case errors.Is(err, store.ErrUnsupported):
		resp.Diagnostics.AddWarning("Target content left in place",
			fmt.Sprintf("%v\n\nThe mirror is removed from Terraform state but %s stays in the registry. Enable deletes "+
				"in the registry (distribution: storage.delete.enabled: true) or set keep_remotely = true to silence this.",
				err, state.Ref.ValueString()))
	case err != nil:
		addEngineError(&resp.Diagnostics, "Cannot delete "+state.Ref.ValueString(), err, resourceReferences)
	}
}

// ImportState takes "<target>" or "<target>,<source>". Write target and source as the
// configuration does: ImportState keeps them as they are, and a target that differs from the
// configured one in writing (even with the same meaning) would plan a replacement.
func (r *imageMirrorResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	target, source, err := parseImportID(req.ID)
	if err == nil && r.engine != nil {
		err = r.checkImport(target, source)
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import ID %q: %v.\n\nUse <target> or <target>,<source>, with target and source written as in the "+
				"configuration, target as repo:tag or repo@sha256:<digest>; for example\n"+
				"  registry.internal/library/nginx:1.27\n"+
				"  registry.internal/library/nginx:1.27,docker.io/library/nginx:1.27", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("target"), target)...)
	if source != "" {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("source"), source)...)
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("index_mode"), string(mirror.ModePreserve))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("attestations"), true)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("keep_remotely"), false)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("referrers"), false)...)
}

// parseImportID splits "<target>" or "<target>,<source>".
func parseImportID(id string) (target, source string, err error) {
	parts := strings.Split(id, ",")
	if len(parts) > 2 {
		return "", "", fmt.Errorf("it has %d comma-separated parts; at most two are allowed", len(parts))
	}
	target = strings.TrimSpace(parts[0])
	if target == "" {
		return "", "", errors.New("the target is empty")
	}
	if len(parts) == 2 {
		if source = strings.TrimSpace(parts[1]); source == "" {
			return "", "", errors.New("the source after the comma is empty")
		}
	}
	return target, source, nil
}

// checkImport validates the parts of an import ID without a request: target as repo:tag,
// repo@digest or repo:tag@digest (a bare repository only together with a source, which then
// gives the tag, as in a configuration), and the source, if given, as the source argument takes
// it.
func (r *imageMirrorResource) checkImport(target, source string) error {
	tgt, err := r.engine.Parse(target, store.RoleTarget)
	if err != nil {
		return err
	}
	if source == "" {
		if tgt.Name == "" && tgt.Digest == "" {
			return errors.New("without a source, the target must name what to import: add :<tag> or @sha256:<digest>, " +
				"or give the source as <target>,<source>")
		}
		return nil
	}
	_, err = r.engine.Parse(source, store.RoleSource)
	return err
}

// readImported learns what the mirror should hold when nothing is recorded: right after an
// import, or for a state written without a record. It plans the mirror with the state's
// arguments (defaults after an import), from the source (at the recorded source_digest when the
// state has one), or, imported without a source, from the target itself. This reads manifests
// with GET requests, the only refresh that does. It reports false when what it should inspect
// does not exist at the target.
func (r *imageMirrorResource) readImported(ctx context.Context, state *imageMirrorModel, diags *diag.Diagnostics) (mirror.Record, bool) {
	target := state.Target.ValueString()
	spec, _, d := state.spec(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return mirror.Record{}, false
	}
	spec.Target, spec.MaxBytes = target, 0
	targetOnly := state.Source.IsNull() || state.Source.ValueString() == ""
	if targetOnly {
		spec.Source = target
	} else if sd := state.SourceDigest.ValueString(); sd != "" {
		spec.SourceDigest = sd
	}
	p, err := r.engine.Plan(ctx, spec)
	if targetOnly && errors.Is(err, store.ErrNotFound) {
		return mirror.Record{}, false
	}
	if err != nil {
		addEngineError(diags, "Cannot import "+target, err, resourceReferences)
		return mirror.Record{}, false
	}
	return p.Record, true
}

func (r *imageMirrorResource) configured(diags *diag.Diagnostics) bool {
	if r.engine == nil {
		diags.AddError("Provider not configured", "The zarf provider was not configured before zarf_image_mirror was used; this is a bug.")
		return false
	}
	return true
}
