package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
)

// ModifyPlan inspects the source with the engine that apply uses, so the computed values are
// known in the plan, and warns about mirrors that are larger or more fragile than they look.
func (r *imageMirrorResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.engine == nil {
		return // destroy, or validation before the provider is configured
	}
	var plan imageMirrorModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	spec, known, d := plan.spec(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !known {
		plan.setUnknownComputed()
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	var prior *mirror.Record
	sourceUnchanged := false
	// A create, or a replacement: the target must be able to take the mirror.
	placed := req.State.Raw.IsNull()
	if !req.State.Raw.IsNull() {
		var state imageMirrorModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		sourceUnchanged = state.Source.Equal(plan.Source)
		placed = !sameDestination(state.Source, state.Target, plan.Source, plan.Target)
		rec, ok, d := loadRecord(ctx, req.Private)
		resp.Diagnostics.Append(d...)
		if ok {
			prior = &rec
		}
	}
	rec, _, err := r.engine.Replan(ctx, spec, prior)
	if err != nil && !placed {
		rec, err = r.keepMirror(spec, prior, err, &resp.Diagnostics)
	}
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot plan the mirror of "+spec.Source, err, resourceReferences)
		return
	}
	if placed {
		if err := r.engine.CheckTarget(ctx, spec.Target); err != nil {
			addEngineError(&resp.Diagnostics, "Cannot write the mirror to "+spec.Target, err, resourceReferences)
			return
		}
	}
	if err := r.engine.Claim(mirror.ClaimOf(spec, rec)); err != nil {
		addEngineError(&resp.Diagnostics, "Two mirrors write one target tag", err, resourceReferences)
		return
	}
	resp.Diagnostics.Append(plan.setComputed(rec)...)
	if prior != nil && sourceUnchanged && rec.SourceDigest != prior.SourceDigest {
		resp.Diagnostics.AddAttributeWarning(path.Root("source"), "Source moved since the last apply",
			fmt.Sprintf("%s now points at %s; the last apply copied %s. The plan updates the mirror to the new content.",
				spec.Source, rec.SourceDigest, prior.SourceDigest))
	}
	// Warn only when this plan decides what the mirror is; a plan without changes, a repair or
	// a new signature stays quiet.
	if decides(prior, rec) {
		planWarnings(spec, rec, &resp.Diagnostics)
	}
	if prior != nil && prior.Selection.Referrers && rec.SourceDigest == prior.SourceDigest {
		newReferrersWarning(spec, rec, *prior, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// keepMirror plans an existing mirror whose source could not be checked (unreachable, refusing
// the credentials, or without the tag any more: the inner side of an air gap, an upstream that
// deletes old tags) as it is, with a warning (see mirror.Engine.Keep). Otherwise it returns err:
// nothing could be copied.
func (r *imageMirrorResource) keepMirror(spec mirror.Spec, prior *mirror.Record, err error, diags *diag.Diagnostics) (mirror.Record, error) {
	rec, kerr := r.engine.Keep(spec, prior, err)
	if kerr != nil {
		return mirror.Record{}, kerr
	}
	diags.AddAttributeWarning(path.Root("source"), "Source could not be checked",
		fmt.Sprintf("The source could not be checked: %v; the mirror is kept as it is. The target is still checked: "+
			"refresh reports drift there, and repairing it needs the source again.", err))
	return rec, nil
}

// newReferrersWarning names the referrers that appeared at the source since the last apply.
func newReferrersWarning(spec mirror.Spec, rec, prior mirror.Record, diags *diag.Diagnostics) {
	var names []string
	for _, r := range rec.Referrers {
		if !slices.Contains(prior.Referrers, r) {
			names = append(names, mirror.DescribeReferrer(r))
		}
	}
	if len(names) > 0 {
		diags.AddAttributeWarning(path.Root("copied_referrers"), "New signatures or attestations at the source",
			fmt.Sprintf("%s has referrers that the last apply did not copy: %s. The plan updates the mirror to copy them.",
				spec.Source, strings.Join(names, "; ")))
	}
}

// quietPlatforms is the most platforms a source may list for a mirror of all of them to pass
// without a warning: amd64 and arm64 is the common pair, not a surprise.
const quietPlatforms = 2

// decides reports whether a plan decides what a mirror is: a new mirror (prior is nil), another
// platform selection, content of another size (the source moved), or another place. A plan that
// repeats, repairs or only adds signatures to what was applied does not.
func decides(prior *mirror.Record, rec mirror.Record) bool {
	if prior == nil {
		return true
	}
	before, after := prior.Selection, rec.Selection
	before.Referrers, after.Referrers = false, false // signatures are not counted in the size
	return !before.Equal(after) || prior.Size != rec.Size || prior.Repository != rec.Repository || prior.Tag != rec.Tag
}

// planWarnings says what may surprise in a mirror whose plan decides what it is.
func planWarnings(spec mirror.Spec, rec mirror.Record, diags *diag.Diagnostics) {
	// Not when max_bytes bounds the size, nor from an OCI image layout or a Zarf package (a
	// reference with a scheme), whose platforms the first hop chose.
	if len(spec.Platforms) == 0 && len(rec.Platforms) > quietPlatforms && spec.MaxBytes == 0 && !strings.Contains(spec.Source, "://") {
		diags.AddAttributeWarning(path.Root("platforms"),
			fmt.Sprintf("Mirroring all %d platforms of %s", len(rec.Platforms), spec.Source),
			fmt.Sprintf("%s lists %d platforms (%s) and platforms is not set, so every one is copied: %s (%d bytes) in all.\n\n"+
				"To copy fewer, choose one of:\n"+
				"  - platforms = [%[6]q] with index_mode = \"filter\": the target gets a new index that lists only those "+
				"platforms (its digest differs from the source's and is shown in the plan); every registry accepts it;\n"+
				"  - platforms = [%[6]q] with the default index_mode = \"preserve\": the source's digest is kept, but the target gets "+
				"a sparse index (the others' images absent), which only a registry configured to accept it takes (CNCF distribution v3 with "+
				"validation.manifests.indexes.platforms: none or list); others reject it at apply.\n"+
				"To keep every platform, set max_bytes to the most you accept: the plan fails above it, and this warning is not shown. "+
				"The zarf_image_index data source lists the platforms and sizes a source offers.",
				spec.Source, len(rec.Platforms), strings.Join(rec.Platforms, ", "), mirror.HumanBytes(rec.Size), rec.Size, rec.Platforms[0]))
	}
	if rec.Sparse && rec.Selection.IndexMode == mirror.ModePreserve && !rec.Traits.AcceptsSparse {
		attribute := path.Root("platforms")
		left := fmt.Sprintf("only %d of the %d platforms it lists: the images of the others are not copied", len(rec.Manifests), len(rec.Platforms))
		if len(rec.Manifests) >= len(rec.Platforms) {
			attribute = path.Root("attestations")
			left = "not every manifest it lists: with attestations = false its attestation manifests are not copied"
		}
		diags.AddAttributeWarning(attribute,
			"Sparse index: only some registries accept it",
			fmt.Sprintf("The target gets the source's index %s unchanged, but %s. The CNCF distribution registry v3 accepts such a sparse index only "+
				"when configured with validation.manifests.indexes.platforms: none (or list); its default (all), "+
				"distribution v2, Zot, Harbor, Docker Hub, ECR and Nexus reject it (MANIFEST_BLOB_UNKNOWN or "+
				"MANIFEST_INVALID). If the target rejects it, copy everything the index lists (omit platforms, keep attestations = true), or set "+
				"index_mode = \"filter\" for a new index (new digest) that lists only the selected platforms.",
				rec.Digest, left))
	}
	if rec.Tag == "" && !rec.Traits.KeepsUnnamed {
		diags.AddAttributeWarning(path.Root("target"),
			"Mirror pushed by digest only",
			fmt.Sprintf("Neither source nor target names a tag, so %s is pushed without one. Registries may remove "+
				"untagged manifests when they collect garbage; add a tag to target (%s:<tag>) to keep it.", rec.ID(), rec.Repository))
	}
}
