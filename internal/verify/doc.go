// Package verify checks that an image is signed before it is copied: it finds the signatures and
// attestations that cosign and other Sigstore clients store next to an image, and verifies them
// offline against a policy of public keys and keyless (Fulcio certificate) identities, with a
// Sigstore trusted root for certificates and transparency-log entries.
//
// Signatures are found in every form cosign writes, for the digest that will be copied:
//
//   - the tag "sha256-<hex>.sig": an image whose layers are simple-signing payloads naming the
//     signed digest, with the signature, certificate, chain and transparency-log bundle in the
//     layers' annotations (cosign 1 and 2);
//   - the tag "sha256-<hex>.att": the same with DSSE envelopes of in-toto statements;
//   - Sigstore bundles (v0.1 to v0.3) stored as OCI 1.1 referrers of the digest (cosign 3).
//
// All three become Sigstore bundles and are verified by sigstore-go, so one code path decides.
// A signature counts only when what it signs names the digest: a simple-signing payload's
// critical.image.docker-manifest-digest, or an in-toto statement's subject.
//
// The package has no Terraform imports: the provider turns its typed errors (*PolicyError,
// *NotVerifiedError) into diagnostics.
package verify
