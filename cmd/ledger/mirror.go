package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ledger-dev/ledger/internal/progress"
	"github.com/ledger-dev/ledger/ledger/mirror"
	"github.com/ledger-dev/ledger/tiles"
)

func cmdMirror(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("mirror")
	from := fs.String("from", "", "the log to copy: a URL (https://...), a directory, or a bucket (s3://BUCKET[/PREFIX][?...])")
	to := fs.String("to", "", "where the copy goes: a directory or a bucket (s3://...)")
	vkey := fs.String("vkey", "", "the log's verifier key")
	policyFile := fs.String("policy", "", "a C2SP tlog-policy the checkpoint must satisfy (instead of --vkey: witness quorum)")
	token := tokenFlag(fs, "an auditor, for a --from URL that serves entry bundles only to auditors")
	concurrency := fs.Int("concurrency", 16, "objects read or written at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *from == "" || *to == "":
		return fmt.Errorf("%w: --from and --to are required", errUsage)
	case (*vkey == "") == (*policyFile == ""):
		return fmt.Errorf("%w: give exactly one of --vkey and --policy", errUsage)
	case *concurrency < 1:
		return fmt.Errorf("%w: --concurrency must be at least 1", errUsage)
	case isURL(*to):
		return fmt.Errorf("%w: --to must be a directory or a bucket, not a URL", errUsage)
	}
	policy, err := mirrorPolicy(*vkey, *policyFile)
	if err != nil {
		return err
	}
	if flagGiven(fs, "token") && !isURL(*from) {
		return fmt.Errorf("%w: --token is for a --from URL", errUsage)
	}
	src, err := openSource(ctx, *from, *token)
	if err != nil {
		return err
	}
	dst, err := openObjects(ctx, *to)
	if err != nil {
		return err
	}
	bar := progress.New(stderr, -1, "mirror")
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := mirror.Run(ctx, mirror.Config{Source: src, Mirror: dst, Policy: policy, Concurrency: *concurrency, Logger: log,
		Progress: func(done, total uint64) {
			bar.ChangeMax64(int64(total))
			bar.Set64(int64(done))
		}})
	bar.Finish()
	if err != nil {
		return err
	}
	switch {
	case res.From == res.To:
		fmt.Fprintf(stdout, "mirror is up to date at size %d\n", res.To)
	case res.Resumed != res.From:
		fmt.Fprintf(stdout, "mirrored size %d to %d (resumed at %d), every tile verified\n", res.From, res.To, res.Resumed)
	default:
		fmt.Fprintf(stdout, "mirrored size %d to %d, every tile verified\n", res.From, res.To)
	}
	return nil
}

// mirrorPolicy returns the policy of --vkey or --policy.
func mirrorPolicy(vkey, file string) (*tiles.Policy, error) {
	if vkey != "" {
		p, err := tiles.NewLogPolicy(vkey)
		if err != nil {
			return nil, fmt.Errorf("%w: --vkey: %v", errUsage, err)
		}
		return p, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	p, err := tiles.ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, file, err)
	}
	return p, nil
}

func isURL(s string) bool { return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") }

// openSource returns the fetcher of a log at a URL (with token, if set),
// in a bucket or in a directory.
func openSource(ctx context.Context, from, token string) (tiles.Fetcher, error) {
	switch {
	case isURL(from):
		f, err := tiles.NewHTTPFetcher(from)
		if err != nil {
			return nil, fmt.Errorf("%w: --from: %v", errUsage, err)
		}
		if token != "" {
			return f.WithToken(token), nil
		}
		return f, nil
	case strings.HasPrefix(from, "s3://"):
		s, err := openObjects(ctx, from)
		if err != nil {
			return nil, err
		}
		return mirror.Fetcher(s), nil
	}
	f, err := tiles.NewFetcher(from)
	if err != nil {
		return nil, fmt.Errorf("%w: --from: %v", errUsage, err)
	}
	return f, nil
}
