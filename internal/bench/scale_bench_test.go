package bench

// `make bench-scale` runs BenchmarkScale: N mirrors of a 3-platform index (+2 attestations) in
// one Terraform state, with the real terraform CLI and the provider built from this module,
// against two real distribution registries, each behind a counting proxy (every scenario goes
// through the proxies, the references too, so that the proxies cost both sides the same). For
// each N (ZARF_BENCH_N, a comma-separated list, default 200) it measures:
//
//   - cold apply of the N mirrors into new target repositories, against N crane.Copy of the same
//     sources at Terraform's parallelism (10), alternating which goes first;
//   - a no-op `terraform plan` (refresh and plan, nothing changed), against a plan of N
//     terraform_data resources (what Terraform itself costs per resource), alternating;
//   - a plan after one target tag was overwritten (it must exit 2).
//
// Each is run ZARF_BENCH_ROUNDS times (default 3) and the median is printed, with requests per
// mirror at the source and the target, and the peak resident set (VmHWM) of the provider
// processes that terraform started.

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
	"github.com/zarf-dev/terraform-provider-zarf/internal/terraformtest"
)

const (
	parallelism = 10 // terraform's default -parallelism
	pinnedEvery = 4  // every 4th source is pinned by digest (tag@digest), the others follow a tag
)

// The image behind every mirror: 3 platforms, 2 layers each, and attestations for 2 of them;
// each mirror's layers are its own (no blob is shared between mirrors).
var (
	scalePlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	scaleLayers    = []int64{96 << 10, 24 << 10}
)

// scaleRun is one N: the registries and proxies, the sources, and what was measured.
type scaleRun struct {
	n                  int
	tf                 *terraformtest.CLI
	src, dst           *registrytest.Registry
	srcProxy, dstProxy *registrytest.Proxy
	sources            []string // per mirror, through srcProxy

	rows []scaleRow
}

// scaleRow is one line of the table.
type scaleRow struct {
	scenario string
	samples  []time.Duration
	src, dst requestCounts // of the last round
	conns    int           // connections the proxies accepted in the last round
	peakRSS  int64         // bytes; 0 when no provider ran
	// CPU time of terraform and the providers it started, and of the providers alone, per
	// sample; empty for crane.
	cpu, providerCPU []time.Duration
	ref              string // the scenario of the row it is compared with
}

// requestCounts is what reached one proxy.
type requestCounts map[registrytest.Call]int

func BenchmarkScale(b *testing.B) {
	if testing.Short() {
		b.Skip("runs terraform with hundreds of resources")
	}
	sizes := envInts(b, "ZARF_BENCH_N", []int{200})
	rounds := envInts(b, "ZARF_BENCH_ROUNDS", []int{3})[0]
	tf := terraformtest.New(b)
	var runs []*scaleRun
	for _, n := range sizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			r := &scaleRun{n: n, tf: tf}
			r.setUp(b)
			r.measure(b, rounds)
			runs = append(runs, r)
		})
	}
	printScale(runs, rounds)
}

// setUp starts the registries and proxies and pushes the N sources.
func (r *scaleRun) setUp(b *testing.B) {
	r.src, r.dst = registrytest.Start(b), registrytest.Start(b)
	r.srcProxy, r.dstProxy = registrytest.NewProxy(b, r.src), registrytest.NewProxy(b, r.dst)
	start := time.Now()
	for i := range r.n {
		repo := fmt.Sprintf("catalog/app-%04d", i)
		var images []registrytest.ImageSpec
		for _, p := range scalePlatforms {
			images = append(images, registrytest.ImageSpec{Platform: p, Layers: scaleLayers, Seed: int64(i)})
		}
		entries := registrytest.PushImages(b, r.src.Ref(repo), images, types.OCIManifestSchema1)
		for _, image := range entries[:2] {
			entries = append(entries, registrytest.PushAttestation(b, r.src.Ref(repo), image))
		}
		index := registrytest.PushRaw(b, r.src.Ref(repo+":1.0"), types.OCIImageIndex, registrytest.MarshalIndex(b, types.OCIImageIndex, entries))
		source := r.srcProxy.Ref(repo + ":1.0")
		if i%pinnedEvery == 0 {
			source += "@" + index.Digest.String()
		}
		r.sources = append(r.sources, source)
	}
	b.Logf("pushed %d sources in %s", r.n, time.Since(start).Round(time.Millisecond))
}

// measure runs every scenario rounds times.
func (r *scaleRun) measure(b *testing.B, rounds int) {
	cold := scaleRow{scenario: "cold apply"}
	crane := scaleRow{scenario: fmt.Sprintf("%d crane.Copy at parallelism %d", r.n, parallelism)}
	cold.ref = crane.scenario
	var work string
	for round := range rounds {
		work = r.workspace(b, fmt.Sprintf("round%d", round), r.mirrorsConfig(fmt.Sprintf("r%d", round)))
		ours := func() { r.terraform(b, &cold, work, 0, "apply", "-auto-approve") }
		theirs := func() { r.copyWithCrane(b, &crane, fmt.Sprintf("crane%d", round)) }
		pair(round, ours, theirs)
	}

	noop := scaleRow{scenario: "no-op plan (refresh + plan)"}
	data := scaleRow{scenario: fmt.Sprintf("plan of %d terraform_data", r.n)}
	noop.ref = data.scenario
	dataWork := r.workspace(b, "terraform_data", r.dataConfig())
	r.terraform(b, &scaleRow{}, dataWork, 0, "apply", "-auto-approve")
	for round := range rounds {
		ours := func() { r.terraform(b, &noop, work, 0, "plan", "-detailed-exitcode") }
		theirs := func() { r.terraform(b, &data, dataWork, 0, "plan", "-detailed-exitcode") }
		pair(round, ours, theirs)
	}

	// One target tag now points at another image: the plan proposes to restore it.
	drift := scaleRow{scenario: "plan after one target drifted", ref: data.scenario}
	registrytest.PushImage(b, r.dst.Ref(fmt.Sprintf("r%d/app-0001:1.0", rounds-1)),
		registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{1 << 10}, Seed: -1}, "")
	for range rounds {
		r.terraform(b, &drift, work, 2, "plan", "-detailed-exitcode")
	}
	r.rows = []scaleRow{cold, crane, noop, data, drift}
}

// pair runs ours and theirs, alternating which goes first.
func pair(round int, ours, theirs func()) {
	if round%2 == 1 {
		ours, theirs = theirs, ours
	}
	ours()
	theirs()
}

// workspace writes a Terraform configuration into a new directory.
func (r *scaleRun) workspace(b *testing.B, name, config string) string {
	dir := filepath.Join(b.TempDir(), name)
	terraformtest.WriteFile(b, filepath.Join(dir, "main.tf"), config)
	return dir
}

// mirrorsConfig is the N mirrors into target repositories under prefix, with for_each, as a
// catalogue is written.
func (r *scaleRun) mirrorsConfig(prefix string) string {
	var c strings.Builder
	fmt.Fprintf(&c, "terraform {\n  required_providers {\n    zarf = { source = \"zarf-dev/zarf\" }\n  }\n}\n\n"+
		"provider \"zarf\" {\n  insecure_registries = [%q, %q]\n}\n\nlocals {\n  mirrors = {\n", r.srcProxy.Host, r.dstProxy.Host)
	for i, s := range r.sources {
		fmt.Fprintf(&c, "    %q = { source = %q, target = %q }\n", fmt.Sprintf("app-%04d", i), s, r.dstProxy.Ref(fmt.Sprintf("%s/app-%04d", prefix, i)))
	}
	c.WriteString("  }\n}\n\nresource \"zarf_image_mirror\" \"m\" {\n  for_each = local.mirrors\n  source   = each.value.source\n  target   = each.value.target\n}\n")
	return c.String()
}

// dataConfig is N terraform_data resources with the same for_each.
func (r *scaleRun) dataConfig() string {
	var c strings.Builder
	c.WriteString("locals {\n  items = {\n")
	for i, s := range r.sources {
		fmt.Fprintf(&c, "    %q = %q\n", fmt.Sprintf("app-%04d", i), s)
	}
	c.WriteString("  }\n}\n\nresource \"terraform_data\" \"m\" {\n  for_each = local.items\n  input    = each.value\n}\n")
	return c.String()
}

// terraform runs terraform with args in dir, expects the exit code want, and records into row
// the time, the requests that reached the proxies and the peak RSS of the provider.
func (r *scaleRun) terraform(b *testing.B, row *scaleRow, dir string, want int, args ...string) {
	args = append([]string{args[0], "-input=false", "-no-color"}, args[1:]...) // options before a plan file
	r.srcProxy.Reset()
	r.dstProxy.Reset()
	cmd := r.tf.Command(b.Context(), dir, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runtime.GC()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	stop := watchProviders(cmd.Process.Pid)
	err := cmd.Wait()
	elapsed := time.Since(start)
	usage := stop()
	row.peakRSS = max(row.peakRSS, usage.peakRSS)
	row.cpu = append(row.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	row.providerCPU = append(row.providerCPU, usage.cpu)
	if code := terraformtest.ExitCode(b, err, args); code != want {
		b.Fatalf("terraform %s in %s exited with %d, want %d:\n%s", strings.Join(args, " "), dir, code, want, lastLines(out.String(), 40))
	}
	r.record(row, elapsed)
}

// copyWithCrane copies every source into a repository under prefix with crane.Copy,
// parallelism at a time, each with a transport of its own (as N crane processes would).
func (r *scaleRun) copyWithCrane(b *testing.B, row *scaleRow, prefix string) {
	r.srcProxy.Reset()
	r.dstProxy.Reset()
	var g errgroup.Group
	g.SetLimit(parallelism)
	runtime.GC()
	start := time.Now()
	for i, s := range r.sources {
		g.Go(func() error {
			return crane.Copy(s, r.dstProxy.Ref(fmt.Sprintf("%s/app-%04d:1.0", prefix, i)), crane.Insecure, crane.WithContext(b.Context()))
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	r.record(row, time.Since(start))
}

func (r *scaleRun) record(row *scaleRow, elapsed time.Duration) {
	row.samples = append(row.samples, elapsed)
	row.src, row.dst = r.srcProxy.Counts(), r.dstProxy.Counts()
	row.conns = r.srcProxy.Connections() + r.dstProxy.Connections()
}

// providerUsage is what the provider processes of one terraform run used.
type providerUsage struct {
	peakRSS int64         // the largest VmHWM of one process
	cpu     time.Duration // user and system time, summed over the processes
}

// watchProviders samples, until the returned function is called, the provider processes that
// the process pid starts: their peak resident set (VmHWM) and their CPU time, as last seen
// (a process's last moments before it exits are missed).
func watchProviders(pid int) (stop func() providerUsage) {
	done, stopped := make(chan struct{}), make(chan struct{})
	var usage providerUsage
	go func() {
		defer close(stopped)
		cpu := map[int]time.Duration{}
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			for child, used := range providerChildren(pid) {
				usage.peakRSS = max(usage.peakRSS, statusField(child, "VmHWM"))
				cpu[child] = used
			}
			select {
			case <-done:
				for _, d := range cpu {
					usage.cpu += d
				}
				return
			case <-tick.C:
			}
		}
	}()
	return func() providerUsage {
		close(done)
		<-stopped
		return usage
	}
}

// providerChildren finds the processes whose parent is pid and that run the provider binary,
// with the CPU time each has used so far.
func providerChildren(pid int) map[int]time.Duration {
	entries, _ := os.ReadDir("/proc")
	parent := strconv.Itoa(pid)
	out := map[int]time.Duration{}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: comm is cut at 15 bytes; after it, ppid is field
		// 2, utime 12 and stime 13.
		open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || end < open {
			continue
		}
		comm, fields := string(data[open+1:end]), strings.Fields(string(data[end+1:]))
		if len(fields) < 13 || fields[1] != parent || !strings.HasPrefix(terraformtest.ProviderBinary, comm) {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		out[child] = time.Duration(utime+stime) * time.Second / clockTicks
	}
	return out
}

// statusField reads a "kB" field of /proc/<pid>/status, in bytes; -1 when unavailable.
func statusField(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	return kBField(data, field)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// envInts reads a comma-separated list of positive integers from the environment.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want positive integers separated by commas", name, v)
		}
		out = append(out, n)
	}
	return out
}

// perMirror describes the requests of counts divided by n: the total, then by kind.
func perMirror(counts requestCounts, n int) string {
	total := 0
	byKind := map[string]int{}
	for c, k := range counts {
		total += k
		byKind[c.Method+" "+string(c.Kind)] += k
	}
	if total == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(byKind[k])/float64(n)))
	}
	return fmt.Sprintf("%.2f (%s)", float64(total)/float64(n), strings.Join(parts, ", "))
}

func printScale(runs []*scaleRun, rounds int) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\n%d CPU, %s, %d rounds; N mirrors of a %d-platform index (+2 attestations), %d%% of the sources pinned by digest.\n"+
		"Times are medians; CPU: terraform with the providers it started / the providers alone; connections accepted\n"+
		"and requests per mirror through the counting proxies, in the last round.\n",
		runtime.NumCPU(), runtime.Version(), rounds, len(scalePlatforms), 100/pinnedEvery)
	for _, r := range runs {
		fmt.Fprintf(w, "\nN = %d\nscenario\ttime\tper mirror\tratio\tCPU all/provider\tprovider peak RSS\tconnections\trequests/mirror at source\trequests/mirror at target\n", r.n)
		for _, row := range r.rows {
			m := median(row.samples)
			ratio := "-"
			if ref := r.row(row.ref); ref != nil {
				ratio = fmt.Sprintf("%.2fx %s", float64(m)/float64(median(ref.samples)), ref.scenario)
			}
			rss := "-"
			if row.peakRSS > 0 {
				rss = fmt.Sprintf("%.0f MiB", float64(row.peakRSS)/mib)
			}
			cpu := "-"
			if len(row.cpu) > 0 {
				cpu = fmt.Sprintf("%v / %v", median(row.cpu).Round(10*time.Millisecond), median(row.providerCPU).Round(10*time.Millisecond))
			}
			fmt.Fprintf(w, "%s\t%v\t%v\t%s\t%s\t%s\t%d\t%s\t%s\n", row.scenario, m.Round(10*time.Millisecond),
				(m / time.Duration(r.n)).Round(10*time.Microsecond), ratio, cpu, rss, row.conns, perMirror(row.src, r.n), perMirror(row.dst, r.n))
		}
	}
	if len(runs) > 1 {
		base := runs[0]
		fmt.Fprintf(w, "\nLinearity: time at N against time at N = %d\nscenario", base.n)
		for _, r := range runs[1:] {
			fmt.Fprintf(w, "\tN = %d (%.1fx the mirrors)", r.n, float64(r.n)/float64(base.n))
		}
		fmt.Fprintln(w)
		for i, row := range base.rows {
			fmt.Fprint(w, row.scenario)
			for _, r := range runs[1:] {
				fmt.Fprintf(w, "\t%.2fx", float64(median(r.rows[i].samples))/float64(median(row.samples)))
			}
			fmt.Fprintln(w)
		}
	}
	w.Flush()
}

func (r *scaleRun) row(scenario string) *scaleRow {
	for i := range r.rows {
		if r.rows[i].scenario == scenario {
			return &r.rows[i]
		}
	}
	return nil
}
