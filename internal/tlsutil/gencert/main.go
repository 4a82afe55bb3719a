// Command gencert writes a self-signed development certificate for
// `make run` (RTMPS, RTMPTS and HTTP/3 on localhost):
//
//	go run ./internal/tlsutil/gencert -cert bin/dev-cert.pem -key bin/dev-key.pem
//
// It leaves existing files alone unless -force is given.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/openfcs/openfcs/internal/tlsutil"
)

func main() {
	cert := flag.String("cert", "bin/dev-cert.pem", "certificate file to write")
	key := flag.String("key", "bin/dev-key.pem", "private key file to write")
	hosts := flag.String("hosts", "localhost,127.0.0.1,::1", "comma-separated DNS names and IP addresses")
	force := flag.Bool("force", false, "overwrite existing files")
	flag.Parse()
	if !*force {
		_, errC := os.Stat(*cert)
		_, errK := os.Stat(*key)
		if errC == nil && errK == nil {
			return
		}
	}
	if err := tlsutil.WriteSelfSigned(*cert, *key, strings.Split(*hosts, ",")...); err != nil {
		fmt.Fprintln(os.Stderr, "gencert:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gencert: wrote self-signed development certificate %s (key %s)\n", *cert, *key)
}
