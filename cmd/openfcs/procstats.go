package main

import (
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
)

// procRSS returns the process's resident set size in bytes, from
// /proc/self/status (VmRSS); -1 where there is no such file.
func procRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v) // "12345", "kB"
			if len(f) > 0 {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return -1
}

// procFDs returns the number of open file descriptors, from /proc/self/fd;
// -1 where there is no such folder.
func procFDs() int {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return -1
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return -1
	}
	return len(names) - 1 // the folder's own descriptor
}

// heapLive returns the heap bytes the last GC found live.
func heapLive() uint64 { return readUint64Metric("/gc/heap/live:bytes") }

// gcCycles returns the GC cycles completed so far.
func gcCycles() uint64 { return readUint64Metric("/gc/cycles/total:gc-cycles") }

func readUint64Metric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
