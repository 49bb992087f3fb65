package verify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// maxSignatureBlobBytes bounds one payload, envelope or bundle read from a source: attestations
// carry SBOMs and provenance, which stay well below it.
const maxSignatureBlobBytes = 16 << 20

// Kind says what a candidate proves when it verifies.
type Kind string

const (
	// KindSignature is a signature of the image.
	KindSignature Kind = "signature"
	// KindAttestation is a signed in-toto statement about the image.
	KindAttestation Kind = "attestation"
)

// candidate is one signature or attestation found for the digest, ready to verify.
type candidate struct {
	// where says where it was found: "cosign tag sha256-….sig, layer 1".
	where         string
	kind          Kind
	predicateType string
	entity        *bundle.Bundle
	// signed is what a message signature signs (a simple-signing payload, or the subject
	// manifest for a message-signature bundle); nil for DSSE envelopes, whose statement
	// subject names the digest.
	signed []byte
	// digest is the image's digest, which a DSSE statement's subject names.
	digest v1.Hash
	// unusable says why the candidate cannot verify for any block (malformed, other digest).
	unusable *Failure
}

// finder collects the candidates of one digest from one source.
type finder struct {
	src        store.Reader
	digest     v1.Hash
	looked     []string
	candidates []*candidate
	manifest   []byte // the subject manifest, read when a message-signature bundle needs it
}

// discover finds every signature and attestation of digest in src: cosign's .sig and .att
// tags and Sigstore bundle referrers. Store failures other than "not found" are returned:
// without them the answer would be incomplete.
func discover(ctx context.Context, src store.Reader, digest v1.Hash) (*finder, error) {
	f := &finder{src: src, digest: digest}
	if err := f.cosignTag(ctx, signatureTagSuffix); err != nil {
		return nil, err
	}
	if err := f.cosignTag(ctx, attestationTagSuffix); err != nil {
		return nil, err
	}
	if err := f.referrers(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// cosignTag reads the layers of cosign's tag "<alg>-<hex><suffix>", if it exists.
func (f *finder) cosignTag(ctx context.Context, suffix string) error {
	tag := CosignTag(f.digest, suffix)
	f.looked = append(f.looked, "cosign tag "+tag)
	_, raw, err := f.src.Manifest(ctx, tag)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading cosign tag %s of %s: %w", tag, f.src, err)
	}
	layers, problem := manifestLayers(raw)
	if problem != nil {
		f.add(&candidate{where: "cosign tag " + tag, kind: kindOfSuffix(suffix), unusable: problem})
		return nil
	}
	for i, layer := range layers {
		c := &candidate{where: fmt.Sprintf("cosign tag %s, layer %d", tag, i+1), kind: kindOfSuffix(suffix)}
		f.add(c)
		content, err := f.layerContent(ctx, c, layer)
		switch {
		case err != nil:
			return err
		case c.unusable != nil:
			continue
		case suffix == signatureTagSuffix:
			f.signatureLayer(c, layer, content)
		default:
			f.attestationLayer(c, layer, content)
		}
	}
	return nil
}

// manifestLayers returns the layers of a manifest, or why it is not one.
func manifestLayers(raw []byte) ([]v1.Descriptor, *Failure) {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed("the manifest does not parse: " + err.Error())
	}
	return m.Layers, nil
}

// emptyConfigMediaType is the config of an artifact manifest, which then must name its
// artifactType.
const emptyConfigMediaType = "application/vnd.oci.empty.v1+json"

// artifactTypeOf is the artifactType of a manifest ("" when it has none or does not parse).
func artifactTypeOf(raw []byte) string {
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	return m.ArtifactType
}

func kindOfSuffix(suffix string) Kind {
	if suffix == signatureTagSuffix {
		return KindSignature
	}
	return KindAttestation
}

func (f *finder) signatureLayer(c *candidate, layer v1.Descriptor, payload []byte) {
	if layer.MediaType != SimpleSigningMediaType {
		c.unusable = malformed(fmt.Sprintf("media type %s, not a simple-signing payload (%s)", layer.MediaType, SimpleSigningMediaType))
		return
	}
	named, err := signedDigest(payload)
	if err != nil {
		c.unusable = malformed(err.Error())
		return
	}
	if named != f.digest.String() {
		c.unusable = otherDigest("the payload signs " + named)
		return
	}
	c.signed = payload
	if c.entity, err = signatureLayerBundle(payload, layer.Annotations); err != nil {
		c.unusable = malformed(err.Error())
	}
}

func (f *finder) attestationLayer(c *candidate, layer v1.Descriptor, envelope []byte) {
	entity, err := attestationLayerBundle(envelope, layer.Annotations)
	if err != nil {
		c.unusable = malformed(err.Error())
		return
	}
	f.envelope(c, entity)
}

// referrers reads the Sigstore bundles stored as referrers of the digest.
func (f *finder) referrers(ctx context.Context) error {
	f.looked = append(f.looked, "referrers of "+f.digest.String())
	refs, err := f.src.Referrers(ctx, f.digest)
	if err != nil {
		return fmt.Errorf("listing the referrers of %s in %s: %w", f.digest, f.src, err)
	}
	for _, ref := range refs {
		var raw []byte
		if ref.ArtifactType == emptyConfigMediaType {
			// A registry that reports the config's media type instead of the manifest's
			// artifactType (go-containerregistry's): the manifest says what it is.
			if _, raw, err = f.src.Manifest(ctx, ref.Digest.String()); err != nil {
				return fmt.Errorf("reading referrer %s of %s: %w", ref.Digest, f.src, err)
			}
			ref.ArtifactType = artifactTypeOf(raw)
		}
		if !isBundleMediaType(ref.ArtifactType) {
			continue
		}
		c := &candidate{where: fmt.Sprintf("referrer %s (%s)", ref.Digest, ref.ArtifactType), kind: KindSignature}
		f.add(c)
		if raw == nil {
			if _, raw, err = f.src.Manifest(ctx, ref.Digest.String()); err != nil {
				return fmt.Errorf("reading %s of %s: %w", c.where, f.src, err)
			}
		}
		layers, problem := manifestLayers(raw)
		if problem == nil && (len(layers) != 1 || !isBundleMediaType(string(layers[0].MediaType))) {
			problem = malformed("not a Sigstore bundle manifest: it needs exactly one layer holding the bundle")
		}
		if c.unusable = problem; problem != nil {
			continue
		}
		content, err := f.layerContent(ctx, c, layers[0])
		if err != nil {
			return err
		}
		if c.unusable != nil {
			continue
		}
		f.bundleReferrer(c, content)
		if c.entity != nil && c.entity.GetMessageSignature() != nil {
			if c.signed, err = f.subjectManifest(ctx); err != nil {
				return fmt.Errorf("reading %s of %s, which %s signs: %w", f.digest, f.src, c.where, err)
			}
		}
	}
	return nil
}

// bundleReferrer reads a Sigstore bundle: a DSSE statement, or a message signature, whose
// digest must be the image's (it signs the image manifest's bytes).
func (f *finder) bundleReferrer(c *candidate, content []byte) {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(content); err != nil {
		c.unusable = malformed("the Sigstore bundle does not parse: " + err.Error())
		return
	}
	if b.GetDsseEnvelope() != nil {
		f.envelope(c, &b)
		return
	}
	digest := b.GetMessageSignature().GetMessageDigest()
	if digest.GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 || f.digest.Algorithm != "sha256" ||
		hex.EncodeToString(digest.GetDigest()) != f.digest.Hex {
		c.unusable = otherDigest(fmt.Sprintf("the message signature signs %s %x", digest.GetAlgorithm(), digest.GetDigest()))
		return
	}
	c.entity = &b
}

// subjectManifest is the image manifest's bytes, which a message-signature bundle signs.
func (f *finder) subjectManifest(ctx context.Context) ([]byte, error) {
	if f.manifest == nil {
		_, raw, err := f.src.Manifest(ctx, f.digest.String())
		if err != nil {
			return nil, err
		}
		f.manifest = raw
	}
	return f.manifest, nil
}

// envelope reads the in-toto statement of a DSSE candidate: its predicate type says whether it
// is a signature (cosign's sign type) or an attestation, its subject must name the digest.
func (f *finder) envelope(c *candidate, entity *bundle.Bundle) {
	env := entity.GetDsseEnvelope()
	if env.GetPayloadType() != InTotoPayloadType {
		c.unusable = malformed(fmt.Sprintf("the envelope's payload type is %q, not an in-toto statement (%s)", env.GetPayloadType(), InTotoPayloadType))
		return
	}
	var statement struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(env.GetPayload(), &statement); err != nil {
		c.unusable = malformed("the in-toto statement does not parse: " + err.Error())
		return
	}
	c.predicateType = statement.PredicateType
	if statement.PredicateType == CosignSignPredicateType {
		c.kind = KindSignature
	} else {
		c.kind = KindAttestation
	}
	var named []string
	for _, s := range statement.Subject {
		for alg, value := range s.Digest {
			if alg == f.digest.Algorithm && value == f.digest.Hex {
				c.entity = entity
				return
			}
			named = append(named, alg+":"+value)
		}
	}
	c.unusable = otherDigest(fmt.Sprintf("the statement's subjects are %v", named))
}

// layerContent reads a payload, envelope or bundle. A blob too large to be one makes the
// candidate unusable; a store failure is an error.
func (f *finder) layerContent(ctx context.Context, c *candidate, d v1.Descriptor) ([]byte, error) {
	if d.Size > maxSignatureBlobBytes {
		c.unusable = malformed(fmt.Sprintf("the layer has %d bytes, more than the %d a signature or attestation may have", d.Size, maxSignatureBlobBytes))
		return nil, nil
	}
	rc, err := f.src.Blob(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", c.where, f.src, err)
	}
	defer rc.Close()
	content, err := io.ReadAll(io.LimitReader(rc, maxSignatureBlobBytes))
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s: %w", c.where, f.src, err)
	}
	return content, nil
}

func (f *finder) add(c *candidate) {
	c.digest = f.digest
	f.candidates = append(f.candidates, c)
}

func malformed(detail string) *Failure {
	return &Failure{Block: -1, Reason: ReasonMalformed, Detail: detail}
}

func otherDigest(detail string) *Failure {
	return &Failure{Block: -1, Reason: ReasonOtherDigest, Detail: detail + ", not this image"}
}
