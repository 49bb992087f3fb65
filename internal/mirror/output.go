package mirror

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// The output index: the bytes every kept manifest has at the target. In preserve mode they are
// the source's; in filter mode every index is rewritten to list its kept entries only.

// computeOutput decides the bytes of n and of every kept node below it.
func (n *node) computeOutput(mode IndexMode) error {
	for _, c := range n.entries {
		if c.kept {
			if err := c.computeOutput(mode); err != nil {
				return err
			}
		}
	}
	n.out = n.raw
	if n.isIndex && mode == ModeFilter {
		out, err := n.filteredIndex()
		if err != nil {
			return err
		}
		n.out = out
	}
	n.outDigest = store.Digest(n.out).String()
	return nil
}

// filteredIndex is a new index with the kept entries only. Every other field of the index and
// of its entries is kept as the source has it; keys are sorted, so the bytes, and the digest,
// depend only on the source and the selection.
func (n *node) filteredIndex() ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(n.raw, &doc); err != nil {
		return nil, fmt.Errorf("index %s does not parse: %w", n.desc.Digest, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("index %s is not a JSON object", n.desc.Digest)
	}
	var entries []map[string]json.RawMessage
	if _, ok := doc["manifests"]; !ok && len(n.entries) == 0 {
		doc["manifests"] = json.RawMessage("[]") // an empty index may omit the list
	}
	if err := json.Unmarshal(doc["manifests"], &entries); err != nil {
		return nil, fmt.Errorf("index %s: manifests do not parse: %w", n.desc.Digest, err)
	}
	if len(entries) != len(n.entries) {
		return nil, fmt.Errorf("index %s: %d entries parsed, %d expected", n.desc.Digest, len(entries), len(n.entries))
	}
	kept := []map[string]json.RawMessage{}
	for i, c := range n.entries {
		if !c.kept {
			continue
		}
		entry := entries[i]
		if c.isIndex {
			entry["digest"], _ = json.Marshal(c.outDigest)
			entry["size"], _ = json.Marshal(len(c.out))
		}
		kept = append(kept, entry)
	}
	var err error
	if doc["manifests"], err = marshalCanonical(kept); err != nil {
		return nil, err
	}
	out, err := marshalCanonical(doc)
	if err != nil {
		return nil, err
	}
	// Keys that differ only in case ("manifests" and "Manifests", "digest" and "Digest") are one
	// field to Go's decoder but two to the filter: the new index must list what was selected.
	var im v1.IndexManifest
	if err := json.Unmarshal(out, &im); err != nil {
		return nil, fmt.Errorf("index %s: the filtered index does not parse: %w", n.desc.Digest, err)
	}
	i := 0
	for _, c := range n.entries {
		if c.kept {
			if i >= len(im.Manifests) || im.Manifests[i].Digest.String() != c.outDigest {
				return nil, fmt.Errorf("index %s has fields that differ only in case; it cannot be filtered unambiguously", n.desc.Digest)
			}
			i++
		}
	}
	if i != len(im.Manifests) {
		return nil, fmt.Errorf("index %s has fields that differ only in case; it cannot be filtered unambiguously", n.desc.Digest)
	}
	return out, nil
}

func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
