// Package importrules holds no code: its test enforces the import
// directions of this module (docs/architecture.md), by asking `go list
// -deps` what each package links.
package importrules
