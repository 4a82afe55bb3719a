// Command openfcs is the openfcs server: `openfcs serve` runs the RTMP
// listener (and the HTTP listener) over the applications folder;
// `openfcs version` prints the version. This package is wiring only: flags,
// YAML config, the slog handler, signals.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// hangups delivers SIGHUP to a running server, which reloads
// (lifecycle.go); nil, and so never ready, when run is called by a test.
var hangups <-chan os.Signal

// interrupts delivers the SIGTERM or SIGINT after the one that began the
// drain: the server then exits at once (serve.go). nil in tests.
var interrupts <-chan os.Signal

// exit is os.Exit; the second signal's way out.
var exit = os.Exit

func main() {
	ctx, stop := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	again := make(chan os.Signal, 1)
	go func() {
		<-sigs
		stop() // the first one drains
		again <- <-sigs
	}()
	interrupts = again
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	hangups = hup
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "openfcs:", err)
		os.Exit(1)
	}
}

// usage is printed by --help and when no command is given.
const usage = `openfcs: the Flash Communication Server model (NetConnection, NetStream,
remote SharedObjects, Server-Side ActionScript) over RTMP, RTMPT and RTMPS.

Usage:
  openfcs serve [flags]   run the server (openfcs serve --help lists the flags)
  openfcs bench [flags]   load a server, or two and compare them (openfcs bench --help)
  openfcs version         print the version (also: openfcs --version)
  openfcs help            print this help (also: -h, --help)
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		_, err := fmt.Fprint(stdout, usage)
		return err
	case "version", "-version", "--version":
		_, err := fmt.Fprintln(stdout, "openfcs", version)
		return err
	case "bench":
		return runBench(ctx, args[1:], stdout, stderr)
	case "serve":
		if wantsHelp(args[1:]) {
			newServeFlags(stdout).fs.Usage()
			return nil
		}
		cfg, err := parseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// wantsHelp reports a -h, -help or --help among the flags (before a "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}
