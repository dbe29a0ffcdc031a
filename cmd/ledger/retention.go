package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ledger-dev/ledger/internal/jsonfile"
	"github.com/ledger-dev/ledger/ledger"
	"github.com/ledger-dev/ledger/ledger/event"
	"github.com/ledger-dev/ledger/ledger/retention"
)

// PolicyChangedEventType is the event serve appends when it starts with a
// retention policy other than the one last recorded.
const PolicyChangedEventType = "retention.policy_changed"

// retentionStateFile, in the data directory, keeps the digest and rules of
// the retention policy last recorded in the log.
const retentionStateFile = "retention.json"

// recordedPolicy is the document of the retention state file.
type recordedPolicy struct {
	Digest string           `json:"digest"`
	Rules  []retention.Rule `json:"rules"`
}

// recordRetentionPolicy appends a retention.policy_changed event if the
// configuration's policy differs from the one DIR/retention.json last
// recorded (none: the empty policy, which keeps everything), then records
// it there. The event is durable before the file changes: a crash between
// the two appends the event again at the next start, and no change goes
// unlogged.
func recordRetentionPolicy(ctx context.Context, l *ledger.Ledger, conf *serveConfig, data string, log *slog.Logger) error {
	p := conf.policy
	path := filepath.Join(data, retentionStateFile)
	err := jsonfile.Update(path, func(b []byte) ([]byte, error) {
		old := recordedPolicy{Digest: (&retention.Policy{}).Digest(), Rules: []retention.Rule{}}
		if b != nil {
			if err := jsonfile.Decode(b, &old); err != nil {
				return nil, fmt.Errorf("%s: %w (remove it to record the policy afresh)", path, err)
			}
		}
		if old.Digest == p.Digest() && b != nil {
			return b, nil
		}
		if old.Digest == p.Digest() { // no file and the empty policy
			return jsonfile.Marshal(old)
		}
		if err := appendPolicyChanged(ctx, l, conf, old, p); err != nil {
			return nil, err
		}
		log.Info("retention policy changed", "digest", p.Digest(), "previous_digest", old.Digest, "rules", len(p.Rules()))
		return jsonfile.Marshal(recordedPolicy{Digest: p.Digest(), Rules: p.Rules()})
	})
	if err != nil {
		return fmt.Errorf("couldn't record the retention policy in the log: %w", err)
	}
	return nil
}

// appendPolicyChanged appends the event of a change from old to p, with
// both sets of rules as its change; a policy too large for one event is
// recorded by its digests alone (GET /v1/admin/retention shows it).
func appendPolicyChanged(ctx context.Context, l *ledger.Ledger, conf *serveConfig, old recordedPolicy, p *retention.Policy) error {
	oldRules, _ := json.Marshal(old.Rules) // rules always marshal
	newRules, _ := json.Marshal(p.Rules())
	ev := func(withRules bool) *event.Event {
		e := &event.Event{EventType: PolicyChangedEventType, Action: "update", Actor: event.Actor{ID: "ledger", Type: "system"},
			Resource: event.Resource{Type: "retention_policy", ID: p.Digest()}, Result: "success", Source: "config",
			Tags: map[string]string{"digest": p.Digest(), "previous_digest": old.Digest, "rules": fmt.Sprint(len(p.Rules()))}}
		if withRules {
			e.Changes = map[string]event.Change{"rules": {Old: oldRules, New: newRules}}
		} else {
			e.Tags["rules_omitted"] = "too large for one event; GET /v1/admin/retention shows them"
		}
		return e
	}
	return appendOwn(ctx, l, conf, ev)
}

// appendOwn appends one of the ledger's own events (the retention.
// namespace, actor ledger), through the pipeline with the configuration's
// limits and redaction: build(true) in full, or build(false), a smaller
// form, when the pipeline refuses the full one. It returns once the event
// is durable.
func appendOwn(ctx context.Context, l *ledger.Ledger, conf *serveConfig, build func(full bool) *event.Event) error {
	pipeline := event.NewPipeline(event.PipelineConfig{Limits: conf.eventLimits(), Redactor: conf.redactor()})
	prepared, err := pipeline.PrepareOwn(build(true))
	if errors.Is(err, event.ErrInvalid) {
		prepared, err = pipeline.PrepareOwn(build(false))
	}
	if err != nil {
		return err
	}
	entries := make([]ledger.Entry, len(prepared))
	for i, e := range prepared {
		entries[i] = ledger.Entry{Key: e.Key, Leaf: e.Leaf}
	}
	_, err = l.Append(ctx, entries)
	return err
}

// ownAppender is appendOwn for events of one form, as prune.Config.Append
// takes it.
func ownAppender(l *ledger.Ledger, conf *serveConfig) func(context.Context, *event.Event) error {
	return func(ctx context.Context, e *event.Event) error {
		return appendOwn(ctx, l, conf, func(bool) *event.Event { return e })
	}
}

const retentionUsage = `usage: ledger retention show --config FILE | --url URL [--token T] [--json]

  show   print the effective retention policy: each rule as applied (globs
         defaulted to *, presets' periods filled in), and the policy's
         digest. --config reads a serve configuration file and checks it as
         serve does; --url asks a running ledger (GET /v1/admin/retention,
         an admin token).

See docs/retention.md.
`

// cmdRetention runs `ledger retention show`.
func cmdRetention(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, retentionUsage)
		return fmt.Errorf("%w: want show", errUsage)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return helpText(retentionUsage)
	case "show":
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want show (see 'ledger retention --help')", errUsage, args[0])
	}
	fs := newFlags("retention show")
	fs.Usage = usageText(fs, retentionUsage)
	configFile := fs.String("config", "", "a serve configuration `FILE` (its retention section)")
	rawURL := fs.String("url", "", "a running ledger's `URL`")
	token := tokenFlag(fs, "an admin")
	asJSON := fs.Bool("json", false, "print the policy as GET /v1/admin/retention answers it")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if (*configFile == "") == (*rawURL == "") {
		return fmt.Errorf("%w: give exactly one of --config and --url", errUsage)
	}
	var doc retention.Document
	if *configFile != "" {
		conf, err := loadConfig(*configFile)
		if err != nil {
			return err
		}
		doc = retention.Document{Digest: conf.policy.Digest(), Rules: conf.policy.Rules(), Presets: retention.Presets}
	} else {
		base, err := baseURL(*rawURL)
		if err != nil {
			return err
		}
		if doc, err = fetchRetention(ctx, newClient(*token, 30*time.Second), base); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return printPolicy(stdout, doc)
}

// fetchRetention reads GET /v1/admin/retention.
func fetchRetention(ctx context.Context, client *http.Client, base string) (retention.Document, error) {
	var doc retention.Document
	resp, err := get(ctx, client, base+"/v1/admin/retention", "to show its retention policy")
	if err != nil {
		return doc, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return doc, fmt.Errorf("couldn't read the ledger's answer: %w", err)
	}
	return doc, nil
}

// printPolicy prints a policy as a table.
func printPolicy(w io.Writer, doc retention.Document) error {
	fmt.Fprintf(w, "retention policy sha256:%s\n", doc.Digest)
	if len(doc.Rules) == 0 {
		_, err := fmt.Fprintln(w, "no rules: every event is kept forever")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tTENANT\tEVENT_TYPE\tPRESET\tMIN\tMAX\tAVAILABLE")
	dash := func(p retention.Period) string {
		if p.IsZero() {
			return "-"
		}
		return p.String()
	}
	for i, r := range doc.Rules {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, r.Tenant, r.EventType, cmp.Or(r.Preset, "-"), dash(r.Min), dash(r.Max), dash(r.Available))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "the most protective matching rule wins; an event no rule matches is kept forever")
	return err
}
