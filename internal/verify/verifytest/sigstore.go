package verifytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"testing"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/pki"
	rekortypes "github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
)

// Sigstore is a Sigstore instance of a test's own: a Fulcio certificate authority, a Rekor
// log, a timestamp authority and a CT log, with fresh keys (sigstore-go's virtual Sigstore).
// Its certificates are valid for ten minutes from when they are made.
type Sigstore struct {
	vs *ca.VirtualSigstore
}

// NewSigstore starts a virtual Sigstore.
func NewSigstore(tb testing.TB) *Sigstore {
	tb.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		tb.Fatal(err)
	}
	return &Sigstore{vs: vs}
}

// TrustedRootJSON is the instance's trusted_root.json, what the provider's
// sigstore_trusted_root is set to. It lists no CT log: the virtual Fulcio's certificates carry
// no SCT, and a root with CT logs requires one (see TrustedRootJSONWithCTLog).
func (s *Sigstore) TrustedRootJSON(tb testing.TB) []byte {
	tb.Helper()
	return s.trustedRootJSON(tb, nil)
}

// TrustedRootJSONWithCTLog is the trusted root with the instance's CT log, as Sigstore's
// public-good root lists its CT logs: keyless certificates must then carry an SCT.
func (s *Sigstore) TrustedRootJSONWithCTLog(tb testing.TB) []byte {
	tb.Helper()
	return s.trustedRootJSON(tb, withRawLogIDs(tb, s.vs.CTLogs()))
}

func (s *Sigstore) trustedRootJSON(tb testing.TB, ctLogs map[string]*root.TransparencyLog) []byte {
	tb.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(),
		ctLogs, s.vs.TimestampingAuthorities(), withRawLogIDs(tb, s.vs.RekorLogs()))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := tr.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// withRawLogIDs gives each log the ID a trusted root records (the SHA-256 of its key, as
// bytes): the virtual Sigstore keeps the hex text instead, which only its in-memory lookups
// accept.
func withRawLogIDs(tb testing.TB, logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	tb.Helper()
	out := make(map[string]*root.TransparencyLog, len(logs))
	for id, l := range logs {
		raw, err := hex.DecodeString(id)
		if err != nil {
			tb.Fatal(err)
		}
		fixed := *l
		fixed.ID = raw
		out[id] = &fixed
	}
	return out
}

// Keyless returns a signer with a fresh Fulcio certificate for subject (an e-mail address in
// the certificate's subject alternative name) from issuer, valid from now for ten minutes.
func (s *Sigstore) Keyless(tb testing.TB, issuer, subject string) *Signer {
	tb.Helper()
	cert, priv, err := s.vs.GenerateLeafCert(subject, issuer)
	if err != nil {
		tb.Fatal(err)
	}
	signer := newSigner(tb, priv, cert)
	authority, ok := s.vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	if !ok {
		tb.Fatalf("the virtual Sigstore's certificate authority is a %T", s.vs.FulcioCertificateAuthorities()[0])
	}
	for _, c := range append(authority.Intermediates, authority.Root) {
		signer.chainPEM += string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return signer
}

// logEntry records a signature in the instance's log, as Rekor would, at integratedTime:
// kind "hashedrekord" (artifact is the signed payload) or "dsse" (artifact is the envelope's
// JSON). It returns the entry with its inclusion promise (the SignedEntryTimestamp) and an
// inclusion proof.
func (s *Sigstore) logEntry(tb testing.TB, kind string, artifact, sig []byte, signer *Signer, integratedTime time.Time) *protorekor.TransparencyLogEntry {
	tb.Helper()
	props := rekortypes.ArtifactProperties{PublicKeyBytes: [][]byte{signer.verifierPEM(tb)}, PKIFormat: string(pki.X509)}
	if kind == "hashedrekord" {
		sum := sha256.Sum256(artifact)
		props.ArtifactHash, props.SignatureBytes = hex.EncodeToString(sum[:]), sig
	} else {
		props.ArtifactBytes = artifact
	}
	ctx := context.Background()
	proposed, err := rekortypes.NewProposedEntry(ctx, kind, "0.0.1", props)
	if err != nil {
		tb.Fatal(err)
	}
	impl, err := rekortypes.CreateVersionedEntry(proposed)
	if err != nil {
		tb.Fatal(err)
	}
	body, err := rekortypes.CanonicalizeEntry(ctx, impl)
	if err != nil {
		tb.Fatal(err)
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		tb.Fatal(err)
	}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body),
		IntegratedTime: integratedTime.Unix(), LogID: logID})
	if err != nil {
		tb.Fatal(err)
	}
	proof, err := s.vs.GetInclusionProof(body)
	if err != nil {
		tb.Fatal(err)
	}
	rootHash, err := hex.DecodeString(*proof.RootHash)
	if err != nil {
		tb.Fatal(err)
	}
	rawLogID, err := hex.DecodeString(logID)
	if err != nil {
		tb.Fatal(err)
	}
	return &protorekor.TransparencyLogEntry{
		LogId:             &protocommon.LogId{KeyId: rawLogID},
		KindVersion:       &protorekor.KindVersion{Kind: kind, Version: "0.0.1"},
		IntegratedTime:    integratedTime.Unix(),
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{LogIndex: *proof.LogIndex, RootHash: rootHash, TreeSize: *proof.TreeSize,
			Checkpoint: &protorekor.Checkpoint{Envelope: *proof.Checkpoint}},
	}
}

// cosignRekorBundle is the dev.sigstore.cosign/bundle annotation cosign writes for an entry.
func cosignRekorBundle(tb testing.TB, e *protorekor.TransparencyLogEntry) string {
	tb.Helper()
	var b struct {
		SignedEntryTimestamp []byte
		Payload              struct {
			Body           []byte `json:"body"`
			IntegratedTime int64  `json:"integratedTime"`
			LogIndex       int64  `json:"logIndex"`
			LogID          string `json:"logID"`
		}
	}
	b.SignedEntryTimestamp = e.GetInclusionPromise().GetSignedEntryTimestamp()
	b.Payload.Body = e.GetCanonicalizedBody()
	b.Payload.IntegratedTime = e.GetIntegratedTime()
	b.Payload.LogIndex = e.GetLogIndex()
	b.Payload.LogID = hex.EncodeToString(e.GetLogId().GetKeyId())
	out, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
