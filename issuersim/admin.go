package issuersim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxKnobsBody bounds a PUT /knobs body.
const maxKnobsBody = 1 << 20

// AdminHandler serves the admin API:
//
//	GET /knobs                      the knobs as JSON (rule PANs masked)
//	PUT /knobs                      replace the knobs (JSON; durations as "250ms")
//	GET /settlement?date=YYYY-MM-DD the settlement CSV of that business day (default today)
//	GET /accounts                   every account, PANs masked
//	GET /credentials                the stored-credential payments answered (CredentialUses)
//
// It has no authentication: bind it to loopback. /metrics is the caller's
// to mount (the bank's collectors are in the Registerer given to New).
func (b *Bank) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /knobs", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.Knobs())
	})
	mux.HandleFunc("PUT /knobs", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKnobsBody))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var k Knobs
		if err := json.Unmarshal(body, &k); err != nil {
			http.Error(w, "knobs: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := k.Validate(); err != nil {
			http.Error(w, "knobs."+err.Error(), http.StatusBadRequest)
			return
		}
		b.SetKnobs(k)
		writeJSON(w, b.Knobs())
	})
	mux.HandleFunc("GET /settlement", func(w http.ResponseWriter, r *http.Request) {
		day := b.now().In(b.loc)
		if s := r.URL.Query().Get("date"); s != "" {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				http.Error(w, "date: must be YYYY-MM-DD", http.StatusBadRequest)
				return
			}
			day = d
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", b.cfg.Name+"-"+day.Format(time.DateOnly)+".csv"))
		if err := b.WriteSettlement(w, day); err != nil {
			b.log.Error().Err(err).Msg("settlement file not written")
		}
	})
	mux.HandleFunc("GET /accounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.Accounts())
	})
	mux.HandleFunc("GET /credentials", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, b.CredentialUses())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
