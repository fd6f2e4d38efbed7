package zo

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/batchrun/batchrun/results"
)

// paramColumns returns the names of the parameter columns (every parameter
// but mode, which has a column of its own) and their values as one block of
// CSV text.
func (r *Results) paramColumns() ([]string, string) {
	var names, fields []string
	for _, p := range r.Config.Values.Schema() {
		if p.Name == "mode" {
			continue
		}
		names = append(names, p.Name)
		fields = append(fields, results.Quote(r.Config.Values.Text(p.Name)))
	}
	return names, strings.Join(fields, ",")
}

func (r *Results) keyColumns(c *results.CSV, preset, mode string, seed uint64, params string, nparams int) {
	c.String("zo")
	c.String(preset)
	c.String(mode)
	c.Uint(seed)
	c.Raw(params, nparams)
}

// WriteTrace writes one row per mode, seed and logged iteration: the base
// batch sum-rate, its running mean, and the fixed policies on the same
// samples (empty when baselines are off). iter counts completed iterations,
// 1..T.
func (r *Results) WriteTrace(c *results.CSV, preset string) error {
	names, params := r.paramColumns()
	c.Header(append(append([]string{"experiment", "preset", "mode", "seed"}, names...),
		"iter", "sum_rate", "sum_rate_avg", "full_power", "random_power", "wmmse")...)
	T, every := r.Config.T, r.Config.LogEvery
	for _, m := range r.Modes {
		for s, tr := range m.Traces {
			sum := 0.0
			for t, x := range tr.SumRate {
				sum += x
				iter := t + 1
				if iter%every != 0 && iter != T {
					continue
				}
				r.keyColumns(c, preset, m.Mode, tr.Seed, params, len(names))
				c.Int(int64(iter))
				c.Float(x)
				c.Float(sum / float64(iter))
				if r.Baselines != nil {
					b := r.Baselines[s]
					c.Float(b.FullPower[t])
					c.Float(b.RandomPower[t])
					c.Float(b.WMMSE[t])
				} else {
					c.Empty()
					c.Empty()
					c.Empty()
				}
				c.End()
			}
		}
	}
	return nil
}

// WriteEval writes the held-out evaluations: one row per mode, seed and
// evaluation point, with the fixed policies on the same held-out samples.
func (r *Results) WriteEval(c *results.CSV, preset string) error {
	names, params := r.paramColumns()
	c.Header(append(append([]string{"experiment", "preset", "mode", "seed"}, names...),
		"iter", "eval_sum_rate", "eval_full_power", "eval_wmmse", "eval_frac_wmmse")...)
	for _, m := range r.Modes {
		for s, tr := range m.Traces {
			ref := r.EvalRefs[s]
			for _, e := range tr.Eval {
				r.keyColumns(c, preset, m.Mode, tr.Seed, params, len(names))
				c.Int(int64(e.Iter))
				c.Float(e.SumRate)
				c.Float(ref.FullPower)
				c.Float(ref.WMMSE)
				c.Float(e.SumRate / ref.WMMSE)
				c.End()
			}
		}
	}
	return nil
}

// SeedSummary condenses one seed-run of one mode.
type SeedSummary struct {
	Mode                            string
	Seed                            uint64
	Final, AvgFinal, Late           float64
	FullLate, RandomLate, WMMSELate float64 // NaN without baselines
	EvalFinal, EvalFull, EvalWMMSE  float64 // NaN without held-out evaluation
}

// Summaries returns one SeedSummary per mode and seed. The late window is
// iterations LateFrom()..T (1-based).
func (r *Results) Summaries() []SeedSummary {
	lf := r.Config.LateFrom() - 1
	var out []SeedSummary
	for _, m := range r.Modes {
		for s, tr := range m.Traces {
			ss := SeedSummary{Mode: m.Mode, Seed: tr.Seed, Final: tr.SumRate[len(tr.SumRate)-1],
				AvgFinal: mean(tr.SumRate), Late: mean(tr.SumRate[lf:]),
				FullLate: math.NaN(), RandomLate: math.NaN(), WMMSELate: math.NaN(),
				EvalFinal: math.NaN(), EvalFull: math.NaN(), EvalWMMSE: math.NaN()}
			if r.Baselines != nil {
				b := r.Baselines[s]
				ss.FullLate, ss.RandomLate, ss.WMMSELate = mean(b.FullPower[lf:]), mean(b.RandomPower[lf:]), mean(b.WMMSE[lf:])
			}
			if r.EvalRefs != nil && len(tr.Eval) > 0 {
				ss.EvalFinal = tr.Eval[len(tr.Eval)-1].SumRate
				ss.EvalFull, ss.EvalWMMSE = r.EvalRefs[s].FullPower, r.EvalRefs[s].WMMSE
			}
			out = append(out, ss)
		}
	}
	return out
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// WriteSummary writes one row per mode and seed: final and late-window
// sum-rates, the baselines over the same window, ratios, and the last
// held-out evaluation. Missing values are empty.
func (r *Results) WriteSummary(c *results.CSV, preset string) error {
	names, params := r.paramColumns()
	c.Header(append(append([]string{"experiment", "preset", "mode", "seed"}, names...),
		"late_from", "sum_rate_final", "sum_rate_avg_final", "sum_rate_late",
		"full_power_late", "random_power_late", "wmmse_late", "ratio_full_power", "ratio_wmmse",
		"eval_sum_rate", "eval_full_power", "eval_wmmse", "eval_frac_wmmse")...)
	opt := func(v float64) {
		if math.IsNaN(v) {
			c.Empty()
		} else {
			c.Float(v)
		}
	}
	for _, ss := range r.Summaries() {
		r.keyColumns(c, preset, ss.Mode, ss.Seed, params, len(names))
		c.Int(int64(r.Config.LateFrom()))
		c.Float(ss.Final)
		c.Float(ss.AvgFinal)
		c.Float(ss.Late)
		opt(ss.FullLate)
		opt(ss.RandomLate)
		opt(ss.WMMSELate)
		opt(ss.Late / ss.FullLate)
		opt(ss.Late / ss.WMMSELate)
		opt(ss.EvalFinal)
		opt(ss.EvalFull)
		opt(ss.EvalWMMSE)
		opt(ss.EvalFinal / ss.EvalWMMSE)
		c.End()
	}
	return nil
}

// Report prints, per mode, the late-window sum-rate pooled over seeds and
// its ratio to the fixed policies pooled over the same seeds and samples.
func (r *Results) Report(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	lf := r.Config.LateFrom()
	fmt.Fprintf(tw, "mode\tseeds\tsum-rate %d-%d\t/ full power\t/ WMMSE\theld-out / WMMSE\t\n", lf, r.Config.T)
	sums := r.Summaries()
	for _, m := range r.Modes {
		var late, full, wm, ev, evw float64
		n := 0
		for _, ss := range sums {
			if ss.Mode != m.Mode {
				continue
			}
			n++
			late += ss.Late
			full += ss.FullLate
			wm += ss.WMMSELate
			ev += ss.EvalFinal
			evw += ss.EvalWMMSE
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%s\t%s\t\n", m.Mode, n, late/float64(n), ratio(late, full), ratio(late, wm), ratio(ev, evw))
	}
	if r.Baselines != nil {
		var full, rnd, wm float64
		for _, ss := range sums[:len(r.Seeds)] {
			full += ss.FullLate
			rnd += ss.RandomLate
			wm += ss.WMMSELate
		}
		n := float64(len(r.Seeds))
		fmt.Fprintf(tw, "full power\t%d\t%.3f\t\t\t\t\n", len(r.Seeds), full/n)
		fmt.Fprintf(tw, "random power\t%d\t%.3f\t\t\t\t\n", len(r.Seeds), rnd/n)
		fmt.Fprintf(tw, "WMMSE\t%d\t%.3f\t\t\t\t\n", len(r.Seeds), wm/n)
	}
	tw.Flush()
}

func ratio(a, b float64) string {
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", a/b)
}
