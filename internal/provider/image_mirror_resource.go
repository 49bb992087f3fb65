package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"

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
	err := r.engine.Delete(ctx, state.Target.ValueString(), rec,
		mirror.FromSource(state.Source.ValueString(), indexModeOf(state.IndexMode)))
	var kept *mirror.KeptError
	switch {
	case errors.As(err, &kept):
		resp.Diagnostics.AddWarning("Target content left in place",
			fmt.Sprintf("%v.\n\nThe mirror is removed from Terraform state; what is left belongs to someone else as well, "+
				"so destroy does not delete it.", err))
	case errors.Is(err, store.ErrUnsupported):
		resp.Diagnostics.AddWarning("Target content left in place",
			fmt.Sprintf("%v\n\nThe mirror is removed from Terraform state but %s stays in the registry. Enable deletes "+
				"in the registry (distribution: storage.delete.enabled: true) or set keep_remotely = true to silence this.",
				err, state.Ref.ValueString()))
	case err != nil:
		addEngineError(&resp.Diagnostics, "Cannot delete "+state.Ref.ValueString(), err, resourceReferences)
	}
}
func (r *imageMirrorResource) configured(diags *diag.Diagnostics) bool {
	if r.engine == nil {
		diags.AddError("Provider not configured", "The zarf provider was not configured before zarf_image_mirror was used; this is a bug.")
		return false
	}
	return true
}
