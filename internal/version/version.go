// Package version says which build a program is, from the build
// information the Go toolchain embeds: the module version (or "(devel)"
// for a build from a checkout), the VCS revision and whether the tree had
// changes, and the Go version. It is what every binary's --version prints.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// String returns one line naming program and its build, such as
//
//	verifier v1.2.0 (revision 0a1b2c3d4e5f, 2026-12-03T08:00:00Z) go1.26.8
func String(program string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return program + " (no build information)"
	}
	return program + " " + describe(info)
}

func describe(info *debug.BuildInfo) string {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var vcs []string
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if settings["vcs.modified"] == "true" {
			rev += " with local changes"
		}
		vcs = append(vcs, "revision "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		vcs = append(vcs, t)
	}
	if len(vcs) > 0 {
		v += " (" + strings.Join(vcs, ", ") + ")"
	}
	return fmt.Sprintf("%s %s", v, info.GoVersion)
}
