package scratchdbg

import (
	"os"
	"runtime/pprof"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func TestNoopProf(t *testing.T) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	var images []registrytest.ImageSpec
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/386", "linux/arm/v7", "linux/arm/v6", "linux/s390x", "linux/ppc64le", "linux/riscv64"} {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: []int64{1000, 2000, 3000}})
	}
	registrytest.PushIndex(t, src.Ref("app:1"), registrytest.IndexSpec{Images: images})
	if err := crane.Copy(src.Ref("app:1"), dst.Ref("m/app:1"), crane.Insecure); err != nil {
		t.Fatal(err)
	}
	pf, _ := os.Create("/tmp/prof-noop.out")
	pprof.StartCPUProfile(pf)
	for range 200 {
		c, _ := registry.New(registry.Config{InsecureRegistries: []string{src.Host, dst.Host}, Jobs: 4})
		e := mirror.New(mirror.WithClient(c), mirror.WithJobs(4))
		p, err := e.Plan(t.Context(), mirror.Spec{Source: src.Ref("app:1"), Target: dst.Ref("m/app")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	pprof.StopCPUProfile()
	pf.Close()
}
