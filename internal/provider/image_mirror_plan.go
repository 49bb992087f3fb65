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
	if !req.State.Raw.IsNull() {
		var state imageMirrorModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		sourceUnchanged = state.Source.Equal(plan.Source)
		rec, ok, d := loadRecord(ctx, req.Private)
		resp.Diagnostics.Append(d...)
		if ok {
			prior = &rec
		}
	}
	rec, inspected, err := r.engine.Replan(ctx, spec, prior)
	if err != nil {
		addEngineError(&resp.Diagnostics, "Cannot plan the mirror of "+spec.Source, err, resourceReferences)
		return
	}
	resp.Diagnostics.Append(plan.setComputed(rec)...)
	if prior != nil && sourceUnchanged && rec.SourceDigest != prior.SourceDigest {
		resp.Diagnostics.AddAttributeWarning(path.Root("source"), "Source moved since the last apply",
			fmt.Sprintf("%s now points at %s; the last apply copied %s. The plan updates the mirror to the new content.",
				spec.Source, rec.SourceDigest, prior.SourceDigest))
	}
	// Warn when something is about to be copied: the source was inspected (first plan, moved
	// source, new selection) or the mirror goes to another place. A plan without changes stays
	// quiet.
	if inspected || prior == nil || rec.Repository != prior.Repository || rec.Tag != prior.Tag {
		planWarnings(spec, rec, &resp.Diagnostics)
	}
	if prior != nil && prior.Selection.Referrers && rec.SourceDigest == prior.SourceDigest {
		newReferrersWarning(spec, rec, *prior, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
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

// planWarnings says what may surprise in a mirror that is about to be copied.
func planWarnings(spec mirror.Spec, rec mirror.Record, diags *diag.Diagnostics) {
	if len(spec.Platforms) == 0 && len(rec.Platforms) > 1 {
		diags.AddAttributeWarning(path.Root("platforms"),
			fmt.Sprintf("Mirroring all %d platforms of %s", len(rec.Platforms), spec.Source),
			fmt.Sprintf("%s lists %d platforms (%s) and platforms is not set, so every one is copied: %s (%d bytes) in all.\n\n"+
				"To copy fewer, set platforms, for example platforms = [%q]. The zarf_image_index data source lists "+
				"the platforms and sizes a source offers.",
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
