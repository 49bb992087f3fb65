package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// TrustedRoot is a Sigstore trusted root: the Fulcio certificate authorities that issue keyless
// certificates, the Rekor transparency logs, the timestamp authorities and the CT logs, with
// their keys and validity periods. Sigstore distributes the public-good instance's root as
// trusted_root.json in its TUF repository; an offline copy of that file is all verification
// needs, so air-gapped sites verify without reaching Sigstore.
type TrustedRoot struct {
	material root.TrustedMaterial
}

// ParseTrustedRoot reads the JSON of a trusted root (media type
// application/vnd.dev.sigstore.trustedroot+json;version=0.1).
func ParseTrustedRoot(jsonBytes []byte) (*TrustedRoot, error) {
	tr, err := root.NewTrustedRootFromJSON(jsonBytes)
	if err != nil {
		return nil, fmt.Errorf("not a Sigstore trusted root: %w; give the content of a trusted_root.json "+
			"(media type %s), e.g. the one Sigstore's TUF repository distributes", err, root.TrustedRootMediaType01)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 && len(tr.RekorLogs()) == 0 {
		return nil, errors.New("the trusted root lists no certificate authority and no transparency log: " +
			"there is nothing to verify keyless signatures or log entries with")
	}
	return &TrustedRoot{material: tr}, nil
}

// hasFulcio reports whether keyless certificates can be checked against the root.
func (r *TrustedRoot) hasFulcio() bool {
	return r != nil && len(r.material.FulcioCertificateAuthorities()) > 0
}

// hasRekor reports whether transparency-log entries can be checked against the root.
func (r *TrustedRoot) hasRekor() bool {
	return r != nil && len(r.material.RekorLogs()) > 0
}

// trustedMaterial is the root's material, or none at all for a policy of keys without a root.
func (r *TrustedRoot) trustedMaterial() root.TrustedMaterial {
	if r == nil {
		return &root.BaseTrustedMaterial{}
	}
	return r.material
}

// keyMaterial is a trusted root that also trusts one public key, whatever key hint a
// signature carries (cosign's signatures carry none).
type keyMaterial struct {
	root.TrustedMaterial
	key *PublicKey
}

func (m keyMaterial) PublicKeyVerifier(string) (root.TimeConstrainedVerifier, error) {
	return root.NewExpiringKey(m.key.verifier, time.Time{}, time.Time{}), nil
}
