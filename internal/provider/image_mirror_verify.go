package provider

// The verify blocks of zarf_image_mirror: schema, model and diagnostics. The provider only
// translates them into verify.Block values; the engine builds the policy and verifies.

import (
	"context"
	"errors"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

func verifyBlockSchema() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: "Verify the publisher's signature before anything is copied. Any number of blocks; the " +
			"source passes when one block is met: a signature of `source_digest` (the index for an index) verifies " +
			"with one of the block's signers, and each of its `attestation_types` is attested by them too. " +
			"Signatures are found in both forms cosign writes: the `sha256-<hex>.sig` tag (its payload must name " +
			"`source_digest`: a signature copied from another image never counts) and Sigstore bundles stored as " +
			"OCI 1.1 referrers (through the referrers API or the fallback tag); attestations in the `.att` tag and " +
			"as bundle referrers. An `oci-layout://` source is verified from the signatures it holds, offline. " +
			"Verification runs at plan for a new mirror and whenever `source_digest` or the blocks change, and " +
			"again at apply before the first write; a source that fails is a plan error that lists every " +
			"signature found and why it did not count, and nothing is copied. See the guide *Mirror only signed images*.",
		Validators: []validator.List{verifyBlocksCheck{}},
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"public_keys": schema.ListAttribute{
					ElementType: types.StringType,
					Optional:    true,
					MarkdownDescription: "Public keys (PEM, as `cosign public-key` prints them: ECDSA P-256/P-384, " +
						"Ed25519 or RSA); a signature by any of them counts. Example: `[file(\"cosign.pub\")]`.",
				},
				"transparency_log": schema.BoolAttribute{
					Optional: true,
					Computed: true,
					Default:  booldefault.StaticBool(true),
					MarkdownDescription: "Require a transparency-log (Rekor) entry of the signature, verified offline " +
						"against the provider's `sigstore_trusted_root`. Default `true`. Set `false` for signatures " +
						"made without a log (`cosign sign --tlog-upload=false`, the air-gapped way).",
				},
				"attestation_types": schema.ListAttribute{
					ElementType: types.StringType,
					Optional:    true,
					MarkdownDescription: "In-toto predicate types (e.g. `https://slsa.dev/provenance/v1`) that must each " +
						"be attested for `source_digest` by the block's signers, besides the signature.",
				},
			},
			Blocks: map[string]schema.Block{
				"keyless": schema.SingleNestedBlock{
					MarkdownDescription: "Accept keyless signatures: a Fulcio certificate of this identity, checked " +
						"against the provider's `sigstore_trusted_root` (required). Give `subject` or `subject_regexp`.",
					Attributes: map[string]schema.Attribute{
						"issuer": schema.StringAttribute{
							Optional: true,
							MarkdownDescription: "OIDC issuer in the certificate (required), e.g. " +
								"`https://token.actions.githubusercontent.com` for GitHub Actions.",
						},
						"subject": schema.StringAttribute{
							Optional: true,
							MarkdownDescription: "The certificate's exact subject: an e-mail address, or a URI such as " +
								"`https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.4.0`.",
						},
						"subject_regexp": schema.StringAttribute{
							Optional: true,
							MarkdownDescription: "An RE2 regular expression the subject must match (anchor it with `^` " +
								"and `$`), as cosign's `--certificate-identity-regexp`.",
						},
					},
				},
			},
		},
	}
}

const verifiedByDescription = "Who signed `source_digest`, for the verify blocks that were met, sorted: " +
	"`key sha256:<fingerprint of the public key>` or `keyless <issuer> <subject>`. Null without verify blocks. " +
	"A plan with the same `source_digest` and blocks keeps it without verifying again."

type verifyModel struct {
	PublicKeys       types.List   `tfsdk:"public_keys"`
	Keyless          types.Object `tfsdk:"keyless"`
	TransparencyLog  types.Bool   `tfsdk:"transparency_log"`
	AttestationTypes types.List   `tfsdk:"attestation_types"`
}

type keylessModel struct {
	Issuer        types.String `tfsdk:"issuer"`
	Subject       types.String `tfsdk:"subject"`
	SubjectRegexp types.String `tfsdk:"subject_regexp"`
}

// verifyBlocks translates the verify blocks; false when a value is not known yet.
func verifyBlocks(ctx context.Context, l types.List) ([]verify.Block, bool, diag.Diagnostics) {
	if l.IsUnknown() {
		return nil, false, nil
	}
	var models []verifyModel
	diags := l.ElementsAs(ctx, &models, false)
	if diags.HasError() {
		return nil, false, diags
	}
	blocks := make([]verify.Block, 0, len(models))
	for _, m := range models {
		if m.TransparencyLog.IsUnknown() || m.Keyless.IsUnknown() {
			return nil, false, diags
		}
		b := verify.Block{TransparencyLog: m.TransparencyLog.IsNull() || m.TransparencyLog.ValueBool()}
		var known bool
		if b.PublicKeys, known = knownStrings(m.PublicKeys); !known {
			return nil, false, diags
		}
		if b.AttestationTypes, known = knownStrings(m.AttestationTypes); !known {
			return nil, false, diags
		}
		if !m.Keyless.IsNull() {
			var k keylessModel
			diags.Append(m.Keyless.As(ctx, &k, basetypes.ObjectAsOptions{})...)
			if k.Issuer.IsUnknown() || k.Subject.IsUnknown() || k.SubjectRegexp.IsUnknown() {
				return nil, false, diags
			}
			b.Keyless = &verify.Keyless{Issuer: k.Issuer.ValueString(), Subject: k.Subject.ValueString(), SubjectRegexp: k.SubjectRegexp.ValueString()}
		}
		blocks = append(blocks, b)
	}
	return blocks, true, diags
}

// knownStrings are the elements of a list of strings; false when one is not known yet.
func knownStrings(l types.List) ([]string, bool) {
	if l.IsUnknown() {
		return nil, false
	}
	var out []string
	for _, e := range l.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() {
			return nil, false
		}
		out = append(out, s.ValueString())
	}
	return out, true
}

// verifyBlocksCheck reports what is wrong with the verify blocks on the attribute concerned,
// without a trusted root and without the network, so that `terraform validate` finds it.
type verifyBlocksCheck struct{}

func (verifyBlocksCheck) Description(context.Context) string {
	return "verify blocks that name signers that can be checked"
}

func (c verifyBlocksCheck) MarkdownDescription(ctx context.Context) string { return c.Description(ctx) }

func (verifyBlocksCheck) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	blocks, known, diags := verifyBlocks(ctx, req.ConfigValue)
	resp.Diagnostics.Append(diags...)
	if !known || resp.Diagnostics.HasError() {
		return
	}
	var policyErr *verify.PolicyError
	if err := verify.CheckBlocks(blocks); errors.As(err, &policyErr) {
		addPolicyErrors(&resp.Diagnostics, "Invalid verify block", policyErr)
	}
}

// addPolicyErrors reports each problem of a policy on its attribute: verify[i].keyless.subject.
// A problem of a block as a whole (it names no signer) goes on its public_keys, which Terraform
// shows at the block when the attribute is absent (it would show the resource for the block).
func addPolicyErrors(diags *diag.Diagnostics, summary string, e *verify.PolicyError) {
	for _, p := range e.Problems {
		at := path.Root("verify").AtListIndex(p.Block)
		field := p.Field
		if field == "" {
			field = "public_keys"
		}
		for _, name := range strings.Split(field, ".") {
			at = at.AtName(name)
		}
		if p.Index >= 0 {
			at = at.AtListIndex(p.Index)
		}
		diags.AddAttributeError(at, summary, p.Problem)
	}
}

// verifiedByValue is the verified_by list; null when nothing was verified.
func verifiedByValue(names []string) types.List {
	if len(names) == 0 {
		return types.ListNull(types.StringType)
	}
	elems := make([]attr.Value, len(names))
	for i, n := range names {
		elems[i] = types.StringValue(n)
	}
	return types.ListValueMust(types.StringType, elems)
}
