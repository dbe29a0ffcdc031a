package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ledger-dev/ledger/tiles"
)

// cosigner collects witness cosignatures for checkpoints (C2SP tlog-witness,
// client side). It remembers, per witness, the size that witness last
// cosigned, learning it from 409 responses.
type cosigner struct {
	policy  *tiles.Policy
	client  *http.Client
	tiles   tiles.TileReader // committed hash tiles, for consistency proofs
	log     *slog.Logger
	clock   func() time.Time
	metrics *Metrics
	clients []*witnessClient
}

type witnessClient struct {
	w        *tiles.Witness
	url      string
	mu       sync.Mutex
	lastSize uint64 // what we believe the witness last cosigned

	health witnessHealth // guarded by mu
}

// witnessHealth is what the log said of a witness: while it fails, one
// warning when it starts failing and then one per failWarnEvery, instead
// of one per round (every publish interval).
type witnessHealth struct {
	failing  bool
	since    time.Time // when it started failing
	lastWarn time.Time
	failures int // since lastWarn
}

// failWarnEvery is how often a witness that keeps failing is warned about.
const failWarnEvery = time.Minute

func newCosigner(cfg *Config, r tiles.TileReader, log *slog.Logger) *cosigner {
	policy := cfg.Witnesses
	c := &cosigner{policy: policy, client: cfg.WitnessClient, tiles: r, log: log, clock: cfg.Clock, metrics: cfg.Metrics}
	for _, w := range policy.Witnesses {
		if w.URL != "" {
			c.clients = append(c.clients, &witnessClient{w: w, url: strings.TrimSuffix(w.URL, "/") + "/add-checkpoint"})
		}
	}
	return c
}

// cosign sends the checkpoint of st to every witness in parallel and returns
// the checkpoint with every valid cosignature appended, and whether the
// policy's quorum is met.
func (c *cosigner) cosign(ctx context.Context, st State) ([]byte, bool) {
	lines := make([][]byte, len(c.clients))
	var wg sync.WaitGroup
	for i, wc := range c.clients {
		wg.Go(func() {
			line, err := c.addCheckpoint(ctx, wc, st)
			c.report(wc, st.Size, err)
			if err == nil {
				lines[i] = line
			}
		})
	}
	wg.Wait()
	signed := bytes.Clone(st.Checkpoint)
	for _, l := range lines {
		signed = append(signed, l...)
	}
	_, err := c.policy.Verify(signed)
	return signed, err == nil
}

// report records the outcome of one round with wc in the metrics and, rate
// limited, in the log.
func (c *cosigner) report(wc *witnessClient, size uint64, err error) {
	c.metrics.witnessRound(wc.w.Name, err == nil)
	wc.mu.Lock()
	defer wc.mu.Unlock()
	h, now := &wc.health, c.clock()
	switch {
	case err == nil && h.failing:
		c.log.Info("witness cosigns again", "witness", wc.w.Name, "size", size, "failed_for", now.Sub(h.since).Round(time.Second).String())
		*h = witnessHealth{}
	case err == nil:
	case !h.failing:
		*h = witnessHealth{failing: true, since: now, lastWarn: now}
		c.log.Warn("witness did not cosign; while it keeps failing this is logged once a minute", "witness", wc.w.Name, "url", wc.url, "size", size, "err", err)
	default:
		h.failures++
		if now.Sub(h.lastWarn) >= failWarnEvery {
			c.log.Warn("witness still does not cosign", "witness", wc.w.Name, "url", wc.url, "size", size, "failed_for", now.Sub(h.since).Round(time.Second).String(), "failures", h.failures, "err", err)
			h.lastWarn, h.failures = now, 0
		}
	}
}

// addCheckpoint submits st to one witness, retrying once with the size a
// 409 reveals, and returns the verified cosignature line.
func (c *cosigner) addCheckpoint(ctx context.Context, wc *witnessClient, st State) ([]byte, error) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for attempt := 0; attempt < 2; attempt++ {
		if wc.lastSize > st.Size {
			return nil, fmt.Errorf("witness has cosigned size %d, larger than our %d", wc.lastSize, st.Size)
		}
		proof, err := tiles.ConsistencyProof(ctx, c.tiles, wc.lastSize, st.Size)
		if err != nil {
			return nil, err
		}
		body := (&tiles.AddCheckpointRequest{OldSize: wc.lastSize, Proof: proof, Checkpoint: st.Checkpoint}).Marshal()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, wc.url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, err
		}
		respBody, err := io.ReadAll(io.LimitReader(resp.Body, tiles.MaxAddCheckpointSize))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			line, err := verifyCosignature(wc.w, st.Checkpoint, respBody)
			if err != nil {
				return nil, err
			}
			wc.lastSize = st.Size
			return line, nil
		case resp.StatusCode == http.StatusConflict && resp.Header.Get("Content-Type") == "text/x.tlog.size":
			size, err := tiles.ParseSize(strings.TrimSuffix(string(respBody), "\n"))
			if err != nil {
				return nil, fmt.Errorf("witness sent a bad size in its 409: %v", err)
			}
			wc.lastSize = size // and try again from there
		default:
			return nil, fmt.Errorf("witness answered %s: %s", resp.Status, bytes.TrimSpace(respBody))
		}
	}
	return nil, errors.New("witness keeps reporting a different size")
}

// verifyCosignature picks, from a witness's response, the signature line of
// that witness and checks it on its own over the checkpoint.
func verifyCosignature(w *tiles.Witness, checkpoint, response []byte) ([]byte, error) {
	for _, line := range bytes.SplitAfter(response, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(line, '\n')
		}
		n, err := note.Open(append(bytes.Clone(checkpoint), line...), note.VerifierList(w.Verifier))
		if err == nil && len(n.Sigs) == 1 {
			return line, nil
		}
	}
	return nil, errors.New("the response holds no valid cosignature from this witness")
}
