package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// lockedWriter serializes the lines of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

func (l *lockedWriter) json(v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return writeJSON(l.w, v)
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
