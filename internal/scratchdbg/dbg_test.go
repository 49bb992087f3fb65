package scratchdbg

import (
	"fmt"
	"sort"
	"testing"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func dump(name string, p *registrytest.Proxy) {
	c := p.Counts()
	var keys []string
	for k, v := range c {
		keys = append(keys, fmt.Sprintf("%s %s=%d", k.Method, k.Kind, v))
	}
	sort.Strings(keys)
	fmt.Println(name, keys)
	p.Reset()
}

func TestDbg(t *testing.T) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	var images []registrytest.ImageSpec
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/386"} {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: []int64{1000, 2000, 3000}})
	}
	registrytest.PushIndex(t, src.Ref("app:1"), registrytest.IndexSpec{Images: images})
	sp, dp := registrytest.NewProxy(t, src), registrytest.NewProxy(t, dst)
	c, err := registry.New(registry.Config{InsecureRegistries: []string{sp.Host, dp.Host}})
	if err != nil {
		t.Fatal(err)
	}
	e := mirror.New(mirror.WithClient(c))
	for i := range 3 {
		p, err := e.Plan(t.Context(), mirror.Spec{Source: sp.Ref("app:1"), Target: dp.Ref("m/app")})
		if err != nil {
			t.Fatal(err)
		}
		dump(fmt.Sprint("plan", i, "src"), sp)
		dump(fmt.Sprint("plan", i, "dst"), dp)
		st, err := e.Apply(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%+v\n", st)
		dump(fmt.Sprint("apply", i, "src"), sp)
		dump(fmt.Sprint("apply", i, "dst"), dp)
	}
}
