package registry

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// TestBlobDownloadsShareOneBudget: Jobs bounds the blob downloads in flight across every
// operation of a Client, whatever the repository, so that concurrent mirrors of one provider
// process share it instead of each opening Jobs streams.
func TestBlobDownloadsShareOneBudget(t *testing.T) {
	const jobs, readers = 3, 20
	var (
		mu             sync.Mutex
		inFlight, peak int
	)
	reg := newPlainRegistry(t, withIntercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			inFlight++
			peak = max(peak, inFlight)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // long enough for the others to pile up
			mu.Lock()
			inFlight--
			mu.Unlock()
		}
		return false
	}))
	c := newClient(t, Config{InsecureRegistries: []string{reg.host()}, Jobs: jobs})
	var digests []string
	for i := range readers {
		if err := pushAndHead(t, c, fmt.Sprintf("%s/repo-%d:v1", reg.host(), i)); err != nil {
			t.Fatal(err)
		}
		ref, _ := c.ParseReference(fmt.Sprintf("%s/repo-%d:v1", reg.host(), i))
		img, err := remote.Image(ref, c.RemoteOptions(t.Context())...)
		if err != nil {
			t.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		d, err := layers[0].Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, fmt.Sprintf("%s/repo-%d@%s", reg.host(), i, d))
	}
	mu.Lock()
	peak = 0
	mu.Unlock()

	var g errgroup.Group
	for _, d := range digests {
		g.Go(func() error {
			ref, err := c.ParseReference(d)
			if err != nil {
				return err
			}
			l, err := remote.Layer(ref.Context().Digest(ref.Identifier()), c.RemoteOptions(t.Context())...)
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak != jobs {
		t.Errorf("%d blob downloads were in flight at once across %d repositories, want Jobs = %d", peak, readers, jobs)
	}
}
