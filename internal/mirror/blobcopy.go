package mirror

import (
	"context"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// copyBlobs makes the blobs present at dst and counts what it did in st, with a progress
// message every e.progressEvery (progress.go). A blob streams only while it holds a slot of the
// Engine's budget (e.streams: e.jobs slots shared by every copy of the Engine, whatever the
// store); each copy gets up to as many more ready meanwhile (a target's existence check, mount or
// the start of an upload), so that the requests before a transfer do not leave a stream idle, as
// go-containerregistry does.
func (e *Engine) copyBlobs(ctx context.Context, src store.Reader, dst store.Target, blobs []v1.Descriptor, st *Stats) error {
	var mu sync.Mutex
	progress := newCopyProgress(blobs)
	defer e.reportProgress(ctx, dst.String(), progress)()
	gated := gate(src, e.streams, progress)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2 * e.jobs)
	for _, b := range blobs {
		g.Go(func() error {
			pushed, err := dst.PushBlob(gctx, b, gated)
			if err != nil {
				return err
			}
			progress.finished(b, pushed.How == store.BlobUploaded)
			mu.Lock()
			defer mu.Unlock()
			switch pushed.How {
			case store.BlobUploaded:
				st.BlobsUploaded++
				st.BytesUploaded += pushed.Uploaded
			case store.BlobMounted:
				st.BlobsMounted++
			default:
				st.BlobsSkipped++
			}
			return nil
		})
	}
	return g.Wait()
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

// gate returns src with its blobs streaming only while they hold a slot of streams: from when
// a blob is opened until it is read to the end, fails or is closed; what they read counts in
// progress. It stays store.Mountable when src is, so that a target can still mount from it.
func gate(src store.Reader, streams semaphore, progress *copyProgress) store.Reader {
	g := gatedReader{Reader: src, streams: streams, progress: progress}
	if m, ok := src.(store.Mountable); ok {
		return gatedMountable{gatedReader: g, Mountable: m}
	}
	return g
}

type gatedReader struct {
	store.Reader
	streams  semaphore
	progress *copyProgress
}

type gatedMountable struct {
	gatedReader
	store.Mountable
}

func (g gatedReader) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	release, err := g.streams.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := g.Reader.Blob(ctx, d)
	if err != nil {
		release()
		return nil, err
	}
	return &slotReader{rc: rc, release: release, read: g.progress.opened(d.Digest)}, nil
}

// slotReader releases its stream slot at the end of the blob, on the first error or on Close,
// and counts what it reads.
type slotReader struct {
	rc      io.ReadCloser
	release func()
	read    func(n int)
	once    sync.Once
}

func (r *slotReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.read(n)
	if err != nil {
		r.once.Do(r.release)
	}
	return n, err
}

func (r *slotReader) Close() error {
	err := r.rc.Close()
	r.once.Do(r.release)
	return err
}
