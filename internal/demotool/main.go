// Command demotool prepares and inspects the local registries of `make demo`: it finds free
// ports, pushes a multi-platform index whose bytes were written by hand (so only a byte-exact
// copy keeps its digest) with the test content generator (internal/registrytest), overwrites a
// tag to simulate drift, and reads digests.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

const usage = `usage: demotool port | wait <host:port> | push-index <repo:tag> | push-image <repo:tag> | digest <ref>`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demotool:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", usage)
	}
	switch {
	case args[0] == "port" && len(args) == 1:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		_, port, err := net.SplitHostPort(l.Addr().String())
		fmt.Println(port)
		return err
	case args[0] == "wait" && len(args) == 2:
		return waitForRegistry(args[1], 10*time.Second)
	case args[0] == "push-index" && len(args) == 2:
		d, err := pushIndex(args[1])
		if err == nil {
			fmt.Println(d)
		}
		return err
	case args[0] == "push-image" && len(args) == 2:
		return pushImage(args[1])
	case args[0] == "digest" && len(args) == 2:
		ref, err := name.ParseReference(args[1], name.Insecure)
		if err != nil {
			return err
		}
		d, err := remote.Head(ref)
		if err != nil {
			return err
		}
		fmt.Println(d.Digest)
		return nil
	}
	return fmt.Errorf("%s", usage)
}

// waitForRegistry polls http://host/v2/ until the registry answers 200.
func waitForRegistry(host string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry %s did not answer within %s", host, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var platforms = []string{"linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/riscv64"}

// writerFor splits repo:tag and returns a writer into the repository.
func writerFor(s string) (*registrytest.Writer, string, error) {
	tag, err := name.NewTag(s, name.Insecure)
	if err != nil {
		return nil, "", err
	}
	w, err := registrytest.AtRegistry(context.Background(), tag.Context().Name())
	return w, tag.TagStr(), err
}

// pushIndex pushes one small image per platform (with content of this run only) and an index
// over them, written by hand with a key order and spacing no registry client would produce.
func pushIndex(s string) (string, error) {
	w, tag, err := writerFor(s)
	if err != nil {
		return "", err
	}
	seed := rand.Int64()
	var entries []registrytest.Entry
	for i, p := range platforms {
		d := w.Image("", registrytest.ImageSpec{Platform: p, Layers: []int64{int64(2+i) << 20}, Seed: seed}, types.OCIManifestSchema1)
		entries = append(entries, registrytest.Entry{MediaType: d.MediaType, Digest: d.Digest.String(), Size: int(d.Size), Platform: p})
	}
	d := w.Raw(tag, types.OCIImageIndex, registrytest.HandIndex(types.OCIImageIndex, entries...))
	return d.Digest.String(), w.Err()
}

// pushImage pushes one linux/amd64 image of 1 MiB (with content of this run only) under a tag.
func pushImage(s string) error {
	w, tag, err := writerFor(s)
	if err != nil {
		return err
	}
	w.Image(tag, registrytest.ImageSpec{Platform: "linux/amd64", Layers: []int64{1 << 20}, Seed: rand.Int64()}, types.OCIManifestSchema1)
	return w.Err()
}
