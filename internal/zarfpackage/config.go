package zarfpackage

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindPackageConfig is the kind of zarf.yaml this reader accepts.
const KindPackageConfig = "ZarfPackageConfig"

// The apiVersions of zarf.yaml documents the reader understands. A zarf.yaml without an
// apiVersion is a v1alpha1 document.
const (
	apiVersionV1Alpha1 = "zarf.dev/v1alpha1"
	apiVersionV1Beta1  = "zarf.dev/v1beta1"
)

// Config is what the mirror needs from zarf.yaml.
type Config struct {
	// APIVersion is the apiVersion of the document read: zarf.dev/v1alpha1 or zarf.dev/v1beta1.
	APIVersion string
	// Name, Version and Architecture are the package's (metadata.architecture, else
	// build.architecture).
	Name, Version, Architecture string
	// Components are the package's components, in order.
	Components []Component
	// AggregateChecksum is the sha256 (hex) of checksums.txt that zarf.yaml states.
	AggregateChecksum string
	// Signed says whether the package says it is signed (build.signed); nil when zarf.yaml does
	// not say (packages built before Zarf recorded it).
	Signed *bool
	// ProvenanceFiles are files of a signed package that checksums.txt does not cover.
	ProvenanceFiles []string
}

// Component is a component of a package.
type Component struct {
	Name string
	// Images are the original references of the component's images, as zarf.yaml lists them:
	// images first, then those of its image archives.
	Images []string
}

// Images lists the images of every component, in component order, each once.
func (c Config) Images() []string {
	images := []string{}
	for _, comp := range c.Components {
		for _, img := range comp.Images {
			if !slices.Contains(images, img) {
				images = append(images, img)
			}
		}
	}
	return images
}

// v1alpha1Package is the part of a v1alpha1 zarf.yaml document the reader uses
// (zarf-dev/zarf src/api/v1alpha1/package.go, component.go).
type v1alpha1Package struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name              string `yaml:"name"`
		Version           string `yaml:"version"`
		Architecture      string `yaml:"architecture"`
		AggregateChecksum string `yaml:"aggregateChecksum"`
	} `yaml:"metadata"`
	Build      buildData `yaml:"build"`
	Components []struct {
		Name          string         `yaml:"name"`
		Images        []string       `yaml:"images"`
		ImageArchives []imageArchive `yaml:"imageArchives"`
	} `yaml:"components"`
}

// v1beta1Package is the part of a v1beta1 zarf.yaml document the reader uses
// (zarf-dev/zarf src/api/v1beta1/package.go, component.go).
type v1beta1Package struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name         string `yaml:"name"`
		Version      string `yaml:"version"`
		Architecture string `yaml:"architecture"`
	} `yaml:"metadata"`
	Build struct {
		buildData         `yaml:",inline"`
		AggregateChecksum string `yaml:"aggregateChecksum"`
	} `yaml:"build"`
	Components []struct {
		Name   string `yaml:"name"`
		Images []struct {
			Name string `yaml:"name"`
		} `yaml:"images"`
		ImageArchives []imageArchive `yaml:"imageArchives"`
	} `yaml:"components"`
}

type buildData struct {
	Architecture    string   `yaml:"architecture"`
	Signed          *bool    `yaml:"signed"`
	ProvenanceFiles []string `yaml:"provenanceFiles"`
}

type imageArchive struct {
	Images []string `yaml:"images"`
}

// ParseConfig reads zarf.yaml: its v1alpha1 document (the one Zarf reads), else its v1beta1
// document. It must be a ZarfPackageConfig.
func ParseConfig(raw []byte) (Config, error) {
	docs, err := documentsByAPIVersion(raw)
	if err != nil {
		return Config{}, err
	}
	var kind string
	var cfg Config
	switch {
	case docs[apiVersionV1Alpha1] != nil:
		kind, cfg, err = decodeV1Alpha1(docs[apiVersionV1Alpha1])
	case docs[apiVersionV1Beta1] != nil:
		kind, cfg, err = decodeV1Beta1(docs[apiVersionV1Beta1])
	default:
		found := make([]string, 0, len(docs))
		for v := range docs {
			found = append(found, fmt.Sprintf("%q", v))
		}
		slices.Sort(found)
		return Config{}, fmt.Errorf("zarf.yaml has no document of an apiVersion this provider reads (%s or %s), only %s",
			apiVersionV1Alpha1, apiVersionV1Beta1, strings.Join(found, ", "))
	}
	if err != nil {
		return Config{}, err
	}
	if kind != KindPackageConfig {
		return Config{}, fmt.Errorf("zarf.yaml is of kind %q, not %s: only Zarf packages are read", kind, KindPackageConfig)
	}
	return cfg, nil
}

// documentsByAPIVersion splits zarf.yaml into its documents, by apiVersion ("" counts as
// v1alpha1). An apiVersion may appear once.
func documentsByAPIVersion(raw []byte) (map[string]*yaml.Node, error) {
	docs := map[string]*yaml.Node{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("zarf.yaml is not valid YAML: %w", err)
		}
		var probe struct {
			APIVersion string `yaml:"apiVersion"`
		}
		if err := doc.Decode(&probe); err != nil {
			return nil, fmt.Errorf("zarf.yaml document %d: %w", i+1, err)
		}
		version := probe.APIVersion
		if version == "" {
			version = apiVersionV1Alpha1
		}
		if docs[version] != nil {
			return nil, fmt.Errorf("zarf.yaml holds two documents of apiVersion %s", version)
		}
		docs[version] = &doc
	}
	if len(docs) == 0 {
		return nil, errors.New("zarf.yaml is empty")
	}
	return docs, nil
}

func decodeV1Alpha1(doc *yaml.Node) (string, Config, error) {
	var p v1alpha1Package
	if err := doc.Decode(&p); err != nil {
		return "", Config{}, fmt.Errorf("zarf.yaml (%s): %w", apiVersionV1Alpha1, err)
	}
	cfg := Config{
		APIVersion:        apiVersionV1Alpha1,
		Name:              p.Metadata.Name,
		Version:           p.Metadata.Version,
		Architecture:      cmp.Or(p.Metadata.Architecture, p.Build.Architecture),
		AggregateChecksum: p.Metadata.AggregateChecksum,
		Signed:            p.Build.Signed,
		ProvenanceFiles:   p.Build.ProvenanceFiles,
	}
	for _, c := range p.Components {
		cfg.Components = append(cfg.Components, Component{Name: c.Name, Images: withArchives(slices.Clone(c.Images), c.ImageArchives)})
	}
	return p.Kind, cfg, nil
}

func decodeV1Beta1(doc *yaml.Node) (string, Config, error) {
	var p v1beta1Package
	if err := doc.Decode(&p); err != nil {
		return "", Config{}, fmt.Errorf("zarf.yaml (%s): %w", apiVersionV1Beta1, err)
	}
	cfg := Config{
		APIVersion:        apiVersionV1Beta1,
		Name:              p.Metadata.Name,
		Version:           p.Metadata.Version,
		Architecture:      cmp.Or(p.Metadata.Architecture, p.Build.Architecture),
		AggregateChecksum: p.Build.AggregateChecksum,
		Signed:            p.Build.Signed,
		ProvenanceFiles:   p.Build.ProvenanceFiles,
	}
	for _, c := range p.Components {
		var images []string
		for _, img := range c.Images {
			images = append(images, img.Name)
		}
		cfg.Components = append(cfg.Components, Component{Name: c.Name, Images: withArchives(images, c.ImageArchives)})
	}
	return p.Kind, cfg, nil
}

func withArchives(images []string, archives []imageArchive) []string {
	for _, a := range archives {
		images = append(images, a.Images...)
	}
	return images
}
