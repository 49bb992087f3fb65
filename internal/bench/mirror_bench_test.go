package bench

// `make bench` runs BenchmarkMirror: two real distribution registries (source and target), the
// same generated content copied by the engine (Plan + Apply, as the resource's Create does) and
// by crane.Copy, alternating, with the medians of several runs and their ratio ours/crane.
//
// Both sides are cold on every run: a new registry.Client and Engine for ours (a new provider
// process), and crane.Copy with crane.Insecure, which builds a new transport per call. Cold
// copies go to a new target repository on every run, so every blob is uploaded again (the
// registry stores a blob once, but a repository only gets it by upload or mount).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

const (
	mib  = 1 << 20
	jobs = 4 // the provider's default, and crane's
	runs = 7 // measured runs per tool for the cold copies of the index (twice as many for the subset)
)

// The index: 8 platforms, 3 layers each (32 + 12 + 6 MiB), 400 MiB in all.
var (
	platforms  = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/386", "linux/ppc64le", "linux/s390x", "linux/riscv64"}
	layerSizes = []int64{32 * mib, 12 * mib, 6 * mib}
	subset     = []string{"linux/amd64", "linux/arm64"}
)

const bigLayer = 1 << 30 // the single layer of the big image

// row is one line of the summary table.
type row struct {
	scenario     string
	ours, crane  []sample
	warm         []sample // ours with one Engine for every run
	other        []sample // another crane baseline, named otherName
	otherName    string
	cpuRatio     float64 // 0 when the copies are too short to measure CPU time
	paired       float64
	oursNote     string
	craneNote    string
	ratio        float64
	oursMem      string
	craneMem     string
	comparedWith string
}

type fixture struct {
	src, dst *registrytest.Registry
	index    string          // source ref of the 8-platform index
	entries  []v1.Descriptor // its image entries
	hosts    []string        // every registry and proxy host (all plain HTTP)
	seq      atomic.Int64    // for fresh repository names

	mu   sync.Mutex
	rows []row
}

func BenchmarkMirror(b *testing.B) {
	if testing.Short() {
		b.Skip("copies gigabytes")
	}
	f := &fixture{src: registrytest.Start(b), dst: registrytest.Start(b)}
	f.hosts = []string{f.src.Host, f.dst.Host}

	start := time.Now()
	var images []registrytest.ImageSpec
	for _, p := range platforms {
		images = append(images, registrytest.ImageSpec{Platform: p, Layers: layerSizes})
	}
	f.index = f.src.Ref("bench/app:1.0")
	registrytest.PushIndex(b, f.index, registrytest.IndexSpec{Images: images})
	raw, _ := registrytest.Fetch(b, f.index)
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		b.Fatal(err)
	}
	f.entries = idx.Manifests
	b.Logf("generated the 400 MiB index in %s", time.Since(start).Round(time.Millisecond))

	b.Run("cold_index_8x3", f.benchCold)
	b.Run("noop_index_8x3", f.benchNoop)
	b.Run("reapply_unchanged_8x3", f.benchReapply)
	b.Run("filter_2of8_cold", f.benchFilter)
	b.Run("single_1GiB_layer", f.benchBig)
	f.printTable()
}

// benchCold: the 8-platform index into an empty repository, every run.
func (f *fixture) benchCold(b *testing.B) {
	ctx := b.Context()
	r := row{scenario: "cold copy, 8-platform index, 24 layers, 400 MiB", comparedWith: "crane.Copy of the index"}
	var st mirror.Stats
	ours := func() error {
		var err error
		st, err = f.ours(ctx, mirror.Spec{Source: f.index, Target: f.fresh("cold/ours") + ":1.0"})
		return err
	}
	theirs := func() error { return f.crane(ctx, f.index, f.fresh("cold/crane")+":1.0") }
	r.ours, r.crane = alternate(b, 1, runs, ours, theirs)
	r.oursNote = fmt.Sprintf("%d blobs uploaded, %d MiB", st.BlobsUploaded, st.BytesUploaded/mib)
	f.report(b, r)
}

// benchNoop: the index into a repository that already holds it. The copies are timed without
// a proxy; one further run of each goes through counting proxies in front of both registries.
func (f *fixture) benchNoop(b *testing.B) {
	ctx := b.Context()
	target := f.dst.Ref("noop/app:1.0")
	if err := f.crane(ctx, f.index, target); err != nil {
		b.Fatal(err)
	}
	r := row{scenario: "no-op, target already holds the index", comparedWith: "crane.Copy of the index"}
	ours := func() error { _, err := f.ours(ctx, mirror.Spec{Source: f.index, Target: target}); return err }
	theirs := func() error { return f.crane(ctx, f.index, target) }
	r.ours, r.crane = alternate(b, 1, 3*runs, ours, theirs)
	// The later resources of one provider instance share its Engine: no more pings.
	warm := f.engine()
	r.warm, _ = alternate(b, 1, 3*runs, func() error {
		_, err := apply(ctx, warm, mirror.Spec{Source: f.index, Target: target})
		return err
	}, func() error { return nil })

	srcProxy, dstProxy := registrytest.NewProxy(b, f.src), registrytest.NewProxy(b, f.dst)
	f.hosts = append(f.hosts, srcProxy.Host, dstProxy.Host)
	viaSrc := strings.Replace(f.index, f.src.Host, srcProxy.Host, 1)
	viaDst := strings.Replace(target, f.dst.Host, dstProxy.Host, 1)
	var st mirror.Stats
	r.oursNote = countRequests(b, srcProxy, dstProxy, func() error {
		var err error
		st, err = f.ours(ctx, mirror.Spec{Source: viaSrc, Target: viaDst})
		return err
	})
	r.oursNote += fmt.Sprintf("; stats: %d manifests skipped, %d blobs skipped", st.ManifestsSkipped, st.BlobsSkipped)
	r.craneNote = countRequests(b, srcProxy, dstProxy, func() error { return f.crane(ctx, viaSrc, viaDst) })
	f.report(b, r)
}

// benchReapply: what a terraform apply of an unchanged configuration costs the provider. The
// plan re-plans from the record (Engine.Replan: the source resolved with one HEAD, the record
// reused); refresh checks the tag and every copied manifest at the target with HEADs; apply
// itself does not run.
func (f *fixture) benchReapply(b *testing.B) {
	ctx := b.Context()
	target := f.dst.Ref("reapply/app:1.0")
	spec := mirror.Spec{Source: f.index, Target: target}
	p, err := f.engine().Plan(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.engine().Apply(ctx, p); err != nil {
		b.Fatal(err)
	}
	rec := p.Record
	reapply := func(e *mirror.Engine) error {
		if _, inspected, err := e.Replan(ctx, spec, &rec); err != nil || inspected {
			return fmt.Errorf("re-plan from the record: inspected %t, %v", inspected, err)
		}
		d, err := e.Check(ctx, target, rec)
		if err == nil && d.Drifted(rec) {
			err = fmt.Errorf("unexpected drift: %+v", d)
		}
		return err
	}
	r := row{scenario: "terraform re-apply, nothing changed (plan + refresh)", comparedWith: "crane.Copy of the index"}
	r.ours, r.crane = alternate(b, 1, 3*runs, func() error { return reapply(f.engine()) }, func() error { return f.crane(ctx, f.index, target) })
	warm := f.engine()
	r.warm, _ = alternate(b, 1, 3*runs, func() error { return reapply(warm) }, func() error { return nil })
	f.report(b, r)
}

// describeCounts summarises what reached the proxies: uploads and manifest PUTs at the target,
// and the requests at each side.
func describeCounts(src, dst *registrytest.Proxy) string {
	uploads := 0
	for _, m := range []string{"POST", "PATCH", "PUT"} {
		uploads += dst.Count(m, registrytest.KindUpload)
	}
	total := func(p *registrytest.Proxy) int {
		n := 0
		for _, c := range p.Counts() {
			n += c
		}
		return n
	}
	return fmt.Sprintf("%d uploads, %d manifest PUTs, requests: %d source + %d target",
		uploads, dst.Count("PUT", registrytest.KindManifest), total(src), total(dst))
}

// benchFilter: 2 of the 8 platforms, cold. crane cannot filter an index: it copies the two
// platform manifests by digest, both at once.
func (f *fixture) benchFilter(b *testing.B) {
	ctx := b.Context()
	r := row{scenario: "cold copy, 2 of 8 platforms, filter mode, 100 MiB",
		comparedWith: "2 concurrent crane.Copy of the 2 image manifests by digest"}
	var chosen []v1.Descriptor
	for _, e := range f.entries {
		if e.Platform != nil && slices.Contains(subset, e.Platform.String()) {
			chosen = append(chosen, e)
		}
	}
	if len(chosen) != len(subset) {
		b.Fatalf("found %d of the platforms %v", len(chosen), subset)
	}
	repo := strings.TrimSuffix(f.index, ":1.0")
	var st mirror.Stats
	ours := func() error {
		var err error
		st, err = f.ours(ctx, mirror.Spec{Source: f.index, Target: f.fresh("filter/ours") + ":1.0",
			Platforms: subset, IndexMode: mirror.ModeFilter})
		return err
	}
	theirs := func() error {
		dst := f.fresh("filter/crane")
		var g errgroup.Group
		for _, d := range chosen {
			g.Go(func() error { return f.crane(ctx, repo+"@"+d.Digest.String(), dst+"@"+d.Digest.String()) })
		}
		return g.Wait()
	}
	// As a user would script it: one crane copy after the other.
	sequential := func() error {
		dst := f.fresh("filter/crane-seq")
		for _, d := range chosen {
			if err := f.crane(ctx, repo+"@"+d.Digest.String(), dst+"@"+d.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	}
	s := rotate(b, 1, 2*runs, ours, theirs, sequential)
	r.ours, r.crane, r.other = s[0], s[1], s[2]
	r.otherName = "2 crane.Copy one after the other"
	r.oursNote = fmt.Sprintf("%d blobs uploaded, %d MiB, %d manifests pushed", st.BlobsUploaded, st.BytesUploaded/mib, st.ManifestsPushed)

	// One more run of each through counting proxies.
	srcProxy, dstProxy := registrytest.NewProxy(b, f.src), registrytest.NewProxy(b, f.dst)
	f.hosts = append(f.hosts, srcProxy.Host, dstProxy.Host)
	viaSrc := strings.Replace(repo, f.src.Host, srcProxy.Host, 1)
	r.oursNote += "; " + countRequests(b, srcProxy, dstProxy, func() error {
		_, err := f.ours(ctx, mirror.Spec{Source: viaSrc + ":1.0", Target: dstProxy.Ref(fmt.Sprintf("filter/ours-counted-%d:1.0", f.seq.Add(1))),
			Platforms: subset, IndexMode: mirror.ModeFilter})
		return err
	})
	r.craneNote = countRequests(b, srcProxy, dstProxy, func() error {
		dst := dstProxy.Ref(fmt.Sprintf("filter/crane-counted-%d", f.seq.Add(1)))
		var g errgroup.Group
		for _, d := range chosen {
			g.Go(func() error { return f.crane(ctx, viaSrc+"@"+d.Digest.String(), dst+"@"+d.Digest.String()) })
		}
		return g.Wait()
	})
	f.report(b, r)
}

// countRequests runs copyFn once and describes what reached the proxies.
func countRequests(b *testing.B, src, dst *registrytest.Proxy, copyFn func() error) string {
	src.Reset()
	dst.Reset()
	if err := copyFn(); err != nil {
		b.Fatal(err)
	}
	return describeCounts(src, dst)
}

// benchBig: one image with a single 1 GiB layer, cold, with the peak memory growth of the
// process during each copy.
func (f *fixture) benchBig(b *testing.B) {
	ctx := b.Context()
	start := time.Now()
	big := f.src.Ref("bench/big:1.0")
	registrytest.PushImage(b, big, registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{bigLayer}}, "")
	b.Logf("generated the 1 GiB image in %s", time.Since(start).Round(time.Millisecond))
	r := row{scenario: "cold copy, 1 image, one 1 GiB layer", comparedWith: "crane.Copy of the image"}
	var oursPeak, cranePeak memPeak
	ours := func() error {
		m := startMemory()
		_, err := f.ours(ctx, mirror.Spec{Source: big, Target: f.fresh("big/ours") + ":1.0"})
		oursPeak = oursPeak.max(m.stop())
		return err
	}
	theirs := func() error {
		m := startMemory()
		err := f.crane(ctx, big, f.fresh("big/crane")+":1.0")
		cranePeak = cranePeak.max(m.stop())
		return err
	}
	r.ours, r.crane = alternate(b, 0, 5, ours, theirs)
	r.oursMem, r.craneMem = oursPeak.String(), cranePeak.String()
	b.ReportMetric(float64(oursPeak.heap)/mib, "ours-peak-heap-MiB")
	b.ReportMetric(float64(oursPeak.rss)/mib, "ours-peak-rss-MiB")
	b.ReportMetric(float64(cranePeak.heap)/mib, "crane-peak-heap-MiB")
	f.report(b, r)
	if limit := int64(64 * mib); int64(oursPeak.heap) > limit || oursPeak.rss > limit {
		b.Errorf("peak memory growth while copying a 1 GiB layer: %s, more than 64 MiB", oursPeak)
	}
}

// ours copies with a new client and engine, as a new provider process would.
func (f *fixture) ours(ctx context.Context, spec mirror.Spec) (mirror.Stats, error) {
	return apply(ctx, f.engine(), spec)
}

// engine returns an Engine on a new registry.Client, configured as the provider does.
func (f *fixture) engine() *mirror.Engine {
	c, err := registry.New(registry.Config{InsecureRegistries: f.hosts, Jobs: jobs})
	if err != nil {
		panic(err) // the configuration is fixed: a bug
	}
	return mirror.New(mirror.WithScheme(c), mirror.WithJobs(jobs))
}

// apply does what the resource's Create does: plan, then apply.
func apply(ctx context.Context, e *mirror.Engine, spec mirror.Spec) (mirror.Stats, error) {
	p, err := e.Plan(ctx, spec)
	if err != nil {
		return mirror.Stats{}, err
	}
	return e.Apply(ctx, p)
}

// crane copies with a new transport (crane.Insecure builds one per call).
func (f *fixture) crane(ctx context.Context, src, dst string) error {
	return crane.Copy(src, dst, crane.Insecure, crane.WithContext(ctx), crane.WithJobs(jobs))
}

// fresh returns a target repository that no run has used.
func (f *fixture) fresh(prefix string) string {
	return f.dst.Ref(fmt.Sprintf("%s-%d", prefix, f.seq.Add(1)))
}

// alternate runs warmup unmeasured copies of each, then n measured copies of each,
// alternating which goes first, and returns the measurements.
func alternate(b *testing.B, warmup, n int, ours, theirs func() error) (o, t []sample) {
	b.Helper()
	s := rotate(b, warmup, n, ours, theirs)
	return s[0], s[1]
}

// rotate runs warmup unmeasured rounds, then n measured rounds; every round runs each of fns
// once, starting with the next one each round, and returns the measurements of each.
func rotate(b *testing.B, warmup, n int, fns ...func() error) [][]sample {
	b.Helper()
	out := make([][]sample, len(fns))
	for i := range warmup + n {
		for j := range fns {
			k := (i + j) % len(fns)
			runtime.GC()
			cpu0, start := cpuTime(), time.Now()
			if err := fns[k](); err != nil {
				b.Fatal(err)
			}
			if i >= warmup {
				out[k] = append(out[k], sample{wall: time.Since(start), cpu: cpuTime() - cpu0})
			}
		}
	}
	return out
}

// sample is one measured copy: the wall time, and the CPU time of this process and of the
// registry processes (its children) together.
type sample struct{ wall, cpu time.Duration }

func walls(s []sample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.wall
	}
	return out
}

func cpus(s []sample) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, x := range s {
		out[i] = x.cpu
	}
	return out
}

// cpuTime is the CPU time (user and system) used so far by this process and its children
// that are still running (the registries), read from /proc (Linux; 0 elsewhere).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	self := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields 4, 14 and 15, counted after the comm.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 13 || f[1] != self {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / clockTicks
	}
	return total
}

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat: 100 on Linux.
const clockTicks = 100

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (f *fixture) report(b *testing.B, r row) {
	om, cm := median(walls(r.ours)), median(walls(r.crane))
	r.ratio = float64(om) / float64(cm)
	r.paired = pairedRatio(r.ours, r.crane)
	b.ReportMetric(r.ratio, "ours/crane")
	b.ReportMetric(r.paired, "paired-ours/crane")
	if om >= minCPUWall {
		r.cpuRatio = float64(median(cpus(r.ours))) / float64(median(cpus(r.crane)))
		b.ReportMetric(r.cpuRatio, "cpu-ours/crane")
	}
	b.ReportMetric(om.Seconds(), "ours-median-s")
	b.ReportMetric(cm.Seconds(), "crane-median-s")
	b.Logf("%s: ours %v (median %v, CPU %v), crane %v (median %v, CPU %v), ratio %.3f, CPU ratio %.3f", r.scenario,
		round(walls(r.ours)), om, median(cpus(r.ours)), round(walls(r.crane)), cm, median(cpus(r.crane)), r.ratio, r.cpuRatio)
	if r.warm != nil {
		b.ReportMetric(float64(median(walls(r.warm)))/float64(cm), "warm-ours/crane")
		b.Logf("  ours with a warm engine: %v (median %v)", round(walls(r.warm)), median(walls(r.warm)))
	}
	if r.other != nil {
		b.ReportMetric(float64(om)/float64(median(walls(r.other))), "ours/crane-other")
		b.Logf("  %s: %v (median %v)", r.otherName, round(walls(r.other)), median(walls(r.other)))
	}
	if r.oursNote != "" {
		b.Logf("  ours: %s", r.oursNote)
	}
	if r.craneNote != "" {
		b.Logf("  crane: %s", r.craneNote)
	}
	f.mu.Lock()
	f.rows = append(f.rows, r)
	f.mu.Unlock()
}

// minCPUWall is the shortest copy whose CPU time is reported: the CPU times of the registry
// processes count in ticks of 10 ms.
const minCPUWall = 200 * time.Millisecond

// pairedRatio is the median of the ratios of the runs of the same round, which a slow moment of
// the machine affects less than the ratio of the medians.
func pairedRatio(ours, theirs []sample) float64 {
	var ratios []float64
	for i := range min(len(ours), len(theirs)) {
		ratios = append(ratios, float64(ours[i].wall)/float64(theirs[i].wall))
	}
	slices.Sort(ratios)
	switch n := len(ratios); {
	case n == 0:
		return 0
	case n%2 == 1:
		return ratios[n/2]
	default:
		return (ratios[n/2-1] + ratios[n/2]) / 2
	}
}

func round(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func (f *fixture) printTable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\n%d CPU, %s, jobs=%d. ours/crane: ratio of the median times; paired: median of the ratios\n"+
		"of the runs of each round; CPU: CPU time of this process and both registries.\n", runtime.NumCPU(), runtime.Version(), jobs)
	fmt.Fprintln(w, "scenario\tours\tcrane\tours/crane\tpaired\tCPU ours/crane\truns\tcompared with")
	for _, r := range f.rows {
		cpu := "-"
		if r.cpuRatio > 0 {
			cpu = fmt.Sprintf("%.2f", r.cpuRatio)
		}
		fmt.Fprintf(w, "%s\t%v\t%v\t%.2f\t%.2f\t%s\t%d+%d\t%s\n", r.scenario, median(walls(r.ours)).Round(100*time.Microsecond),
			median(walls(r.crane)).Round(100*time.Microsecond), r.ratio, r.paired, cpu, len(r.ours), len(r.crane), r.comparedWith)
	}
	for _, r := range f.rows {
		if r.oursNote != "" || r.craneNote != "" || r.oursMem != "" || r.warm != nil || r.other != nil {
			fmt.Fprintf(w, "%s:\n", r.scenario)
		}
		if r.other != nil {
			fmt.Fprintf(w, "  compared with %s instead: %v, ratio %.2f\n", r.otherName,
				median(walls(r.other)).Round(100*time.Microsecond), float64(median(walls(r.ours)))/float64(median(walls(r.other))))
		}
		if r.warm != nil {
			fmt.Fprintf(w, "  ours with a warm engine (later resources of one provider instance): %v, ratio %.2f\n",
				median(walls(r.warm)).Round(100*time.Microsecond), float64(median(walls(r.warm)))/float64(median(walls(r.crane))))
		}
		if r.oursNote != "" {
			fmt.Fprintf(w, "  ours: %s\n", r.oursNote)
		}
		if r.craneNote != "" {
			fmt.Fprintf(w, "  crane: %s\n", r.craneNote)
		}
		if r.oursMem != "" {
			fmt.Fprintf(w, "  peak memory growth: ours %s; crane %s\n", r.oursMem, r.craneMem)
		}
	}
	w.Flush()
}

// memPeak is the peak growth of the Go heap in use (sampled) and of the resident set (VmHWM).
type memPeak struct {
	heap uint64
	rss  int64
}

func (m memPeak) max(o memPeak) memPeak {
	return memPeak{heap: max(m.heap, o.heap), rss: max(m.rss, o.rss)}
}

func (m memPeak) String() string {
	return fmt.Sprintf("heap in use +%.1f MiB, RSS +%.1f MiB", float64(m.heap)/mib, float64(m.rss)/mib)
}

type memSampler struct {
	baseHeap uint64
	baseRSS  int64
	peak     atomic.Uint64
	done     chan struct{}
	stopped  chan struct{}
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

// heapInUse is runtime.MemStats.HeapInuse without stopping the world.
func heapInUse() uint64 {
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	var sum uint64
	for _, s := range samples {
		sum += s.Value.Uint64()
	}
	return sum
}

// startMemory collects garbage, resets the peak resident set size of the process (Linux:
// writing 5 to /proc/self/clear_refs) and samples the heap every 5 ms until stop.
func startMemory() *memSampler {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	m := &memSampler{baseHeap: heapInUse(), baseRSS: procStatus("VmRSS"), done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				if h := heapInUse(); h > m.peak.Load() {
					m.peak.Store(h)
				}
			}
		}
	}()
	return m
}

func (m *memSampler) stop() memPeak {
	close(m.done)
	<-m.stopped
	var p memPeak
	if peak := m.peak.Load(); peak > m.baseHeap {
		p.heap = peak - m.baseHeap
	}
	if hwm := procStatus("VmHWM"); hwm > 0 && m.baseRSS > 0 {
		p.rss = max(hwm-m.baseRSS, 0)
	}
	return p
}

// procStatus reads a "kB" field of /proc/self/status, in bytes; -1 when unavailable.
func procStatus(field string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	return kBField(data, field)
}

// kBField reads a "kB" field of a /proc/<pid>/status file, in bytes; -1 when it is missing.
func kBField(status []byte, field string) int64 {
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}
