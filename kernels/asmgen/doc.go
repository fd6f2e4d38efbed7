// Package asmgen holds the avo programs that generate batchrun's Go
// assembly. It is a module of its own, so that the main module does not
// depend on avo; each subdirectory is one generator, run by `go generate`
// in the package whose assembly it writes.
package asmgen
