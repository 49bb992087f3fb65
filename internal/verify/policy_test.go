package verify_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

// CheckBlocks finds, without a trusted root or the network, what is wrong with each block, and
// says where (the attribute's path) and what to do.
func TestCheckBlocks(t *testing.T) {
	t.Parallel()
	key := verifytest.NewKey(t, verifytest.ECDSAP256).PublicKeyPEM(t)
	for _, tc := range []struct {
		name   string
		blocks []verify.Block
		// want maps the path of each expected problem to words its message must hold.
		want map[string]string
	}{
		{"valid keys and keyless", []verify.Block{
			{PublicKeys: []string{key}},
			{Keyless: &verify.Keyless{Issuer: issuer, SubjectRegexp: `^https://github\.com/acme/`}, AttestationTypes: []string{"https://slsa.dev/provenance/v1"}},
		}, nil},
		{"no signer", []verify.Block{{TransparencyLog: true}}, map[string]string{"verify[0]": "public_keys, a keyless block"}},
		{"bad PEM", []verify.Block{{PublicKeys: []string{key, "not a key"}}}, map[string]string{"verify[0].public_keys[1]": "BEGIN PUBLIC KEY"}},
		{"no issuer", []verify.Block{{Keyless: &verify.Keyless{Subject: subject}}}, map[string]string{"verify[0].keyless.issuer": "OIDC issuer"}},
		{"subject and regexp", []verify.Block{{Keyless: &verify.Keyless{Issuer: issuer, Subject: subject, SubjectRegexp: ".*"}}},
			map[string]string{"verify[0].keyless": "not both"}},
		{"neither subject nor regexp", []verify.Block{{Keyless: &verify.Keyless{Issuer: issuer}}},
			map[string]string{"verify[0].keyless": "any identity of the issuer"}},
		{"bad regexp", []verify.Block{{PublicKeys: []string{key}}, {Keyless: &verify.Keyless{Issuer: issuer, SubjectRegexp: "(unclosed"}}},
			map[string]string{"verify[1].keyless.subject_regexp": "RE2"}},
		{"empty attestation type", []verify.Block{{PublicKeys: []string{key}, AttestationTypes: []string{"https://slsa.dev/provenance/v1", " "}}},
			map[string]string{"verify[0].attestation_types[1]": "predicate type"}},
		{"every problem at once", []verify.Block{{PublicKeys: []string{"x"}}, {}},
			map[string]string{"verify[0].public_keys[0]": "PEM", "verify[1]": "who must have signed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := verify.CheckBlocks(tc.blocks)
			expectProblems(t, err, tc.want)
		})
	}
}

// NewPolicy also requires the trusted root where it is needed: keyless blocks, and
// transparency_log = true; a policy of keys without a log needs none.
func TestNewPolicy_needsTrustedRoot(t *testing.T) {
	t.Parallel()
	key := verifytest.NewKey(t, verifytest.ECDSAP256).PublicKeyPEM(t)
	blocks := []verify.Block{
		{PublicKeys: []string{key}, TransparencyLog: true},
		{Keyless: &verify.Keyless{Issuer: issuer, Subject: subject}},
	}
	_, err := verify.NewPolicy(blocks, nil)
	expectProblems(t, err, map[string]string{
		"verify[0].transparency_log": "transparency_log = false",
		"verify[1].keyless":          "sigstore_trusted_root",
	})
	if err := verify.CheckBlocks(blocks); err != nil {
		t.Errorf("CheckBlocks needs no trusted root, yet: %v", err)
	}
	if _, err := verify.NewPolicy([]verify.Block{{PublicKeys: []string{key}}}, nil); err != nil {
		t.Errorf("keys without a log need no trusted root, yet: %v", err)
	}
	root, err := verify.ParseTrustedRoot(verifytest.NewSigstore(t).TrustedRootJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.NewPolicy(blocks, root); err != nil {
		t.Errorf("with a trusted root: %v", err)
	}
	if _, err := verify.NewPolicy(nil, root); err == nil {
		t.Error("a policy without blocks was accepted")
	}
}

// A trusted root that is not one says so and what to give instead.
func TestParseTrustedRoot_rejectsOtherJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{`{}`, `not json`, `{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`} {
		_, err := verify.ParseTrustedRoot([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "trusted_root.json") && !strings.Contains(err.Error(), "trusted root lists no") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// expectProblems checks that err is a *PolicyError with exactly the problems in want (path to
// words of the message); nil want expects no error.
func expectProblems(t *testing.T, err error, want map[string]string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
		return
	}
	var pe *verify.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("expected a *PolicyError, got %v", err)
	}
	got := map[string]string{}
	for _, p := range pe.Problems {
		got[p.Path()] = p.Problem
	}
	for path, words := range want {
		if !strings.Contains(got[path], words) {
			t.Errorf("%s: %q, want it to say %q", path, got[path], words)
		}
		if !strings.Contains(err.Error(), path+": "+got[path]) {
			t.Errorf("the error does not list %s: %v", path, err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems %v, want only %v", got, want)
	}
}
