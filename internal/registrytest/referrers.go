package registrytest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Media types of the referrers the generator writes.
const (
	CosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	DSSEEnvelope        = "application/vnd.dsse.envelope.v1+json"
	OCIEmptyJSON        = "application/vnd.oci.empty.v1+json"
	cosignSignatureKey  = "dev.cosignproject.cosign/signature"
)

// CosignTag is cosign's tag for what refers to digest: sha256-<hex><suffix>.
func CosignTag(digest, suffix string) string { return strings.Replace(digest, ":", "-", 1) + suffix }

// Cosign writes, as cosign does, a signature (suffix ".sig": a simple-signing layer annotated
// with dev.cosignproject.cosign/signature) or an attestation (".att": a DSSE envelope of an
// in-toto statement about subject) of the manifest subject (a digest) under its cosign tag.
func (w *Writer) Cosign(subject, suffix string) Manifest {
	m := w.CosignManifest(subject, suffix)
	w.Raw(CosignTag(subject, suffix), m.MediaType, m.Raw)
	return m
}

// CosignManifest writes the blobs of what Cosign writes and returns its manifest without writing
// it, for a test that tags it later.
func (w *Writer) CosignManifest(subject, suffix string) Manifest {
	layerType, payload := types.MediaType(CosignSimpleSigning),
		fmt.Sprintf(`{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`, w.dest, subject)
	if suffix == ".att" {
		layerType, payload = DSSEEnvelope, fmt.Sprintf(`{"payloadType":"application/vnd.in-toto+json","payload":%q,"signatures":[]}`,
			base64.StdEncoding.EncodeToString([]byte(`{"subject":[{"digest":{"sha256":"`+strings.TrimPrefix(subject, "sha256:")+`"}}]}`)))
	}
	layer := w.Blob([]byte(payload), layerType)
	config := w.Blob([]byte(fmt.Sprintf(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, layer.Digest)), types.OCIConfigJSON)
	signature := base64.StdEncoding.EncodeToString([]byte("signature of " + subject + suffix))
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":%s,"layers":[{"mediaType":%q,"size":%d,"digest":%q,"annotations":{%q:%q}}]}`,
		types.OCIManifestSchema1, descJSON(config), layer.MediaType, layer.Size, layer.Digest, cosignSignatureKey, signature))
	return Manifest{Digest: Digest(raw), MediaType: types.OCIManifestSchema1, Raw: raw, Blobs: []v1.Descriptor{config, layer}}
}

// Artifact writes, by digest, an OCI 1.1 artifact manifest of artifactType whose subject is the
// manifest subject: an empty config and one layer with content. A registry without the
// referrers API gets it added to the fallback tag of the subject.
func (w *Writer) Artifact(artifactType string, subject v1.Descriptor, content string) Manifest {
	config := w.Blob([]byte("{}"), OCIEmptyJSON)
	layer := w.Blob([]byte(content), "application/spdx+json")
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":%s,"layers":[%s],"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{%q:"2024-01-01T00:00:00Z"}}`,
		types.OCIManifestSchema1, artifactType, descJSON(config), descJSON(layer), subject.MediaType, subject.Digest, subject.Size, IndexCreatedAnnotation))
	d := w.Raw("", types.OCIManifestSchema1, raw)
	return Manifest{Digest: d.Digest.String(), MediaType: types.OCIManifestSchema1, Raw: raw, Blobs: []v1.Descriptor{config, layer}}
}

// ArtifactIndex writes an OCI index of artifactType with the subject subject that lists one
// manifest (an artifact without subject): a referrer that is itself an index.
func (w *Writer) ArtifactIndex(artifactType string, subject v1.Descriptor) (index, child Manifest) {
	config := w.Blob([]byte("{}"), OCIEmptyJSON)
	layer := w.Blob([]byte(`{"bundle":"part of `+subject.Digest.String()+`"}`), "application/vnd.example.part")
	childRaw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.part","config":%s,"layers":[%s]}`,
		types.OCIManifestSchema1, descJSON(config), descJSON(layer)))
	child = Manifest{Digest: w.Raw("", types.OCIManifestSchema1, childRaw).Digest.String(), MediaType: types.OCIManifestSchema1,
		Raw: childRaw, Blobs: []v1.Descriptor{config, layer}}
	raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		types.OCIImageIndex, artifactType, child.MediaType, child.Digest, len(childRaw), subject.MediaType, subject.Digest, subject.Size))
	index = Manifest{Digest: w.Raw("", types.OCIImageIndex, raw).Digest.String(), MediaType: types.OCIImageIndex, Raw: raw}
	return index, child
}

// Referrers returns, sorted, the digests that clients find as referrers of subject in the
// registry repository repo: through the referrers API, else the fallback tag.
func Referrers(tb testing.TB, repo, subject string, opts ...remote.Option) []string {
	tb.Helper()
	ref, ok := mustReference(tb, repo+"@"+subject).(name.Digest)
	if !ok {
		tb.Fatalf("registrytest: %q is not a digest", subject)
	}
	idx, err := remote.Referrers(ref, withContext(tb, opts)...)
	if err != nil {
		tb.Fatalf("registrytest: listing the referrers of %s in %s: %v", subject, repo, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		tb.Fatalf("registrytest: listing the referrers of %s in %s: %v", subject, repo, err)
	}
	var out []string
	for _, d := range im.Manifests {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}
