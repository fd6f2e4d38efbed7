// Package psdda is the psdda experiment family: push-sum distributed dual
// averaging (PS-DDA) over time-varying directed graphs with communication
// delays, after Wang, Xu, Yuan, Zhang, Zhang (arXiv 2112.01731), with the
// DDA baselines it is compared against.
//
// Problem: minimise f(x) = sum_{i=1..n} f_i(x) over a box X = [lo, hi]^d,
// node i knowing only f_i (see Problem: the quadratic program and sensor
// estimation of the paper's simulations, and random least squares).
//
// PS-DDA: node i holds a weight w_i > 0, a dual variable z_i (accumulated
// gradients) and an estimate x_i. With the column-stochastic push-sum
// weights P(t) of G(t) (package graph: node j keeps and sends 1/(outdeg_j+1)),
//
//	w(t+1) = P(t) w(t)
//	z(t+1) = P(t) z(t) + g(t),   g_i(t) = grad f_i(x_i(t))
//	x_i(t+1) = Proj_X(-a(t+1) z_i(t+1) / w_i(t+1)),   a(s) = a / sqrt(s)
//
// from w = 1, z = 0, x = Proj_X(0). The running average
// xhat_i(T) = (1/T) sum_{s=1..T} x_i(s) converges to the minimiser; the
// metric is f(xhat_i(T)) - f* per node, with f* exact (package boxqp).
//
// Delays (the fixed delay model of Tsianos and Rabbat): an edge j -> i with
// delay b gets b delay nodes in a chain j -> k1 -> ... -> kb -> i; j sends
// to k1 with the weight it would use for i, links out of delay nodes are
// always active with weight 1, self-loops are never delayed. The augmented
// matrix Q(t) is column stochastic and the same recursion runs on it with
// zero gradients at delay nodes, so mass sent at t reaches i at t + b + 1.
// pushState runs it without materialising delay nodes, in O((edges +
// nodes) d) per step whatever b is.
//
// Baselines: dda-column uses the same Q(t) but x_i = Proj_X(-a(t) z_i)
// (no division by w_i: biased on unbalanced graphs, its error plateaus);
// dda-doubly uses Metropolis weights on the symmetrised graphs, with delay
// nodes on each direction, and x_i = Proj_X(-a(t) z_i).
//
// Randomness (the sensor and least-squares data, random graph sequences,
// random delays) is Philox4x32-10 keyed by the cell's seed, so a cell's
// results do not depend on workers, groups or shards.
package psdda
