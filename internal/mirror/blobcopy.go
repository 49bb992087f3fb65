package mirror

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// transfers is what an Engine keeps between operations for copying, so that the resources of
// one provider instance share it:
//
//   - one go-containerregistry Puller and Pusher. They keep, per repository, the transport
//     that pinged the registry and holds the token, so each repository is pinged and
//     authenticated once per Engine instead of once per request. With a Client that already
//     passes remote.Reuse (the registry package's), they are the Client's own.
//   - which repository of each target registry holds which blob, so that a blob copied to one
//     repository is mounted into the next instead of uploaded again.
type transfers struct {
	once   sync.Once
	puller *remote.Puller
	pusher *remote.Pusher
	err    error

	mu    sync.Mutex
	known map[string]map[v1.Hash]name.Repository // registry → blob → a repository holding it
}

// maxKnownBlobs bounds the blobs remembered per registry; beyond it, the map starts over.
const maxKnownBlobs = 1 << 16

// transfer returns the Engine's transfers, creating the Puller and Pusher on first use.
func (e *Engine) transfer() (*transfers, error) {
	t := &e.xfer
	t.once.Do(func() {
		// The options carry no context on purpose: the Puller and Pusher outlive this call, and
		// every method of theirs takes the context of its own call.
		opts := append(e.client.RemoteOptions(context.Background()), remote.WithJobs(e.jobs))
		if t.puller, t.err = remote.NewPuller(opts...); t.err != nil {
			t.err = fmt.Errorf("configuring registry access: %w", t.err)
			return
		}
		if t.pusher, t.err = remote.NewPusher(opts...); t.err != nil {
			t.err = fmt.Errorf("configuring registry access: %w", t.err)
		}
	})
	return t, t.err
}

// remember records that repo holds the blob h.
func (t *transfers) remember(repo name.Repository, h v1.Hash) {
	reg := repo.RegistryStr()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.known == nil {
		t.known = map[string]map[v1.Hash]name.Repository{}
	}
	blobs := t.known[reg]
	if blobs == nil || len(blobs) >= maxKnownBlobs {
		blobs = map[v1.Hash]name.Repository{}
		t.known[reg] = blobs
	}
	blobs[h] = repo
}

// mountSource returns the repository of dst's registry to mount the blob h from: the source
// repository when it is in the same registry, else a repository this Engine copied the blob
// to before. The registry falls back to an upload when the mount fails.
func (t *transfers) mountSource(src, dst name.Repository, h v1.Hash) (name.Repository, bool) {
	if src.RegistryStr() == dst.RegistryStr() {
		return src, src.RepositoryStr() != dst.RepositoryStr()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	repo, ok := t.known[dst.RegistryStr()][h]
	return repo, ok && repo.RepositoryStr() != dst.RepositoryStr()
}

// blobOutcome is what copying one blob did.
type blobOutcome int

const (
	blobSkipped  blobOutcome = iota // the target had it
	blobMounted                     // mounted from another repository of the target registry
	blobUploaded                    // streamed from the source to the target
)

// copyBlob makes the blob d of the repository src present in dst and says how, with the
// number of bytes uploaded. go-containerregistry's Pusher does the requests (HEAD, then a
// mount or an upload: POST, PATCH streaming the blob, PUT); it does not report which happened,
// so the blob it is given tells: an upload opens it, a blob already there or mounted does not.
// When a mount is possible, a HEAD request first separates the two.
//
// A transfer takes a slot of streams (see copyBlobs) from when the source is opened until it
// is read to the end or closed; the bytes it reads count in progress.
func (e *Engine) copyBlob(ctx context.Context, t *transfers, src, dst name.Repository, d v1.Descriptor, streams semaphore, progress *copyProgress) (blobOutcome, int64, error) {
	from, mount := t.mountSource(src, dst, d.Digest)
	if mount {
		exists, err := t.blobExists(ctx, dst, d.Digest)
		if err != nil {
			return 0, 0, e.explain("checking blob", dst.Digest(d.Digest.String()), err)
		}
		if exists {
			t.remember(dst, d.Digest)
			return blobSkipped, 0, nil
		}
	}
	l, err := e.sourceLayer(ctx, t, src, d) // from the registry or a layout source (layout_apply.go)
	if err != nil {
		return 0, 0, e.explain("reading blob", src.Digest(d.Digest.String()), err)
	}
	blob := &sourceBlob{ctx: ctx, desc: d, src: l, streams: streams, progress: progress}
	var upload v1.Layer = blob
	if mount {
		upload = &remote.MountableLayer{Layer: blob, Reference: from.Digest(d.Digest.String())}
	}
	err = t.pusher.Upload(ctx, dst, upload)
	if _, opened := blob.sent(); err != nil && mount && !opened && ctx.Err() == nil {
		// go-containerregistry falls back to an upload when the registry refuses the mount,
		// but not when getting a token for the other repository fails: upload without it.
		e.log(ctx, "mounting a blob failed; uploading it", map[string]any{"blob": d.Digest.String(), "from": from.Name(), "error": err.Error()})
		mount = false
		err = t.pusher.Upload(ctx, dst, blob)
	}
	if err != nil {
		if serr := blob.sourceError(); serr != nil {
			// The source failed (a blob deleted since the plan, say): name the registry that answered.
			return 0, 0, e.explain("reading blob", src.Digest(d.Digest.String()), serr)
		}
		return 0, 0, e.explain("copying blob to", dst.Digest(d.Digest.String()), err)
	}
	t.remember(dst, d.Digest)
	if sent, opened := blob.sent(); opened {
		return blobUploaded, sent, nil
	}
	if mount {
		return blobMounted, 0, nil
	}
	return blobSkipped, 0, nil
}

// blobExists asks the registry with a HEAD request whether repo holds the blob h.
func (t *transfers) blobExists(ctx context.Context, repo name.Repository, h v1.Hash) (bool, error) {
	l, err := t.puller.Layer(ctx, repo.Digest(h.String()))
	if err != nil {
		return false, err
	}
	// A remote layer answers Exists with a HEAD request (200 or 404).
	if ex, ok := l.(interface{ Exists() (bool, error) }); ok {
		return ex.Exists()
	}
	if _, err := l.Size(); err != nil { // also a HEAD request
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// sourceBlob is a blob of the source as the Pusher uploads it. Its digest, size and media type
// come from the manifest, so nothing asks the source for them. Reading it streams from the
// source: go-containerregistry's remote layer checks the digest of every byte (the last Read
// fails on a mismatch, which aborts the upload before the registry commits the blob), and
// sizeCheckedReader the size.
type sourceBlob struct {
	ctx      context.Context
	desc     v1.Descriptor
	src      v1.Layer
	streams  semaphore
	progress *copyProgress

	mu     sync.Mutex
	last   *sizeCheckedReader // of the latest Compressed call; nil when never opened
	srcErr error              // the latest failure to open or read the source
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
	release, err := b.streams.acquire(b.ctx)
	if err != nil {
		return nil, err
	}
	rc, err := b.src.Compressed()
	if err != nil {
		release()
		b.failed(err)
		return nil, err
	}
	r := &sizeCheckedReader{rc: rc, size: b.desc.Size, digest: b.desc.Digest, release: release, failed: b.failed, progress: b.progress}
	b.mu.Lock()
	if b.last != nil { // a restarted upload reads the blob again: its first bytes count once
		b.last.mu.Lock()
		b.progress.read(-b.last.n)
		b.last.mu.Unlock()
	}
	b.last = r
	b.mu.Unlock()
	return r, nil
}

func (b *sourceBlob) Uncompressed() (io.ReadCloser, error) { return b.Compressed() }

// failed records a failure of the source, so that an upload that fails because of it is
// reported as the source's.
func (b *sourceBlob) failed(err error) {
	b.mu.Lock()
	b.srcErr = err
	b.mu.Unlock()
}

// sourceError is the latest failure of the source, nil when there was none.
func (b *sourceBlob) sourceError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srcErr
}

// sent returns the bytes read by the latest reader (an upload that was restarted reads the
// blob again) and whether the blob was opened at all.
func (b *sourceBlob) sent() (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		return 0, false
	}
	b.last.mu.Lock()
	defer b.last.mu.Unlock()
	return b.last.n, true
}

// sizeCheckedReader counts the bytes read and fails when they are more or fewer than size. It
// releases its stream slot at the end of the blob, on the first error or on Close, reports its
// errors, which are the source's, to failed, and counts what it reads in progress.
type sizeCheckedReader struct {
	rc       io.ReadCloser
	size     int64
	digest   v1.Hash
	release  func()
	failed   func(error)
	progress *copyProgress
	once     sync.Once

	mu sync.Mutex
	n  int64
}

func (r *sizeCheckedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.mu.Lock()
	r.n += int64(n)
	total := r.n
	r.mu.Unlock()
	r.progress.read(int64(n))
	switch {
	case total > r.size:
		err = fmt.Errorf("blob %s: the source sent more than the %d bytes the manifest gives", r.digest, r.size)
	case errors.Is(err, io.EOF) && total < r.size:
		err = fmt.Errorf("blob %s: the source sent %d bytes, the manifest gives %d: %w", r.digest, total, r.size, io.ErrUnexpectedEOF)
	}
	if err != nil {
		r.once.Do(r.release)
		if !errors.Is(err, io.EOF) {
			r.failed(err)
		}
	}
	return n, err
}

func (r *sizeCheckedReader) Close() error {
	err := r.rc.Close()
	r.once.Do(r.release)
	return err
}

// semaphore bounds the blobs that stream at once.
type semaphore chan struct{}

// acquire waits for a slot, or for ctx to end; release gives the slot back.
func (s semaphore) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
