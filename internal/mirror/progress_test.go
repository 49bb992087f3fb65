package mirror

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store/layout"
)

// logLine is one message of the engine's logger.
type logLine struct {
	msg    string
	fields map[string]any
}

// logCapture is an engine Logger that keeps what it is given.
type logCapture struct {
	mu    sync.Mutex
	lines []logLine
}

func (c *logCapture) log(_ context.Context, msg string, fields map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, logLine{msg, fields})
}

func (c *logCapture) starting(prefix string) []logLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logLine
	for _, l := range c.lines {
		if strings.HasPrefix(l.msg, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// humanSize is how sizes and rates read in progress messages: "512.0 MiB", "85.3 MiB/s".
var humanSize = regexp.MustCompile(`^(\d+ B|\d+\.\d [KMGTPE]iB)(/s)?$`)

// readable fails unless every number of fields prints as a person reads it: Terraform logs
// a provider's numbers as floating point, so a byte count must be text ("5.24288151e+08" is what
// a number of bytes becomes).
func readable(t *testing.T, l logLine) {
	t.Helper()
	for k, v := range l.fields {
		switch v := v.(type) {
		case float32, float64:
			t.Errorf("%q: field %s is a floating point number (%v)", l.msg, k, v)
		case int, int64:
			if n := fmt.Sprint(v); len(n) > 6 {
				t.Errorf("%q: field %s is %s, which Terraform's log shows in scientific notation; make it text", l.msg, k, n)
			}
		}
	}
}

// slowBlobSource is a source registry whose one large layer streams in chunks with pauses, as a
// 2 GiB layer over a slow link does, so that progress messages fall in the middle of the blob.
func slowBlobSource(t *testing.T) (reg *testRegistry, source string, layer []byte) {
	t.Helper()
	reg = newTestRegistry(t)
	w := reg.writer(t, "app/big")
	layer = make([]byte, 1<<20)
	_, _ = rand.Read(layer)
	d := w.Blob(layer, types.OCILayer)
	img := w.HandImage("linux/amd64", false, d)
	w.Raw("v1", img.MediaType, img.Raw)
	reg.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+d.Digest.String()) {
			return false
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(layer)))
		w.Header().Set("Docker-Content-Digest", d.Digest.String())
		const chunks = 16
		for i := range chunks {
			_, _ = w.Write(layer[i*len(layer)/chunks : (i+1)*len(layer)/chunks])
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond)
		}
		return true
	})
	return reg, w.String() + ":v1", layer
}

// TestApplyLogsReadableProgress: while blobs are copied, the engine logs every progressEvery how
// much is done, of how much, and at what rate, also in the middle of one large blob; at the end a
// summary. Sizes and rates read as "1.0 MiB" and "85.3 MiB/s", never as scientific notation.
func TestApplyLogsReadableProgress(t *testing.T) {
	for name, target := range map[string]func(t *testing.T) (string, *testRegistry){
		"registry": func(t *testing.T) (string, *testRegistry) {
			dst := newTestRegistry(t)
			return dst.host + "/mirror/big", dst
		},
		"layout": func(t *testing.T) (string, *testRegistry) {
			return layout.Prefix + filepath.Join(t.TempDir(), "images"), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, source, layer := slowBlobSource(t)
			dst, dstReg := target(t)
			regs := []*testRegistry{src}
			if dstReg != nil {
				regs = append(regs, dstReg)
			}
			logs := &logCapture{}
			e := New(WithScheme(testClient(t, regs...)), WithLogger(logs.log))
			e.progressEvery = 100 * time.Millisecond
			p, err := e.Plan(t.Context(), Spec{Source: source, Target: dst, Attestations: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Apply(t.Context(), p); err != nil {
				t.Fatal(err)
			}

			progress := logs.starting("copying ")
			if len(progress) < 2 {
				t.Fatalf("%d progress messages during a copy of 640 ms or more, want one every 100 ms: %v", len(progress), logs.lines)
			}
			blobs := p.blobs() // config, a layer of its own, the large layer
			if len(blobs) != 3 {
				t.Fatalf("the image has %d blobs, want 3", len(blobs))
			}
			total := HumanBytes(sizeOf(blobs))
			// The small blobs (config, a layer of 200 bytes) take no time: the large one is in
			// progress while done is neither nothing, nor only the small ones, nor everything.
			smallOnly := HumanBytes(sizeOf(blobs) - int64(len(layer)))
			midBlob := false
			for _, l := range progress {
				t.Logf("%s %v", l.msg, l.fields)
				readable(t, l)
				for _, k := range []string{"done", "total", "rate"} {
					if s, _ := l.fields[k].(string); !humanSize.MatchString(s) {
						t.Errorf("%q: %s = %v, want a size like 512.0 MiB", l.msg, k, l.fields[k])
					}
				}
				if l.fields["total"] != total {
					t.Errorf("%q: total %v, want %s", l.msg, l.fields["total"], total)
				}
				if done := l.fields["done"]; done != "0 B" && done != smallOnly && done != total {
					midBlob = true
				}
				if !strings.Contains(l.msg, fmt.Sprintf("of %s", total)) || !strings.Contains(l.msg, "/s") {
					t.Errorf("progress message %q does not say how much of what, at what rate", l.msg)
				}
			}
			if !midBlob {
				t.Error("no progress message in the middle of the large blob")
			}
			summary := logs.starting("mirror complete")
			if len(summary) != 1 {
				t.Fatalf("%d summaries, want 1", len(summary))
			}
			t.Logf("%s %v", summary[0].msg, summary[0].fields)
			readable(t, summary[0])
			mustMatch := regexp.MustCompile(`^mirror complete: \S+: ` + regexp.QuoteMeta(total) + ` in 3 blobs; copied ` +
				regexp.QuoteMeta(total) + ` \(3 blobs\) in \d+(\.\d+)?m?s at (\d+ B|\d+\.\d [KMG]iB)/s`)
			if !mustMatch.MatchString(summary[0].msg) {
				t.Errorf("summary %q does not match %s", summary[0].msg, mustMatch)
			}
			for _, k := range []string{"size", "copied", "rate"} {
				if s, _ := summary[0].fields[k].(string); !humanSize.MatchString(s) {
					t.Errorf("summary: %s = %v, want a size like 512.0 MiB", k, summary[0].fields[k])
				}
			}
		})
	}
}
