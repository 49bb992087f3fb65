package mirror

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// TestBlobStreamsShareOneBudget: the jobs of an Engine bound the blobs streaming at once across
// all its copies, as Terraform applies many mirrors concurrently with one provider process. The
// source is not a registry (whose client has a download limit of its own), so only the Engine
// bounds it.
func TestBlobStreamsShareOneBudget(t *testing.T) {
	const jobs, mirrors = 3, 20
	env := newMemoryEnv()
	streams := &streamCounter{}
	e := New(WithScheme(slowScheme{Scheme: env.src, streams: streams}), WithScheme(env.dst), WithJobs(jobs))
	var specs []Spec
	for i := range mirrors {
		f := newIndexFixture(t, env.writer(t, fmt.Sprintf("library/app-%d", i)), false)
		specs = append(specs, Spec{Source: f.ref(), Target: env.dst.Prefix() + fmt.Sprintf("mirror/app-%d", i), Attestations: true})
	}
	g, ctx := errgroup.WithContext(t.Context())
	for _, spec := range specs {
		g.Go(func() error {
			p, err := e.Plan(ctx, spec)
			if err != nil {
				return err
			}
			_, err = e.Apply(ctx, p)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	peak, opened := streams.counts()
	if peak != jobs {
		t.Errorf("%d blobs streamed at once across %d concurrent mirrors, want jobs = %d", peak, mirrors, jobs)
	}
	if opened < mirrors*4 { // 4 distinct blobs per mirror at least: 3 configs, 2 layers
		t.Errorf("only %d blobs were read from the source", opened)
	}
}

// slowScheme opens the stores of its Scheme as sources whose blobs stream slowly, counted by
// streams.
type slowScheme struct {
	store.Scheme
	streams *streamCounter
}

func (s slowScheme) Open(ref string, role store.Role) (store.Location, error) {
	loc, err := s.Scheme.Open(ref, role)
	if err == nil {
		loc.Store = slowReader{Reader: loc.Store, streams: s.streams}
	}
	return loc, err
}

type slowReader struct {
	store.Reader
	streams *streamCounter
}

func (r slowReader) Blob(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := r.Reader.Blob(ctx, d)
	if err != nil {
		return nil, err
	}
	r.streams.open()
	return &slowStream{ReadCloser: rc, streams: r.streams}, nil
}

// streamCounter counts the blob streams open at once and their peak.
type streamCounter struct {
	mu                     sync.Mutex
	inFlight, peak, opened int
}

func (c *streamCounter) open() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight++
	c.opened++
	c.peak = max(c.peak, c.inFlight)
}

func (c *streamCounter) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
}

// counts returns the peak of streams in flight and how many were opened.
func (c *streamCounter) counts() (peak, opened int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak, c.opened
}

// slowStream waits before its first read, long enough for other copies to pile up, and counts
// as in flight until it is read to the end or closed.
type slowStream struct {
	io.ReadCloser
	streams *streamCounter
	started bool
	once    sync.Once
}

func (s *slowStream) Read(p []byte) (int, error) {
	if !s.started {
		s.started = true
		time.Sleep(10 * time.Millisecond)
	}
	n, err := s.ReadCloser.Read(p)
	if err != nil {
		s.once.Do(s.streams.close)
	}
	return n, err
}

func (s *slowStream) Close() error {
	s.once.Do(s.streams.close)
	return s.ReadCloser.Close()
}
