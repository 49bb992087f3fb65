package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
)

// keychain gives the registry_auth credentials of a host, else what the fallback keychain
// finds. go-containerregistry resolves credentials per registry and attaches them only to
// requests for that registry, so one registry's credentials never reach another host.
type keychain struct {
	auth     map[string]authn.AuthConfig // normalised host → registry_auth
	fallback authn.Keychain
}

func (k *keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), target)
}

func (k *keychain) ResolveContext(ctx context.Context, target authn.Resource) (authn.Authenticator, error) {
	if cfg, ok := k.auth[normaliseHost(target.RegistryStr())]; ok {
		return authn.FromConfig(cfg), nil
	}
	return authn.Resolve(ctx, k.fallback, target)
}

// source says which credentials go to target, without revealing them. The Docker config (and
// its credential helpers) is asked with ctx; with a nil ctx it is not asked.
func (k *keychain) source(ctx context.Context, target authn.Resource) string {
	if _, ok := k.auth[normaliseHost(target.RegistryStr())]; ok {
		return "credentials from registry_auth for " + target.RegistryStr()
	}
	if ctx == nil {
		return "the credentials of the Docker config for " + target.RegistryStr() + ", if it has any"
	}
	if auth, err := authn.Resolve(ctx, k.fallback, target); err == nil && auth == authn.Anonymous {
		return "no credentials (anonymous: neither a registry_auth block nor the Docker config has an entry for " +
			target.RegistryStr() + ")"
	}
	return "credentials from the Docker config"
}
