package async

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels/philox"
)

// TestQueueOrder pushes events with many ties in every key and checks that
// they come out in the order of a sort by (time, kind, worker, seq),
// including when pops and pushes interleave.
func TestQueueOrder(t *testing.T) {
	r := philox.NewReader(1, 2)
	var q Queue
	var all []Event
	for i := range 5000 {
		e := Event{
			Time:   float64(int(r.Float64() * 20)), // many equal times
			Kind:   uint8(r.Float64() * 3),
			Worker: int32(r.Float64() * 4),
			Seq:    int64(i % 7),
			Msg:    int32(i),
		}
		all = append(all, e)
	}
	order := func(a, b Event) int {
		switch {
		case a.Before(&b):
			return -1
		case b.Before(&a):
			return 1
		}
		return 0
	}
	// Interleaved: push 3, pop 1, ...; every pop must be the least of what
	// is queued.
	var popped []Event
	var pending []Event
	for i, e := range all {
		q.Push(e)
		pending = append(pending, e)
		if i%3 == 2 {
			got := q.Pop()
			least := slices.MinFunc(pending, order)
			if order(got, least) != 0 {
				t.Fatalf("pop %d: got %+v, least queued %+v", len(popped), got, least)
			}
			pending = slices.DeleteFunc(pending, func(x Event) bool { return x.Msg == got.Msg })
			popped = append(popped, got)
		}
	}
	slices.SortStableFunc(pending, order)
	for i := range pending {
		got := q.Pop()
		if order(got, pending[i]) != 0 {
			t.Fatalf("drain %d: got %+v, want %+v", i, got, pending[i])
		}
	}
	if q.Len() != 0 {
		t.Fatalf("queue holds %d events after draining", q.Len())
	}
}

func TestQueueNoAllocs(t *testing.T) {
	var q Queue
	for i := range 100 {
		q.Push(Event{Time: float64(i % 10), Worker: int32(i)})
	}
	allocs := testing.AllocsPerRun(100, func() {
		e := q.Pop()
		e.Time += 10
		q.Push(e)
	})
	if allocs != 0 {
		t.Errorf("Pop+Push allocates %v times", allocs)
	}
}

// moments returns the mean and variance of count samples of f on the words
// of stream 9.
func moments(count int, f func(w [4]uint32) float64) (mean, variance float64) {
	var s, s2 float64
	for n := range uint64(count) {
		x := f(philox.Block(5, 9, n))
		s += x
		s2 += x * x
	}
	mean = s / float64(count)
	return mean, s2/float64(count) - mean*mean
}

func TestComputeFactorMoments(t *testing.T) {
	const count = 400_000
	for _, c := range []struct {
		m        Compute
		variance float64
	}{
		{Compute{Model: ComputeFixed}, 0},
		{Compute{Model: ComputeExponential}, 1},
		{Compute{Model: ComputeLogNormal, Sigma: 0.5}, math.Exp(0.25) - 1},
		{Compute{Model: ComputePareto, Alpha: 5}, 1 / (5 * 3.0)}, // alpha / ((alpha-1)^2 (alpha-2)) * x_m^2 with x_m = 4/5
	} {
		mean, variance := moments(count, c.m.Factor)
		// Standard error of the mean: sqrt(variance / count) <= 0.0016.
		if math.Abs(mean-1) > 0.01 {
			t.Errorf("%s: mean factor %v, want 1", c.m.Model, mean)
		}
		if math.Abs(variance-c.variance) > 0.05*c.variance+1e-12 {
			t.Errorf("%s: variance %v, want %v", c.m.Model, variance, c.variance)
		}
	}
	// Pareto's tail: P(S > x) = (x_m / x)^alpha.
	m := Compute{Model: ComputePareto, Alpha: 1.5}
	over := 0
	for n := range uint64(count) {
		if m.Factor(philox.Block(5, 9, n)) > 10 {
			over++
		}
	}
	want := math.Pow((0.5/1.5)/10, 1.5) * count
	if math.Abs(float64(over)-want) > 5*math.Sqrt(want) {
		t.Errorf("Pareto(1.5): %d of %d factors above 10, want about %.0f", over, count, want)
	}
}

func TestDelayBoundsAndMean(t *testing.T) {
	const count = 400_000
	for _, m := range []Delay{
		{Model: DelayUniform, Lo: 0, Hi: 1},
		{Model: DelayUniform, Lo: 0.25, Hi: 0.25},
		{Model: DelayExponential, Lo: 0, Hi: 1},
		{Model: DelayExponential, Lo: 2, Hi: 3},
	} {
		mean, _ := moments(count, func(w [4]uint32) float64 {
			d := m.Sample(w[0])
			if d < m.Min() || d > m.Max() {
				t.Fatalf("%+v: delay %v outside [Min, Max] = [%v, %v]", m, d, m.Min(), m.Max())
			}
			return d
		})
		if math.Abs(mean-m.Mean()) > 0.01 {
			t.Errorf("%+v: mean delay %v, want %v", m, mean, m.Mean())
		}
		for _, w := range []uint32{0, 1, math.MaxUint32 - 1, math.MaxUint32} {
			if d := m.Sample(w); d < m.Min() || d > m.Max() {
				t.Errorf("%+v: word %#x: delay %v outside [%v, %v]", m, w, d, m.Min(), m.Max())
			}
		}
	}
	// The uniform sample is nondecreasing in the word.
	m := Delay{Model: DelayUniform, Lo: 0.1, Hi: 0.7}
	prev := m.Sample(0)
	for w := uint32(1); w < 1<<20; w++ {
		d := m.Sample(w << 12)
		if d < prev {
			t.Fatalf("Sample(%#x) = %v < Sample of the word before = %v", w<<12, d, prev)
		}
		prev = d
	}
}

func TestOutage(t *testing.T) {
	o := Outage{Prob: 0.2, Mean: 30}
	const count = 200_000
	stops, total := 0, 0.0
	for n := range uint64(count) {
		if p := o.Pause(philox.Block(8, 1, n)); p > 0 {
			stops++
			total += p
		}
	}
	if got := float64(stops) / count; math.Abs(got-0.2) > 0.005 {
		t.Errorf("stop frequency %v, want 0.2", got)
	}
	if got := total / float64(stops); math.Abs(got-30) > 0.6 {
		t.Errorf("mean pause %v, want 30", got)
	}
	if p := (Outage{Prob: 0, Mean: 1}).Pause([4]uint32{}); p != 0 {
		t.Errorf("Prob 0 pauses for %v", p)
	}
}

func TestModelsValidate(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string // "" = valid
	}{
		{Delay{Model: DelayUniform, Lo: 0, Hi: 1}.Validate(), ""},
		{Delay{Model: DelayExponential, Lo: 0, Hi: 0}.Validate(), ""},
		{Delay{Model: "normal", Lo: 0, Hi: 1}.Validate(), "unknown delay model"},
		{Delay{Model: DelayUniform, Lo: -1, Hi: 1}.Validate(), "negative"},
		{Delay{Model: DelayUniform, Lo: 2, Hi: 1}.Validate(), "want a finite hi >= lo"},
		{Delay{Model: DelayUniform, Lo: 0, Hi: math.Inf(1)}.Validate(), "want a finite hi >= lo"},
		{Delay{Model: DelayUniform, Lo: math.NaN(), Hi: 1}.Validate(), "negative or not finite"},
		{Compute{Model: ComputeFixed}.Validate(), ""},
		{Compute{Model: ComputePareto, Alpha: 1}.Validate(), "alpha > 1"},
		{Compute{Model: ComputeLogNormal, Sigma: -1}.Validate(), "sigma >= 0"},
		{Compute{Model: "gamma"}.Validate(), "unknown compute-time model"},
		{Outage{Prob: 1, Mean: 1}.Validate(), "0 <= p < 1"},
		{Outage{Prob: 0.1, Mean: 0}.Validate(), "mean > 0"},
	} {
		switch {
		case c.want == "" && c.err != nil:
			t.Errorf("unexpected error %v", c.err)
		case c.want != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.want)):
			t.Errorf("error %v, want one containing %q", c.err, c.want)
		}
	}
}
