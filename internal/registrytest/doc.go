// Package registrytest is the test harness shared by the engine unit tests, the provider
// acceptance tests and the benchmarks.
//
// It provides:
//   - real CNCF distribution registry processes ([Start]; the binary is $ZARF_REGISTRY_BIN, else bin/registry built from tools/go.mod) with index
//     validation, TLS, htpasswd authentication and tag page size options, and thousands of tags
//     written straight into their storage ([Registry.WriteTags]);
//   - deterministic content generators that push images, BuildKit-style attestations and
//     indexes (or arbitrary manifest bytes) with go-containerregistry ([PushIndex],
//     [PushImage], [PushImages], [PushAttestation], [PushRaw], [MarshalIndex]), plus small
//     readers for assertions and drift simulation ([Fetch], [Exists], [Delete]);
//   - a counting, fault-injecting reverse proxy ([NewProxy]).
//
// Content helpers take a ref "<host>/<repository>" optionally followed by ":<tag>" or
// "@<digest>" (see [Endpoint.Ref]). Push helpers push to the tag or digest, or to the
// content's own digest when the ref has neither. Refs are parsed as insecure (plain HTTP
// allowed): the test registries listen on loopback addresses. For TLS or authenticated
// registries, pass [Endpoint.RemoteOptions].
//
// The harness starts processes and locks files with Unix system calls, so it runs on Unix
// systems only.
package registrytest
