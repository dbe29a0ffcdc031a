package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "v1.2.0 go1.26.8"},
		{"checkout", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"}, {Key: "vcs.time", Value: "2026-12-03T08:00:00Z"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) (revision 0a1b2c3d4e5f with local changes, 2026-12-03T08:00:00Z) go1.26.8"},
		{"no version", debug.BuildInfo{GoVersion: "go1.26.8"}, "(devel) go1.26.8"},
	} {
		if got := describe(&tc.info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := String("verifier"); !strings.HasPrefix(got, "verifier ") || !strings.Contains(got, "go1.") {
		t.Errorf("String: %q", got)
	}
}
