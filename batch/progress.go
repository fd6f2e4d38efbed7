package batch

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Progress styles.
const (
	ProgressBar   = "bar"   // a redrawn bar, for terminals
	ProgressPlain = "plain" // a log line every interval, for batch logs
	ProgressJSON  = "json"  // a JSON object per line every interval
	ProgressNone  = "none"
)

// ProgressStyles lists the styles --progress accepts ("auto" picks bar on
// a terminal and plain otherwise).
var ProgressStyles = []string{"auto", ProgressBar, ProgressPlain, ProgressJSON, ProgressNone}

// NewProgress returns a progress reporter writing to w in style, at most
// every interval for the plain and JSON styles (the bar redraws five times
// a second). label names the process (e.g. its shard) in plain and JSON
// lines. The final state is always written.
func NewProgress(w io.Writer, style string, interval time.Duration, label string) func(ProgressState) {
	var mu sync.Mutex
	var last time.Time
	switch style {
	case ProgressNone:
		return func(ProgressState) {}
	case ProgressBar:
		interval = 200 * time.Millisecond
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	return func(s ProgressState) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if !s.Final && now.Sub(last) < interval {
			return
		}
		last = now
		frac, eta := s.Fraction(), s.ETA()
		switch style {
		case ProgressBar:
			const width = 30
			fill := int(frac * width)
			line := fmt.Sprintf("\r[%s%s] %d/%d cells %5.1f%%  %s  elapsed %s  eta %s ",
				strings.Repeat("#", fill), strings.Repeat(".", width-fill), s.CellsDone, s.CellsTotal, 100*frac,
				s.rate(), clock(s.Elapsed), clock(eta))
			if s.Final {
				line += "\n"
			}
			io.WriteString(w, line)
		case ProgressJSON:
			json.NewEncoder(w).Encode(map[string]any{
				"time": now.UTC().Format(time.RFC3339), "event": "progress", "process": label,
				"cells_done": s.CellsDone, "cells_total": s.CellsTotal,
				"work_done": s.WorkDone, "work_total": s.WorkTotal, "fraction": round3(frac),
				"elapsed_s": round3(s.Elapsed.Seconds()), "eta_s": round3(eta.Seconds()), "final": s.Final,
			})
		default:
			log.Info("progress", "process", label, "cells", fmt.Sprintf("%d/%d", s.CellsDone, s.CellsTotal),
				"done", fmt.Sprintf("%.1f%%", 100*frac), "rate", s.rate(),
				"elapsed", s.Elapsed.Round(time.Second).String(), "eta", eta.Round(time.Second).String())
		}
	}
}

// Fraction returns the share of the work done.
func (s ProgressState) Fraction() float64 {
	if s.WorkTotal <= 0 {
		if s.CellsTotal == 0 {
			return 1
		}
		return float64(s.CellsDone) / float64(s.CellsTotal)
	}
	return min(1, float64(s.WorkDone)/float64(s.WorkTotal))
}

// ETA extrapolates the remaining time from the work done so far.
func (s ProgressState) ETA() time.Duration {
	f := s.Fraction()
	if f <= 0 {
		return 0
	}
	return time.Duration(float64(s.Elapsed) * (1 - f) / f)
}

func (s ProgressState) rate() string {
	sec := s.Elapsed.Seconds()
	if sec <= 0 {
		return "- cells/s"
	}
	r := float64(s.CellsDone) / sec
	if r >= 1 || s.CellsDone == 0 {
		return fmt.Sprintf("%.1f cells/s", r)
	}
	return fmt.Sprintf("%.1f s/cell", 1/r)
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
