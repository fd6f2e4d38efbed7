package results

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
)

// AggregateSpec says which columns of a table play which role when
// replicates are aggregated.
type AggregateSpec struct {
	Params  []string // columns that identify a parameter point (replicate/seed/key excluded by the caller)
	Step    string   // step column ("" for none, e.g. summary tables)
	Metrics []string // numeric columns to aggregate
}

// Stat summarizes the N values of one metric at one parameter point (and
// step) across replicates.
//
// Mean is the sample mean and Std the sample standard deviation, with the
// n-1 (Bessel) denominator, so that Std² is an unbiased estimate of the
// variance. [CILow, CIHigh] is the 95% Student t confidence interval of the
// mean,
//
//	Mean ± t(0.975, N-1) · Std / √N,
//
// where t(0.975, N-1) is the 0.975 quantile of Student's t distribution with
// N-1 degrees of freedom. It assumes the replicates are independent and
// roughly normal (or numerous); with few replicates the interval is wide, as
// it should be: for N=2 the quantile is 12.7. For N=1 Std and the interval
// are NaN; for N=0 everything but N is NaN.
type Stat struct {
	N             int
	Mean, Std     float64
	CILow, CIHigh float64
}

// AggregateRow is one metric at one parameter point and step. Point holds
// the values of AggregateSpec.Params in that order; rows of the same point
// share one Point slice, which must not be modified.
type AggregateRow struct {
	Point  []string
	Step   string // "" when the spec has no step column
	Metric string
	Stat   Stat
}

// moments accumulates the count, mean and sum of squared deviations from the
// mean of a stream of values with Welford's update, which, unlike summing x
// and x², loses no precision when the mean is large against the spread.
type moments struct {
	n    int
	mean float64
	m2   float64 // Σ (x - mean)²
}

func (m *moments) add(x float64) {
	m.n++
	d := x - m.mean
	m.mean += d / float64(m.n)
	m.m2 += d * (x - m.mean)
}

// stat returns the Stat of the values added; tq returns the 0.975 quantile
// of Student's t distribution for the given degrees of freedom.
func (m *moments) stat(tq func(df int) float64) Stat {
	s := Stat{N: m.n, Mean: math.NaN(), Std: math.NaN(), CILow: math.NaN(), CIHigh: math.NaN()}
	if m.n == 0 {
		return s
	}
	s.Mean = m.mean
	if m.n == 1 {
		return s
	}
	s.Std = math.Sqrt(m.m2 / float64(m.n-1))
	half := tq(m.n-1) * s.Std / math.Sqrt(float64(m.n))
	s.CILow, s.CIHigh = s.Mean-half, s.Mean+half
	return s
}

// tQuantile975 returns a function giving the 0.975 quantile of Student's t
// distribution with df degrees of freedom. It remembers the quantiles it
// has computed (they take an inverse incomplete beta function each) for the
// lifetime of the returned function only.
func tQuantile975() func(df int) float64 {
	memo := make(map[int]float64)
	return func(df int) float64 {
		q, ok := memo[df]
		if !ok {
			q = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(0.975)
			memo[df] = q
		}
		return q
	}
}

// Aggregate groups the rows of t by parameter point (the values of
// spec.Params) and step, and summarizes each metric over the rows of each
// group, that is, over replicates (see Stat).
//
// Empty metric fields are missing values and are skipped: Stat.N counts the
// non-empty ones, and a metric with no value at a point and step gives no
// row. A non-empty field that is not a finite number is an error naming the
// table, column, row and value.
//
// The output order is deterministic: points in order of first appearance in
// t; within a point, steps in numeric order if every step value of the point
// is a number, else in order of first appearance (a stable sort, so with
// steps already sorted both agree); within a step, metrics in spec order.
func Aggregate(t *Table, spec AggregateSpec) ([]AggregateRow, error) {
	if len(spec.Metrics) == 0 {
		return nil, fmt.Errorf("aggregate table %s: no metric columns given", t.Name)
	}
	pcols, err := t.cols(spec.Params)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	mcols, err := t.cols(spec.Metrics)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	scol := -1
	if spec.Step != "" {
		if scol, err = t.Col(spec.Step); err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
	}

	var points []*pointAcc
	byPoint := make(map[string]*pointAcc)
	var key []byte
	for r, row := range t.Rows {
		key = groupKey(key[:0], row, pcols)
		p := byPoint[string(key)]
		if p == nil {
			values := make([]string, len(pcols))
			for i, c := range pcols {
				values[i] = row[c]
			}
			p = &pointAcc{values: values, byStep: make(map[string]*stepAcc)}
			byPoint[string(key)] = p
			points = append(points, p)
		}
		step := ""
		if scol >= 0 {
			step = row[scol]
		}
		s := p.byStep[step]
		if s == nil {
			s = &stepAcc{step: step, acc: make([]moments, len(mcols))}
			p.byStep[step] = s
			p.steps = append(p.steps, s)
		}
		for i, c := range mcols {
			if row[c] == "" {
				continue
			}
			v, err := t.number(r, c)
			if err != nil {
				return nil, fmt.Errorf("aggregate: %w", err)
			}
			s.acc[i].add(v)
		}
	}

	tq := tQuantile975()
	var out []AggregateRow
	for _, p := range points {
		sortSteps(p.steps)
		for _, s := range p.steps {
			for i, metric := range spec.Metrics {
				if s.acc[i].n == 0 {
					continue
				}
				out = append(out, AggregateRow{Point: p.values, Step: s.step, Metric: metric, Stat: s.acc[i].stat(tq)})
			}
		}
	}
	return out, nil
}

// groupKey appends to dst a key identifying the values of row in cols:
// each value preceded by its length, so that no two value lists share a key.
func groupKey(dst []byte, row []string, cols []int) []byte {
	for _, c := range cols {
		dst = strconv.AppendInt(dst, int64(len(row[c])), 10)
		dst = append(dst, ':')
		dst = append(dst, row[c]...)
	}
	return dst
}

// pointAcc accumulates the rows of one parameter point.
type pointAcc struct {
	values []string
	steps  []*stepAcc // in order of first appearance
	byStep map[string]*stepAcc
}

// stepAcc accumulates the rows of one parameter point and step.
type stepAcc struct {
	step string
	acc  []moments // one per metric
}

// sortSteps sorts steps numerically, stably, if every step value parses as
// a number, and leaves them in their order otherwise.
func sortSteps(steps []*stepAcc) {
	num := make(map[*stepAcc]float64, len(steps))
	for _, s := range steps {
		v, err := strconv.ParseFloat(s.step, 64)
		if err != nil || math.IsNaN(v) {
			return
		}
		num[s] = v
	}
	slices.SortStableFunc(steps, func(a, b *stepAcc) int { return cmp.Compare(num[a], num[b]) })
}

// AggregateHeader returns the columns of an aggregate CSV file for the given
// parameter columns:
//
//	table,<params...>,step,metric,n,mean,std,ci95_low,ci95_high
func AggregateHeader(params []string) []string {
	h := make([]string, 0, len(params)+8)
	h = append(h, "table")
	h = append(h, params...)
	return append(h, "step", "metric", "n", "mean", "std", "ci95_low", "ci95_high")
}

// WriteAggregate appends rows, aggregated from the table named table, to c,
// whose header must be AggregateHeader of the spec's Params; several tables
// can so share one file. The step field is empty for tables without a step
// column, and NaN statistics (std and interval for n=1) are empty fields.
// Like CSV.End, it panics if a row's Point does not match the header.
func WriteAggregate(c *CSV, table string, rows []AggregateRow) {
	for _, r := range rows {
		c.String(table)
		for _, v := range r.Point {
			c.String(v)
		}
		c.String(r.Step)
		c.String(r.Metric)
		c.Int(int64(r.Stat.N))
		for _, v := range [...]float64{r.Stat.Mean, r.Stat.Std, r.Stat.CILow, r.Stat.CIHigh} {
			if math.IsNaN(v) {
				c.Empty()
			} else {
				c.Float(v)
			}
		}
		c.End()
	}
}

// AggregatePart is the aggregate of one table, for WriteAggregates.
type AggregatePart struct {
	Table string // table name, the first field of each row
	Rows  []AggregateRow
}

// WriteAggregates writes the aggregates of several tables, which must share
// the parameter columns params, into one CSV file created atomically, with
// the header AggregateHeader(params). It returns the number of data rows.
func WriteAggregates(path string, params []string, parts []AggregatePart) (int, error) {
	for _, p := range parts {
		for _, r := range p.Rows {
			if len(r.Point) != len(params) {
				return 0, fmt.Errorf("write %s: aggregate of table %s has %d parameter values, the header %d (%v)",
					path, p.Table, len(r.Point), len(params), params)
			}
		}
	}
	return WriteCSV(path, func(c *CSV) error {
		c.Header(AggregateHeader(params)...)
		for _, p := range parts {
			WriteAggregate(c, p.Table, p.Rows)
		}
		return nil
	})
}
