package mirror

import (
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxCachedManifestBytes bounds the manifests an Engine keeps; beyond it, the cache starts over.
const maxCachedManifestBytes = 16 << 20

// manifestCache keeps the manifests read from sources by digest for the life of the Engine (a
// provider process). A digest names the same bytes forever, so a manifest read once is not asked
// for again: Terraform plans a new mirror once more while applying, and Create plans it a third
// time, in one process; mirrors of one source to several targets read it once. A manifest is
// taken only from the repository it was read from: another repository whose index lists the
// digest need not hold it. Tags are always asked again.
type manifestCache struct {
	mu    sync.Mutex
	size  int
	known map[string]cachedManifest // repository@digest
}

type cachedManifest struct {
	mediaType types.MediaType
	raw       []byte
}

func (c *manifestCache) get(repository, digest string) (cachedManifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.known[repository+"@"+digest]
	return m, ok
}

// put keeps raw, which nobody changes afterwards (manifests travel unchanged).
func (c *manifestCache) put(repository, digest string, m cachedManifest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil || c.size+len(m.raw) > maxCachedManifestBytes {
		c.known, c.size = map[string]cachedManifest{}, 0
	}
	if _, ok := c.known[repository+"@"+digest]; !ok {
		c.known[repository+"@"+digest] = m
		c.size += len(m.raw)
	}
}
