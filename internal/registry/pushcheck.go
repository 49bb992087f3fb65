package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CheckPush asks the registry of repo whether it would take a push there, without writing
// anything: it pings the registry (so it must answer, over verified TLS, or over plain HTTP
// only when listed in insecure_registries), obtains what a push would send (a token with push
// scope for repo where the registry uses token authentication), and sends one authenticated
// request, which wrong basic-authentication credentials fail. The error is explained (see
// Explain).
func (c *Client) CheckPush(ctx context.Context, repo name.Repository) error {
	repo, err := c.ParseRepository(repo.Name()) // insecure_registries decides the scheme
	if err != nil {
		return err
	}
	auth, err := c.keychain.ResolveContext(ctx, repo.Registry)
	if err != nil {
		return fmt.Errorf("finding credentials for %s: %w", repo.RegistryStr(), err)
	}
	authorised, err := transport.NewWithContext(ctx, repo.Registry, auth, c.transport, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return c.explainPush(ctx, err, repo)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", repo.Scheme(), repo.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: authorised}).Do(req)
	if err != nil {
		return c.explainPush(ctx, err, repo)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return c.explainPush(ctx, err, repo)
	}
	return nil
}

func (c *Client) explainPush(ctx context.Context, err error, repo name.Repository) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.Explain(err, repo.Name())
}

// CheckPush asks the registry whether it would take a push into the repository (see
// Client.CheckPush).
func (r *Repository) CheckPush(ctx context.Context) error { return r.c.CheckPush(ctx, r.repo) }
