package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// The console (docs/operations.md#console): static HTML, CSS and a script
// module, served without the token because they hold no data; the script
// asks for the token and uses the REST routes with it.

//go:embed console
var consoleFiles embed.FS

func consoleRoutes(mux *http.ServeMux) {
	sub, _ := fs.Sub(consoleFiles, "console")
	files := http.FileServerFS(sub)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		http.ServeFileFS(w, r, sub, "index.html")
	})
	mux.Handle("GET /console/", http.StripPrefix("/console/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consoleHeaders(w)
		files.ServeHTTP(w, r)
	})))
}

// consoleHeaders keep the page to its own origin's scripts and out of
// frames.
func consoleHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
