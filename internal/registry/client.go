package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Client holds what every registry operation of a provider instance shares: one HTTP
// transport (connection pools, kept alive), each registry's answer to the API version check
// (one GET /v2/ per registry, see pingCache), and one go-containerregistry Puller and Pusher,
// which keep a token per repository and scope, so that nothing is asked twice. It also
// remembers, for the whole process, which repository of a registry holds which blob (to mount it
// into the next one instead of uploading it again) and which registries lack the referrers API.
// Its repositories are store.Targets (see Repository), and it is the store.Scheme of registry
// references (see Open).
//
// Requests pass, from the outside in, through go-containerregistry's authentication and its
// retry wrapper, then through the kept API version checks, then through this package's retry
// transport, then through its manifest checks (size bounds, Docker-Content-Digest; see
// manifestGuard), then through the per-host policy (plain HTTP guard, TLS settings). This
// package does all per-request retrying: go-containerregistry's transport retry is turned off
// (no status codes, and a predicate that refuses everything it could see), so retries are
// never multiplied. The one retry left to go-containerregistry is its restart of a whole blob
// or manifest upload, which it runs only when this package could not repeat a request (a PATCH
// of blob data); it then makes up to MaxRetries+1 attempts, waiting 1 to 2 seconds between
// them with a sleep that does not watch the context, so a cancelled upload returns within one
// such wait.
//
// A Client is safe for concurrent use.
type Client struct {
	insecure  map[string]bool
	keychain  *keychain
	transport http.RoundTripper // what go-containerregistry's options carry; ListTags uses it directly
	options   []remote.Option
	puller    *remote.Puller
	pusher    *remote.Pusher
	jobs      int
	log       Logger

	mounts         mounts   // blob locations per registry, for cross-repository mounts
	noReferrersAPI sync.Map // registry host → struct{}: read the fallback tag directly
}

// Logger receives what a Client does on its own initiative, such as uploading a blob when a
// mount failed (the provider forwards it to tflog at INFO).
type Logger func(ctx context.Context, msg string, fields map[string]any)

// New validates cfg (see Config.Validate) and returns a Client.
func New(cfg Config) (*Client, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	c := &Client{
		insecure:  s.insecure,
		keychain:  &keychain{auth: s.auth, fallback: s.keychain},
		transport: newTransport(s, cfg.Transport),
		jobs:      s.jobs,
		log:       cfg.Logger,
	}
	if c.log == nil {
		c.log = func(context.Context, string, map[string]any) {}
	}
	opts := []remote.Option{
		remote.WithTransport(c.transport),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithJobs(s.jobs),
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(restartUpload),
		remote.WithRetryBackoff(remote.Backoff{Duration: time.Second, Jitter: 1, Steps: s.maxRetries + 1}),
	}
	if c.puller, err = remote.NewPuller(opts...); err != nil {
		return nil, fmt.Errorf("configuring registry access: %w", err)
	}
	if c.pusher, err = remote.NewPusher(opts...); err != nil {
		return nil, fmt.Errorf("configuring registry access: %w", err)
	}
	c.options = append(opts, remote.Reuse(c.puller), remote.Reuse(c.pusher))
	return c, nil
}

// restartUpload is the retry predicate given to go-containerregistry. Its transport retry asks
// it about the errors of the retry transport, which has already retried what it could; its
// upload loop asks it about the failure of a whole blob or manifest upload. It answers yes
// only for a retryable failure of a request that could not be repeated.
func restartUpload(err error) bool {
	var re *RetryError
	return errors.As(err, &re) && !re.replayable
}

// RemoteOptions returns the go-containerregistry options for remote.Get, Head, Put,
// WriteLayer, Layer, Delete and friends, bound to ctx. They carry the Client's Puller and
// Pusher (remote.Reuse), which take precedence over transport, keychain and jobs options
// appended later; options such as remote.WithPlatform or remote.WithProgress still apply.
func (c *Client) RemoteOptions(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, c.options...)
}

// ParseReference parses an image reference as Docker does ("nginx" is
// index.docker.io/library/nginx:latest). Hosts listed in insecure_registries get
// name.Insecure, which lets go-containerregistry try plain HTTP; for other hosts plain HTTP is
// refused at the transport even where go-containerregistry would try it (localhost, private
// addresses).
func (c *Client) ParseReference(s string) (name.Reference, error) {
	if err := checkNoScheme(s); err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	if !c.insecure[normaliseHost(ref.Context().RegistryStr())] {
		return ref, nil
	}
	return name.ParseReference(s, name.Insecure)
}

// ParseRepository parses a repository (no tag or digest) as Docker does, with the same
// insecure_registries handling as ParseReference.
func (c *Client) ParseRepository(s string) (name.Repository, error) {
	if err := checkNoScheme(s); err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, err)
	}
	repo, err := name.NewRepository(s)
	if err != nil {
		return name.Repository{}, fmt.Errorf("invalid repository %q: %w", s, err)
	}
	if !c.insecure[normaliseHost(repo.RegistryStr())] {
		return repo, nil
	}
	return name.NewRepository(s, name.Insecure)
}

func checkNoScheme(s string) error {
	if strings.Contains(s, "://") {
		return errors.New("registry references have no scheme; write host/repository[:tag][@digest]")
	}
	return nil
}

// newTransport is the HTTP transport that the Client hands to go-containerregistry: the kept
// registry checks (see pingCache) around retries around the manifest checks (see
// manifestGuard) around the per-host policy.
func newTransport(s *settings, base http.RoundTripper) http.RoundTripper {
	return newPingCache(&retryTransport{inner: manifestGuard{inner: newHostPolicy(s, base)}, maxRetries: s.maxRetries, sleep: s.sleep})
}
