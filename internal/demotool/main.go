// Command demotool prepares and inspects the local registries of `make demo`: it finds free
// ports, pushes a multi-platform index whose bytes were written by hand (so only a byte-exact
// copy keeps its digest), overwrites a tag to simulate drift, and reads digests.
package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
		ref, err := name.ParseReference(args[1], name.Insecure)
		if err != nil {
			return err
		}
		img, err := image("linux/amd64", 1<<20)
		if err != nil {
			return err
		}
		return remote.Write(ref, img)
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

// pushIndex pushes one small image per platform and an index over them, written by hand with
// a key order and spacing no registry client would produce.
func pushIndex(s string) (string, error) {
	tag, err := name.NewTag(s, name.Insecure)
	if err != nil {
		return "", err
	}
	var entries []string
	for i, p := range platforms {
		img, err := image(p, int64(2+i)<<20)
		if err != nil {
			return "", err
		}
		d, err := img.Digest()
		if err != nil {
			return "", err
		}
		if err := remote.Write(tag.Context().Digest(d.String()), img); err != nil {
			return "", err
		}
		raw, _ := img.RawManifest()
		parts := strings.Split(p, "/")
		variant := ""
		if len(parts) == 3 {
			variant = fmt.Sprintf(`, "variant": %q`, parts[2])
		}
		entries = append(entries, fmt.Sprintf(`    { "digest": %q, "size": %d, "platform": { "architecture": %q, "os": %q%s }, "mediaType": "application/vnd.oci.image.manifest.v1+json" }`,
			d, len(raw), parts[1], parts[0], variant))
	}
	index := fmt.Sprintf("{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n%s\n  ],\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n  \"annotations\": { \"org.opencontainers.image.description\": \"zarf demo\" }\n}\n",
		strings.Join(entries, ",\n"))
	if err := remote.Put(tag, rawIndex(index)); err != nil {
		return "", err
	}
	h, _, err := v1.SHA256(strings.NewReader(index))
	return h.String(), err
}

// image is an OCI image for platform with one random layer of the given size.
func image(platform string, size int64) (v1.Image, error) {
	layer, err := random.Layer(size, types.OCILayer)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config.Labels = map[string]string{"demo.nonce": fmt.Sprint(rand.Int64())}
	return mutate.ConfigFile(img, cfg)
}

type rawIndex string

func (r rawIndex) RawManifest() ([]byte, error)        { return []byte(r), nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }
