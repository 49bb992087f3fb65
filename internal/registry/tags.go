package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const (
	// TagPageSize is the n of the first tag list request: registries answer with at most that
	// many tags per page (distribution caps pages at 1000 however large n is).
	TagPageSize = 1000
	// MaxTagPageBytes bounds one page of a tag list. A page of 1000 tags of 128 characters (the
	// longest tag) is about 130 KiB; registries that ignore n send every tag in one page.
	MaxTagPageBytes = 16 << 20
)

// ListTags lists every tag of repo in the registry's order: GET /v2/<repo>/tags/list?n=1000,
// then the page that each answer's Link header names (rel="next"), until an answer names
// none. It sends one request per page and no manifest request, with the Client's credentials,
// TLS settings and retries; a ping and a token request come first, as for any operation.
//
// It pages on its own rather than with go-containerregistry's remote.List, which refuses the
// second page of a registry served over HTTPS at a loopback or private address or a .local
// host: it takes http for those hosts' scheme, and so rejects the https Link of the next page.
func (c *Client) ListTags(ctx context.Context, repo name.Repository) ([]string, error) {
	auth, err := authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, fmt.Errorf("finding credentials for %s: %w", repo.RegistryStr(), err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, c.transport, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	client := &http.Client{Transport: rt}
	next := &url.URL{
		// The ping decided the scheme; go-containerregistry's transport puts it on every request
		// to the registry.
		Scheme:   repo.Scheme(),
		Host:     repo.RegistryStr(),
		Path:     "/v2/" + repo.RepositoryStr() + "/tags/list",
		RawQuery: fmt.Sprintf("n=%d", TagPageSize),
	}
	var tags []string
	seen := map[string]bool{}
	for next != nil {
		// The scheme may have been rewritten since: a loop is the same page asked for again.
		page := next.Host + next.RequestURI()
		if seen[page] {
			return nil, fmt.Errorf("registry %s lists the tags of %s in pages that loop: its Link header leads back to %s",
				repo.RegistryStr(), repo.RepositoryStr(), next.Redacted())
		}
		seen[page] = true
		var pageTags []string
		if pageTags, next, err = listTagPage(ctx, client, next, repo); err != nil {
			return nil, err
		}
		tags = append(tags, pageTags...)
	}
	return tags, nil
}

// listTagPage reads one page of a tag list, and the URL of the next page (nil for the last).
func listTagPage(ctx context.Context, client *http.Client, u *url.URL, repo name.Repository) ([]string, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxTagPageBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the tag list of %s: %w", repo, err)
	}
	if len(body) > MaxTagPageBytes {
		return nil, nil, fmt.Errorf("GET %s: the registry sent a tag list page over %d bytes (16 MiB); it was not read",
			resp.Request.URL.Redacted(), MaxTagPageBytes)
	}
	var list struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, nil, fmt.Errorf("GET %s: the registry's tag list is not the JSON of the distribution API: %w", resp.Request.URL.Redacted(), err)
	}
	next, err := nextPage(resp, repo)
	return list.Tags, next, err
}

// nextPage is the URL of the Link header whose rel is "next", resolved against the request,
// nil when there is none. It must lead to the same registry: credentials are never sent
// elsewhere.
func nextPage(resp *http.Response, repo name.Repository) (*url.URL, error) {
	for _, header := range resp.Header.Values("Link") {
		for link := range strings.SplitSeq(header, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ">")
			target, isLink := strings.CutPrefix(target, "<")
			if !ok || !isLink || !relNext(params) {
				continue
			}
			u, err := resp.Request.URL.Parse(target)
			if err != nil {
				return nil, fmt.Errorf("registry %s sent a Link header that does not parse (%q): %w", repo.RegistryStr(), link, err)
			}
			if u.Host != repo.RegistryStr() || (u.Scheme != "https" && u.Scheme != "http") {
				return nil, fmt.Errorf("registry %s names the next page of the tags of %s at %s, another place than the registry; "+
					"it was not followed, so that no credentials leave for another host", repo.RegistryStr(), repo.RepositoryStr(), u.Redacted())
			}
			return u, nil
		}
	}
	return nil, nil
}

// relNext reports whether the parameters of a Link (after its <target>) say rel="next".
func relNext(params string) bool {
	for p := range strings.SplitSeq(params, ";") {
		key, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(key), "rel") && strings.EqualFold(strings.Trim(strings.TrimSpace(value), `"`), "next") {
			return true
		}
	}
	return false
}
