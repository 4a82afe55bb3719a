//go:build unix

package main

import "syscall"

// raiseFDLimit raises the soft limit of open files to the hard limit and
// returns the limit in force. Every connection is a descriptor: a soft
// limit of 1024 (the usual default) is reached by a thousand idle sockets.
// The Go runtime does the same at start since Go 1.19; doing it here keeps
// it when that changes, and gives the figure to log.
func raiseFDLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		want := l
		want.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return l.Cur, err
		}
		l = want
	}
	return l.Cur, nil
}
