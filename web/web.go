// Package web embeds the browser side of openfcs into the binary: the pages
// served at / (an index of the applications, and the demo pages) and the
// browser library, /openfcs.js with its type declarations /openfcs.d.ts
// (docs/bridge.md).
//
// Every file of this folder with a page asset's extension is served at its
// path; index.html answers for a folder. Nothing is built: the files are
// served as they are written. The node tests of the library (test/, run
// by `node --test`, with package.json telling node the files are ES
// modules) are not served.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"
)

// files holds this folder. Go sources are embedded too (a pattern cannot
// exclude them) but never served: see types.
//
//go:embed *
var files embed.FS

// types are the extensions served and their Content-Type. A module script
// must come with a JavaScript type or the browser refuses it.
var types = map[string]string{
	".html":  "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".ts":    "text/plain; charset=utf-8", // openfcs.d.ts: read by editors and tools
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// etags are the files' entity tags, computed on first request.
var etags sync.Map // name -> string

func etag(name string, b []byte) string {
	if v, ok := etags.Load(name); ok {
		return v.(string)
	}
	sum := sha256.Sum256(b)
	tag := `"` + hex.EncodeToString(sum[:8]) + `"`
	etags.Store(name, tag)
	return tag
}

// Handler serves the embedded files: GET and HEAD, index.html for "/" and
// for a folder, 404 for anything else. Responses revalidate (no-cache with
// an ETag), so a new binary's pages are picked up at once.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := fileName(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", types[path.Ext(name)])
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", etag(name, b))
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}

// roomPath is the page of a room of the room application: /room/<name>
// serves room.html, which reads the name from its URL
// (docs/components.md#the-room-page). Names are those the components
// accept for instances, so a link can never name something else.
var roomPath = regexp.MustCompile(`^/room/[A-Za-z0-9_-]{1,64}/?$`)

// fileName maps a URL path to an embedded file name, or false when the
// path cannot name a servable file.
func fileName(p string) (string, bool) {
	if roomPath.MatchString(p) {
		return "room.html", true
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" || strings.HasSuffix(p, "/") {
		name = path.Join(name, "index.html")
	}
	if _, ok := types[path.Ext(name)]; !ok {
		return "", false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") || seg == "node_modules" || seg == "testdata" || seg == "test" || seg == "package.json" {
			return "", false
		}
	}
	return name, true
}
