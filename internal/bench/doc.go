// Package bench holds the performance benchmarks. It has no non-test code.
//
//   - `make bench` (BenchmarkMirror): the mirror engine against go-containerregistry's
//     crane.Copy, on real distribution registry processes, copying the same generated content
//     side by side, with the ratio of their median times (ours/crane), request counts and peak
//     memory.
//   - `make bench-scale` (BenchmarkScale): N mirrors in one Terraform state with the real
//     terraform CLI and the provider built from this module: cold apply against N crane.Copy
//     at Terraform's parallelism, a no-op plan against a plan of N terraform_data resources, a
//     plan after drift, with requests per mirror and the provider's peak memory.
package bench
