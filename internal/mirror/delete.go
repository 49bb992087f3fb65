package mirror

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/zarf-dev/terraform-provider-zarf/internal/store"
)

// Delete removes what the mirror rec put at target: its tag (an OCI image layout: its index.json
// entry), and the top manifest unless another tag of the target still points at it (another
// mirror of the same image, or someone else's tag); content that nothing else reaches may go with
// it. It deletes by the recorded tag and digest: after drift, the tag may point at what someone
// else pushed. It returns an error wrapping store.ErrUnsupported when the target does not allow
// deletes, and nil when the content is gone already.
func (e *Engine) Delete(ctx context.Context, target string, rec Record) error {
	tgt, err := e.open(target, store.RoleTarget)
	if err != nil {
		return err
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return err
	}
	return tgt.Store.(store.Target).Delete(ctx, rec.Tag, h) //nolint:forcetypeassert // open checks it for a target
}
