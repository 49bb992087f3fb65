package registrytest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
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

// Index writes the images (and attestations) of spec by digest, then the index (hand-written
// JSON, entries without artifactType) under tag (by digest only when tag is empty). It returns
// the descriptor of the index.
func (w *Writer) Index(tag string, spec IndexSpec) v1.Descriptor {
	mediaType := cmp.Or(spec.MediaType, types.OCIImageIndex)
	imageType, ok := imageTypes[mediaType]
	if !w.check(boolErr(ok, "not an index media type"), "index of %q", mediaType) {
		return v1.Descriptor{}
	}
	manifests := w.Images(spec.Images, imageType)
	if spec.Attestations {
		for _, image := range manifests[:len(spec.Images)] {
			manifests = append(manifests, w.Attestation(image))
		}
	}
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: mediaType, Manifests: manifests})
	if !w.check(err, "encoding an index") {
		return v1.Descriptor{}
	}
	return w.Raw(tag, mediaType, raw)
}

// Images writes one image per spec by digest and returns their index entries (descriptors
// with the platform set), for writing unusual index JSON by hand. manifestType is
// types.OCIManifestSchema1 (the default when empty) or types.DockerManifestSchema2.
func (w *Writer) Images(specs []ImageSpec, manifestType types.MediaType) []v1.Descriptor {
	descs := make([]v1.Descriptor, 0, len(specs))
	for _, spec := range specs {
		descs = append(descs, w.Image("", spec, manifestType))
	}
	return descs
}

// Image writes the blobs of one image, then its manifest under tag (by digest only when tag is
// empty), and returns the descriptor of the manifest with the platform set. manifestType is
// types.OCIManifestSchema1 (the default when empty) or types.DockerManifestSchema2.
func (w *Writer) Image(tag string, spec ImageSpec, manifestType types.MediaType) v1.Descriptor {
	manifestType = cmp.Or(manifestType, types.OCIManifestSchema1)
	family, ok := blobTypes[manifestType]
	if !w.check(boolErr(ok, "not an image manifest media type"), "image of %q", manifestType) {
		return v1.Descriptor{}
	}
	var platform *v1.Platform
	if spec.Platform != "" {
		p, err := v1.ParsePlatform(spec.Platform)
		if !w.check(err, "platform %q", spec.Platform) {
			return v1.Descriptor{}
		}
		platform = p
	}
	layers := make([]v1.Layer, 0, len(spec.Layers))
	for i, size := range spec.Layers {
		l, err := newRandomLayer(fmt.Sprintf("registrytest layer %d %s %d", spec.Seed, spec.Platform, i), size, family.layer)
		if !w.check(err, "generating a layer") {
			return v1.Descriptor{}
		}
		layers = append(layers, l)
	}
	desc := w.image(tag, manifestType, family.config, platform, layers, nil)
	desc.Platform = platform
	return desc
}

// Attestation writes, by digest, a BuildKit-style attestation manifest about subject (an OCI
// manifest whose layer is an in-toto SLSA provenance statement) and returns its index entry:
// platform unknown/unknown and the annotations [AnnotationReferenceType] = [AttestationManifest]
// and [AnnotationReferenceDigest] = subject's digest.
func (w *Writer) Attestation(subject v1.Descriptor) v1.Descriptor {
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": slsaProvenance,
		"subject":       []any{map[string]any{"name": "_", "digest": map[string]string{subject.Digest.Algorithm: subject.Digest.Hex}}},
		"predicate":     map[string]any{"buildType": "registrytest"},
	})
	if !w.check(err, "encoding an in-toto statement") {
		return v1.Descriptor{}
	}
	unknown := &v1.Platform{OS: "unknown", Architecture: "unknown"}
	layers := []v1.Layer{static.NewLayer(statement, inTotoMediaType)}
	desc := w.image("", types.OCIManifestSchema1, types.OCIConfigJSON, unknown, layers,
		map[string]string{"in-toto.io/predicate-type": slsaProvenance})
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

// image writes a config blob for platform and the layers, a few at a time, then the image
// manifest that lists them (each layer entry with layerAnnotations) under tag.
func (w *Writer) image(tag string, manifestType, configType types.MediaType, platform *v1.Platform,
	layers []v1.Layer, layerAnnotations map[string]string) v1.Descriptor {
	var config imageConfig
	if platform != nil {
		config.Architecture, config.OS, config.Variant = platform.Architecture, platform.OS, platform.Variant
	}
	config.RootFS.Type = "layers"
	config.RootFS.DiffIDs = []v1.Hash{}
	for _, l := range layers {
		diffID, err := l.DiffID()
		if !w.check(err, "layer diff ID") {
			return v1.Descriptor{}
		}
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, diffID)
	}
	configJSON, err := json.Marshal(config)
	if !w.check(err, "encoding an image config") {
		return v1.Descriptor{}
	}
	blobs := append([]v1.Layer{static.NewLayer(configJSON, configType)}, layers...)
	descs := make([]v1.Descriptor, len(blobs))
	g, _ := errgroup.WithContext(w.ctx)
	g.SetLimit(uploadJobs)
	for i, blob := range blobs {
		g.Go(func() error {
			descs[i] = w.Layer(blob)
			return nil
		})
	}
	_ = g.Wait() // failures went to w.check
	if w.Err() != nil {
		return v1.Descriptor{}
	}
	manifest := v1.Manifest{SchemaVersion: 2, MediaType: manifestType, Config: descs[0], Layers: []v1.Descriptor{}}
	for _, d := range descs[1:] {
		d.Annotations = layerAnnotations
		manifest.Layers = append(manifest.Layers, d)
	}
	raw, err := json.Marshal(manifest)
	if !w.check(err, "encoding an image manifest") {
		return v1.Descriptor{}
	}
	return w.Raw(tag, manifestType, raw)
}

func boolErr(ok bool, msg string) error {
	if ok {
		return nil
	}
	return errors.New(msg)
}

// PushIndex writes spec with [Writer.Index] to ref ("<host>/<repository>[:<tag>]").
func PushIndex(tb testing.TB, ref string, spec IndexSpec, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, tag := splitRef(tb, ref)
	return At(tb, repo, opts...).Index(tag, spec)
}

// PushImage writes one image with [Writer.Image] to ref ("<host>/<repository>[:<tag>]").
func PushImage(tb testing.TB, ref string, spec ImageSpec, manifestType types.MediaType, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, tag := splitRef(tb, ref)
	return At(tb, repo, opts...).Image(tag, spec, manifestType)
}

// PushImages writes images with [Writer.Images] to the repository repo.
func PushImages(tb testing.TB, repo string, specs []ImageSpec, manifestType types.MediaType, opts ...remote.Option) []v1.Descriptor {
	tb.Helper()
	return At(tb, repo, opts...).Images(specs, manifestType)
}

// PushAttestation writes an attestation with [Writer.Attestation] to the repository repo.
func PushAttestation(tb testing.TB, repo string, subject v1.Descriptor, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	return At(tb, repo, opts...).Attestation(subject)
}

// PushRaw writes raw with [Writer.Raw] to ref ("<host>/<repository>[:<tag>]").
func PushRaw(tb testing.TB, ref string, mediaType types.MediaType, raw []byte, opts ...remote.Option) v1.Descriptor {
	tb.Helper()
	repo, tag := splitRef(tb, ref)
	return At(tb, repo, opts...).Raw(tag, mediaType, raw)
}

// MarshalIndex returns the JSON of an index of mediaType that lists manifests in order:
// {"schemaVersion":2,"mediaType":…,"manifests":[…]}. Entries may themselves be indexes.
func MarshalIndex(tb testing.TB, mediaType types.MediaType, manifests []v1.Descriptor) []byte {
	tb.Helper()
	raw, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: mediaType, Manifests: manifests})
	if err != nil {
		tb.Fatalf("registrytest: encoding an index: %v", err)
	}
	return raw
}

// splitRef splits "<host>/<repository>[:<tag>]" into the repository and the tag.
func splitRef(tb testing.TB, ref string) (repo, tag string) {
	tb.Helper()
	r, target := parseRef(tb, ref)
	if t, ok := target.(name.Tag); ok {
		return r.Name(), t.TagStr()
	}
	if target != nil {
		tb.Fatalf("registrytest: %q: write to a tag or to the repository, not to a digest", ref)
	}
	return r.Name(), ""
}

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
