package provider

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
)

// imageMirrorModel is the state and plan of zarf_image_mirror.
type imageMirrorModel struct {
	Source       types.String `tfsdk:"source"`
	Target       types.String `tfsdk:"target"`
	Platforms    types.Set    `tfsdk:"platforms"`
	IndexMode    types.String `tfsdk:"index_mode"`
	Attestations types.Bool   `tfsdk:"attestations"`
	MaxBytes     types.Int64  `tfsdk:"max_bytes"`
	KeepRemotely types.Bool   `tfsdk:"keep_remotely"`
	Referrers    types.Bool   `tfsdk:"referrers"`
	Verify       types.List   `tfsdk:"verify"` // of verifyModel

	ID           types.String `tfsdk:"id"`
	SourceDigest types.String `tfsdk:"source_digest"`
	Digest       types.String `tfsdk:"digest"`
	Ref          types.String `tfsdk:"ref"`
	Manifests    types.List   `tfsdk:"manifests"`
	Size         types.Int64  `tfsdk:"size"`

	CopiedReferrers types.List `tfsdk:"copied_referrers"`
	VerifiedBy      types.List `tfsdk:"verified_by"`
}

// sameContent reports whether m and o describe the same mirror, arguments that only matter
// at plan or destroy time (keep_remotely, max_bytes) and the way target is written aside.
func (m imageMirrorModel) sameContent(o imageMirrorModel) bool {
	return m.Source.Equal(o.Source) && sameDestination(m.Source, m.Target, o.Source, o.Target) && m.Platforms.Equal(o.Platforms) &&
		m.IndexMode.Equal(o.IndexMode) && m.Attestations.Equal(o.Attestations) && m.Referrers.Equal(o.Referrers) &&
		m.ID.Equal(o.ID) && m.SourceDigest.Equal(o.SourceDigest) && m.Digest.Equal(o.Digest) && m.Ref.Equal(o.Ref) &&
		m.Manifests.Equal(o.Manifests) && m.Size.Equal(o.Size) && m.CopiedReferrers.Equal(o.CopiedReferrers) &&
		m.Verify.Equal(o.Verify) && m.VerifiedBy.Equal(o.VerifiedBy)
}

var manifestAttrTypes = map[string]attr.Type{
	"platform":   types.StringType,
	"digest":     types.StringType,
	"media_type": types.StringType,
	"size":       types.Int64Type,
}

var manifestObjectType = types.ObjectType{AttrTypes: manifestAttrTypes}

var referrerAttrTypes = map[string]attr.Type{
	"digest":        types.StringType,
	"artifact_type": types.StringType,
	"subject":       types.StringType,
	"tag":           types.StringType,
}

var referrerObjectType = types.ObjectType{AttrTypes: referrerAttrTypes}

// spec is what the configuration asks the engine for; known only when every input is known.
func (m *imageMirrorModel) spec(ctx context.Context) (mirror.Spec, bool, diag.Diagnostics) {
	var diags, d diag.Diagnostics
	if m.Source.IsUnknown() || m.Target.IsUnknown() || m.Platforms.IsUnknown() || m.IndexMode.IsUnknown() ||
		m.Attestations.IsUnknown() || m.MaxBytes.IsUnknown() || m.Referrers.IsUnknown() {
		return mirror.Spec{}, false, nil
	}
	s := mirror.Spec{
		Source:       m.Source.ValueString(),
		Target:       m.Target.ValueString(),
		IndexMode:    mirror.IndexMode(m.IndexMode.ValueString()),
		Attestations: m.Attestations.IsNull() || m.Attestations.ValueBool(),
		Referrers:    m.Referrers.ValueBool(),
		MaxBytes:     m.MaxBytes.ValueInt64(),
	}
	if !m.Platforms.IsNull() {
		var elems []types.String
		diags.Append(m.Platforms.ElementsAs(ctx, &elems, false)...)
		for _, e := range elems {
			if e.IsUnknown() {
				return mirror.Spec{}, false, diags
			}
			s.Platforms = append(s.Platforms, e.ValueString())
		}
		slices.Sort(s.Platforms)
	}
	var known bool
	s.Verify, known, d = verifyBlocks(ctx, m.Verify)
	diags.Append(d...)
	if !known {
		return mirror.Spec{}, false, diags
	}
	return s, true, diags
}

// setUnknownComputed marks every computed attribute unknown (the source is not known yet).
func (m *imageMirrorModel) setUnknownComputed() {
	m.ID = types.StringUnknown()
	m.SourceDigest = types.StringUnknown()
	m.Digest = types.StringUnknown()
	m.Ref = types.StringUnknown()
	m.Manifests = types.ListUnknown(manifestObjectType)
	m.Size = types.Int64Unknown()
	m.CopiedReferrers = types.ListUnknown(referrerObjectType)
	m.VerifiedBy = types.ListUnknown(types.StringType)
}

// setComputed fills the computed attributes from what the mirror holds.
func (m *imageMirrorModel) setComputed(r mirror.Record) diag.Diagnostics {
	m.ID = types.StringValue(r.ID())
	m.SourceDigest = types.StringValue(r.SourceDigest)
	m.Digest = types.StringValue(r.Digest)
	m.Ref = types.StringValue(r.Ref())
	m.Size = types.Int64Value(r.Size)
	m.VerifiedBy = verifiedByValue(r.VerifiedBy)
	if m.Referrers.IsNull() {
		// A state written before the argument existed: its default, so that it plans no change.
		m.Referrers = types.BoolValue(false)
	}
	var diags, d diag.Diagnostics
	m.Manifests, diags = manifestsValue(r.Manifests)
	m.CopiedReferrers, d = referrersValue(r.Referrers)
	diags.Append(d...)
	return diags
}

// referrersValue is the copied_referrers list; tag is null for an OCI referrer.
func referrersValue(rs []mirror.Referrer) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(rs))
	for _, r := range rs {
		tag := types.StringNull()
		if r.Tag != "" {
			tag = types.StringValue(r.Tag)
		}
		o, d := types.ObjectValue(referrerAttrTypes, map[string]attr.Value{
			"digest":        types.StringValue(r.Digest),
			"artifact_type": types.StringValue(r.ArtifactType),
			"subject":       types.StringValue(r.Subject),
			"tag":           tag,
		})
		diags.Append(d...)
		elems = append(elems, o)
	}
	l, d := types.ListValue(referrerObjectType, elems)
	diags.Append(d...)
	return l, diags
}

// plannedReferrers are the referrers that the plan shows (copied_referrers), identified by
// digest, subject and tag; false when the plan does not know them.
func (m *imageMirrorModel) plannedReferrers(ctx context.Context) ([]mirror.Referrer, bool, diag.Diagnostics) {
	if m.CopiedReferrers.IsUnknown() || m.CopiedReferrers.IsNull() {
		return nil, false, nil
	}
	var elems []struct {
		Digest       types.String `tfsdk:"digest"`
		ArtifactType types.String `tfsdk:"artifact_type"`
		Subject      types.String `tfsdk:"subject"`
		Tag          types.String `tfsdk:"tag"`
	}
	diags := m.CopiedReferrers.ElementsAs(ctx, &elems, false)
	out := make([]mirror.Referrer, 0, len(elems))
	for _, e := range elems {
		if e.Digest.IsUnknown() || e.Subject.IsUnknown() || e.Tag.IsUnknown() {
			return nil, false, diags
		}
		out = append(out, mirror.Referrer{Digest: e.Digest.ValueString(), ArtifactType: e.ArtifactType.ValueString(),
			Subject: e.Subject.ValueString(), Tag: e.Tag.ValueString()})
	}
	return out, true, diags
}

func manifestsValue(ms []mirror.Manifest) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(ms))
	for _, mf := range ms {
		o, d := types.ObjectValue(manifestAttrTypes, map[string]attr.Value{
			"platform":   types.StringValue(mf.Platform),
			"digest":     types.StringValue(mf.Digest),
			"media_type": types.StringValue(mf.MediaType),
			"size":       types.Int64Value(mf.Size),
		})
		diags.Append(d...)
		elems = append(elems, o)
	}
	l, d := types.ListValue(manifestObjectType, elems)
	diags.Append(d...)
	return l, diags
}

// recordKey is the private state key of the mirror's record (mirror.Record).
const recordKey = "mirror"

// privateState is the part of the framework's private state API the resource uses.
type privateState interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func loadRecord(ctx context.Context, p privateState) (mirror.Record, bool, diag.Diagnostics) {
	raw, diags := p.GetKey(ctx, recordKey)
	if diags.HasError() || len(raw) == 0 {
		return mirror.Record{}, false, diags
	}
	r, err := mirror.LoadRecord(raw)
	if err != nil {
		return mirror.Record{}, false, diags // an unreadable record only costs a full inspection
	}
	return r, true, diags
}

func saveRecord(ctx context.Context, p privateSetter, r mirror.Record) diag.Diagnostics {
	raw, err := r.Marshal()
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot record the mirror", err.Error())
		return diags
	}
	return p.SetKey(ctx, recordKey, raw)
}
