// Package s3 is a blob.Store in an S3-compatible bucket (AWS S3, MinIO,
// Ceph, R2, versitygw, ...), through the AWS SDK for Go v2.
//
// The SDK is the reference client of the S3 API: it takes credentials from
// the usual chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// AWS_PROFILE and the shared config and credentials files, SSO, web
// identity, the container and instance metadata endpoints), signs every
// request (SigV4), speaks both path-style and virtual-host URLs to any
// endpoint, and has the conditional write (PutObject If-None-Match) the
// contract needs, without code of ours.
//
// A Put with IfAbsent sends If-None-Match: *; the store answers 412 when the
// name is taken. A Put is durable when S3 answers it (S3's own guarantee).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/ledger-dev/ledger/ledger/blob"
)

// Config locates a bucket. Credentials come from the SDK's default chain
// (see the package comment).
type Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Prefix, if set, is prepended with a "/" to every object name: several
	// logs may share a bucket, each under its own prefix.
	Prefix string
	// Endpoint is the URL of an S3-compatible service (say
	// http://127.0.0.1:7070). Empty: AWS S3 for the region.
	Endpoint string
	// Region is the bucket's region. Empty: the chain's (AWS_REGION,
	// the profile's region), else us-east-1.
	Region string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET/NAME rather than
	// the virtual-host BUCKET.ENDPOINT/NAME. Most S3-compatible servers
	// on a bare address or port need it.
	PathStyle bool
	// HTTPClient sends the requests. Default: the SDK's.
	HTTPClient *http.Client
}

// ParseURL reads the configuration of a bucket from a URL:
//
//	s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=true]
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("bucket URL %q: %w", raw, err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return Config{}, fmt.Errorf("bucket URL %q: want s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=true]", raw)
	}
	cfg := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "path_style":
		default:
			return Config{}, fmt.Errorf("bucket URL %q: unknown parameter %q (known: endpoint, region, path_style)", raw, k)
		}
	}
	cfg.Endpoint, cfg.Region = q.Get("endpoint"), q.Get("region")
	if v := q.Get("path_style"); v != "" {
		if cfg.PathStyle, err = strconv.ParseBool(v); err != nil {
			return Config{}, fmt.Errorf("bucket URL %q: path_style=%q is not true or false", raw, v)
		}
	}
	if cfg.Endpoint != "" {
		if e, err := url.Parse(cfg.Endpoint); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
			return Config{}, fmt.Errorf("bucket URL %q: endpoint %q is not an http(s) URL", raw, cfg.Endpoint)
		}
	}
	return cfg, nil
}

// URL returns the s3:// URL of the configuration (ParseURL's form).
func (c Config) URL() string {
	u := url.URL{Scheme: "s3", Host: c.Bucket, Path: "/" + c.Prefix}
	q := url.Values{}
	if c.Endpoint != "" {
		q.Set("endpoint", c.Endpoint)
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	if c.PathStyle {
		q.Set("path_style", "true")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Store is a blob.Store in a bucket.
type Store struct {
	client *awss3.Client
	bucket string
	prefix string // "" or ending in "/"
}

// Open loads the credential chain and checks that the bucket can be
// reached (HeadBucket), so that a wrong name, endpoint or credential fails
// at start with the server's answer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3: Config.Bucket is required")
	}
	if cfg.Prefix != "" {
		if err := blob.CheckName(cfg.Prefix); err != nil {
			return nil, fmt.Errorf("s3: Config.Prefix: %w", err)
		}
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("couldn't load the AWS configuration and credentials: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	s := &Store{client: client, bucket: cfg.Bucket}
	if cfg.Prefix != "" {
		s.prefix = cfg.Prefix + "/"
	}
	if _, err := client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		return nil, fmt.Errorf("couldn't reach bucket %s (check its name, the endpoint, the region and the credentials): %w", cfg.Bucket, err)
	}
	return s, nil
}

func (s *Store) key(name string) (*string, error) {
	if err := blob.CheckName(name); err != nil {
		return nil, err
	}
	return aws.String(s.prefix + name), nil
}

// statusOf returns the HTTP status of a failed request, 0 if it got none.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// Put uploads data as one PutObject.
func (s *Store) Put(ctx context.Context, name string, data []byte, opts blob.PutOptions) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	in := &awss3.PutObjectInput{Bucket: aws.String(s.bucket), Key: key,
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if opts.ContentType != "" {
		in.ContentType = aws.String(opts.ContentType)
	}
	if opts.CacheControl != "" {
		in.CacheControl = aws.String(opts.CacheControl)
	}
	if opts.IfAbsent {
		in.IfNoneMatch = aws.String("*")
	}
	if !opts.RetainUntil.IsZero() {
		// S3 wants a checksum of a locked object's body: the SDK sends
		// one (CRC32) with every PutObject by default.
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(opts.RetainUntil)
	}
	for attempt := 0; ; attempt++ {
		_, err = s.client.PutObject(ctx, in)
		// 409 ConditionalRequestConflict: another conditional write of
		// the name is under way; S3 asks to retry.
		if err == nil || !opts.IfAbsent || statusOf(err) != http.StatusConflict || attempt == 4 {
			break
		}
		in.Body = bytes.NewReader(data)
		select {
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch {
	case err == nil:
		return nil
	case opts.IfAbsent && statusOf(err) == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", name, blob.ErrExists)
	}
	return fmt.Errorf("couldn't put object %s in bucket %s: %w", name, s.bucket, err)
}

// CheckObjectLock returns an error wrapping blob.ErrNoLock unless the
// bucket has S3 Object Lock enabled, so that Puts with
// PutOptions.RetainUntil can lock objects. Object Lock can only be
// enabled when a bucket is created (or, on AWS, by turning on versioning
// and asking support); a bucket without it is refused at start rather
// than at the first Put.
func (s *Store) CheckObjectLock(ctx context.Context) error {
	out, err := s.client.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		switch statusOf(err) {
		case http.StatusNotFound: // ObjectLockConfigurationNotFoundError
			return fmt.Errorf("bucket %s: %w: Object Lock is not enabled on it (create the bucket with Object Lock enabled)", s.bucket, blob.ErrNoLock)
		case http.StatusNotImplemented:
			return fmt.Errorf("bucket %s: %w: the server does not implement Object Lock", s.bucket, blob.ErrNoLock)
		}
		return fmt.Errorf("couldn't read the Object Lock configuration of bucket %s: %w", s.bucket, err)
	}
	if c := out.ObjectLockConfiguration; c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		return fmt.Errorf("bucket %s: %w: Object Lock is not enabled on it (create the bucket with Object Lock enabled)", s.bucket, blob.ErrNoLock)
	}
	return nil
}

// Get downloads the object.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.bucket), Key: key})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) || statusOf(err) == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", name, blob.ErrNotExist)
		}
		return nil, fmt.Errorf("couldn't get object %s from bucket %s: %w", name, s.bucket, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("couldn't read object %s from bucket %s: %w", name, s.bucket, err)
	}
	return b, nil
}

// List pages through ListObjectsV2; S3 lists keys in byte order.
func (s *Store) List(ctx context.Context, prefix string, fn func(name string) error) error {
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("couldn't list bucket %s under %q: %w", s.bucket, s.prefix+prefix, err)
		}
		for _, o := range page.Contents {
			if err := fn(strings.TrimPrefix(aws.ToString(o.Key), s.prefix)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete deletes the object; S3 answers a delete of a missing key with
// success.
func (s *Store) Delete(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: key}); err != nil {
		return fmt.Errorf("couldn't delete object %s from bucket %s: %w", name, s.bucket, err)
	}
	return nil
}
