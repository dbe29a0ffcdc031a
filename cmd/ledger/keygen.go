package main

import (
	"context"
	"fmt"
	"io"
)

func cmdKeygen(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("keygen")
	origin := fs.String("origin", "", "the log's origin, e.g. audit.example.com/prod (also the key name)")
	keyFile := fs.String("key", "", "where to write the private key; the vkey goes to FILE.pub")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *origin == "" || *keyFile == "" {
		return fmt.Errorf("%w: --origin and --key are required", errUsage)
	}
	vkey, err := createKey(*origin, *keyFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, vkey)
	return nil
}
