package psdda

import (
	"context"
	"math"
)

// SeedResult is what one seed-run records.
type SeedResult struct {
	Seed  uint64
	Steps []int // the trace steps T (1-based counts of steps)
	// Per trace step: the maximum, mean and minimum over nodes of
	// f(xhat_i(T)) - f*.
	ErrMax, ErrMean, ErrMin []float64
	// NodeErr[k][i] = f(xhat_i(Steps[k])) - f*, when per-node errors are
	// recorded (Config.perNodeColumns or nodesTable).
	NodeErr [][]float64
	// At the end: f*, the largest distance ||xhat_i(T) - x*||, and the
	// conservation errors |sum w - n| / n and
	// max_k |sum z_k - sum of gradients_k| / max(1, max_k |sum of gradients_k|)
	// (sums over compute nodes and messages in transit).
	FStar, DistMax, MassW, MassZ float64
}

// pushRatio returns z / w, PS-DDA's estimate of the average accumulated
// gradient. w > 0 in exact arithmetic, but a node that sends much and
// receives nothing for many steps (long delays) can see w underflow to
// subnormals or 0: then z / w may be +-Inf, which the projection maps to a
// face of the box, as the exact ratio would for tiny w; 0 / 0 is taken as 0
// (nothing accumulated, nothing to follow) instead of a NaN that would
// spread through the gradients to every node.
func pushRatio(z, w float64) float64 {
	r := z / w
	if r != r {
		return 0
	}
	return r
}

// TraceSteps returns the steps at which the trace is recorded: every step
// if points is 0, else about points log-spaced steps from 1 to T (rounded,
// distinct, always 1 and T).
func TraceSteps(T, points int) []int {
	if points == 0 || points >= T {
		out := make([]int, T)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	out := []int{1}
	for k := 1; k < points; k++ {
		s := int(math.Round(math.Pow(float64(T), float64(k)/float64(points-1))))
		if s > out[len(out)-1] {
			out = append(out, s)
		}
	}
	if out[len(out)-1] != T {
		out = append(out, T)
	}
	return out
}

// Run runs one seed of cfg: the mode's recursion on the seed's graphs,
// delays and objective, for cfg.T steps, from w = 1, z = 0,
// x = Proj_X(0). progress receives completed steps.
//
// Step t = 0..T-1, with g_i(t) the gradient of f_i at x_i(t):
//
//	w(t+1), z(t+1) = mixing of w(t), z(t) (with delays); z_i += g_i(t)
//	x_i(t+1) = Proj_X(-a(t+1) z_i(t+1) / w_i(t+1))   (ps-dda)
//	x_i(t+1) = Proj_X(-a(t+1) z_i(t+1))              (dda-column, dda-doubly)
//
// with a(s) = a / sqrt(s), and the running average
// xhat_i(T) = (1/T) sum_{s=1..T} x_i(s).
func Run(ctx context.Context, cfg *Config, seed uint64, progress func(steps int)) (*SeedResult, error) {
	prob, err := NewProblem(cfg, seed)
	if err != nil {
		return nil, err
	}
	sched, err := newSchedule(cfg, seed)
	if err != nil {
		return nil, err
	}
	n, d := cfg.N, cfg.D
	st := newPushState(n, d, cfg.Bmax)
	x := make([]float64, n*d)
	xsum := make([]float64, n*d)
	g := make([]float64, n*d)
	gsum := make([]float64, d)
	zero := make([]float64, d)
	for i := range n {
		prob.Project(x[i*d:(i+1)*d], zero)
	}
	res := &SeedResult{Seed: seed, Steps: TraceSteps(cfg.T, cfg.TracePoints), FStar: prob.FStar}
	keepNodes := cfg.perNodeColumns() || cfg.nodesTable()
	next := 0
	xhat := make([]float64, d)
	errs := make([]float64, n)
	push := cfg.Mode == ModePSDDA
	const report = 64 // steps between progress reports and cancellation checks
	reported := 0
	for t := 0; t < cfg.T; t++ {
		if t-reported == report {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			progress(report)
			reported = t
		}
		for i := range n {
			gi := g[i*d : (i+1)*d]
			prob.Grad(gi, i, x[i*d:(i+1)*d])
			for k, v := range gi {
				gsum[k] += v
			}
		}
		st.step(t, sched.at(t), g)
		scale := -cfg.A / math.Sqrt(float64(t+1))
		for i := range n {
			w := st.w[i]
			xi, xs := x[i*d:(i+1)*d], xsum[i*d:(i+1)*d]
			for k, z := range st.z[i*d : (i+1)*d] {
				if push {
					z = pushRatio(z, w)
				}
				v := min(max(float64(scale*z), prob.Lo), prob.Hi)
				xi[k] = v
				xs[k] += v
			}
		}
		if next < len(res.Steps) && res.Steps[next] == t+1 {
			next++
			inv := 1 / float64(t+1)
			mx, mn, sum := math.Inf(-1), math.Inf(1), 0.0
			for i := range n {
				for k := range xhat {
					xhat[k] = xsum[i*d+k] * inv
				}
				e := prob.Excess(xhat)
				errs[i] = e
				mx, mn, sum = max(mx, e), min(mn, e), sum+e
			}
			res.ErrMax = append(res.ErrMax, mx)
			res.ErrMean = append(res.ErrMean, sum/float64(n))
			res.ErrMin = append(res.ErrMin, mn)
			if keepNodes {
				res.NodeErr = append(res.NodeErr, append([]float64(nil), errs...))
			}
		}
	}
	progress(cfg.T - reported)
	// Final distances and conservation.
	inv := 1 / float64(cfg.T)
	for i := range n {
		s := 0.0
		for k := range d {
			dk := float64(xsum[i*d+k]*inv) - prob.XStar[k]
			s += float64(dk * dk)
		}
		res.DistMax = max(res.DistMax, math.Sqrt(s))
	}
	w, z := st.mass()
	res.MassW = math.Abs(w-float64(n)) / float64(n)
	gmax := 1.0
	for _, v := range gsum {
		gmax = max(gmax, math.Abs(v))
	}
	for k := range z {
		res.MassZ = max(res.MassZ, math.Abs(z[k]-gsum[k])/gmax)
	}
	return res, nil
}
