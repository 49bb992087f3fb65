// Package store is the seam between the mirroring engine and the places images live: what the
// engine reads from (a registry repository, an OCI image layout, a Zarf package archive) and
// what it writes to (a registry repository, an OCI image layout). Each kind is implemented in a
// package of its own; the engine chooses one when it parses a reference and from then on runs
// one code path whatever the kind, as oras-go's oras.Copy does over content.ReadOnlyStorage and
// oras.Target, and as go-containerregistry separates remote from layout.
//
// The interfaces speak of manifests, blobs, tags and referrers, never of HTTP or files:
//
//   - a Reader resolves names, serves manifests and blobs (verified against their digests),
//     lists referrers and tags;
//   - a Target is a Reader that can also be written: blobs, manifests by digest, names (tags),
//     and deletes;
//   - a Scheme turns a reference ("registry.example/app:1.0", "oci-layout://images:app") into a
//     Location: the store it names, and the name and digest within it.
//
// Errors wrap ErrNotFound when what was asked for does not exist, so callers test it with
// errors.Is whatever the store; other errors keep their cause for errors.As (a registry's
// *transport.Error, for instance).
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// MaxManifestBytes bounds one manifest or index, as the distribution registry bounds those it
// accepts. Stores refuse to read larger ones.
const MaxManifestBytes = 4 << 20

var (
	// ErrNotFound is wrapped by every error that says that a manifest, blob, tag or repository
	// does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnsupported is wrapped by errors of operations that a store does not allow (a registry
	// with deletes disabled).
	ErrUnsupported = errors.New("not supported by this store")
)

// Reader is a place the engine reads images from.
type Reader interface {
	// String names the place in messages, as users write it: "registry.example/library/nginx",
	// "oci-layout://images", "zarf-package://app.tar.zst".
	String() string

	// Resolve returns the descriptor (digest, media type, size) of the manifest that ref names: a
	// tag, or a digest ("sha256:<hex>"). What a tag is depends on the store: a registry tag, or in
	// an OCI image layout the org.opencontainers.image.ref.name of an index.json entry, else its
	// original image reference (org.opencontainers.image.base.name). The descriptor carries the
	// annotations the store keeps with the name (an index.json entry's), none for a registry.
	// A registry answers with one HEAD request.
	Resolve(ctx context.Context, ref string) (v1.Descriptor, error)

	// Manifest returns the bytes of the manifest that ref (a tag or a digest, as for Resolve)
	// names, unchanged, with its descriptor. It refuses manifests over MaxManifestBytes, and
	// checks the bytes against the digest (the one asked for, or the one the store reports).
	Manifest(ctx context.Context, ref string) (v1.Descriptor, []byte, error)

	// Blob opens the blob d for streaming. The reader fails, at the latest when it reaches the
	// end, when the bytes do not match d's digest or size.
	Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)

	// Referrers lists the manifests whose subject is the manifest with digest subject (OCI 1.1
	// referrers: the referrers API, else the fallback tag "sha256-<hex>"). The descriptors have
	// digest, media type, size and artifact type. No referrers is an empty list, not an error.
	Referrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error)

	// Tags lists every tag (every page of a registry's tag list), in the store's order.
	Tags(ctx context.Context) ([]string, error)
}

// Target is a place the engine writes to. It is also a Reader: drift checks, deletes and the
// second hop of an air-gapped transfer read it.
type Target interface {
	Reader

	// PushBlob makes the blob d present at the target and says how. It opens the blob from src
	// only when it has to upload it: a target that already holds it, or can mount it from
	// another place of the same registry (src itself, when it is a repository of that registry
	// (see Mountable), or one this target's registry was given the blob before), does not read
	// it. The bytes uploaded are verified against d on the way; a mismatch fails the push before
	// the target commits the blob. When reading src fails, the error is src's.
	PushBlob(ctx context.Context, d v1.Descriptor, src Reader) (BlobPush, error)

	// PushManifest stores the manifest d with the bytes raw, unchanged, by digest. A manifest
	// with a subject becomes findable as a referrer of it (a registry without the referrers API
	// gets it merged into the subject's fallback tag; an OCI image layout lists it in its
	// index). A target that refuses the manifest returns a *RejectedError.
	PushManifest(ctx context.Context, d v1.Descriptor, raw []byte) error

	// Tag names the manifest d (pushed before, raw its bytes) tag. With tag "" it records d as a
	// root of its own where the store needs one to keep it (an OCI image layout keeps only what
	// index.json lists), and does nothing in a registry. d.Annotations are kept where the store
	// keeps annotations with names (an index.json entry), and Resolve reports them.
	Tag(ctx context.Context, tag string, d v1.Descriptor, raw []byte) error

	// Delete removes what a mirror of the manifest d under the name tag put there: the name
	// (tag "": the root record of d, see Tag), and the manifest itself unless another name of
	// the store still points at it. Content that nothing else reaches may go with it. It wraps
	// ErrUnsupported when the store does not allow deletes, and returns nil when it is gone
	// already.
	Delete(ctx context.Context, tag string, d v1.Hash) error

	// Lease keeps what is written from now on from being collected as garbage by a concurrent
	// Delete of the same store, until release is called, so that content pushed before its tag
	// exists survives. Stores without garbage collection return a release that does nothing.
	Lease(ctx context.Context) (release func(), err error)
}

// RejectedError is a target refusing a manifest that PushManifest offered it: it lacks content
// that the manifest lists, or judges the manifest invalid.
type RejectedError struct {
	// Incomplete is true when the target said that it lacks content the manifest lists (a
	// registry's MANIFEST_BLOB_UNKNOWN).
	Incomplete bool
	// Missing lists that content when the target named it.
	Missing []v1.Hash
	// Err is the target's answer.
	Err error
}

func (e *RejectedError) Error() string { return e.Err.Error() }

func (e *RejectedError) Unwrap() error { return e.Err }

// BlobPush is what PushBlob did.
type BlobPush struct {
	// How is what made the blob present.
	How BlobOutcome
	// Uploaded counts the bytes read from the source and sent (0 unless How is BlobUploaded).
	Uploaded int64
}

// BlobOutcome says how a blob became present at a target.
type BlobOutcome int

const (
	// BlobSkipped: the target held it already.
	BlobSkipped BlobOutcome = iota
	// BlobMounted: mounted from another repository of the target's registry.
	BlobMounted
	// BlobUploaded: read from the source and written to the target.
	BlobUploaded
)

// Untagger is a Target whose tags go with the manifest they point at when it is deleted (a
// registry): Untag removes the tag alone and leaves the manifest, for a delete that must keep it.
// It returns nil when the tag is gone already.
type Untagger interface {
	Untag(ctx context.Context, tag string) error
}

// PushChecker is a Target that can tell, without writing anything, whether a push would be
// taken: a registry that answers and accepts the credentials for a push, a directory that can be
// written or created. The engine asks before it plans to create or replace a mirror.
type PushChecker interface {
	CheckPush(ctx context.Context) error
}

// Mountable is implemented by readers that are a repository of a registry, so that a target in
// the same registry can mount their blobs instead of copying the bytes.
type Mountable interface {
	// Registry and Repository name it: "registry.example:5000", "library/nginx".
	Registry() string
	Repository() string
}

// RawManifest is a manifest's bytes with their media type, in the form go-containerregistry's
// remote.Put takes them (a remote.Taggable): pushed unchanged.
type RawManifest struct {
	Bytes []byte
	Type  types.MediaType
}

// RawManifest returns the bytes.
func (m RawManifest) RawManifest() ([]byte, error) { return m.Bytes, nil }

// MediaType is the Content-Type to push with.
func (m RawManifest) MediaType() (types.MediaType, error) { return m.Type, nil }

// Digest is the sha256 digest of b.
func Digest(b []byte) v1.Hash {
	sum := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}
