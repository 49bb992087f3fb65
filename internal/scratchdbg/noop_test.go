package scratchdbg

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func med(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }

func TestNoop(t *testing.T) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	var images []registrytest.ImageSpec
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/386", "linux/arm/v7", "linux/arm/v6", "linux/s390x", "linux/ppc64le", "linux/riscv64"} {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: []int64{1000, 2000, 3000}})
	}
	registrytest.PushIndex(t, src.Ref("app:1"), registrytest.IndexSpec{Images: images})
	if err := crane.Copy(src.Ref("app:1"), dst.Ref("m/app:1"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	for _, jobs := range []int{4, 8, 16} {
		var plan, apply, cr, newc []time.Duration
		for range 30 {
			t0 := time.Now()
			c, _ := registry.New(registry.Config{InsecureRegistries: []string{src.Host, dst.Host}, Jobs: jobs})
			e := mirror.New(mirror.WithClient(c), mirror.WithJobs(jobs))
			t1 := time.Now()
			p, err := e.Plan(t.Context(), mirror.Spec{Source: src.Ref("app:1"), Target: dst.Ref("m/app")})
			if err != nil {
				t.Fatal(err)
			}
			t2 := time.Now()
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			t3 := time.Now()
			if err := crane.Copy(src.Ref("app:1"), dst.Ref("m/app:1"), crane.Insecure); err != nil {
				t.Fatal(err)
			}
			t4 := time.Now()
			newc = append(newc, t1.Sub(t0))
			plan = append(plan, t2.Sub(t1))
			apply = append(apply, t3.Sub(t2))
			cr = append(cr, t4.Sub(t3))
		}
		fmt.Println("jobs", jobs, "new", med(newc), "plan", med(plan), "apply", med(apply), "crane", med(cr))
	}
}
