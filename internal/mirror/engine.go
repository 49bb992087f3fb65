package mirror

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
)

// Engine inspects, copies, checks and deletes mirrors. One Engine serves every resource of a
// provider instance, so what its stores keep between operations (connections, tokens, where
// blobs are) is shared across them.
type Engine struct {
	schemes []store.Scheme // longest prefix first; the registry scheme ("") last
	jobs    int
	log     Logger

	// streams is the Engine's blob transfer budget: at most jobs blobs stream at once across
	// every copy of the Engine, so that the resources Terraform applies concurrently share it
	// instead of each opening jobs streams to one registry (blobcopy.go).
	streams semaphore

	progressEvery time.Duration // between two progress messages of a copy (progress.go)

	// claims are what this Engine's mirrors planned and wrote, and the locks that keep copies
	// and destroys in one repository apart (claims.go).
	claims claims

	// manifests are the manifests read from sources by digest (manifestcache.go).
	manifests manifestCache

	// targetChecks keeps the outcome of CheckTarget per target repository (target_check.go).
	targetChecks sync.Map // repository key → *targetCheck

	// trustedRoot verifies keyless certificates and transparency-log entries (verify.go).
	trustedRoot *verify.TrustedRoot
}

// Logger receives progress messages (the provider forwards them to tflog at INFO). Sizes and
// rates in fields are text, as Terraform's log would show numbers in scientific notation.
type Logger func(ctx context.Context, msg string, fields map[string]any)

// Option configures an Engine.
type Option func(*Engine)

// WithScheme makes references with the scheme's prefix open its stores, in place of the scheme
// of the same prefix. An Engine knows registry references (the default registry.Client: HTTPS
// with verification, Docker config credentials) and OCI image layouts (oci-layout://) without
// options; the provider passes the registry.Client of its configuration, and a new kind of
// store is one more scheme (see ARCHITECTURE.md).
func WithScheme(s store.Scheme) Option {
	return func(e *Engine) {
		e.schemes = slices.DeleteFunc(e.schemes, func(o store.Scheme) bool { return o.Prefix() == s.Prefix() })
		e.schemes = append(e.schemes, s)
		slices.SortStableFunc(e.schemes, func(a, b store.Scheme) int { return len(b.Prefix()) - len(a.Prefix()) })
	}
}

// WithJobs bounds the blobs that stream at once across every operation of the Engine, and the
// concurrent requests of one operation.
func WithJobs(n int) Option {
	return func(e *Engine) {
		if n > 0 {
			e.jobs = n
		}
	}
}

// WithLogger sets the progress logger.
func WithLogger(l Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an Engine.
func New(opts ...Option) *Engine {
	e := &Engine{jobs: registry.DefaultJobs, log: func(context.Context, string, map[string]any) {}, progressEvery: defaultProgressEvery}
	defaults := []Option{WithScheme(layout.Scheme{})}
	if c, err := registry.New(registry.Config{}); err == nil { // the zero Config is valid
		defaults = append(defaults, WithScheme(c))
	}
	for _, o := range append(defaults, opts...) {
		o(e)
	}
	e.streams = make(semaphore, e.jobs)
	return e
}

// open parses a reference for role with the scheme its prefix names.
func (e *Engine) open(ref string, role store.Role) (store.Location, error) {
	bad := func(reason string) (store.Location, error) {
		return store.Location{}, &ReferenceError{Role: role, Value: ref, Reason: reason}
	}
	if ref == "" {
		return bad("it is empty")
	}
	if strings.TrimSpace(ref) != ref {
		return bad("it has leading or trailing white space")
	}
	i := slices.IndexFunc(e.schemes, func(s store.Scheme) bool {
		return strings.HasPrefix(ref, s.Prefix()) && (s.Prefix() != "" || !strings.Contains(ref, "://"))
	})
	if i < 0 {
		return bad(e.schemeAdvice())
	}
	loc, err := e.schemes[i].Open(ref, role)
	if err != nil {
		return bad(err.Error())
	}
	if _, writable := loc.Store.(store.Target); role == store.RoleTarget && !writable {
		return bad(loc.Repository + " can be read from, not written to")
	}
	return loc, nil
}

// schemeAdvice says how references are written, for a reference with an unknown scheme.
func (e *Engine) schemeAdvice() string {
	var registries string
	var others []string
	for _, s := range e.schemes {
		if s.Prefix() == "" {
			registries = s.Syntax()
		} else {
			others = append(others, s.Syntax())
		}
	}
	return "write it without a scheme, as " + registries + ", or with one of these: " + strings.Join(others, "; ")
}
