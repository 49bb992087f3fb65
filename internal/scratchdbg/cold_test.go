package scratchdbg

import (
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestCold(t *testing.T) {
	src, dst := registrytest.Start(t), registrytest.Start(t)
	var images []registrytest.ImageSpec
	for _, p := range []string{"linux/amd64", "linux/arm64", "linux/386", "linux/arm/v7"} {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: []int64{32 << 20, 12 << 20, 6 << 20}})
	}
	registrytest.PushIndex(t, src.Ref("app:1"), registrytest.IndexSpec{Images: images})
	n := 0
	ours := func() {
		n++
		c, _ := registry.New(registry.Config{InsecureRegistries: []string{src.Host, dst.Host}, Jobs: 4})
		e := mirror.New(mirror.WithClient(c), mirror.WithJobs(4))
		p, err := e.Plan(t.Context(), mirror.Spec{Source: src.Ref("app:1"), Target: dst.Ref(fmt.Sprintf("o%d/app", n))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Apply(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	theirs := func() {
		n++
		if err := crane.Copy(src.Ref("app:1"), dst.Ref(fmt.Sprintf("c%d/app:1", n)), crane.Insecure); err != nil {
			t.Fatal(err)
		}
	}
	ours()
	theirs()
	for _, w := range []struct {
		name string
		f    func()
	}{{"ours", ours}, {"crane", theirs}, {"ours", ours}, {"crane", theirs}} {
		pf, _ := os.Create("/tmp/prof-" + w.name + ".out")
		pprof.StartCPUProfile(pf)
		c0, t0 := cpu(), time.Now()
		for range 3 {
			w.f()
		}
		pprof.StopCPUProfile()
		pf.Close()
		fmt.Println(w.name, "cpu", (cpu()-c0)/3, "wall", time.Since(t0)/3)
	}
}
