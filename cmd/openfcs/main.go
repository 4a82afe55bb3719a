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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "openfcs:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: openfcs serve [flags] | openfcs version")
	}
	switch args[0] {
	case "version":
		_, err := fmt.Fprintln(stdout, "openfcs", version)
		return err
	case "serve":
		cfg, err := parseServe(args[1:], stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stderr)
	}
	return fmt.Errorf("unknown command %q (want serve or version)", args[0])
}
