package mirror_test

// What verification costs in requests: a plan with verify blocks against one without, on a
// distribution registry (no referrers API) behind a counting proxy.

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify"
	"github.com/zarf-dev/terraform-provider-zarf/internal/verify/verifytest"
)

// TestVerifyPlanRequests: verifying a source signed in cosign's .sig form adds to a plan, at the
// source, five requests: the .sig and .att tags, the referrers (the API, then the fallback
// tag) and the signed payload; it asks nothing of the target.
// A plan of an unchanged mirror under the same blocks adds nothing (Replan keeps the record).
func TestVerifyPlanRequests(t *testing.T) {
	f := newRequestsFixture(t)
	c, err := registry.New(registry.Config{InsecureRegistries: f.hosts})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(f.src.Ref("app/web"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	key := verifytest.NewKey(t, verifytest.ECDSAP256)
	top, err := c.Repository(repo).Resolve(t.Context(), "1.0")
	if err != nil {
		t.Fatal(err)
	}
	verifytest.WriteSignature(t, c.Repository(repo), top.Digest, key, verifytest.Options{})

	e := f.engine(t)
	plain := mirror.Spec{Source: f.index, Target: f.dstP.Ref("mirror/web")}
	verified := plain
	verified.Verify = []verify.Block{{PublicKeys: []string{key.PublicKeyPEM(t)}}}
	count := func(spec mirror.Spec, prior *mirror.Record) (map[registrytest.Call]int, mirror.Record) {
		t.Helper()
		f.reset()
		rec, _, err := e.Replan(t.Context(), spec, prior)
		if err != nil {
			t.Fatal(err)
		}
		if n := f.dstP.Counts(); len(n) != 0 {
			t.Errorf("planning asked the target %v", n)
		}
		return f.srcP.Counts(), rec
	}
	count(plain, nil) // the client's first request pings the registry
	without, _ := count(plain, nil)
	with, rec := count(verified, nil)
	added := map[registrytest.Call]int{}
	for call, n := range with {
		if d := n - without[call]; d != 0 {
			added[call] = d
		}
	}
	t.Logf("a new mirror's plan: %d requests to the source without verify %s, %d with %s; verification adds %s",
		total(without), describe(without), total(with), describe(with), describe(added))
	want := map[registrytest.Call]int{
		{Method: "GET", Kind: registrytest.KindManifest}:  3, // the .sig and .att tags, the fallback tag
		{Method: "GET", Kind: registrytest.KindReferrers}: 1, // the referrers API (404 here)
		{Method: "GET", Kind: registrytest.KindBlob}:      1, // the signed payload
	}
	if !maps.Equal(added, want) {
		t.Errorf("verification adds %s, want %s", describe(added), describe(want))
	}

	again, _ := count(verified, &rec)
	if total(again) != 1 || again[registrytest.Call{Method: "HEAD", Kind: registrytest.KindManifest}] != 1 {
		t.Errorf("an unchanged verified mirror's plan asked the source %s, want one HEAD", describe(again))
	}
}

func total(m map[registrytest.Call]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func describe(m map[registrytest.Call]int) string {
	var parts []string
	for _, call := range slices.SortedFunc(maps.Keys(m), func(a, b registrytest.Call) int {
		return strings.Compare(a.Method+string(a.Kind), b.Method+string(b.Kind))
	}) {
		parts = append(parts, fmt.Sprintf("%s %s: %d", call.Method, call.Kind, m[call]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
