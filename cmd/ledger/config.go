package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.yaml.in/yaml/v3"

	"github.com/ledger-dev/ledger/ledger/access"
	"github.com/ledger-dev/ledger/ledger/blob/s3"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/retention"
	"github.com/ledger-dev/ledger/ledger/subjectkey"
	pgkeys "github.com/ledger-dev/ledger/ledger/subjectkey/postgres"
)

// maxConfigBytes bounds a configuration file.
const maxConfigBytes = 4 << 20

// serveConfig is the YAML configuration file of `ledger serve --config`
// (docs/access.md). Every member is optional; a flag given on the command
// line wins over the file.
type serveConfig struct {
	// Bucket keeps the tiles in this bucket or directory, sequenced by
	// PostgreSQL (flag --bucket; docs/object-storage.md).
	Bucket string `yaml:"bucket"`
	// PublicEntries serves entry bundles to anyone (flag --public-entries).
	PublicEntries bool `yaml:"public_entries"`
	// TLS is the certificate and key to serve HTTPS with (flags --tls-cert,
	// --tls-key).
	TLS struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	// RedactKeys are redacted in addition to event.DefaultRedactKeys.
	RedactKeys []string `yaml:"redact_keys"`
	// RedactValues turns the value detectors (event.DefaultDetectors) on or
	// off by name; a detector it does not name stays on.
	RedactValues map[string]bool `yaml:"redact_values"`
	// Sealing, when present, seals members of events under their data
	// subject's key (docs/sealed-fields.md). Absent: nothing is sealed.
	Sealing *sealingConfig `yaml:"sealing"`
	// Limits bound requests and events; zero keeps the default.
	Limits configLimits `yaml:"limits"`
	// RateLimit is every token's default rate limit.
	RateLimit access.RateLimit `yaml:"rate_limit"`
	// Tokens are tokens in addition to the token file's, e.g. for several
	// instances sharing one PostgreSQL database; `ledger token create
	// --no-store` prints an entry for this list.
	Tokens []access.Token `yaml:"tokens"`
	// Retention is the retention policy (docs/retention.md).
	Retention struct {
		Rules []retention.Rule `yaml:"rules"`
		// PruneEvery, if set, prunes the log's left edge this often
		// (docs/retention.md); 0 never (POST /v1/admin/prune still does).
		PruneEvery time.Duration `yaml:"prune_every"`
	} `yaml:"retention"`
	// Archive, when present, archives the log (docs/retention.md#the-archive).
	Archive *archiveConfig `yaml:"archive"`
	// policy is Retention as validated.
	policy *retention.Policy
}

// archiveConfig is the "archive" block of a configuration file.
type archiveConfig struct {
	// Location is a directory or s3://BUCKET[/PREFIX][?endpoint=URL&
	// region=R&path_style=true], as for bucket. Required.
	Location string `yaml:"location"`
	// ObjectLock is "compliance" (every object locked until the policy's
	// date; an S3 bucket with Object Lock) or "none" (the default).
	ObjectLock string `yaml:"object_lock"`
	// Every runs the archive this often; zero: only on demand.
	Every time.Duration `yaml:"every"`
	// ServePrunedReads answers reads of pruned bundles from the archive
	// instead of with 410 and a pointer.
	ServePrunedReads bool `yaml:"serve_pruned_reads"`
}

// locked reports whether the archive's objects are locked.
func (a *archiveConfig) locked() bool { return a.ObjectLock == "compliance" }

// validate checks the block; policy is the validated retention policy,
// which gives a locked archive its date.
func (a *archiveConfig) validate(policy *retention.Policy) error {
	switch {
	case a.Location == "":
		return errors.New("archive: location is required: a directory or s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true]")
	case a.ObjectLock != "" && a.ObjectLock != "none" && !a.locked():
		return fmt.Errorf("archive: object_lock %q is not compliance or none", a.ObjectLock)
	case a.Every < 0:
		return errors.New("archive: every must not be negative")
	}
	if err := checkLocation("archive: location", a.Location); err != nil {
		return err
	}
	if !a.locked() {
		return nil
	}
	if !strings.HasPrefix(a.Location, "s3://") {
		return fmt.Errorf("archive: object_lock: compliance needs an s3:// location with Object Lock: a directory %q cannot lock its files (use object_lock: none, or a WORM volume)", a.Location)
	}
	if _, ok := policy.KeepAllUntil(time.Now()); !ok {
		return errors.New("archive: object_lock: compliance locks objects until the retention policy's longest min, but no retention rule sets a min")
	}
	return nil
}

// sealingConfig is the "sealing" block of a configuration file.
type sealingConfig struct {
	// Fields are the members sealed; default event.DefaultSealedFields.
	Fields []string `yaml:"fields"`
	// Tags are tags sealed by name, in addition.
	Tags []string `yaml:"tags"`
	// Subject names whose key seals an event: actor.id (default),
	// resource.id or tag:NAME.
	Subject string `yaml:"subject"`
	// MasterKeyFile holds the master key (64 hex digits, mode 0600, not
	// under the data directory); empty: $LEDGER_MASTER_KEY.
	MasterKeyFile string `yaml:"master_key_file"`
	// KeyFile holds the wrapped subject keys; default
	// DATA/subject-keys.json. With --postgres the keys are in the
	// database, and a key file is refused.
	KeyFile string `yaml:"key_file"`
	// Tenants overrides Fields and Tags for the events of the tenants it
	// names.
	Tenants map[string]sealingOverride `yaml:"tenants"`
}

// sealingOverride is what a tenant of the sealing block seals instead of
// the block's fields and tags.
type sealingOverride struct {
	// Fields are the members sealed; default the block's fields.
	Fields []string `yaml:"fields"`
	// Tags are tags sealed by name; default none (the block's are not
	// added).
	Tags []string `yaml:"tags"`
}

// sealing returns the Sealing and subject the block asks for, and the
// Sealing of each tenant it overrides.
func (s *sealingConfig) sealing() (event.Sealing, string, map[string]event.Sealing) {
	fields, subject := s.Fields, s.Subject
	if fields == nil {
		fields = event.DefaultSealedFields
	}
	if subject == "" {
		subject = "actor.id"
	}
	var tenants map[string]event.Sealing
	for name, o := range s.Tenants {
		if tenants == nil {
			tenants = map[string]event.Sealing{}
		}
		t := event.Sealing{Fields: o.Fields, Tags: o.Tags}
		if t.Fields == nil {
			t.Fields = fields
		}
		tenants[name] = t
	}
	return event.Sealing{Fields: fields, Tags: s.Tags}, subject, tenants
}

// check validates the block.
func (s *sealingConfig) check() error {
	sealing, subject, tenants := s.sealing()
	if err := errors.Join(sealing.Check(), event.CheckSubject(subject)); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(tenants)) {
		if name == "" {
			return errors.New("tenants: an empty tenant id")
		}
		if err := tenants[name].Check(); err != nil {
			return fmt.Errorf("tenants.%s: %w", name, err)
		}
	}
	return nil
}

// subjectKeysFile is the default file of the subject keys, in the data
// directory.
const subjectKeysFile = "subject-keys.json"

// sealConfig opens the subject key store, in the log's PostgreSQL
// database when pool is set, else in a file, and returns the Pipeline's
// sealing and the store, or nils when the configuration has no sealing
// block.
func (c *serveConfig) sealConfig(ctx context.Context, dataDir string, pool *pgxpool.Pool) (*event.SealConfig, subjectkey.Store, error) {
	if c.Sealing == nil {
		return nil, nil, nil
	}
	master, err := subjectkey.LoadMasterKey(c.Sealing.MasterKeyFile, dataDir)
	if err != nil {
		return nil, nil, fmt.Errorf("sealing: %w", err)
	}
	resolution := keyResolution(c.policy)
	var keys subjectkey.Store
	if pool != nil {
		if c.Sealing.KeyFile != "" {
			return nil, nil, errors.New("sealing: key_file is for a log on posix; with --postgres the subject keys are in the database, shared by its instances")
		}
		pk, err := pgkeys.Open(ctx, pool, master)
		if err != nil {
			return nil, nil, fmt.Errorf("sealing: %w", err)
		}
		pk.Resolution, keys = resolution, pk
	} else {
		path := c.Sealing.KeyFile
		if path == "" {
			path = filepath.Join(dataDir, subjectKeysFile)
		}
		fk, err := subjectkey.OpenFile(path, master)
		if err != nil {
			return nil, nil, fmt.Errorf("sealing: %w", err)
		}
		fk.Resolution, keys = resolution, fk
	}
	sealing, subject, tenants := c.Sealing.sealing()
	return &event.SealConfig{Sealing: sealing, Tenants: tenants, Subject: subject, Key: subjectkey.KeyFunc(ctx, keys)}, keys, nil
}

// keyResolution is the Resolution of the subject key store under policy:
// a tenth of the shortest max that can shred keys, at most an hour (the
// default) and at least a millisecond, so that a key is destroyed at most
// a tenth late, and the store writes a key's newest event at most once per
// resolution.
func keyResolution(policy *retention.Policy) time.Duration {
	res := subjectkey.DefaultResolution
	if policy == nil {
		return res
	}
	if m := policy.ShortestTenantMax(); !m.IsZero() {
		start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		res = min(res, max(time.Millisecond, m.After(start).Sub(start)/10))
	}
	return res
}

// configLimits are the limits a configuration file may set.
type configLimits struct {
	MaxBodyBytes  int64 `yaml:"max_body_bytes"`
	MaxPending    int   `yaml:"max_pending"`
	MaxEventBytes int   `yaml:"max_event_bytes"`
	MaxBatch      int   `yaml:"max_batch"`
	MaxFieldBytes int   `yaml:"max_field_bytes"`
	MaxChanges    int   `yaml:"max_changes"`
	MaxTags       int   `yaml:"max_tags"`
	// MaxFutureSkew and MaxEventAge bound a client's own timestamps
	// (flags --max-future-skew and --max-event-age).
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`
	MaxEventAge   time.Duration `yaml:"max_event_age"`
}

// parseConfig decodes and checks a configuration file, refusing unknown
// keys so that a misspelt setting is not silently ignored.
func parseConfig(b []byte) (*serveConfig, error) {
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigBytes)
	}
	var c serveConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document")
	}
	if err := c.validate(); err != nil {
		return nil, withRuleLines(err, b)
	}
	return &c, nil
}

// withRuleLines prefixes an error about retention rules with the lines of
// the file where those rules start.
func withRuleLines(err error, b []byte) error {
	var re *retention.RuleError
	if !errors.As(err, &re) {
		return err
	}
	var doc struct {
		Retention struct {
			Rules []yaml.Node `yaml:"rules"`
		} `yaml:"retention"`
	}
	if yaml.Unmarshal(b, &doc) != nil {
		return err
	}
	var lines []string
	for _, n := range re.Rules {
		if n <= len(doc.Retention.Rules) {
			lines = append(lines, fmt.Sprint(doc.Retention.Rules[n-1].Line))
		}
	}
	if len(lines) == 0 {
		return err
	}
	return fmt.Errorf("line %s: %w", strings.Join(lines, " and "), err)
}

var (
	unknownKeyRe = regexp.MustCompile(`field (\S+) not found in type \S+`)
	wrongTypeRe  = regexp.MustCompile("cannot unmarshal !!\\w+ `(.*)` into (\\S+)")
	wrongKindRe  = regexp.MustCompile(`cannot unmarshal !!(\w+) into \S+`)
)

// yamlError rewords the decoder's errors for a reader of the file, not of
// the Go types behind it (`field limts not found in type main.serveConfig`
// becomes `unknown key "limts"`).
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		m = unknownKeyRe.ReplaceAllString(m, `unknown key "$1" (the keys are in docs/access.md)`)
		if sm := wrongTypeRe.FindStringSubmatch(m); sm != nil {
			kind := map[string]string{"int": "a whole number", "int64": "a whole number", "bool": "true or false", "string": "a string", "[]string": "a list of strings",
				"time.Duration": "a duration such as 5m or 720h", "retention.Rule": "a rule (a mapping of tenant, event_type, preset, min, max, available)"}[sm[2]]
			if kind == "" {
				kind = "of the form docs/access.md gives"
			}
			m = strings.Replace(m, sm[0], fmt.Sprintf("%q is not %s", sm[1], kind), 1)
		}
		m = wrongKindRe.ReplaceAllString(m, "a YAML $1 where docs/access.md has a mapping of keys")
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}

func (c *serveConfig) validate() error {
	l := c.Limits
	for _, v := range []struct {
		name string
		n    int64
	}{{"max_body_bytes", l.MaxBodyBytes}, {"max_pending", int64(l.MaxPending)}, {"max_event_bytes", int64(l.MaxEventBytes)},
		{"max_batch", int64(l.MaxBatch)}, {"max_field_bytes", int64(l.MaxFieldBytes)}, {"max_changes", int64(l.MaxChanges)}, {"max_tags", int64(l.MaxTags)}} {
		if v.n < 0 {
			return fmt.Errorf("limits.%s must not be negative", v.name)
		}
	}
	if l.MaxFutureSkew < 0 || l.MaxEventAge < 0 {
		return errors.New("limits.max_future_skew and limits.max_event_age must not be negative")
	}
	if l.MaxEventBytes > event.MaxEventBytesLimit {
		return fmt.Errorf("limits.max_event_bytes must be at most %d: redaction can lengthen an event, and a leaf holds at most %d bytes", event.MaxEventBytesLimit, event.MaxLeafBytes)
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("tls needs both cert and key")
	}
	for _, k := range c.RedactKeys {
		if k == "" {
			return errors.New("redact_keys has an empty key")
		}
	}
	for name := range c.RedactValues {
		if _, ok := event.DetectorNamed(name); !ok {
			var names []string
			for _, d := range event.DefaultDetectors {
				names = append(names, d.Name)
			}
			return fmt.Errorf("redact_values: unknown detector %q (the detectors are %s)", name, strings.Join(names, ", "))
		}
	}
	if c.Sealing != nil {
		if err := c.Sealing.check(); err != nil {
			return fmt.Errorf("sealing: %w", err)
		}
	}
	if err := checkLocation("bucket", c.Bucket); err != nil {
		return err
	}
	if err := c.RateLimit.Validate(); err != nil {
		return err
	}
	if _, err := access.NewSet(c.Tokens...); err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	p, err := retention.New(c.Retention.Rules)
	if err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	if c.Retention.PruneEvery < 0 {
		return fmt.Errorf("retention: prune_every %s is negative", c.Retention.PruneEvery)
	}
	c.policy = p
	if c.Archive != nil {
		return c.Archive.validate(p)
	}
	return nil
}

// checkLocation checks an object store's location: an s3:// URL that
// s3.ParseURL takes, or a directory.
func checkLocation(name, location string) error {
	if strings.HasPrefix(location, "s3://") {
		if _, err := s3.ParseURL(location); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	} else if strings.Contains(location, "://") {
		return fmt.Errorf("%s: %q is neither an s3:// URL nor a directory", name, location)
	}
	return nil
}

// redactor returns the Redactor the configuration asks for: the default
// keys and the file's, and the detectors not turned off.
func (c *serveConfig) redactor() *event.Redactor {
	var detectors []event.Detector
	for _, d := range event.DefaultDetectors {
		if on, named := c.RedactValues[d.Name]; on || !named {
			detectors = append(detectors, d)
		}
	}
	return event.NewRedactor(append(slices.Clone(event.DefaultRedactKeys), c.RedactKeys...), detectors...)
}

// loadConfig reads the configuration file at path; an empty path is the
// empty configuration.
func loadConfig(path string) (*serveConfig, error) {
	if path == "" {
		return parseConfig(nil)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	c, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, path, err)
	}
	return c, nil
}

// applyTo sets the serve flags not given on the command line from the
// file, and checks the TLS pair they end up naming; the timestamp bounds
// given as flags (maxSkew, maxAge) override the file's.
func (c *serveConfig) applyTo(fs *flag.FlagSet, maxPending *int, maxBody *int64, publicEntries *bool, tlsCert, tlsKey *string, maxSkew, maxAge time.Duration) error {
	if !flagGiven(fs, "max-pending") && c.Limits.MaxPending > 0 {
		*maxPending = c.Limits.MaxPending
	}
	if !flagGiven(fs, "max-body") && c.Limits.MaxBodyBytes > 0 {
		*maxBody = c.Limits.MaxBodyBytes
	}
	if !flagGiven(fs, "public-entries") {
		*publicEntries = c.PublicEntries
	}
	if !flagGiven(fs, "tls-cert") && !flagGiven(fs, "tls-key") {
		*tlsCert, *tlsKey = c.TLS.Cert, c.TLS.Key
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fmt.Errorf("%w: give both --tls-cert and --tls-key, or neither", errUsage)
	}
	for _, f := range []struct {
		flag string
		v    time.Duration
		dst  *time.Duration
	}{{"max-future-skew", maxSkew, &c.Limits.MaxFutureSkew}, {"max-event-age", maxAge, &c.Limits.MaxEventAge}} {
		if !flagGiven(fs, f.flag) {
			continue
		}
		if f.v <= 0 {
			return fmt.Errorf("%w: --%s must be positive (got %s)", errUsage, f.flag, f.v)
		}
		*f.dst = f.v
	}
	if *tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey); err != nil {
			return fmt.Errorf("%w: TLS certificate: %v", errUsage, err)
		}
	}
	return nil
}

// eventLimits returns the event limits the file sets, defaults elsewhere.
func (c *serveConfig) eventLimits() event.Limits {
	d := event.DefaultLimits()
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	l := c.Limits
	return event.Limits{MaxEventBytes: pick(l.MaxEventBytes, d.MaxEventBytes), MaxBatch: pick(l.MaxBatch, d.MaxBatch),
		MaxFieldBytes: pick(l.MaxFieldBytes, d.MaxFieldBytes), MaxChanges: pick(l.MaxChanges, d.MaxChanges), MaxTags: pick(l.MaxTags, d.MaxTags),
		MaxFutureSkew: cmp.Or(l.MaxFutureSkew, d.MaxFutureSkew), MaxAge: cmp.Or(l.MaxEventAge, d.MaxAge)}
}
