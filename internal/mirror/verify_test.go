package mirror

// Verification before copying, on the memory store: when the engine verifies (plan of a new
// mirror, a moved source, other verify blocks), when it keeps what a record says, and that a
// source that fails copies nothing.

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store/memory"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

// signedEnv is a memory environment whose source repository acme/app holds the tag 1.0, signed
// with key in cosign's .sig form without a transparency-log entry, and the unsigned tag 2.0.
type signedEnv struct {
	*memoryEnv
	src  *memory.Store
	key  *verifytest.Signer
	spec Spec
}

func newSignedEnv(t *testing.T) *signedEnv {
	t.Helper()
	env := &signedEnv{memoryEnv: newMemoryEnv(), key: verifytest.NewKey(t, verifytest.ECDSAP256)}
	env.src = env.memoryEnv.src.Repository("acme/app")
	signed := verifytest.WriteImage(t, env.src, "1.0")
	verifytest.WriteSignature(t, env.src, signed.Digest, env.key, verifytest.Options{})
	verifytest.WriteImage(t, env.src, "2.0")
	env.spec = Spec{Source: env.src.String() + ":1.0", Target: env.dst.Prefix() + "mirror/app",
		Verify: []verify.Block{{PublicKeys: []string{env.key.PublicKeyPEM(t)}}}}
	return env
}

// fingerprint is how verified_by names the env's key.
func (env *signedEnv) fingerprint(t *testing.T) string {
	t.Helper()
	k, err := verify.ParsePublicKey([]byte(env.key.PublicKeyPEM(t)))
	if err != nil {
		t.Fatal(err)
	}
	return k.String()
}

func TestVerifyPlanAndReplan(t *testing.T) {
	env := newSignedEnv(t)
	p, err := env.e.Plan(t.Context(), env.spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{env.fingerprint(t)}; !slices.Equal(p.VerifiedBy, want) || p.PolicyDigest == "" {
		t.Fatalf("verified_by %v (policy %q), want %v", p.VerifiedBy, p.PolicyDigest, want)
	}
	if _, err := env.e.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	prior, err := LoadRecord(must(p.Marshal()))
	if err != nil {
		t.Fatal(err)
	}

	// The same blocks and source digest: the record's verified_by, no signature looked up.
	env.src.ResetCalls()
	rec, inspected, err := env.e.Replan(t.Context(), env.spec, &prior)
	if err != nil || inspected {
		t.Fatalf("replan: inspected %v, %v", inspected, err)
	}
	if !slices.Equal(rec.VerifiedBy, prior.VerifiedBy) {
		t.Errorf("replan verified_by %v, want %v", rec.VerifiedBy, prior.VerifiedBy)
	}
	if got := calls(env.src, allOps...); !maps(got, map[memory.Op]int{memory.OpResolve: 1}) {
		t.Errorf("unchanged replan asked the source %v, want one Resolve", got)
	}

	// Other blocks, same content: verified again, without reading the source's tree.
	changed := env.spec
	changed.Verify = append(slices.Clone(env.spec.Verify), verify.Block{PublicKeys: []string{verifytest.NewKey(t, verifytest.Ed25519).PublicKeyPEM(t)}})
	env.src.ResetCalls()
	rec, inspected, err = env.e.Replan(t.Context(), changed, &prior)
	if err != nil || inspected {
		t.Fatalf("replan with other blocks: inspected %v, %v", inspected, err)
	}
	if rec.PolicyDigest == prior.PolicyDigest || !slices.Equal(rec.VerifiedBy, prior.VerifiedBy) {
		t.Errorf("replan with other blocks: policy %q (was %q), verified_by %v", rec.PolicyDigest, prior.PolicyDigest, rec.VerifiedBy)
	}
	if env.src.Calls(memory.OpReferrers) == 0 {
		t.Error("replan with other blocks did not look for signatures")
	}

	// Without blocks, the record says nothing about signers.
	unverified := env.spec
	unverified.Verify = nil
	if rec, _, err = env.e.Replan(t.Context(), unverified, &prior); err != nil || rec.VerifiedBy != nil || rec.PolicyDigest != "" {
		t.Errorf("replan without blocks: verified_by %v, policy %q, %v", rec.VerifiedBy, rec.PolicyDigest, err)
	}

	// The tag moves to an unsigned image: the replan fails, naming what it looked at.
	moved := env.spec
	moved.Source = env.src.String() + ":2.0"
	_, _, err = env.e.Replan(t.Context(), moved, &prior)
	var verr *VerificationError
	if !errors.As(err, &verr) || !errors.Is(err, verify.ErrNoSignature) {
		t.Fatalf("replan of an unsigned source: %v", err)
	}
}

// A source that fails copies nothing, and is refused after reading only its top manifest.
func TestVerifyRefusesBeforeReadingMore(t *testing.T) {
	env := newSignedEnv(t)
	for name, spec := range map[string]Spec{
		"unsigned":  {Source: env.src.String() + ":2.0", Target: env.spec.Target, Verify: env.spec.Verify},
		"wrong key": {Source: env.spec.Source, Target: env.spec.Target, Verify: []verify.Block{{PublicKeys: []string{verifytest.NewKey(t, verifytest.ECDSAP256).PublicKeyPEM(t)}}}},
	} {
		t.Run(name, func(t *testing.T) {
			env.src.ResetCalls()
			_, err := env.e.Plan(t.Context(), spec)
			var verr *VerificationError
			var notVerified *verify.NotVerifiedError
			if !errors.As(err, &verr) || !errors.As(err, &notVerified) {
				t.Fatalf("plan: %v", err)
			}
			// The image's config (its platform) and the signature's payload, no layer.
			if n := env.src.Calls(memory.OpBlob); n > 2 {
				t.Errorf("read %d blobs of a source that failed verification", n)
			}
		})
	}
	if n := env.dst.Repository("mirror/app").TotalCalls(); n != 0 {
		t.Errorf("the target was asked %d times", n)
	}
}

// Blocks that need a trusted root fail without one: the policy error names the attribute.
func TestVerifyWithoutTrustedRoot(t *testing.T) {
	env := newSignedEnv(t)
	spec := env.spec
	spec.Verify = []verify.Block{{PublicKeys: spec.Verify[0].PublicKeys, TransparencyLog: true}}
	_, err := env.e.Plan(t.Context(), spec)
	var policyErr *verify.PolicyError
	if !errors.As(err, &policyErr) || len(policyErr.Problems) != 1 || policyErr.Problems[0].Path() != "verify[0].transparency_log" {
		t.Fatalf("plan: %v", err)
	}
	if !strings.Contains(err.Error(), "transparency_log = false") {
		t.Errorf("the error does not say what to do: %v", err)
	}
}

// The policy digest ignores the order of keys and attestation types, and nothing else.
func TestPolicyDigest(t *testing.T) {
	a := []verify.Block{{PublicKeys: []string{"k1", "k2"}, AttestationTypes: []string{"t1", "t2"}}}
	b := []verify.Block{{PublicKeys: []string{"k2", "k1"}, AttestationTypes: []string{"t2", "t1"}}}
	if policyDigest(a) != policyDigest(b) {
		t.Error("the order of keys changes the digest")
	}
	for _, other := range [][]verify.Block{
		{{PublicKeys: []string{"k1", "k2"}, AttestationTypes: []string{"t1", "t2"}, TransparencyLog: true}},
		{{PublicKeys: []string{"k1"}, AttestationTypes: []string{"k2", "t1", "t2"}}},
		{{PublicKeys: []string{"k1", "k2"}, AttestationTypes: []string{"t1", "t2"}, Keyless: &verify.Keyless{Issuer: "i", Subject: "s"}}},
		{{PublicKeys: []string{"k1", "k2"}, AttestationTypes: []string{"t1", "t2"}, Keyless: &verify.Keyless{Issuer: "i", SubjectRegexp: "s"}}},
		append(slices.Clone(a), a...),
	} {
		if policyDigest(other) == policyDigest(a) {
			t.Errorf("%+v has the digest of %+v", other, a)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
