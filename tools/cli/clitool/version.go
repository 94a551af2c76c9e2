package clitool

import (
	"runtime/debug"
	"strings"
)

// Version is Strom's release version; a release build sets it with
// -ldflags "-X github.com/strom-broker/strom/tools/cli/clitool.Version=1.2.3".
var Version = "dev"

// VersionLine is what --version prints: "strom VERSION (commit REV)",
// the commit from the build's VCS stamp when there is one.
func VersionLine() string {
	line := "strom " + Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return line
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return line
	}
	rev = rev[:min(12, len(rev))]
	if dirty {
		rev += "-dirty"
	}
	return strings.TrimSpace(line + " (commit " + rev + ")")
}
