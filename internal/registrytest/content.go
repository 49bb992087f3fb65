package registrytest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// BuildKit's annotations on the index entries of attestation manifests.
const (
	// AnnotationReferenceType marks an index entry as an attestation manifest when its
	// value is [AttestationManifest].
	AnnotationReferenceType = "vnd.docker.reference.type"
	// AnnotationReferenceDigest is the digest of the image an attestation manifest is
	// about.
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// AttestationManifest is the value of [AnnotationReferenceType] for attestations.
	AttestationManifest = "attestation-manifest"
)

const (
	inTotoMediaType = "application/vnd.in-toto+json"
	slsaProvenance  = "https://slsa.dev/provenance/v0.2"
	uploadJobs      = 4 // concurrent blob uploads per image
)

// blobTypes maps an image manifest media type to the config and layer media types of
// the same family.
var blobTypes = map[types.MediaType]struct{ config, layer types.MediaType }{
	types.OCIManifestSchema1:    {types.OCIConfigJSON, types.OCILayer},
	types.DockerManifestSchema2: {types.DockerConfigJSON, types.DockerLayer},
}

// imageTypes maps an index media type to the image manifest media type of its family.
var imageTypes = map[types.MediaType]types.MediaType{
	types.OCIImageIndex:      types.OCIManifestSchema1,
	types.DockerManifestList: types.DockerManifestSchema2,
}

// ImageSpec describes a generated image. Its content is a function of the spec: pushing
// the same spec twice gives the same digests.
type ImageSpec struct {
	// Platform is "os/arch[/variant]", e.g. "linux/arm/v7"; it goes into the config blob
	// and onto the index entry. Empty means no platform.
	Platform string
	// Layers are the sizes in bytes of the layers, which are seeded pseudo-random bytes.
	// Layers are generated and uploaded in a stream: hundreds of MiB are fine.
	Layers []int64
	// Seed varies the layer content: layer i of two specs with the same Seed and Platform
	// starts with the same bytes. Images of different platforms never share layers.
	Seed int64
}

// IndexSpec describes a generated index: one image manifest per image, in order, then
// (with Attestations) one attestation manifest per image, as BuildKit lays them out.
type IndexSpec struct {
	// MediaType is types.OCIImageIndex (the default when empty), whose images are OCI
	// manifests, or types.DockerManifestList, whose images are Docker schema 2 manifests.
	MediaType types.MediaType
	// Images are the images, in index order.
	Images []ImageSpec
	// Attestations adds a BuildKit attestation entry for every image (see
	// [PushAttestation]). Attestation manifests are OCI manifests in either family.
	Attestations bool
}

// contentSink is where generated content goes: a registry repository ([registrySink]), or
// the blobs of an OCI image layout.
type contentSink interface {
	// putBlobs stores blobs.
	putBlobs(tb testing.TB, blobs []v1.Layer)
	// putManifest stores a manifest by its digest and returns its descriptor.
	putManifest(tb testing.TB, mediaType types.MediaType, raw []byte) v1.Descriptor
}

// registrySink pushes content to a registry repository.
type registrySink struct {
	repo name.Repository
	opts []remote.Option
}

func (s registrySink) putBlobs(tb testing.TB, blobs []v1.Layer) {
	tb.Helper()
	if err := uploadBlobs(tb, s.repo, blobs, s.opts); err != nil {
		tb.Fatalf("registrytest: uploading blobs to %s: %v", s.repo, err)
	}
}

func (s registrySink) putManifest(tb testing.TB, mediaType types.MediaType, raw []byte) v1.Descriptor {
	tb.Helper()
	return PushRaw(tb, s.repo.String(), mediaType, raw, s.opts...)
}

// PushIndex pushes the images (and attestations) of spec by digest, then the index
// (hand-written JSON, entries without artifactType) to ref. It returns the descriptor of
// the index.
func PushIndex(tb testing.TB, ref string, spec IndexSpec, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, _ := parseRef(tb, ref)
	mediaType, raw := indexContent(tb, registrySink{repo: repo, opts: opts}, spec)
	return PushRaw(tb, ref, mediaType, raw, opts...)
}

// indexContent stores the images (and attestations) of spec in sink by digest and returns
// the index that lists them.
func indexContent(tb testing.TB, sink contentSink, spec IndexSpec) (types.MediaType, []byte) {
	tb.Helper()
	mediaType := cmp.Or(spec.MediaType, types.OCIImageIndex)
	imageType, ok := imageTypes[mediaType]
	if !ok {
		tb.Fatalf("registrytest: %q is not an index media type", mediaType)
	}
	manifests := make([]v1.Descriptor, 0, 2*len(spec.Images))
	for _, image := range spec.Images {
		manifests = append(manifests, storeImage(tb, sink, image, imageType))
	}
	if spec.Attestations {
		for _, image := range manifests[:len(spec.Images)] {
			manifests = append(manifests, storeAttestation(tb, sink, image))
		}
	}
	return mediaType, MarshalIndex(tb, mediaType, manifests)
}

// PushImages pushes one image per spec by digest to repo and returns their index entries
// (descriptors with the platform set), for writing unusual index JSON by hand and pushing
// it with [PushRaw]. manifestType is types.OCIManifestSchema1 (the default when empty)
// or types.DockerManifestSchema2.
func PushImages(tb testing.TB, repo string, specs []ImageSpec, manifestType types.MediaType, opts ...remote.Option) []v1.Descriptor {
	tb.Helper()
	r, _ := parseRef(tb, repo)
	sink := registrySink{repo: r, opts: opts}
	descs := make([]v1.Descriptor, 0, len(specs))
	for _, spec := range specs {
		descs = append(descs, storeImage(tb, sink, spec, manifestType))
	}
	return descs
}

// PushImage pushes the blobs of one image, then its manifest to ref, and returns the
// descriptor of the manifest with the platform set. manifestType is
// types.OCIManifestSchema1 (the default when empty) or types.DockerManifestSchema2.
func PushImage(tb testing.TB, ref string, spec ImageSpec, manifestType types.MediaType, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, _ := parseRef(tb, ref)
	mediaType, raw, platform := imageContent(tb, registrySink{repo: repo, opts: opts}, spec, manifestType)
	desc := PushRaw(tb, ref, mediaType, raw, opts...)
	desc.Platform = platform
	return desc
}

// storeImage stores the image of spec in sink by digest and returns its index entry.
func storeImage(tb testing.TB, sink contentSink, spec ImageSpec, manifestType types.MediaType) v1.Descriptor {
	tb.Helper()
	mediaType, raw, platform := imageContent(tb, sink, spec, manifestType)
	desc := sink.putManifest(tb, mediaType, raw)
	desc.Platform = platform
	return desc
}

// imageContent stores the blobs of the image of spec in sink and returns its manifest (media
// type, bytes) and platform.
func imageContent(tb testing.TB, sink contentSink, spec ImageSpec, manifestType types.MediaType) (types.MediaType, []byte, *v1.Platform) {
	tb.Helper()
	manifestType = cmp.Or(manifestType, types.OCIManifestSchema1)
	family, ok := blobTypes[manifestType]
	if !ok {
		tb.Fatalf("registrytest: %q is not an image manifest media type", manifestType)
	}
	var platform *v1.Platform
	if spec.Platform != "" {
		p, err := v1.ParsePlatform(spec.Platform)
		if err != nil {
			tb.Fatalf("registrytest: platform %q: %v", spec.Platform, err)
		}
		platform = p
	}
	layers := make([]v1.Layer, 0, len(spec.Layers))
	for i, size := range spec.Layers {
		l, err := newRandomLayer(fmt.Sprintf("registrytest layer %d %s %d", spec.Seed, spec.Platform, i), size, family.layer)
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		layers = append(layers, l)
	}
	return manifestType, manifestContent(tb, sink, manifestType, family.config, platform, layers, nil), platform
}

// PushAttestation pushes to repo, by digest, a BuildKit-style attestation manifest about
// subject (an OCI manifest whose layer is an in-toto SLSA provenance statement) and
// returns its index entry: platform unknown/unknown and the annotations
// [AnnotationReferenceType] = [AttestationManifest] and [AnnotationReferenceDigest] =
// subject's digest.
func PushAttestation(tb testing.TB, repo string, subject v1.Descriptor, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	r, _ := parseRef(tb, repo)
	return storeAttestation(tb, registrySink{repo: r, opts: opts}, subject)
}

// storeAttestation stores in sink, by digest, the attestation manifest PushAttestation
// describes and returns its index entry.
func storeAttestation(tb testing.TB, sink contentSink, subject v1.Descriptor) v1.Descriptor {
	tb.Helper()
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": slsaProvenance,
		"subject":       []any{map[string]any{"name": "_", "digest": map[string]string{subject.Digest.Algorithm: subject.Digest.Hex}}},
		"predicate":     map[string]any{"buildType": "registrytest"},
	})
	if err != nil {
		tb.Fatalf("registrytest: encoding an in-toto statement: %v", err)
	}
	unknown := &v1.Platform{OS: "unknown", Architecture: "unknown"}
	layers := []v1.Layer{static.NewLayer(statement, inTotoMediaType)}
	raw := manifestContent(tb, sink, types.OCIManifestSchema1, types.OCIConfigJSON, unknown, layers,
		map[string]string{"in-toto.io/predicate-type": slsaProvenance})
	desc := sink.putManifest(tb, types.OCIManifestSchema1, raw)
	desc.Platform = unknown
	desc.Annotations = map[string]string{
		AnnotationReferenceType:   AttestationManifest,
		AnnotationReferenceDigest: subject.Digest.String(),
	}
	return desc
}

// imageConfig is the part of an image config blob that the generated images fill in.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
	RootFS       struct {
		Type    string    `json:"type"`
		DiffIDs []v1.Hash `json:"diff_ids"`
	} `json:"rootfs"`
}

// manifestContent stores a config blob for platform and the layers in sink, and returns the
// image manifest that lists them (each layer entry with layerAnnotations).
func manifestContent(tb testing.TB, sink contentSink, manifestType, configType types.MediaType, platform *v1.Platform,
	layers []v1.Layer, layerAnnotations map[string]string) []byte {
	tb.Helper()
	var config imageConfig
	if platform != nil {
		config.Architecture, config.OS, config.Variant = platform.Architecture, platform.OS, platform.Variant
	}
	config.RootFS.Type = "layers"
	config.RootFS.DiffIDs = []v1.Hash{}
	for _, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			tb.Fatalf("registrytest: layer diff ID: %v", err)
		}
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, diffID)
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		tb.Fatalf("registrytest: encoding an image config: %v", err)
	}
	configBlob := static.NewLayer(configJSON, configType)
	sink.putBlobs(tb, append([]v1.Layer{configBlob}, layers...))

	manifest := v1.Manifest{SchemaVersion: 2, MediaType: manifestType, Layers: []v1.Descriptor{}}
	if manifest.Config, err = describe(configBlob); err != nil {
		tb.Fatalf("registrytest: %v", err)
	}
	for _, l := range layers {
		desc, err := describe(l)
		if err != nil {
			tb.Fatalf("registrytest: %v", err)
		}
		desc.Annotations = layerAnnotations
		manifest.Layers = append(manifest.Layers, desc)
	}
	raw, err := json.Marshal(manifest)
	if err != nil {
		tb.Fatalf("registrytest: encoding an image manifest: %v", err)
	}
	return raw
}

// uploadBlobs uploads blobs to repo, a few at a time, skipping those already there.
func uploadBlobs(tb testing.TB, repo name.Repository, blobs []v1.Layer, opts []remote.Option) error {
	g, ctx := errgroup.WithContext(tb.Context())
	g.SetLimit(uploadJobs)
	opts = append(slices.Clone(opts), remote.WithContext(ctx))
	for _, blob := range blobs {
		g.Go(func() error { return remote.WriteLayer(repo, blob, opts...) })
	}
	return g.Wait()
}

// describe returns the media type, size and digest of a blob.
func describe(l v1.Layer) (v1.Descriptor, error) {
	desc, err := partial.Descriptor(l)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("describing a blob: %w", err)
	}
	return *desc, nil
}

// MarshalIndex returns the JSON of an index of mediaType that lists manifests in order:
// {"schemaVersion":2,"mediaType":…,"manifests":[…]}. Entries may themselves be indexes
// (nested indexes: push the inner one with [PushIndex] or [PushRaw] first).
func MarshalIndex(tb testing.TB, mediaType types.MediaType, manifests []v1.Descriptor) []byte {
	tb.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: mediaType, Manifests: manifests})
	if err != nil {
		tb.Fatalf("registrytest: encoding an index: %v", err)
	}
	return raw
}

// PushRaw pushes raw (a manifest or an index, any bytes) unchanged with the Content-Type
// mediaType to ref, and returns its descriptor. Everything it references must be in the
// repository already, or the registry may reject it.
//
// go-containerregistry reads the JSON: when it has a "subject", it also adds the manifest
// to the referrers fallback tag ("sha256-<hex of subject>"), as distribution has no
// referrers API.
func PushRaw(tb testing.TB, ref string, mediaType types.MediaType, raw []byte, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, target := parseRef(tb, ref)
	digest, size, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("registrytest: hashing a manifest: %v", err)
	}
	if target == nil {
		target = repo.Digest(digest.String())
	}
	if err := remote.Put(target, rawManifest{raw: raw, mediaType: mediaType}, withContext(tb, opts)...); err != nil {
		tb.Fatalf("registrytest: pushing %s (%s) to %s: %v", digest, mediaType, target, err)
	}
	return v1.Descriptor{MediaType: mediaType, Size: size, Digest: digest}
}

// rawManifest is a remote.Taggable of given bytes and media type.
type rawManifest struct {
	raw       []byte
	mediaType types.MediaType
}

// RawManifest implements remote.Taggable.
func (m rawManifest) RawManifest() ([]byte, error) { return m.raw, nil }

// MediaType sets the Content-Type of remote.Put.
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mediaType, nil }

// Fetch returns the bytes and media type of the manifest or index at ref (a tag or a
// digest), as the registry serves them.
func Fetch(tb testing.TB, ref string, opts ...remote.Option) ([]byte, types.MediaType) {
	tb.Helper()
	desc, err := remote.Get(mustReference(tb, ref), withContext(tb, opts)...)
	if err != nil {
		tb.Fatalf("registrytest: fetching %s: %v", ref, err)
	}
	return desc.Manifest, desc.MediaType
}

// Exists reports whether the manifest at ref (a tag or a digest) exists (HEAD request).
func Exists(tb testing.TB, ref string, opts ...remote.Option) bool {
	tb.Helper()
	_, err := remote.Head(mustReference(tb, ref), withContext(tb, opts)...)
	var terr *transport.Error
	switch {
	case err == nil:
		return true
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return false
	}
	tb.Fatalf("registrytest: checking %s: %v", ref, err)
	return false
}

// Delete deletes the manifest at ref (by digest; distribution v3 also deletes tags), to
// simulate drift. The registry must allow deletes ([WithDelete]).
func Delete(tb testing.TB, ref string, opts ...remote.Option) {
	tb.Helper()
	if err := remote.Delete(mustReference(tb, ref), withContext(tb, opts)...); err != nil {
		tb.Fatalf("registrytest: deleting %s: %v", ref, err)
	}
}

// parseRef parses ref as a tag or digest reference, or else as a repository (then the
// returned reference is nil).
func parseRef(tb testing.TB, ref string) (name.Repository, name.Reference) {
	tb.Helper()
	if r, err := name.ParseReference(ref, name.Insecure, name.StrictValidation); err == nil {
		return r.Context(), r
	}
	repo, err := name.NewRepository(ref, name.Insecure, name.StrictValidation)
	if err != nil {
		tb.Fatalf("registrytest: %q is neither a repository, a tag nor a digest reference: %v", ref, err)
	}
	return repo, nil
}

// mustReference parses ref, which must have a tag or a digest.
func mustReference(tb testing.TB, ref string) name.Reference {
	tb.Helper()
	_, r := parseRef(tb, ref)
	if r == nil {
		tb.Fatalf("registrytest: %q has neither a tag nor a digest", ref)
	}
	return r
}

// withContext prepends the test's context to opts (an option of the caller wins).
func withContext(tb testing.TB, opts []remote.Option) []remote.Option {
	return append([]remote.Option{remote.WithContext(tb.Context())}, opts...)
}
