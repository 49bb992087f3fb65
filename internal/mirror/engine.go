package mirror

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Engine inspects, copies, checks and deletes mirrors. One Engine serves every resource of a
// provider instance, so connections and tokens are shared across them.
type Engine struct {
	client Client
	jobs   int
	log    Logger
	xfer   transfers // shared by the copies of every resource (blobcopy.go)

	progressEvery time.Duration // between two progress messages of a copy (progress.go)

	// noReferrersAPI holds the registries that showed they lack the referrers API, so later
	// lookups, of any resource, read the fallback tag directly (referrers.go).
	noReferrersAPI sync.Map // registry host → struct{}

	// claims are what this Engine's mirrors planned and wrote, and the locks that keep copies
	// and destroys in one repository apart (claims.go).
	claims claims

	// targetChecks keeps the outcome of CheckTarget per target repository (target_check.go).
	targetChecks sync.Map // repository key → *targetCheck
}

// Logger receives progress messages (the provider forwards them to tflog at INFO). Sizes and
// rates in fields are text, as Terraform's log would show numbers in scientific notation.
type Logger func(ctx context.Context, msg string, fields map[string]any)

// Option configures an Engine.
type Option func(*Engine)

// WithClient sets how registries are reached. The default is go-containerregistry's own
// behaviour (HTTPS, with its plain-HTTP fallback for localhost and private addresses; anonymous
// access): enough for tests, while the provider always passes internal/registry's client.
func WithClient(c Client) Option { return func(e *Engine) { e.client = c } }

// WithJobs bounds the concurrent transfers of one operation.
func WithJobs(n int) Option {
	return func(e *Engine) {
		if n > 0 {
			e.jobs = n
		}
	}
}

// WithLogger sets the progress logger.
func WithLogger(l Logger) Option { return func(e *Engine) { e.log = l } }

// DefaultJobs is the concurrency used when no WithJobs option is given.
const DefaultJobs = 4

// New returns an Engine.
func New(opts ...Option) *Engine {
	e := &Engine{client: defaultClient{}, jobs: DefaultJobs, log: func(context.Context, string, map[string]any) {}, progressEvery: defaultProgressEvery}
	for _, o := range opts {
		o(e)
	}
	return e
}

func (e *Engine) remote(ctx context.Context) []remote.Option {
	return append(e.client.RemoteOptions(ctx), remote.WithContext(ctx), remote.WithJobs(e.jobs))
}

type defaultClient struct{}

func (defaultClient) ParseReference(s string) (name.Reference, error) { return name.ParseReference(s) }
func (defaultClient) RemoteOptions(context.Context) []remote.Option   { return nil }
func (defaultClient) Explain(err error, _ string) error               { return err }
func (defaultClient) ListTags(ctx context.Context, repo name.Repository) ([]string, error) {
	return remote.List(repo, remote.WithContext(ctx))
}

// explain wraps a registry error about ref with what it means: "<action> <ref>: <explained>".
func (e *Engine) explain(action string, ref fmt.Stringer, err error) error {
	return fmt.Errorf("%s %s: %w", action, ref, e.client.Explain(err, ref.String()))
}
