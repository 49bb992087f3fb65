// Package mirror is the engine of terraform-provider-zarf: it inspects a source image (index or
// single manifest), selects platforms, computes what a target registry will hold, copies it in
// a safe order, detects drift with HEAD requests and deletes mirrors. It has no Terraform
// imports: the provider layer only translates between Terraform values and these types.
package mirror

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// IndexMode says what the target gets when the source is an index.
type IndexMode string

const (
	// ModePreserve pushes the source's index bytes unchanged, so the digest is kept. With a
	// platform selection the index is sparse: some of its children are absent at the target.
	ModePreserve IndexMode = "preserve"
	// ModeFilter pushes a new, deterministic index that lists only the selected entries.
	ModeFilter IndexMode = "filter"
)

// IndexModes lists the valid index modes, for validation and documentation.
var IndexModes = []IndexMode{ModePreserve, ModeFilter}

// Client is how the engine reaches registries: reference parsing (which decides plain HTTP per
// host) and the options every go-containerregistry call gets (transport, auth, retries).
type Client interface {
	ParseReference(s string) (name.Reference, error)
	RemoteOptions(ctx context.Context) []remote.Option
	// Explain turns a registry error about ref into one that says what went wrong and what to
	// do (which registry, which credentials, which setting), keeping the chain for errors.As.
	Explain(err error, ref string) error
	// ListTags lists every tag of repo (every page of the registry's tag list), with no
	// manifest requests.
	ListTags(ctx context.Context, repo name.Repository) ([]string, error)
}

// Spec is what the user asked for.
type Spec struct {
	// Source is the image to mirror: tag, digest or tag@digest.
	Source string
	// SourceDigest, when set, pins the source: the engine reads the source repository at this
	// digest instead of resolving the tag again (apply copies what the plan resolved).
	SourceDigest string
	// Target is the target repository, optionally with :tag or @digest. Empty for inspection
	// only (the data source).
	Target string
	// Platforms selects images by os/arch[/variant]; empty means every platform.
	Platforms []string
	// IndexMode is preserve (default when empty) or filter.
	IndexMode IndexMode
	// Attestations keeps BuildKit attestation entries of kept images.
	Attestations bool
	// Referrers also copies what refers to the copied manifests: OCI 1.1 referrers and cosign's
	// sha256-<hex>.sig/.att/.sbom tags (see referrers.go).
	Referrers bool
	// MaxBytes, when positive, makes planning fail if the content to copy is larger.
	MaxBytes int64
}

// Manifest describes one copied image manifest that has a platform.
type Manifest struct {
	Platform  string
	Digest    string
	MediaType string
	Size      int64
}

// Stats counts what an Apply did; tests, benchmarks and progress logs use it.
type Stats struct {
	// Blobs counts the distinct blobs of the copied manifests, all present at the target after
	// the Apply: Blobs = BlobsUploaded + BlobsMounted + BlobsSkipped. BlobBytes is their size.
	Blobs     int
	BlobBytes int64
	// BlobsUploaded were sent to the target (their bytes read from the source); BytesUploaded
	// counts those bytes.
	BlobsUploaded int
	BytesUploaded int64
	// BlobsMounted were mounted from another repository of the target registry: the source
	// repository when source and target share the registry, or a repository this Engine
	// copied the blob to before.
	BlobsMounted int
	// BlobsSkipped were already there: found by a HEAD request, or listed by an image
	// manifest that the target already holds (whose blobs are then not checked one by one).
	BlobsSkipped int
	// ManifestsPushed counts the manifests pushed by digest; ManifestsSkipped those the target
	// already held. The tag is not counted.
	ManifestsPushed  int
	ManifestsSkipped int
	// Tagged is true when the tag was written; false when it already pointed at the digest (or
	// the mirror is untagged).
	Tagged bool
}
