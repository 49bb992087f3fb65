package registry

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

// tagRepository starts a distribution registry (opts), pushes a small image to repo:base and
// gives it n more tags "1.<i>.0", and returns the registry and every tag, sorted.
func tagRepository(t *testing.T, repo string, n int, opts ...registrytest.Option) (*registrytest.Registry, []string) {
	t.Helper()
	reg := registrytest.Start(t, opts...)
	d := registrytest.PushImage(t, reg.Ref(repo+":base"), registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{64}}, "", reg.RemoteOptions()...)
	tags := make([]string, 0, n+1)
	for i := range n {
		tags = append(tags, fmt.Sprintf("1.%d.0", i))
	}
	reg.WriteTags(t, repo, d.Digest, tags...)
	tags = append(tags, "base")
	slices.Sort(tags)
	return reg, tags
}

func listTags(t *testing.T, c *Client, repository string) ([]string, error) {
	t.Helper()
	repo, err := c.ParseRepository(repository)
	if err != nil {
		t.Fatal(err)
	}
	return c.ListTags(t.Context(), repo)
}

// TestListTagsPages reads a tag list of three pages (the registry serves at most 10 tags a
// page): one GET per page, no manifest request. Over TLS at 127.0.0.1 too, where
// go-containerregistry's remote.List fails on the second page.
func TestListTagsPages(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%t", tls), func(t *testing.T) {
			t.Parallel()
			opts := []registrytest.Option{registrytest.WithMaxTags(10)}
			if tls {
				opts = append(opts, registrytest.WithTLS())
			}
			reg, want := tagRepository(t, "app/pages", 24, opts...)
			proxy := registrytest.NewProxy(t, reg)
			cfg := Config{CAPEM: proxy.CAPEM}
			if !tls {
				cfg.InsecureRegistries = []string{proxy.Host}
			}
			got, err := listTags(t, newClient(t, cfg), proxy.Ref("app/pages"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ListTags = %q, want %q", got, want)
			}
			if n := proxy.Count(http.MethodGet, registrytest.KindTags); n != 3 {
				t.Errorf("%d tag list requests for 25 tags in pages of 10, want 3", n)
			}
			for call, n := range proxy.Counts() {
				if call.Kind != registrytest.KindTags && call.Kind != registrytest.KindOther {
					t.Errorf("ListTags sent %d %s %s requests", n, call.Method, call.Kind)
				}
			}
		})
	}
}

// TestListTagsMoreThanAThousand reads 1,201 tags, from a registry with authentication, with
// distribution's default page size: two pages, the credentials of registry_auth.
func TestListTagsMoreThanAThousand(t *testing.T) {
	t.Parallel()
	reg, want := tagRepository(t, "app/many", 1200, registrytest.WithBasicAuth("ci", "s3cret"))
	proxy := registrytest.NewProxy(t, reg)
	c := newClient(t, Config{
		InsecureRegistries: []string{proxy.Host},
		Credentials:        []Credential{{Address: proxy.Host, Username: "ci", Password: "s3cret"}},
	})
	got, err := listTags(t, c, proxy.Ref("app/many"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListTags returned %d tags, want the %d pushed", len(got), len(want))
	}
	if n := proxy.Count(http.MethodGet, registrytest.KindTags); n != 2 {
		t.Errorf("%d tag list requests for 1,201 tags, want 2 (pages of 1,000)", n)
	}
	if n := proxy.Count(http.MethodGet, registrytest.KindManifest) + proxy.Count(http.MethodHead, registrytest.KindManifest); n != 0 {
		t.Errorf("ListTags sent %d manifest requests", n)
	}

	wrong := newClient(t, Config{
		InsecureRegistries: []string{proxy.Host},
		Credentials:        []Credential{{Address: proxy.Host, Username: "ci", Password: "wrong"}},
	})
	_, err = listTags(t, wrong, proxy.Ref("app/many"))
	if Classify(err) != Unauthorized {
		t.Errorf("ListTags with wrong credentials = %v, want an Unauthorized error", err)
	}
}

// TestListTagsRetries: a page that fails with 503 is asked for again.
func TestListTagsRetries(t *testing.T) {
	t.Parallel()
	reg, want := tagRepository(t, "app/retry", 14, registrytest.WithMaxTags(10))
	proxy := registrytest.NewProxy(t, reg)
	proxy.AddFault(registrytest.Fault{Method: http.MethodGet, Path: "/tags/list", Times: 2, Action: registrytest.FaultStatus})
	c := newClient(t, Config{InsecureRegistries: []string{proxy.Host}, Sleep: (&sleepRecorder{}).Sleep})
	got, err := listTags(t, c, proxy.Ref("app/retry"))
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListTags = %q, %v; want %q", got, err, want)
	}
	if n := proxy.Count(http.MethodGet, registrytest.KindTags); n != 4 {
		t.Errorf("%d tag list requests, want 4 (2 pages, 2 retries)", n)
	}
}

func TestListTagsUnknownRepository(t *testing.T) {
	t.Parallel()
	reg := registrytest.Start(t)
	c := newClient(t, Config{InsecureRegistries: []string{reg.Host}})
	_, err := listTags(t, c, reg.Ref("no/such"))
	if Classify(err) != NotFound {
		t.Fatalf("ListTags of a missing repository = %v, want a NotFound error", err)
	}
	if want := reg.Ref("no/such") + " was not found in registry " + reg.Host; !strings.Contains(c.Explain(err, reg.Ref("no/such")).Error(), want) {
		t.Errorf("Explain = %v, want it to say %q", c.Explain(err, reg.Ref("no/such")), want)
	}
}

// pagedRegistry answers the tag list of every repository with page i (the request's last
// parameter, 0 without) of pages, and the Link header link(host, i) (none when empty), host
// being the registry's.
func pagedRegistry(t *testing.T, pages []string, link func(host string, i int) string) *fakeRegistry {
	t.Helper()
	return newPlainRegistry(t, withIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/tags/list") {
			return false
		}
		i, _ := strconv.Atoi(r.URL.Query().Get("last")) // 0 for the first page
		if l := link(r.Host, i); l != "" {
			w.Header().Set("Link", l)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, pages[min(i, len(pages)-1)])
		return true
	}))
}

func TestListTagsLinks(t *testing.T) {
	t.Parallel()
	other := newPlainRegistry(t)
	for _, c := range []struct {
		name    string
		pages   []string
		link    func(host string, i int) string
		want    []string
		wantErr string
	}{
		{
			name:  "absolute same-host link, other relations ignored, null tags",
			pages: []string{`{"tags":["a","b"]}`, `{"name":"x","tags":null}`, `{"tags":["c"]}`},
			link: func(host string, i int) string {
				if i == 2 {
					return `</v2/x/tags/list?last=0>; rel="prev"`
				}
				return fmt.Sprintf(`</v2/x/tags/list?last=0>; rel="first", <http://%s/v2/x/tags/list?n=2&last=%d>; rel=next`, host, i+1)
			},
			want: []string{"a", "b", "c"},
		},
		{
			name:  "a link to another host is not followed",
			pages: []string{`{"tags":["a"]}`},
			link: func(string, int) string {
				return fmt.Sprintf(`<http://%s/v2/x/tags/list?last=1>; rel="next"`, other.host())
			},
			wantErr: "another place than the registry; it was not followed",
		},
		{
			name:    "pages that loop",
			pages:   []string{`{"tags":["a"]}`, `{"tags":["b"]}`},
			link:    func(_ string, i int) string { return fmt.Sprintf(`</v2/x/tags/list?last=%d>; rel="next"`, (i+1)%2) },
			wantErr: "in pages that loop: its Link header leads back to",
		},
		{
			name:    "not a tag list",
			pages:   []string{`<html>`},
			link:    func(string, int) string { return "" },
			wantErr: "is not the JSON of the distribution API",
		},
		{
			name:    "a page over the limit",
			pages:   []string{`{"tags":["` + strings.Repeat("a", MaxTagPageBytes) + `"]}`},
			link:    func(string, int) string { return "" },
			wantErr: "a tag list page over 16777216 bytes (16 MiB); it was not read",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := pagedRegistry(t, c.pages, c.link)
			client := newClient(t, Config{InsecureRegistries: []string{reg.host(), other.host()}})
			got, err := listTags(t, client, reg.host()+"/x")
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("ListTags = %q, %v; want an error saying %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("ListTags = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if n, _ := other.seen(); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

func TestRelNext(t *testing.T) {
	for params, want := range map[string]bool{
		`; rel="next"`:                  true,
		`; rel=next`:                    true,
		`;rel="Next"; type="a"`:         true,
		`; type="x"; rel = "next"`:      true,
		`; rel="prev"`:                  false,
		`; title="next"`:                false,
		``:                              false,
		`; rel="next-archive"`:          false,
		`; rel=""`:                      false,
		`; relation="next"; rel="last"`: false,
	} {
		if got := relNext(params); got != want {
			t.Errorf("relNext(%q) = %t, want %t", params, got, want)
		}
	}
}
