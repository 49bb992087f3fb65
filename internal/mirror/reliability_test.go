package mirror

// Reliability tests: the engine with the provider's registry client (internal/registry: retries,
// Retry-After, host policy) against real distribution registry processes behind the fault
// proxy of internal/registrytest. Two registries (source and target) serve every test; each test
// puts its own proxies in front of them and mirrors into a repository of its own, so the tests run
// in parallel. templates/guides/reliability.md.tmpl lists these cases and their outcomes: keep
// them in step.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

const (
	relSourceRepo = "rel/app"
	relTag        = "1.0"
)

// relEnv is the content shared by the reliability tests: an index at <src>/rel/app:1.0 with two
// images and their BuildKit attestations.
type relEnv struct {
	src, dst *registrytest.Registry

	index       []byte
	indexDigest string
	children    []v1.Descriptor // the manifests the index lists, in order
	blobs       []v1.Descriptor // configs and layers of the children, the first layer first
	repos       atomic.Int32
}

func newRelEnv(t *testing.T) *relEnv {
	t.Helper()
	env := &relEnv{src: registrytest.Start(t), dst: registrytest.Start(t)}
	desc := registrytest.PushIndex(t, env.src.Ref(relSourceRepo+":"+relTag), registrytest.IndexSpec{
		Images: []registrytest.ImageSpec{
			{Platform: "linux/amd64", Layers: []int64{3000, 2000}, Seed: 1},
			{Platform: "linux/arm64", Layers: []int64{2500}, Seed: 2},
		},
		Attestations: true,
	})
	env.indexDigest = desc.Digest.String()
	env.index, _ = registrytest.Fetch(t, env.src.Ref(relSourceRepo+"@"+env.indexDigest))
	var idx v1.IndexManifest
	if err := json.Unmarshal(env.index, &idx); err != nil {
		t.Fatal(err)
	}
	env.children = idx.Manifests
	for _, c := range env.children {
		raw, _ := registrytest.Fetch(t, env.src.Ref(relSourceRepo+"@"+c.Digest.String()))
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		env.blobs = append(env.blobs, m.Layers...)
		env.blobs = append(env.blobs, m.Config)
	}
	return env
}

// relCase is one test's view: proxies in front of both registries, a client and an engine that go
// through them, and a target repository of its own.
type relCase struct {
	env                *relEnv
	srcProxy, dstProxy *registrytest.Proxy
	engine             *Engine
	repo               string // target repository path, e.g. "mirror/c3"
	sleeps             *sleeps
}

// caseOptions configure newCase.
type caseOptions struct {
	retries  int           // max_retries
	maxSleep time.Duration // waits between retries are cut to this; 0 keeps them (real sleep)
	jobs     int
}

func (env *relEnv) newCase(t *testing.T, o caseOptions) *relCase {
	t.Helper()
	c := &relCase{
		env:      env,
		srcProxy: registrytest.NewProxy(t, env.src),
		dstProxy: registrytest.NewProxy(t, env.dst),
		repo:     fmt.Sprintf("mirror/c%d", env.repos.Add(1)),
		sleeps:   &sleeps{max: o.maxSleep},
	}
	retries := o.retries
	client, err := registry.New(registry.Config{
		InsecureRegistries: []string{env.src.Host, env.dst.Host, c.srcProxy.Host, c.dstProxy.Host},
		MaxRetries:         &retries,
		Keychain:           anonymousKeychain{},
		Sleep:              c.sleeps.sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.engine = New(WithScheme(client), WithJobs(max(o.jobs, 2)))
	return c
}

// spec mirrors the whole index through both proxies into the case's repository.
func (c *relCase) spec() Spec {
	return Spec{
		Source:       c.srcProxy.Ref(relSourceRepo + ":" + relTag),
		Target:       c.dstProxy.Ref(c.repo),
		Attestations: true,
	}
}

func (c *relCase) plan(t *testing.T, spec Spec) *Plan {
	t.Helper()
	p, err := c.engine.Plan(t.Context(), spec)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

// mirrored fails unless the target tag serves the source index bytes and every manifest the
// plan copies exists at the target (checked at the registry, not through the proxy).
func (c *relCase) mirrored(t *testing.T, p *Plan) {
	t.Helper()
	raw, _ := registrytest.Fetch(t, c.env.dst.Ref(c.repo+":"+relTag))
	if sha256Digest(raw) != p.Digest {
		t.Fatalf("the target tag points at %s, want %s", sha256Digest(raw), p.Digest)
	}
	if p.Spec.IndexMode != ModeFilter && !bytes.Equal(raw, c.env.index) {
		t.Fatalf("the target serves other index bytes than the source:\n%s", raw)
	}
	for _, d := range p.ChildDigests() {
		if !registrytest.Exists(t, c.env.dst.Ref(c.repo+"@"+d)) {
			t.Fatalf("%s is missing at the target", d)
		}
	}
}

// nothingVisible fails if the target tag or the index exists at the target.
func (c *relCase) nothingVisible(t *testing.T) {
	t.Helper()
	if registrytest.Exists(t, c.env.dst.Ref(c.repo+":"+relTag)) {
		t.Fatal("the target tag exists after a failed apply")
	}
	if registrytest.Exists(t, c.env.dst.Ref(c.repo+"@"+c.env.indexDigest)) {
		t.Fatal("the index exists at the target after a failed apply")
	}
}

// sleeps records the waits between retries and cuts them to max (0: real waits).
type sleeps struct {
	max   time.Duration
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	if s.max > 0 {
		d = min(d, s.max)
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func (s *sleeps) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// digestPath matches the registry API path of a manifest or blob by digest.
func digestPath(kind, digest string) string {
	return "/" + kind + "/" + regexp.QuoteMeta(digest) + "$"
}

func TestReliability(t *testing.T) {
	env := newRelEnv(t)
	fast := caseOptions{retries: 3, maxSleep: 10 * time.Millisecond}

	// --- Transient faults: retried, the apply succeeds. ---

	t.Run("429 Retry-After on source manifest GET", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, caseOptions{retries: 3})
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/", Times: 1,
			Action: registrytest.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1"})
		start := time.Now()
		p := c.plan(t, c.spec())
		if waited := time.Since(start); waited < 900*time.Millisecond {
			t.Fatalf("Plan took %s; Retry-After: 1 was not honoured", waited)
		}
		if w := c.sleeps.recorded(); len(w) != 1 || w[0] != time.Second {
			t.Fatalf("waits %v, want [1s]", w)
		}
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		c.mirrored(t, p)
	})

	t.Run("429 Retry-After on source blob GET", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, caseOptions{retries: 3})
		p := c.plan(t, c.spec())
		blob := env.blobs[0].Digest.String()
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: digestPath("blobs", blob), Times: 1,
			Action: registrytest.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1"})
		c.srcProxy.Reset()
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if w := c.sleeps.recorded(); len(w) != 1 || w[0] != time.Second {
			t.Fatalf("waits %v, want [1s]", w)
		}
		c.mirrored(t, p)
	})

	t.Run("500 and 503 on target PUTs", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		p := c.plan(t, c.spec())
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/manifests/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/blobs/uploads/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusInternalServerError})
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/manifests/" + relTag + "$", Times: 1,
			Action: registrytest.FaultStatus, Status: http.StatusInternalServerError})
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		// 2 manifest PUTs and the tag PUT; the upload PUTs are retried too, or their uploads
		// restarted (go-containerregistry's own wait, not recorded).
		if n := len(c.sleeps.recorded()); n < 3 {
			t.Fatalf("%d retries, want at least 3", n)
		}
		c.mirrored(t, p)
	})

	t.Run("connection reset mid-body on source blob GET", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		p := c.plan(t, c.spec())
		blob := env.blobs[0] // 3000 bytes
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: digestPath("blobs", blob.Digest.String()), Times: 1,
			Action: registrytest.FaultReset, Offset: 1000})
		c.srcProxy.Reset()
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		c.mirrored(t, p)
	})

	t.Run("connection reset mid-body on source manifest GET", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		child := env.children[1].Digest.String()
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: digestPath("manifests", child), Times: 1,
			Action: registrytest.FaultReset, Offset: 100})
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/" + relTag + "$", Times: 1,
			Action: registrytest.FaultReset, Offset: 100})
		p := c.plan(t, c.spec())
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		c.mirrored(t, p)
	})

	t.Run("transient faults on source and target", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "1"})
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/blobs/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusBadGateway})
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: digestPath("blobs", env.blobs[1].Digest.String()), Times: 1,
			Action: registrytest.FaultReset, Offset: 500})
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodHead, Path: "/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPost, Path: "/blobs/uploads/", Times: 1,
			Action: registrytest.FaultStatus, Status: http.StatusGatewayTimeout})
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: "/manifests/", Times: 2,
			Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
		p := c.plan(t, c.spec())
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		c.mirrored(t, p)
	})

	t.Run("retries exhausted", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, caseOptions{retries: 2, maxSleep: 10 * time.Millisecond})
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/",
			Action: registrytest.FaultStatus, Status: http.StatusServiceUnavailable})
		_, err := c.engine.Plan(t.Context(), c.spec())
		if registry.Classify(err) != registry.Unavailable || !strings.Contains(err.Error(), "giving up after 3 attempts") ||
			!strings.Contains(err.Error(), "is unavailable or limiting the request rate") {
			t.Fatalf("err = %v", err)
		}
		if n := c.srcProxy.Count(http.MethodGet, registrytest.KindManifest); n != 3 {
			t.Fatalf("%d manifest GETs, want 3", n)
		}
	})

	// --- Answers that are not retried. ---

	for _, tc := range []struct {
		name   string
		status int
		body   string
		kind   registry.Kind
		says   string
	}{
		{"404", http.StatusNotFound, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, registry.NotFound, "was not found in registry"},
		{"401", http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, registry.Unauthorized, "refused access to repository \"rel/app\" with no credentials"},
		{"403", http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, registry.Forbidden, "denied access"},
	} {
		t.Run("no retry on "+tc.name+" at source manifest GET", func(t *testing.T) {
			t.Parallel()
			c := env.newCase(t, fast)
			c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/",
				Action: registrytest.FaultStatus, Status: tc.status, Body: tc.body})
			_, err := c.engine.Plan(t.Context(), c.spec())
			if registry.Classify(err) != tc.kind || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v (kind %d), want kind %d saying %q", err, registry.Classify(err), tc.kind, tc.says)
			}
			if n := c.srcProxy.Count(http.MethodGet, registrytest.KindManifest); n != 1 {
				t.Fatalf("%d manifest GETs, want 1", n)
			}
			if w := c.sleeps.recorded(); len(w) != 0 {
				t.Fatalf("waited %v before retries", w)
			}
		})
	}

	t.Run("no retry on 404 at source blob GET", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		p := c.plan(t, c.spec())
		blob := env.blobs[0].Digest.String()
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: digestPath("blobs", blob),
			Action: registrytest.FaultStatus, Status: http.StatusNotFound, Body: `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`})
		c.srcProxy.Reset()
		_, err := c.engine.Apply(t.Context(), p)
		if err == nil || !strings.Contains(err.Error(), blob) || !strings.Contains(err.Error(), "BLOB_UNKNOWN") {
			t.Fatalf("err = %v", err)
		}
		if n := c.srcProxy.Count(http.MethodGet, registrytest.KindBlob); n > len(env.blobs) {
			t.Fatalf("%d blob GETs for %d blobs: the 404 was retried", n, len(env.blobs))
		}
		if w := c.sleeps.recorded(); len(w) != 0 {
			t.Fatalf("waited %v before retries", w)
		}
		c.nothingVisible(t)
	})

	// --- Cancellation while waiting for Retry-After: 30. ---

	t.Run("cancel during Retry-After wait", func(t *testing.T) {
		t.Parallel()
		for _, phase := range []string{"plan", "apply"} {
			c := env.newCase(t, caseOptions{retries: 5}) // real waits
			p := c.plan(t, c.spec())
			path := "/blobs/"
			if phase == "plan" {
				path = "/manifests/"
			}
			c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: path,
				Action: registrytest.FaultStatus, Status: http.StatusTooManyRequests, RetryAfter: "30"})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				var err error
				if phase == "plan" {
					_, err = c.engine.Plan(ctx, c.spec())
				} else {
					_, err = c.engine.Apply(ctx, p)
				}
				done <- err
			}()
			// Cancel once the engine waits.
			for deadline := time.Now().Add(10 * time.Second); len(c.sleeps.recorded()) == 0; {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the engine never waited", phase)
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			start := time.Now()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("%s: err = %v, want context.Canceled", phase, err)
				}
				// Promptly, not after the 30 s asked for (2 s: a loaded machine is slow to schedule).
				if d := time.Since(start); d > 2*time.Second {
					t.Fatalf("%s: returned %s after the cancel", phase, d)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: still running 5s after the cancel", phase)
			}
			if w := c.sleeps.recorded(); w[0] != 30*time.Second {
				t.Fatalf("%s: waits %v, want 30s first", phase, w)
			}
			c.nothingVisible(t)
		}
	})

	// --- Limits. ---

	t.Run("oversized manifest is not read", func(t *testing.T) {
		t.Parallel()
		const size = 64 << 20
		var written atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return
			}
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			w.Header().Set("Content-Length", strconv.Itoa(size))
			chunk := bytes.Repeat([]byte(" "), 32<<10)
			for written.Load() < size {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		t.Cleanup(srv.Close)
		host := strings.TrimPrefix(srv.URL, "http://")
		client, err := registry.New(registry.Config{InsecureRegistries: []string{host}, Keychain: anonymousKeychain{}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(WithScheme(client)).Plan(t.Context(), Spec{Source: host + "/big/index:1.0"})
		var tooLarge *registry.ManifestTooLargeError
		if !errors.As(err, &tooLarge) {
			t.Fatalf("err = %v, want a ManifestTooLargeError", err)
		}
		srv.CloseClientConnections()
		if w := written.Load(); w >= size/2 {
			t.Fatalf("the server wrote %d of %d bytes before the engine gave up", w, size)
		}
	})

	t.Run("child listed larger than the limit is not read", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		big := env.children[0]
		big.Size = store.MaxManifestBytes + 1
		registrytest.PushRaw(t, env.src.Ref(relSourceRepo+":big-child"), types.OCIImageIndex,
			registrytest.MarshalIndex(t, types.OCIImageIndex, []v1.Descriptor{big}))
		spec := c.spec()
		spec.Source = c.srcProxy.Ref(relSourceRepo + ":big-child")
		_, err := c.engine.Plan(t.Context(), spec)
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(store.MaxManifestBytes+1)) {
			t.Fatalf("err = %v", err)
		}
		if n := c.srcProxy.Count(http.MethodGet, registrytest.KindManifest); n != 1 {
			t.Fatalf("%d manifest GETs, want 1 (the index only)", n)
		}
	})

	t.Run("huge error body", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		body := `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` + strings.Repeat(" ", 4<<20)
		c.srcProxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/manifests/",
			Action: registrytest.FaultStatus, Status: http.StatusNotFound, Body: body})
		_, err := c.engine.Plan(t.Context(), c.spec())
		if registry.Classify(err) != registry.NotFound || len(err.Error()) > 4096 {
			t.Fatalf("err (%d bytes) = %.500v", len(err.Error()), err)
		}
	})

	t.Run("too many index entries", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		entries := make([]v1.Descriptor, MaxIndexEntries+1)
		for i := range entries {
			entries[i] = env.children[0]
		}
		registrytest.PushRaw(t, env.src.Ref(relSourceRepo+":wide"), types.OCIImageIndex,
			registrytest.MarshalIndex(t, types.OCIImageIndex, entries))
		spec := c.spec()
		spec.Source = c.srcProxy.Ref(relSourceRepo + ":wide")
		_, err := c.engine.Plan(t.Context(), spec)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("lists %d entries", MaxIndexEntries+1)) {
			t.Fatalf("err = %v", err)
		}
		if n := c.srcProxy.Count(http.MethodGet, registrytest.KindManifest); n != 1 {
			t.Fatalf("%d manifest GETs, want 1 (the index only)", n)
		}
	})

	t.Run("nesting too deep", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		desc := v1.Descriptor{MediaType: types.OCIImageIndex, Digest: v1.Hash{Algorithm: "sha256", Hex: env.indexDigest[7:]}, Size: int64(len(env.index))}
		for depth := 2; depth <= MaxNestingDepth+1; depth++ {
			desc = registrytest.PushRaw(t, env.src.Ref(relSourceRepo), types.OCIImageIndex,
				registrytest.MarshalIndex(t, types.OCIImageIndex, []v1.Descriptor{desc}))
		}
		spec := c.spec()
		spec.Source = c.srcProxy.Ref(relSourceRepo + "@" + desc.Digest.String())
		_, err := c.engine.Plan(t.Context(), spec)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("nested deeper than %d levels", MaxNestingDepth)) {
			t.Fatalf("err = %v", err)
		}
	})

	// --- Verification: bytes that do not match their digest. ---

	for _, action := range []struct {
		name  string
		fault registrytest.Fault
	}{
		{"altered", registrytest.Fault{Action: registrytest.FaultCorrupt, Offset: 10}},
		{"short", registrytest.Fault{Action: registrytest.FaultTruncate, Offset: 100}},
		{"long", registrytest.Fault{Action: registrytest.FaultExtend, Body: "  "}},
	} {
		t.Run(action.name+" source blob", func(t *testing.T) {
			t.Parallel()
			c := env.newCase(t, caseOptions{retries: 0})
			p := c.plan(t, c.spec())
			blob := env.blobs[0].Digest.String()
			f := action.fault
			f.Method, f.Path = http.MethodGet, digestPath("blobs", blob)
			c.srcProxy.AddFault(f)
			_, err := c.engine.Apply(t.Context(), p)
			if err == nil || !strings.Contains(err.Error(), blob) {
				t.Fatalf("err = %v", err)
			}
			if n := c.dstProxy.Count(http.MethodPut, registrytest.KindManifest); n != 0 {
				t.Fatalf("%d manifests pushed after a bad blob", n)
			}
			if blobAt(t, env.dst, c.repo, blob) {
				t.Fatal("the target holds the blob")
			}
			c.nothingVisible(t)
		})
		for _, target := range []string{"child", "tag", "pinned index"} {
			t.Run(action.name+" source manifest ("+target+")", func(t *testing.T) {
				t.Parallel()
				c := env.newCase(t, caseOptions{retries: 0})
				spec := c.spec()
				f := action.fault
				f.Method = http.MethodGet
				switch target {
				case "child":
					f.Path = digestPath("manifests", env.children[1].Digest.String())
				case "tag":
					f.Path = "/manifests/" + relTag + "$"
				case "pinned index":
					f.Path = digestPath("manifests", env.indexDigest)
					spec.SourceDigest = env.indexDigest
				}
				c.srcProxy.AddFault(f)
				_, err := c.engine.Plan(t.Context(), spec)
				if err == nil || !strings.Contains(err.Error(), "digest") {
					t.Fatalf("err = %v", err)
				}
				if n := len(c.dstProxy.Counts()); n != 0 {
					t.Fatalf("the target was contacted: %v", c.dstProxy.Counts())
				}
			})
		}
	}

	for _, put := range []string{"index", "tag"} {
		t.Run("target answers the "+put+" PUT with another digest", func(t *testing.T) {
			t.Parallel()
			c := env.newCase(t, fast)
			p := c.plan(t, c.spec())
			path := digestPath("manifests", env.indexDigest)
			if put == "tag" {
				path = "/manifests/" + relTag + "$"
			}
			other := "sha256:" + strings.Repeat("0", 64)
			c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: path,
				Action: registrytest.FaultHeader, Header: map[string]string{"Docker-Content-Digest": other}})
			_, err := c.engine.Apply(t.Context(), p)
			var mismatch *registry.ManifestDigestError
			if !errors.As(err, &mismatch) || mismatch.Header != other {
				t.Fatalf("err = %v, want a ManifestDigestError", err)
			}
			// The registry stored the index (only the answer was rewritten); the tag is not written.
			if put == "index" && registrytest.Exists(t, env.dst.Ref(c.repo+":"+relTag)) {
				t.Fatal("the tag was written after the index PUT answered another digest")
			}
		})
	}

	// --- Failed index pushes. ---

	t.Run("index PUT always failing", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, caseOptions{retries: 2, maxSleep: 10 * time.Millisecond})
		p := c.plan(t, c.spec())
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: digestPath("manifests", env.indexDigest),
			Action: registrytest.FaultStatus, Status: http.StatusInternalServerError})
		_, err := c.engine.Apply(t.Context(), p)
		if registry.Classify(err) != registry.Unavailable || !strings.Contains(err.Error(), env.indexDigest) {
			t.Fatalf("err = %v", err)
		}
		c.nothingVisible(t)
		c.dstProxy.ClearFaults()
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatalf("Apply after the faults stopped: %v", err)
		}
		c.mirrored(t, p)
	})

	blobUnknown := func(digest string) string {
		return fmt.Sprintf(`{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":%q}]}`, digest)
	}
	// seedChildren copies every child of the index to the case's repository, so that Apply finds
	// them there and pushes only the index and the tag.
	seedChildren := func(t *testing.T, c *relCase) {
		t.Helper()
		for _, child := range env.children {
			spec := Spec{Source: c.srcProxy.Ref(relSourceRepo + "@" + child.Digest.String()), Target: c.dstProxy.Ref(c.repo)}
			if _, err := c.engine.Apply(t.Context(), c.plan(t, spec)); err != nil {
				t.Fatal(err)
			}
		}
		c.dstProxy.Reset()
	}

	t.Run("child reported present but missing at index PUT", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		seedChildren(t, c)
		p := c.plan(t, c.spec())
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: digestPath("manifests", env.indexDigest), Times: 1,
			Action: registrytest.FaultStatus, Status: http.StatusBadRequest, Body: blobUnknown(env.children[1].Digest.String())})
		if _, err := c.engine.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		// The children once each (again), the index twice, the tag.
		if n, want := c.dstProxy.Count(http.MethodPut, registrytest.KindManifest), len(env.children)+3; n != want {
			t.Fatalf("%d manifest PUTs, want %d", n, want)
		}
		c.mirrored(t, p)
	})

	t.Run("child deleted while the index is pushed", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		seedChildren(t, c)
		p := c.plan(t, c.spec())
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: digestPath("manifests", env.indexDigest), Times: 1,
			Action: registrytest.FaultDelay, Delay: 3 * time.Second}) // room for the Delete below on a loaded machine
		done := make(chan error, 1)
		go func() {
			_, err := c.engine.Apply(t.Context(), p)
			done <- err
		}()
		for deadline := time.Now().Add(5 * time.Second); c.dstProxy.Count(http.MethodPut, registrytest.KindManifest) == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the index was never pushed")
			}
			time.Sleep(2 * time.Millisecond)
		}
		// While the proxy holds the index push.
		registrytest.Delete(t, env.dst.Ref(c.repo+"@"+env.children[1].Digest.String()))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c.mirrored(t, p)
	})

	t.Run("child missing at index PUT, repair once only", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		seedChildren(t, c)
		p := c.plan(t, c.spec())
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodPut, Path: digestPath("manifests", env.indexDigest),
			Action: registrytest.FaultStatus, Status: http.StatusBadRequest, Body: blobUnknown(env.children[1].Digest.String())})
		_, err := c.engine.Apply(t.Context(), p)
		if err == nil || !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
			t.Fatalf("err = %v", err)
		}
		if n, want := c.dstProxy.Count(http.MethodPut, registrytest.KindManifest), len(env.children)+2; n != want {
			t.Fatalf("%d manifest PUTs, want %d", n, want)
		}
		c.nothingVisible(t)
	})

	t.Run("sparse index refused, no repair", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, fast)
		spec := c.spec()
		spec.Platforms = []string{"linux/amd64"}
		p := c.plan(t, spec)
		_, err := c.engine.Apply(t.Context(), p)
		var sparse *SparseIndexRejectedError
		if !errors.As(err, &sparse) || !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
			t.Fatalf("err = %v", err)
		}
		// The amd64 image, its attestation, the index once.
		if n := c.dstProxy.Count(http.MethodPut, registrytest.KindManifest); n != 3 {
			t.Fatalf("%d manifest PUTs, want 3", n)
		}
		c.nothingVisible(t)
	})

	// --- Two applies racing on one tag. ---

	t.Run("two applies racing on one tag", func(t *testing.T) {
		t.Parallel()
		c := env.newCase(t, caseOptions{retries: 0, jobs: 4})
		a := c.plan(t, c.spec())
		specB := c.spec()
		specB.Platforms, specB.IndexMode = []string{"linux/amd64"}, ModeFilter
		b := c.plan(t, specB)
		if a.Digest == b.Digest || a.Ref() == b.Ref() || a.Tag != b.Tag {
			t.Fatalf("plans %s and %s", a.Ref(), b.Ref())
		}
		for _, p := range []*Plan{a, b} {
			if _, err := c.engine.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
		}
		// Reading the tag back comes a little later, so that the other write can come between.
		c.dstProxy.AddFault(registrytest.Fault{Method: http.MethodHead, Path: "/manifests/" + relTag + "$",
			Action: registrytest.FaultDelay, Delay: 20 * time.Millisecond})
		child, childType := registrytest.Fetch(t, env.dst.Ref(c.repo+"@"+env.children[0].Digest.String()))
		const iterations = 15
		conflicts, both := 0, 0
		for i := range iterations {
			// The tag points elsewhere, so both applies write it.
			registrytest.PushRaw(t, env.dst.Ref(c.repo+":"+relTag), childType, child)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for j, p := range []*Plan{a, b} {
				wg.Go(func() {
					<-start
					_, errs[j] = c.engine.Apply(t.Context(), p)
				})
			}
			close(start)
			wg.Wait()
			raw, _ := registrytest.Fetch(t, env.dst.Ref(c.repo+":"+relTag))
			final := sha256Digest(raw)
			var succeeded []string
			for j, p := range []*Plan{a, b} {
				switch {
				case errs[j] == nil:
					succeeded = append(succeeded, p.Digest)
				case strings.Contains(errs[j].Error(), "something else wrote the tag at the same time"):
					conflicts++
				default:
					t.Fatalf("iteration %d: %s: %v", i, p.Ref(), errs[j])
				}
			}
			if len(succeeded) == 0 || !slices.Contains(succeeded, final) {
				t.Fatalf("iteration %d: the tag points at %s; the applies that succeeded: %v", i, final, succeeded)
			}
			if len(succeeded) == 2 {
				both++
			}
		}
		t.Logf("%d iterations: %d applies saw the other's write and failed; %d times both succeeded one after the other", iterations, conflicts, both)
		if conflicts == 0 {
			t.Fatal("the applies never overlapped; the test does not test the race")
		}
	})

}

// anonymousKeychain sends no credentials (the test registries need none), so the tests do not
// depend on the Docker config of the machine.
type anonymousKeychain struct{}

func (anonymousKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}

// blobAt tells whether the repository of reg holds the blob (HEAD at the registry itself).
func blobAt(t *testing.T, reg *registrytest.Registry, repo, digest string) bool {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, reg.URL()+"/v2/"+repo+"/blobs/"+digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := reg.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
