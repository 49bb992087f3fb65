package verify

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// Block is one alternative of a policy: a source passes a Block when a signature of its digest
// verifies with one of the block's signers (one of PublicKeys, or the Keyless identity) and,
// for each of AttestationTypes, an attestation of that predicate type does too.
type Block struct {
	// PublicKeys are PEM public keys; a signature by any of them counts.
	PublicKeys []string
	// Keyless, when set, accepts signatures with a Fulcio certificate of this identity.
	Keyless *Keyless
	// TransparencyLog requires a transparency-log entry of the signature, verified against the
	// trusted root (the provider's default is true).
	TransparencyLog bool
	// AttestationTypes are in-toto predicate types that must each be attested too.
	AttestationTypes []string
}

// Keyless is the identity in a Fulcio certificate: the OIDC issuer and the subject (the
// certificate's subject alternative name: an e-mail address, or a URI such as a GitHub Actions
// workflow reference). Exactly one of Subject and SubjectRegexp is set.
type Keyless struct {
	Issuer string
	// Subject must equal the certificate's subject.
	Subject string
	// SubjectRegexp is an RE2 expression that must match the subject somewhere (anchor it with
	// ^ and $ to match all of it), as cosign's --certificate-identity-regexp.
	SubjectRegexp string
}

// Policy is a checked, ready-to-use set of blocks: a source passes when one block is met.
type Policy struct {
	blocks []block
	root   *TrustedRoot
}

// block is a Block with its keys parsed and its identity compiled.
type block struct {
	index            int
	keys             []*PublicKey
	identity         *sgverify.CertificateIdentity
	keyless          *Keyless
	transparencyLog  bool
	attestationTypes []string
}

// FieldError is one thing wrong with a block: which block (its index), which attribute of it
// ("public_keys", "keyless.subject_regexp", ...; empty for the block as a whole), which element
// of a list attribute (-1 for none), and what is wrong and what to do.
type FieldError struct {
	Block   int
	Field   string
	Index   int
	Problem string
}

// Path names the attribute as a configuration would: verify[0].public_keys[1].
func (e *FieldError) Path() string {
	p := fmt.Sprintf("verify[%d]", e.Block)
	if e.Field != "" {
		p += "." + e.Field
	}
	if e.Index >= 0 {
		p += fmt.Sprintf("[%d]", e.Index)
	}
	return p
}

func (e *FieldError) Error() string { return e.Path() + ": " + e.Problem }

// PolicyError lists everything wrong with a set of blocks.
type PolicyError struct {
	Problems []*FieldError
}

func (e *PolicyError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return "invalid verify blocks:\n" + strings.Join(lines, "\n")
}

// CheckBlocks reports what is wrong with blocks on their own, without a trusted root and
// without the network: keys that do not parse, a keyless block without issuer or with both or
// neither of subject and subject_regexp, a regexp that does not compile, ... It returns nil or
// a *PolicyError.
func CheckBlocks(blocks []Block) error {
	_, err := compile(blocks, nil, false)
	return err
}

// NewPolicy checks blocks as CheckBlocks does, and also what needs the trusted root (nil when
// the provider has none): keyless blocks and transparency_log = true need one. It returns a
// *PolicyError when something is wrong.
func NewPolicy(blocks []Block, trustedRoot *TrustedRoot) (*Policy, error) {
	if len(blocks) == 0 {
		return nil, errors.New("a policy needs at least one verify block")
	}
	compiled, err := compile(blocks, trustedRoot, true)
	if err != nil {
		return nil, err
	}
	return &Policy{blocks: compiled, root: trustedRoot}, nil
}

func compile(blocks []Block, trustedRoot *TrustedRoot, withRoot bool) ([]block, error) {
	var problems []*FieldError
	report := func(b int, field string, index int, format string, args ...any) {
		problems = append(problems, &FieldError{Block: b, Field: field, Index: index, Problem: fmt.Sprintf(format, args...)})
	}
	out := make([]block, len(blocks))
	for i, b := range blocks {
		out[i] = block{index: i, keyless: b.Keyless, transparencyLog: b.TransparencyLog, attestationTypes: b.AttestationTypes}
		if len(b.PublicKeys) == 0 && b.Keyless == nil {
			report(i, "", -1, "say who must have signed: give public_keys, a keyless block, or both")
		}
		for j, pemText := range b.PublicKeys {
			key, err := ParsePublicKey([]byte(pemText))
			if err != nil {
				report(i, "public_keys", j, "%v", err)
				continue
			}
			out[i].keys = append(out[i].keys, key)
		}
		if b.Keyless != nil {
			id, problem := compileIdentity(*b.Keyless)
			if problem != nil {
				problem.Block = i
				problems = append(problems, problem)
			}
			out[i].identity = id
		}
		for j, t := range b.AttestationTypes {
			if strings.TrimSpace(t) == "" {
				report(i, "attestation_types", j, "an empty predicate type: give a URI such as https://slsa.dev/provenance/v1")
			}
		}
		if !withRoot {
			continue
		}
		if b.Keyless != nil && !trustedRoot.hasFulcio() {
			report(i, "keyless", -1, "keyless certificates are checked against the provider's sigstore_trusted_root, "+
				"which is not set or lists no certificate authority: set it to the content of a Sigstore trusted_root.json")
		}
		if b.TransparencyLog && !trustedRoot.hasRekor() {
			report(i, "transparency_log", -1, "transparency-log entries are checked against the provider's "+
				"sigstore_trusted_root, which is not set or lists no transparency log: set it, or set transparency_log = false "+
				"for signatures made without a log (cosign sign --tlog-upload=false)")
		}
	}
	if len(problems) > 0 {
		return nil, &PolicyError{Problems: problems}
	}
	return out, nil
}

// compileIdentity turns a keyless block into the identity sigstore-go matches certificates
// against; the FieldError it returns has no Block yet.
func compileIdentity(k Keyless) (*sgverify.CertificateIdentity, *FieldError) {
	problem := func(field, format string, args ...any) *FieldError {
		return &FieldError{Field: field, Index: -1, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case k.Issuer == "":
		return nil, problem("keyless.issuer", "required: the OIDC issuer in the signer's certificate, "+
			"e.g. https://token.actions.githubusercontent.com for GitHub Actions")
	case k.Subject != "" && k.SubjectRegexp != "":
		return nil, problem("keyless", "give subject or subject_regexp, not both")
	case k.Subject == "" && k.SubjectRegexp == "":
		return nil, problem("keyless", "give subject (the exact identity) or subject_regexp: "+
			"without one, any identity of the issuer would pass")
	}
	if k.SubjectRegexp != "" {
		if _, err := regexp.Compile(k.SubjectRegexp); err != nil {
			return nil, problem("keyless.subject_regexp", "not an RE2 regular expression: %v", err)
		}
	}
	id, err := sgverify.NewShortCertificateIdentity(k.Issuer, "", k.Subject, k.SubjectRegexp)
	if err != nil {
		return nil, problem("keyless", "%v", err)
	}
	return &id, nil
}

// describe says who a block trusts, for messages.
func (b *block) describe() string {
	var who []string
	for _, k := range b.keys {
		who = append(who, k.String())
	}
	if b.keyless != nil {
		subject := b.keyless.Subject
		if subject == "" {
			subject = "matching " + b.keyless.SubjectRegexp
		}
		who = append(who, fmt.Sprintf("keyless %s %s", b.keyless.Issuer, subject))
	}
	return strings.Join(who, ", ")
}
