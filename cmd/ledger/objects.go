package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/ledger-dev/ledger/ledger/blob"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
)

// openObjects opens the object store at location: an s3:// URL (see
// s3.ParseURL; credentials from the AWS chain) or a local directory.
func openObjects(ctx context.Context, location string) (blob.Store, error) {
	if strings.HasPrefix(location, "s3://") {
		cfg, err := s3.ParseURL(location)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		return s3.Open(ctx, cfg)
	}
	if strings.Contains(location, "://") {
		return nil, fmt.Errorf("%w: %q is neither an s3:// URL nor a directory", errUsage, location)
	}
	return blob.NewDir(location)
}
