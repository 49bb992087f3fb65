package registrytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Writer writes generated content (content.go, handwritten.go, referrers.go) into one
// repository: a registry's, reached directly with go-containerregistry ([At], [AtRegistry]), or
// any store.Target ([Into]: an in-memory store, an OCI image layout, a registry repository of the
// provider's own client). The same generator thus feeds engine tests on the memory store,
// acceptance tests on real registries, the benchmarks and the demo.
//
// A Writer made for a test fails the test on the first error. One made with [AtRegistry] records
// the first error instead (see [Writer.Err]) and does nothing after it.
type Writer struct {
	ctx  context.Context
	dest dest
	fail func(error)

	mu  sync.Mutex
	err error
	seq int // generated layers, so that each differs
}

// dest is where a Writer's bytes go.
type dest interface {
	String() string
	blob(ctx context.Context, l v1.Layer) error
	manifest(ctx context.Context, tag string, d v1.Descriptor, raw []byte) error
}

// At writes into the registry repository repo ("<host>/<path>", plain HTTP allowed), reached with
// opts ([Endpoint.RemoteOptions] for TLS or authentication).
func At(tb testing.TB, repo string, opts ...remote.Option) *Writer {
	tb.Helper()
	r, err := name.NewRepository(repo, name.Insecure, name.StrictValidation)
	if err != nil {
		tb.Fatalf("registrytest: %q is not a repository: %v", repo, err)
	}
	return &Writer{ctx: tb.Context(), dest: registryDest{repo: r, opts: opts}, fail: fatal(tb)}
}

// AtRegistry is At outside a test: failures are recorded (see Err).
func AtRegistry(ctx context.Context, repo string, opts ...remote.Option) (*Writer, error) {
	r, err := name.NewRepository(repo, name.Insecure, name.StrictValidation)
	if err != nil {
		return nil, err
	}
	w := &Writer{ctx: ctx, dest: registryDest{repo: r, opts: opts}}
	w.fail = w.record
	return w, nil
}

// Into writes into a store.Target.
func Into(tb testing.TB, t store.Target) *Writer {
	return &Writer{ctx: tb.Context(), dest: storeDest{t}, fail: fatal(tb)}
}

func fatal(tb testing.TB) func(error) {
	return func(err error) {
		tb.Helper()
		tb.Fatalf("registrytest: %v", err)
	}
}

// String names the repository written to.
func (w *Writer) String() string { return w.dest.String() }

// Err is the first failure of a Writer made with AtRegistry.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *Writer) record(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// check reports err (wrapped with what failed) and whether everything went well so far.
func (w *Writer) check(err error, format string, args ...any) bool {
	if err != nil {
		w.fail(fmt.Errorf("%s: %s: %w", w.dest, fmt.Sprintf(format, args...), err))
	}
	return w.Err() == nil && err == nil
}

// Blob writes data as a blob of media type mt and returns its descriptor.
func (w *Writer) Blob(data []byte, mt types.MediaType) v1.Descriptor {
	return w.Layer(static.NewLayer(data, mt))
}

// Layer writes the blob l and returns its descriptor.
func (w *Writer) Layer(l v1.Layer) v1.Descriptor {
	d, err := partial.Descriptor(l)
	if !w.check(err, "describing a blob") || !w.check(w.dest.blob(w.ctx, l), "writing blob %s", d.Digest) {
		return v1.Descriptor{}
	}
	return *d
}

// Raw writes raw (a manifest or an index, any bytes) unchanged with the media type mt, by
// digest, and under tag unless it is empty, and returns its descriptor. Everything it references
// must be there already, or the repository may refuse it.
func (w *Writer) Raw(tag string, mt types.MediaType, raw []byte) v1.Descriptor {
	d := v1.Descriptor{MediaType: mt, Digest: store.Digest(raw), Size: int64(len(raw))}
	if !w.check(w.dest.manifest(w.ctx, tag, d, raw), "writing %s (%s) as %q", d.Digest, mt, tag) {
		return v1.Descriptor{}
	}
	return d
}

// registryDest writes with go-containerregistry's remote package. A manifest with a "subject"
// is also added to the referrers fallback tag ("sha256-<hex> of the subject") when the registry
// has no referrers API, as distribution has none.
type registryDest struct {
	repo name.Repository
	opts []remote.Option
}

func (r registryDest) String() string { return r.repo.Name() }

func (r registryDest) options(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, r.opts...)
}

func (r registryDest) blob(ctx context.Context, l v1.Layer) error {
	return remote.WriteLayer(r.repo, l, r.options(ctx)...)
}

// manifest puts the manifest under tag, which also makes it available by digest, or by digest.
func (r registryDest) manifest(ctx context.Context, tag string, d v1.Descriptor, raw []byte) error {
	var at name.Reference = r.repo.Digest(d.Digest.String())
	if tag != "" {
		at = r.repo.Tag(tag)
	}
	return remote.Put(at, store.RawManifest{Bytes: raw, Type: d.MediaType}, r.options(ctx)...)
}

// storeDest writes through the store seam.
type storeDest struct{ t store.Target }

func (s storeDest) String() string { return s.t.String() }

func (s storeDest) blob(ctx context.Context, l v1.Layer) error {
	d, err := partial.Descriptor(l)
	if err != nil {
		return err
	}
	_, err = s.t.PushBlob(ctx, *d, layerSource{l})
	return err
}

func (s storeDest) manifest(ctx context.Context, tag string, d v1.Descriptor, raw []byte) error {
	if err := s.t.PushManifest(ctx, d, raw); err != nil {
		return err
	}
	if tag == "" {
		return nil
	}
	return s.t.Tag(ctx, tag, d, raw)
}

// layerSource is a store.Reader that holds one blob, for store.Target.PushBlob.
type layerSource struct{ l v1.Layer }

var errOnlyBlobs = errors.New("registrytest: a layer source serves its blob only")

func (s layerSource) String() string { return "generated content" }

func (s layerSource) Blob(context.Context, v1.Descriptor) (io.ReadCloser, error) {
	return s.l.Compressed()
}

func (s layerSource) Resolve(context.Context, string) (v1.Descriptor, error) {
	return v1.Descriptor{}, errOnlyBlobs
}

func (s layerSource) Manifest(context.Context, string) (v1.Descriptor, []byte, error) {
	return v1.Descriptor{}, nil, errOnlyBlobs
}

func (s layerSource) Referrers(context.Context, v1.Hash) ([]v1.Descriptor, error) {
	return nil, errOnlyBlobs
}

func (s layerSource) Tags(context.Context) ([]string, error) { return nil, errOnlyBlobs }

// descJSON writes a descriptor by hand: size first, as no library would.
func descJSON(d v1.Descriptor) string {
	return fmt.Sprintf(`{"size": %d, "digest": %q, "mediaType": %q}`, d.Size, d.Digest, d.MediaType)
}
