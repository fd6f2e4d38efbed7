package asynpd

import (
	"context"
	"math"
)

// runSync runs Sync-PD (spec section 2) on one seed until the horizon.
//
// Round k (gamma_k = a / (b + k)) starts at T_k with the server's broadcast
// of h = grad G(thetabar)^T lambda. Worker i receives it after its
// broadcast delay (or when it is back from an outage, if later), computes
// for c_i, applies
//
//	theta_i <- Proj_Ci(theta_i - gamma_k [grad f_i(theta_i; xi) + alpha theta_i + h / n])
//
// and uploads. When the last upload arrives, at
// T_{k+1} = max_i (finish_i + upload delay_i), the server takes
//
//	lambda <- Proj_Lambda(lambda + gamma_k [G(thetabar) - beta lambda])
//
// with the thetabar it held (the previous round's models), then computes
// thetabar and h from the new models. Without outages the round lasts
// max_i (broadcast delay_i + c_i + upload delay_i). Worker i's update of
// round k uses the same random words as its update u = k in Asyn-PD, and
// broadcast k the same delays as Asyn-PD's broadcast k.
//
// The time grid sees each model change at its worker's finish time and
// lambda at the round's end.
func runSync(ctx context.Context, w *world, rec *recorder, progress func(float64), observe func(Event)) error {
	cfg := w.cfg
	n, d := w.n, w.d
	theta := make([]float64, n*d)
	w.initial(theta)
	held := append([]float64(nil), theta...)
	lambda := make([]float64, w.p.M())
	gval := make([]float64, w.p.M())
	bar, h := make([]float64, d), make([]float64, d)
	meanOf := func(x []float64) {
		clear(bar)
		for i := range n {
			for k := range d {
				bar[k] += x[i*d+k]
			}
		}
		for k := range d {
			bar[k] /= float64(n)
		}
	}
	meanOf(held)
	w.p.Dual(bar, lambda, h)

	avail := make([]float64, n)
	finish := make([]float64, n)
	oldErr, newErr := make([]float64, n), make([]float64, n)
	res := rec.res
	var updates, rounds int64
	res.Grid = append(res.Grid, rec.sample(0, 0, 0, theta, lambda))
	rec.nextGrid = 1
	T := 0.0
	for k := int64(0); ; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		gamma := cfg.A / (cfg.B + float64(k))
		end := T
		for i := range n {
			bd := cfg.Broadcast.Sample(broadcastWord(w.key, i, k))
			start := math.Max(T+bd, avail[i])
			finish[i] = start + w.computeTime(i, k)
			end = math.Max(end, finish[i]+w.uploadDelay(i, k))
			avail[i] = finish[i] + w.pause(i, k)
			x := theta[i*d : (i+1)*d]
			oldErr[i] = rec.errTheta(i, x)
			w.step(x, h, i, k, gamma)
			newErr[i] = rec.errTheta(i, x)
		}
		// Grid points inside the round: each model is new from its
		// worker's finish time on; lambda changes at the round's end.
		el, ln := rec.errLambda(lambda)
		for rec.nextGrid <= cfg.Grid {
			g := rec.gridTime(rec.nextGrid)
			if g >= end {
				break
			}
			s := Sample{Time: g, Iteration: rounds, Updates: updates, ErrLambda: el, LambdaNorm: ln}
			for i := range n {
				if finish[i] <= g {
					s.ErrTheta += newErr[i]
					s.Updates++
				} else {
					s.ErrTheta += oldErr[i]
				}
			}
			res.Grid = append(res.Grid, s)
			rec.nextGrid++
		}
		if end > cfg.Horizon {
			// The horizon falls in this round: the loop above has
			// recorded every grid point left (gridTime(grid) is the
			// horizon, before the round's end).
			for i := range n {
				if finish[i] <= cfg.Horizon {
					updates++
				}
			}
			break
		}
		// The round ends: the dual step with the held models (bar is
		// still their mean), then the new models' mean and message.
		w.dualStep(bar, lambda, gval, h, gamma)
		copy(held, theta)
		meanOf(held)
		w.p.Dual(bar, lambda, h)
		updates += int64(n)
		rounds++
		T = end
		if observe != nil {
			observe(Event{Time: T, Kind: kindReceive, Worker: -1, Iteration: rounds})
		}
		if rec.iterDue(rounds) {
			res.Iters = append(res.Iters, rec.sample(T, rounds, updates, theta, lambda))
		}
		if progress != nil {
			progress(math.Min(T, cfg.Horizon))
		}
	}
	res.Iterations, res.Updates, res.Rounds = rounds, updates, rounds
	if progress != nil {
		progress(cfg.Horizon)
	}
	return nil
}
