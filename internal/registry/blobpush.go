package registry

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// maxKnownBlobs bounds the blobs remembered per registry; beyond it, the memory starts over.
const maxKnownBlobs = 1 << 16

// mounts remembers which repository of each registry holds which blob, so that a blob copied to
// one repository is mounted into the next instead of uploaded again.
type mounts struct {
	mu    sync.Mutex
	known map[string]map[v1.Hash]name.Repository // registry → blob → a repository holding it
}

// remember records that repo holds the blob h.
func (m *mounts) remember(repo name.Repository, h v1.Hash) {
	reg := repo.RegistryStr()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.known == nil {
		m.known = map[string]map[v1.Hash]name.Repository{}
	}
	blobs := m.known[reg]
	if blobs == nil || len(blobs) >= maxKnownBlobs {
		blobs = map[v1.Hash]name.Repository{}
		m.known[reg] = blobs
	}
	blobs[h] = repo
}

// lookup returns a repository of dst's registry, other than dst, known to hold the blob h.
func (m *mounts) lookup(dst name.Repository, h v1.Hash) (name.Repository, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	repo, ok := m.known[dst.RegistryStr()][h]
	return repo, ok && repo.RepositoryStr() != dst.RepositoryStr()
}

// mountSource returns the repository of r's registry to mount the blob h from: src when it is a
// repository of the same registry, else one the Client copied the blob to before. The registry
// falls back to an upload when the mount fails.
func (r *Repository) mountSource(src store.Reader, h v1.Hash) (name.Repository, bool) {
	if m, ok := src.(store.Mountable); ok && m.Registry() == r.repo.RegistryStr() {
		from, err := r.c.ParseRepository(m.Registry() + "/" + m.Repository())
		return from, err == nil && m.Repository() != r.repo.RepositoryStr()
	}
	return r.c.mounts.lookup(r.repo, h)
}

// PushBlob makes the blob d present in the repository and says how. go-containerregistry's
// Pusher does the requests (HEAD, then a mount or an upload: POST, PATCH streaming the blob,
// PUT); it does not report which happened, so the blob it is given tells: an upload opens it, a
// blob already there or mounted does not. When a mount is possible, a HEAD request first
// separates the two.
func (r *Repository) PushBlob(ctx context.Context, d v1.Descriptor, src store.Reader) (store.BlobPush, error) {
	at := r.repo.Digest(d.Digest.String())
	from, mount := r.mountSource(src, d.Digest)
	if mount {
		exists, err := r.blobExists(ctx, at)
		if err != nil {
			return store.BlobPush{}, r.fail("checking blob", at, err)
		}
		if exists {
			r.c.mounts.remember(r.repo, d.Digest)
			return store.BlobPush{How: store.BlobSkipped}, nil
		}
	}
	blob := &sourceBlob{ctx: ctx, desc: d, src: src}
	var upload v1.Layer = blob
	if mount {
		upload = &remote.MountableLayer{Layer: blob, Reference: from.Digest(d.Digest.String())}
	}
	err := r.c.pusher.Upload(ctx, r.repo, upload)
	if _, opened, _ := blob.state(); err != nil && mount && !opened && ctx.Err() == nil {
		// go-containerregistry falls back to an upload when the registry refuses the mount,
		// but not when getting a token for the other repository fails: upload without it.
		r.c.log(ctx, "mounting a blob failed; uploading it", map[string]any{"blob": d.Digest.String(), "from": from.Name(), "error": err.Error()})
		mount = false
		err = r.c.pusher.Upload(ctx, r.repo, blob)
	}
	sent, opened, srcErr := blob.state()
	switch {
	case err != nil && srcErr != nil:
		return store.BlobPush{}, srcErr // the source's own, explained where it failed
	case err != nil:
		return store.BlobPush{}, r.fail("copying blob to", at, err)
	}
	r.c.mounts.remember(r.repo, d.Digest)
	switch {
	case opened:
		return store.BlobPush{How: store.BlobUploaded, Uploaded: sent}, nil
	case mount:
		return store.BlobPush{How: store.BlobMounted}, nil
	}
	return store.BlobPush{How: store.BlobSkipped}, nil
}

// blobExists asks the registry with a HEAD request whether it holds the blob.
func (r *Repository) blobExists(ctx context.Context, at name.Digest) (bool, error) {
	l, err := r.c.puller.Layer(ctx, at)
	if err != nil {
		return false, err
	}
	// A remote layer answers Exists with a HEAD request (200 or 404).
	if ex, ok := l.(interface{ Exists() (bool, error) }); ok {
		return ex.Exists()
	}
	if _, err := l.Size(); err != nil { // also a HEAD request
		if Classify(err) == NotFound {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// sourceBlob is a blob of the source as the Pusher uploads it. Its digest, size and media type
// come from the manifest, so nothing asks the source for them. Reading it streams from the
// source, which verifies the bytes (a mismatch fails the last Read, which aborts the upload
// before the registry commits the blob).
type sourceBlob struct {
	ctx  context.Context
	desc v1.Descriptor
	src  store.Reader

	mu     sync.Mutex
	last   *countingReader // of the latest Compressed call; nil when never opened
	srcErr error           // the failure to open or read the source in the latest attempt
}

var _ v1.Layer = (*sourceBlob)(nil)

func (b *sourceBlob) Digest() (v1.Hash, error) { return b.desc.Digest, nil }
func (b *sourceBlob) Size() (int64, error)     { return b.desc.Size, nil }

// DiffID is not known without reading the blob; uploads do not need it.
func (b *sourceBlob) DiffID() (v1.Hash, error) {
	return v1.Hash{}, errors.New("the diff ID of a blob in transit is not known")
}

// MediaType is the media type the manifest gives. A non-distributable (foreign) layer is
// presented as a regular layer, so that the Pusher copies it like every other blob instead of
// skipping it.
func (b *sourceBlob) MediaType() (types.MediaType, error) {
	if b.desc.MediaType == "" || !b.desc.MediaType.IsDistributable() {
		return types.DockerLayer, nil
	}
	return b.desc.MediaType, nil
}

func (b *sourceBlob) Compressed() (io.ReadCloser, error) {
	rc, err := b.src.Blob(b.ctx, b.desc)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srcErr = nil // a new attempt of the upload
	if err != nil {
		b.failed(err)
		return nil, err
	}
	b.last = &countingReader{rc: rc, blob: b}
	return b.last, nil
}

func (b *sourceBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }

// failed records the first failure of the source in this attempt. The caller holds b.mu.
func (b *sourceBlob) failed(err error) {
	if b.srcErr == nil && b.ctx.Err() == nil {
		b.srcErr = err
	}
}

// state returns the bytes read by the latest reader (an upload that was restarted reads the
// blob again), whether the blob was opened at all, and the failure of the source, if any.
func (b *sourceBlob) state() (sent int64, opened bool, srcErr error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		return 0, false, b.srcErr
	}
	return b.last.n, true, b.srcErr
}

// countingReader counts what the source sent and records its failures.
type countingReader struct {
	rc   io.ReadCloser
	blob *sourceBlob
	n    int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.blob.mu.Lock()
	defer c.blob.mu.Unlock()
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.blob.failed(err)
	}
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
