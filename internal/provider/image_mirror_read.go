package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

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

// readImported learns what the mirror should hold when nothing is recorded: right after an
// import, or for a state written without a record. It plans the mirror with the state's
// arguments (defaults after an import), from the source (at the recorded source_digest when the
// state has one), or, imported without a source, from the target itself. When the target's tag
// holds another mirror of the source than those arguments give (one made with a filter or a
// platform selection, which an import ID cannot say), it records what the target holds, with the
// source's digest: the plan then shows the arguments to set, not a drift. This reads manifests
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
	if state.Source.IsNull() || state.Source.ValueString() == "" {
		return r.readTarget(ctx, spec, target, diags)
	}
	if sd := state.SourceDigest.ValueString(); sd != "" {
		spec.SourceDigest = sd
	}
	p, err := r.engine.Plan(ctx, spec)
	if err != nil {
		addEngineError(diags, "Cannot import "+target, err, resourceReferences)
		return mirror.Record{}, false
	}
	if p.Tag == "" {
		return p.Record, true
	}
	tagged := p.Repository + ":" + p.Tag
	if held, err := r.engine.ResolveSource(ctx, tagged); err != nil || held == p.Digest {
		return p.Record, true // refresh's check says whether the target holds it
	}
	rec, ok := r.readTarget(ctx, spec, tagged, diags)
	rec.SourceDigest = p.SourceDigest
	return rec, ok
}

// readTarget records what the target holds at ref (the target with its tag or digest), read as
// a source with spec's other arguments; false when it does not exist.
func (r *imageMirrorResource) readTarget(ctx context.Context, spec mirror.Spec, ref string, diags *diag.Diagnostics) (mirror.Record, bool) {
	spec.Source, spec.SourceDigest = ref, ""
	p, err := r.engine.Plan(ctx, spec)
	if errors.Is(err, store.ErrNotFound) {
		return mirror.Record{}, false
	}
	if err != nil {
		addEngineError(diags, "Cannot import "+spec.Target, err, resourceReferences)
		return mirror.Record{}, false
	}
	return p.Record, true
}
