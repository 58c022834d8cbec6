package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tulpar-switch/tulpar/switch/clientip"
	"github.com/tulpar-switch/tulpar/switch/fiscal"
	"github.com/tulpar-switch/tulpar/switch/saf"
)

// adminHandler serves operators on their own listener (admin_listen,
// loopback by default): nothing here is for merchants or buyers, and a
// journal snapshot is the whole database.
func (d *Daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/links", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.links.Statuses())
	})
	mux.HandleFunc("GET /admin/saf", func(w http.ResponseWriter, r *http.Request) {
		stats, err := d.saf.Stats()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		dead, err := d.saf.DeadLetters()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"queues": stats, "dead_letters": safView(dead)})
	})
	mux.HandleFunc("GET /admin/fiscal/dead", func(w http.ResponseWriter, r *http.Request) {
		merchant := r.URL.Query().Get("merchant")
		if merchant == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "merchant: required"})
			return
		}
		dead, err := d.FiscalDeadLetters(merchant)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"merchant": merchant, "dead_letters": safView(dead)})
	})
	mux.HandleFunc("POST /admin/saf/retry", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "id: must be a dead letter's numeric id"})
			return
		}
		if err := d.saf.Retry(r.Context(), id); err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, saf.ErrNotDeadLetter) {
				status = http.StatusNotFound
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"retried": id})
	})
	mux.HandleFunc("GET /admin/journal/snapshot", func(w http.ResponseWriter, r *http.Request) {
		d.log.Warn().Str("remote", clientip.Host(r)).Str("operator", operator(r, d.cfg.AdminTokenSHA256 != "")).Msg("journal snapshot downloaded")
		// One read transaction: a consistent copy of journal, orders and
		// queues while the switch keeps running, for `tulpar journal
		// ... --copy FILE`.
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=tulpar-%s.db", time.Now().UTC().Format("20060102T150405Z")))
		if _, err := d.journal.Snapshot(w); err != nil {
			d.log.Error().Err(err).Msg("journal snapshot")
		}
	})
	// The archives complete a snapshot: closed business days of the
	// journal, files that never change once written.
	mux.HandleFunc("GET /admin/journal/archives", func(w http.ResponseWriter, r *http.Request) {
		list := []map[string]any{}
		for _, a := range d.journal.Archives() {
			list = append(list, map[string]any{"name": filepath.Base(a.Path), "first": a.First, "last": a.Last, "bytes": a.Bytes})
		}
		writeJSON(w, http.StatusOK, map[string]any{"archives": list})
	})
	mux.HandleFunc("GET /admin/journal/archives/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		for _, a := range d.journal.Archives() {
			if filepath.Base(a.Path) != name {
				continue
			}
			d.log.Warn().Str("remote", clientip.Host(r)).Str("operator", operator(r, d.cfg.AdminTokenSHA256 != "")).Str("archive", name).Msg("journal archive downloaded")
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", "attachment; filename="+name)
			http.ServeFile(w, r, a.Path)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "name: no archive of that name (GET /admin/journal/archives lists them)"})
	})
	return d.adminAuth(mux)
}

// FiscalDeadLetters are the merchant's fiscal receipts that were never
// issued and wait in the dead letters for an operator (POST
// /admin/saf/retry?id= sends one again, with its external id, so it is
// never issued twice).
func (d *Daemon) FiscalDeadLetters(merchant string) ([]saf.Item, error) {
	dead, err := d.saf.DeadLetters()
	if err != nil {
		return nil, err
	}
	return fiscal.DeadLetters(dead, merchant), nil
}

// operator names who made an admin request, as far as the listener knows:
// the subject of a verified client certificate, else the token's holder,
// else only the address (loopback without a token).
func operator(r *http.Request, token bool) string {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.String()
	}
	if token {
		return "token"
	}
	return "loopback"
}

// adminAuth lets a request through only with the operators' bearer token,
// when one is configured; a refusal is logged with who tried.
func (d *Daemon) adminAuth(h http.Handler) http.Handler {
	if d.cfg.AdminTokenSHA256 == "" {
		return h // loopback only: Validate refuses anything else
	}
	want, _ := hex.DecodeString(d.cfg.AdminTokenSHA256)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want) != 1 {
			d.log.Warn().Str("remote", clientip.Host(r)).Str("path", r.URL.Path).Msg("admin request without a valid token refused")
			w.Header().Set("WWW-Authenticate", `Bearer realm="tulpar-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "send the admin token as Authorization: Bearer <token>"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// safItem is a queued item as operators see it: no payload (it holds an
// encrypted PAN and is of no use to read).
type safItem struct {
	ID        uint64    `json:"id"`
	Queue     string    `json:"queue"`
	OrderID   string    `json:"order_id"`
	Kind      string    `json:"kind"`
	Attempts  int       `json:"attempts"`
	Enqueued  time.Time `json:"enqueued_at"`
	LastError string    `json:"last_error,omitempty"`
}

func safView(items []saf.Item) []safItem {
	out := make([]safItem, 0, len(items))
	for _, it := range items {
		out = append(out, safItem{it.ID, it.Queue, it.OrderID, it.Kind, it.Attempts, it.EnqueuedAt, it.LastError})
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
