package provider

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/zarf-dev/terraform-provider-zarf/internal/mirror"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registry"
	"github.com/zarf-dev/terraform-provider-zarf/internal/registrytest"
)

func TestScratchErrors(t *testing.T) {
	src := registrytest.Start(t)
	auth := registrytest.Start(t, registrytest.WithBasicAuth("u", "p"))
	registrytest.PushIndex(t, src.Ref("app/web:1.0"), registrytest.IndexSpec{Images: testImages[:2]})
	c, err := registry.New(registry.Config{InsecureRegistries: []string{src.Host, auth.Host}, Keychain: authn.NewMultiKeychain()})
	if err != nil {
		t.Fatal(err)
	}
	r := &imageMirrorResource{engine: mirror.New(mirror.WithClient(c))}
	ctx := context.Background()
	for _, s := range []string{src.Ref("app/web:nope"), src.Ref("app/none:1"), auth.Ref("app/web:1.0")} {
		_, _, err := r.planRecord(ctx, mirror.Spec{Source: s, Target: src.Ref("x/y"), Attestations: true}, nil)
		t.Logf("GET: %v", err)
		_, _, err = r.planRecord(ctx, mirror.Spec{Source: s, Target: src.Ref("x/y"), Attestations: true}, &mirrorRecord{Selection: selection{IndexMode: mirror.ModePreserve, Attestations: true}})
		t.Logf("HEAD: %v", err)
	}
}
