package ssas

import (
	"embed"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Scripts bundled with the server, found by load() after the application's
// folders and Config.ScriptLibPath, as FCS shipped its scriptlib folder
// (docs/remoting.md#netservicesasc for netservices.asc).
//
//go:embed scriptlib/*.asc
var scriptLib embed.FS

// bundledPrefix marks a resolved load() path as a bundled script.
const bundledPrefix = "bundled:"

// bundledPath returns the path resolveLoad hands out for the bundled
// script name (a cleaned, slash-separated relative name), or "".
func bundledPath(name string) string {
	if strings.Contains(name, "/") {
		return ""
	}
	if _, err := fs.Stat(scriptLib, path.Join("scriptlib", name)); err != nil {
		return ""
	}
	return bundledPrefix + name
}

// readScript reads a script file, or a bundled script.
func readScript(p string) ([]byte, error) {
	if name, ok := strings.CutPrefix(p, bundledPrefix); ok {
		return scriptLib.ReadFile(path.Join("scriptlib", name))
	}
	return os.ReadFile(p)
}
